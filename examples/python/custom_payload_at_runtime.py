#!/usr/bin/env python3
"""The guide's "Custom Payload at Runtime": a payload passed to
serve_endpoint() beats every other source (the marker is added). Scaffolding
as in basic_usage.py."""
import asyncio
import json
import os

from serving import DistributedRuntime


class Handler:
    async def generate(self, request):
        print("handler got", json.dumps(request, sort_keys=True))
        yield {"choices": [{"text": " 2"}]}


async def main():
    os.environ.setdefault("DYN_HEALTH_CHECK_INTERVAL", "1")  # a canary within the two seconds
    handler = Handler()
    runtime = await DistributedRuntime.from_settings(serve_for=2.0)
    endpoint = runtime.namespace("vllm").component("inference").endpoint("generate")

    # ---- the guide's code ----
    # Define custom payload
    custom_payload = {
        "prompt": "What is 1+1?",
        "max_tokens": 2,
        "temperature": 0.0
    }

    # Pass directly to serve_endpoint
    await endpoint.serve_endpoint(
        handler=handler.generate,
        health_check_payload=custom_payload  # Highest priority
    )
    # ---- end of the guide's code ----
    await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
