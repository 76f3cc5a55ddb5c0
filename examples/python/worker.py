#!/usr/bin/env python3
"""The guide's "Complete Example" made real: an asyncio worker that serves an
OpenAI-style /v1/completions route from a fake engine, records its traffic,
canary-checks itself when idle, and serves /health on DYN_SYSTEM_PORT
(8082 unless set), so that the guide's `curl http://localhost:8082/health`
works:

    DYNHC_LIBRARY=build/libdynhc.so PYTHONPATH=python python3 examples/python/worker.py
    curl -s localhost:8000/v1/completions -d '{"prompt": "Hello", "max_tokens": 3}'
    curl -s localhost:8082/health

Options: --http-port (8000; 0 any free port), --seconds N (stop after N
seconds; default: run until SIGINT/SIGTERM), --fail-after N (the engine
fails every request from the Nth on: watch /health turn 503).
setup_vllm_with_health_checks() below is the guide's code; the only
changes are the imports, setdefault in place of assignment for the
environment (so that a test can pick a shorter interval), and the
arguments a real worker needs (the HTTP port, how long to serve).
"""
import argparse
import asyncio
import logging
import os
import sys

from serving import DistributedRuntime  # the guide: from dynamo import DistributedRuntime
from dynhc import get_health_check_payload  # the guide: from dynamo.vllm.health_check import ...


class Config:
    """The guide's Python config."""
    model = "gpt2"
    health_check_level = "standard"
    health_check_payload = {
        "prompt": "The weather is",
        "max_tokens": 3,
        "temperature": 0.5
    }


config = None  # the guide's example resolves without a config file; worker.py --config sets Config


class FakeEngine:
    """A text generator that streams max_tokens words, a few ms apart."""

    def __init__(self, fail_after: int) -> None:
        self.served = 0
        self.fail_after = fail_after

    async def generate(self, request):
        self.served += 1
        if self.fail_after and self.served >= self.fail_after:
            raise RuntimeError("engine failure (request %d)" % self.served)
        if "prompt" not in request:
            raise ValueError("a completion request needs a prompt")
        words = ["lorem", "ipsum", "dolor", "sit", "amet"]
        text = []
        for i in range(int(request.get("max_tokens", 16))):
            await asyncio.sleep(0.002)
            text.append(words[i % len(words)])
        health = " (health check)" if request.get("_health_check") else ""
        logging.getLogger("engine").info("generated %d tokens%s", len(text), health)
        yield {"object": "text_completion", "model": "gpt2",
               "choices": [{"index": 0, "text": " " + " ".join(text), "finish_reason": "length"}],
               "usage": {"completion_tokens": len(text)}}


async def setup_vllm_with_health_checks(http_port: int, seconds, handler):
    # Configure via environment
    os.environ.setdefault("DYN_HEALTH_CHECK_ENABLED", "true")
    os.environ.setdefault("DYN_HEALTH_CHECK_LEVEL", "minimal")
    os.environ.setdefault("DYN_HEALTH_CHECK_INTERVAL", "30")  # seconds

    # Initialize runtime
    runtime = await DistributedRuntime.from_settings(serve_for=seconds)
    runtime.stop_on_signals()
    await runtime.start_http("127.0.0.1", http_port)
    namespace = runtime.namespace("vllm")
    component = namespace.component("inference")

    # Create endpoints
    generate_endpoint = component.endpoint("generate")

    # Get appropriate health check payload
    health_check_payload = get_health_check_payload(
        config=config,
        model_type="generate"
    )

    # Or use a custom payload
    custom_health_payload = {
        "prompt": "Test",
        "max_tokens": 1,
        "temperature": 0.0,
        "seed": 42  # For reproducibility
    }
    del custom_health_payload  # the guide's alternative, not used here

    # Serve with health checks
    try:
        await generate_endpoint.serve_endpoint(
            handler=handler.generate,
            graceful_shutdown=True,
            metrics_labels=[("model", "gpt2")],
            health_check_payload=health_check_payload  # or custom_health_payload
        )
    finally:
        await runtime.close()


def main() -> int:
    global config
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--fail-after", type=int, default=0)
    parser.add_argument("--config", action="store_true", help="resolve with the guide's Config")
    args = parser.parse_args()
    if args.config:
        config = Config
    os.environ.setdefault("DYN_SYSTEM_PORT", "8082")
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(setup_vllm_with_health_checks(args.http_port, args.seconds,
                                              FakeEngine(args.fail_after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
