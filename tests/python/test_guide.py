"""Every Python example of the guide (NVIDIA Dynamo's "Health Check Payload
Configuration Guide", a Markdown file whose path DYNHC_GUIDE gives: the
repository holds no copy of it; without it these tests skip, and
examples/python/, which test_examples runs, holds each example rewritten),
run verbatim with only the import lines changed: `from dynamo.vllm.health_check import ...` becomes
`from dynhc import ...`, and `from dynamo import DistributedRuntime` the
miniature runtime of examples/python/serving.py. What the examples leave
undefined (config, endpoint, handler) is given by the test."""
import asyncio
import os
import pathlib
import sys
import textwrap
import unittest
from unittest import mock

import dynhc

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = pathlib.Path(os.environ["DYNHC_GUIDE"]) if os.environ.get("DYNHC_GUIDE") else None
sys.path.insert(0, str(ROOT / "examples" / "python"))
import serving  # noqa: E402

IMPORTS = [("from dynamo.vllm.health_check import", "from dynhc import"),
           ("from dynamo import DistributedRuntime", "from serving import DistributedRuntime")]


def python_blocks():
    """(heading, code) of each ```python block, in order."""
    heading, blocks, code, other_fence = None, [], None, False
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        if code is not None:
            if line.startswith("```"):
                blocks.append((heading, "\n".join(code) + "\n"))
                code = None
            else:
                code.append(line)
        elif line.startswith("```"):
            if line.startswith("```python"):
                code = []
            else:
                other_fence = not other_fence  # bash, yaml: skipped
        elif line.startswith("#") and not other_fence:
            heading = line.lstrip("#").strip()
    return blocks


def with_dynhc_imports(code):
    for old, new in IMPORTS:
        code = code.replace(old, new)
    assert "dynamo" not in code, code
    return code


class Runtime(serving.DistributedRuntime):
    """The examples' runtime, serving one second with the first check at
    once (no spread), remembering what its endpoints were sent."""
    created = []

    @classmethod
    async def from_settings(cls):
        runtime = await super().from_settings(serve_for=1.0, spread=0)
        cls.created.append(runtime)
        return runtime


class Handler:
    def __init__(self):
        self.requests = []

    async def generate(self, request):
        self.requests.append(request)
        yield {"choices": [{"text": " ok"}]}


@unittest.skipIf(GUIDE is None, "DYNHC_GUIDE names no copy of the guide")
class GuideExamples(unittest.TestCase):
    DEFAULTS = {"Minimal (Default)": ("generate", "minimal"),
                "Standard": ("generate", "standard"),
                "Comprehensive": ("generate", "comprehensive"),
                "Chat Models": ("chat", "minimal"), "Embedding Models": ("embedding", "minimal")}

    def setUp(self):
        env = mock.patch.dict(os.environ, {k: v for k, v in os.environ.items()
                                           if not k.startswith("DYN_")}, clear=True)
        env.start()
        self.addCleanup(env.stop)
        self.addCleanup(dynhc.set_custom_health_check_payload, None)
        self.blocks = python_blocks()
        self.config = self.run_block("3. Config File")["Config"]

    def block(self, heading):
        codes = [code for h, code in self.blocks if h == heading]
        self.assertEqual(len(codes), 1, heading)
        return with_dynhc_imports(codes[0])

    def run_block(self, heading):
        namespace = {}
        exec(compile(self.block(heading), "guide: " + heading, "exec"), namespace)
        return namespace

    def serve_block(self, heading):
        """Runs a block that awaits at top level inside a coroutine, with an
        endpoint and a handler; returns the handler."""
        handler = Handler()
        body = textwrap.indent(self.block(heading), "    ")
        namespace = {"config": self.config, "handler": handler}
        exec(compile("async def example(endpoint):\n" + body, "guide: " + heading, "exec"),
             namespace)

        async def main():
            runtime = await Runtime.from_settings()
            endpoint = runtime.namespace("vllm").component("inference").endpoint("generate")
            await namespace["example"](endpoint)
            await runtime.close()
        asyncio.run(main())
        return handler

    def test_every_python_block_is_run_here(self):
        covered = set(self.DEFAULTS) | {
            "3. Config File", "Basic Usage", "Custom Payload at Runtime",
            "Set Global Custom Default", "3. Model-Specific Tuning", "Complete Example"}
        self.assertEqual({h for h, _ in self.blocks}, covered)
        self.assertEqual(len(self.blocks), len(covered))

    def test_default_payloads_are_what_dynhc_resolves(self):
        for heading, (model_type, level) in self.DEFAULTS.items():
            with self.subTest(heading):
                shown = eval(self.block(heading))  # a dict literal with comments
                os.environ["DYN_HEALTH_CHECK_LEVEL"] = level
                self.assertEqual(dynhc.get_health_check_payload(model_type=model_type), shown)

    def test_python_config(self):
        payload = dynhc.get_health_check_payload(config=self.config, model_type="generate")
        self.assertEqual(payload, {"prompt": "The weather is", "max_tokens": 3,
                                   "temperature": 0.5, "_health_check": True})

    def test_basic_usage(self):
        handler = self.serve_block("Basic Usage")
        self.assertEqual(handler.requests[0]["prompt"], "The weather is")  # the config's
        self.assertIs(handler.requests[0]["_health_check"], True)

    def test_custom_payload_at_runtime_beats_the_environment(self):
        os.environ["DYN_HEALTH_CHECK_PAYLOAD"] = '{"prompt": "from the environment"}'
        handler = self.serve_block("Custom Payload at Runtime")
        self.assertEqual(handler.requests[0], {"prompt": "What is 1+1?", "max_tokens": 2,
                                               "temperature": 0.0, "_health_check": True})

    def test_set_global_custom_default(self):
        self.run_block("Set Global Custom Default")
        self.assertEqual(dynhc.get_health_check_payload(), {
            "prompt": "ping", "max_tokens": 1, "temperature": 0.0, "_health_check": True})
        result = dynhc.Resolver().resolve()
        self.assertEqual(result.source, "custom")
        os.environ["DYN_HEALTH_CHECK_PAYLOAD"] = '{"prompt": "env"}'  # the environment beats it
        self.assertEqual(dynhc.get_health_check_payload()["prompt"], "env")

    def test_model_specific_tuning(self):
        chat = self.run_block("3. Model-Specific Tuning")["health_payload"]
        result = dynhc.Resolver(payload=chat, model_type="chat").resolve()
        self.assertEqual((result.diagnostics, result.token_budget), ([], 2))

    def test_complete_example(self):
        namespace = self.run_block("Complete Example")
        namespace["DistributedRuntime"] = Runtime
        handler = Handler()
        namespace.update(config=self.config, handler=handler)
        Runtime.created.clear()
        asyncio.run(namespace["setup_vllm_with_health_checks"]())
        self.assertEqual(os.environ["DYN_HEALTH_CHECK_INTERVAL"], "30")
        runtime, = Runtime.created
        self.assertEqual(runtime.scheduler.status()["endpoints"], {})  # served, then removed
        runtime.scheduler.close()  # the guide's example leaves its runtime open
        self.assertEqual(handler.requests[0]["prompt"], "The weather is")


if __name__ == "__main__":
    unittest.main()
