#!/usr/bin/env python3
"""The guide's "Basic Usage": the payload for the model type, served with a
health check. Scaffolding around the guide's code: a config, a handler and
an endpoint of the miniature runtime (serving.py), served for two seconds."""
import asyncio
import json
import os

from serving import DistributedRuntime

config = None  # no config: defaults by model type


class Handler:
    async def generate(self, request):
        print("handler got", json.dumps(request, sort_keys=True))
        yield {"choices": [{"text": " ok"}]}


async def main():
    os.environ.setdefault("DYN_HEALTH_CHECK_INTERVAL", "1")  # a canary within the two seconds
    handler = Handler()
    runtime = await DistributedRuntime.from_settings(serve_for=2.0)
    endpoint = runtime.namespace("vllm").component("inference").endpoint("generate")

    # ---- the guide's code ----
    from dynhc import get_health_check_payload

    # Use defaults based on model type
    health_check_payload = get_health_check_payload(
        config=config,
        model_type="generate"
    )

    # Serve endpoint with health check
    await endpoint.serve_endpoint(
        handler=handler.generate,
        health_check_payload=health_check_payload
    )
    # ---- end of the guide's code ----
    print("status", json.dumps(runtime.scheduler.status()))
    await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
