#!/usr/bin/env python3
"""The guide's "Complete Example" made real: an asyncio worker that serves an
OpenAI-style /v1/completions route from a fake engine, reports each request
to dynhc (begun, each streamed token as progress, ended with its outcome),
canary-checks itself when idle, and serves /health on DYN_SYSTEM_PORT
(8082 unless set), so that the guide's `curl http://localhost:8082/health`
works:

    DYNHC_LIBRARY=build/libdynhc.so PYTHONPATH=python python3 examples/python/worker.py
    curl -s localhost:8000/v1/completions -d '{"prompt": "Hello", "max_tokens": 3}'
    curl -s localhost:8082/health

Options: --http-port (8000; 0 any free port), --seconds N (stop after N
seconds; default: run until SIGINT/SIGTERM), --fail-after N (the engine
fails every request from the Nth on: watch /health turn 503).

Forward progress (SPEC 3): --engine picks how the fake engine behaves, and
any choice but "healthy" sets DYN_HEALTH_CHECK_STALL_TIMEOUT to 2 s unless
it is set. A request with "stream": true gets one chunk per token.
  --engine wedged     the engine core hangs for good once it has produced
                      --wedge-after tokens (10) in all, as an NCCL deadlock
                      does: the requests in it hang, /health turns 503 with
                      the reason "stalled" (/health?verbose shows the
                      requests in flight), while a canary would only hang:
      curl -s localhost:8000/v1/completions -d '{"prompt": "Hi", "max_tokens": 20, "stream": true}' &
      sleep 3; curl -s 'localhost:8082/health?verbose'
  --engine saturated  one request at a time, --token-time (0.1 s) per token:
                      a request waits for every one before it, so a canary
                      would time out, yet each token is progress and
                      /health stays 200
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
    """A text generator that produces max_tokens words, token_time apart,
    streamed one chunk per word when the request has "stream": true, else
    answered in one chunk. engine: "healthy", "wedged" (hangs for good
    after wedge_after tokens in all) or "saturated" (one request at a time)."""

    def __init__(self, fail_after: int, engine: str = "healthy", token_time: float = 0.002,
                 wedge_after: int = 10) -> None:
        self.served = 0
        self.fail_after = fail_after
        self.engine = engine
        self.token_time = token_time
        self.wedge_after = wedge_after
        self.tokens = 0  # produced in all
        self.slot = None  # saturated: the one request running (made in the loop)
        self.hung = False  # wedged: said so

    async def generate(self, request):
        self.served += 1
        if self.fail_after and self.served >= self.fail_after:
            raise RuntimeError("engine failure (request %d)" % self.served)
        if "prompt" not in request:
            raise ValueError("a completion request needs a prompt")
        log = logging.getLogger("engine")
        if self.engine == "saturated":
            if self.slot is None:
                self.slot = asyncio.Semaphore(1)
            queued = asyncio.get_running_loop().time()
            await self.slot.acquire()
            waited = asyncio.get_running_loop().time() - queued
            if waited > 0.01:
                log.info("saturated: request %d waited %.2f s for the engine", self.served,
                         waited)
        try:
            words = ["lorem", "ipsum", "dolor", "sit", "amet"]
            text = []
            for i in range(int(request.get("max_tokens", 16))):
                await self.step()
                text.append(words[i % len(words)])
                if request.get("stream"):
                    yield {"object": "text_completion", "model": "gpt2",
                           "choices": [{"index": 0, "text": " " + text[-1]}]}
        finally:
            if self.slot is not None:
                self.slot.release()
        health = " (health check)" if request.get("_health_check") else ""
        log.info("generated %d tokens%s", len(text), health)
        if not request.get("stream"):
            yield {"object": "text_completion", "model": "gpt2",
                   "choices": [{"index": 0, "text": " " + " ".join(text),
                                "finish_reason": "length"}],
                   "usage": {"completion_tokens": len(text)}}

    async def step(self):
        """One token of the engine core."""
        if self.engine == "wedged" and self.tokens >= self.wedge_after:
            if not self.hung:
                self.hung = True
                logging.getLogger("engine").warning("wedged after %d tokens: every request "
                                                    "hangs from now on", self.wedge_after)
            await asyncio.get_running_loop().create_future()  # never done: a deadlock
        await asyncio.sleep(self.token_time)
        self.tokens += 1


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
    parser.add_argument("--engine", choices=("healthy", "wedged", "saturated"),
                        default="healthy", help="how the fake engine behaves (see above)")
    parser.add_argument("--token-time", type=float, default=None,
                        help="seconds per token (0.002; saturated: 0.1)")
    parser.add_argument("--wedge-after", type=int, default=10,
                        help="wedged: tokens produced before the engine hangs")
    args = parser.parse_args()
    if args.config:
        config = Config
    os.environ.setdefault("DYN_SYSTEM_PORT", "8082")
    if args.engine != "healthy":
        os.environ.setdefault("DYN_HEALTH_CHECK_STALL_TIMEOUT", "2s")
    token_time = args.token_time if args.token_time is not None else \
        (0.1 if args.engine == "saturated" else 0.002)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(setup_vllm_with_health_checks(args.http_port, args.seconds,
                                              FakeEngine(args.fail_after, args.engine, token_time,
                                                         args.wedge_after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
