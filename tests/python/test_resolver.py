"""The resolver from Python: get_health_check_payload(), set_custom_health_check_payload(),
Resolver, Result, Diagnostic and the errors (SPEC 7, SPEC 1)."""
import json
import logging
import os
import tempfile
import unittest
from unittest import mock

import dynhc

MINIMAL = {"prompt": "1", "max_tokens": 1, "temperature": 0.0, "stream": False,
           "_health_check": True}


def clean_env():
    """The process environment without DYN_* variables, for one test."""
    return mock.patch.dict(os.environ, {k: v for k, v in os.environ.items()
                                        if not k.startswith("DYN_")}, clear=True)


class GetHealthCheckPayload(unittest.TestCase):
    def setUp(self):
        patcher = clean_env()
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(dynhc.set_custom_health_check_payload, None)

    def test_defaults_to_the_minimal_generate_payload(self):
        self.assertEqual(dynhc.get_health_check_payload(), MINIMAL)

    def test_model_type_chooses_the_default_table_row(self):
        self.assertEqual(dynhc.get_health_check_payload(model_type="embedding"),
                         {"input": "test", "_health_check": True})
        self.assertEqual(dynhc.get_health_check_payload(model_type="Chat-Completions")["messages"],
                         [{"role": "user", "content": "Hi"}])

    def test_unknown_model_type_raises_a_usage_error(self):
        with self.assertRaises(dynhc.UnknownModelTypeError) as cm:
            dynhc.get_health_check_payload(model_type="video")
        self.assertIsInstance(cm.exception, ValueError)
        self.assertIn("'video'", str(cm.exception))

    def test_os_environ_changes_are_seen_at_each_call(self):
        os.environ["DYN_HEALTH_CHECK_LEVEL"] = "standard"
        self.assertEqual(dynhc.get_health_check_payload()["prompt"], "The sky is")
        os.environ["DYN_HEALTH_CHECK_PAYLOAD"] = '{"prompt": "test", "max_tokens": 1}'
        self.assertEqual(dynhc.get_health_check_payload(),
                         {"prompt": "test", "max_tokens": 1, "_health_check": True})
        os.environ["DYN_HEALTH_CHECK_PAYLOAD_DISABLED"] = "true"
        self.assertIsNone(dynhc.get_health_check_payload())
        del os.environ["DYN_HEALTH_CHECK_PAYLOAD_DISABLED"]
        del os.environ["DYN_HEALTH_CHECK_PAYLOAD"]
        self.assertEqual(dynhc.get_health_check_payload()["max_tokens"], 5)

    def test_environment_file_payload(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"prompt": "Hello world", "max_tokens": 3}, f)
        self.addCleanup(os.unlink, f.name)
        os.environ["DYN_HEALTH_CHECK_PAYLOAD"] = "@" + f.name
        self.assertEqual(dynhc.get_health_check_payload()["prompt"], "Hello world")

    def test_config_as_class_instance_and_dict(self):
        class Config:
            model = "gpt2"
            health_check_level = "standard"
            health_check_payload = {"prompt": "The weather is", "max_tokens": 3,
                                    "temperature": 0.5}
        expected = {"prompt": "The weather is", "max_tokens": 3, "temperature": 0.5,
                    "_health_check": True}
        self.assertEqual(dynhc.get_health_check_payload(config=Config), expected)
        self.assertEqual(dynhc.get_health_check_payload(config=Config()), expected)
        as_dict = {k: v for k, v in vars(Config).items() if not k.startswith("_")}
        self.assertEqual(dynhc.get_health_check_payload(config=as_dict), expected)

    def test_config_scalar_settings_and_level(self):
        config = {"health_check_level": "comprehensive", "model_type": "chat",
                  "health_check_interval": 2.5, "health_check_timeout": "500ms",
                  "health_check_enabled": False}
        self.assertEqual(dynhc.get_health_check_payload(config=config)["max_tokens"], 50)
        result = dynhc.Resolver(config=config).resolve()
        self.assertEqual((result.model_type, result.level, result.interval, result.timeout,
                          result.enabled), ("chat", "comprehensive", 2.5, 0.5, False))
        self.assertEqual(dynhc.get_health_check_payload(
            config={"health_check_payload_disabled": True}), None)

    def test_config_payload_as_json_text_or_file(self):
        self.assertEqual(dynhc.get_health_check_payload(
            config={"health_check_payload": '{"prompt": "x"}'})["prompt"], "x")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"prompt": "from a file"}')
        self.addCleanup(os.unlink, f.name)
        self.assertEqual(dynhc.get_health_check_payload(
            config={"health_check_payload": "@" + f.name})["prompt"], "from a file")

    def test_runtime_model_type_beats_the_config_key(self):
        payload = dynhc.get_health_check_payload(config={"model_type": "chat"},
                                                 model_type="embedding")
        self.assertEqual(payload, {"input": "test", "_health_check": True})

    def test_warnings_go_to_the_dynhc_logger_as_warnings(self):
        os.environ["DYN_HEALTH_CHECK_PAYLOAD"] = '{"prompt": "x",\n "max_tokens": }'
        with self.assertLogs("dynhc", logging.WARNING) as logs:
            payload = dynhc.get_health_check_payload()
        self.assertEqual(payload, MINIMAL)  # the bad source is skipped
        self.assertEqual(logs.records[0].levelno, logging.WARNING)
        self.assertRegex(logs.records[0].getMessage(),
                         r"^DYN_HEALTH_CHECK_PAYLOAD:2:16: warning: expected a JSON value")

    def test_a_bad_config_duration_is_a_warning_naming_the_key(self):
        for value in (float("nan"), float("inf"), -1, "30x"):
            with self.subTest(value=value), self.assertLogs("dynhc", logging.WARNING) as logs:
                result = dynhc.Resolver(config={"health_check_interval": value}).resolve(log=True)
            self.assertEqual(result.interval, 10.0)  # the key is ignored: the default
            self.assertRegex(logs.output[0], r"^WARNING:dynhc:<config>.*health_check_interval")

    def test_bad_config_values_are_usage_errors(self):
        with self.assertRaises(dynhc.UsageError):
            dynhc.get_health_check_payload(config={"health_check_payload": {"x": object()}})
        with self.assertRaises(dynhc.UsageError):
            dynhc.get_health_check_payload(config={"health_check_interval": [1]})
        with self.assertRaises(dynhc.UsageError):
            dynhc.get_health_check_payload(config={"model": "a\0b"})

    def test_custom_default_dict_text_and_clear(self):
        dynhc.set_custom_health_check_payload({"prompt": "ping", "max_tokens": 1,
                                               "temperature": 0.0})
        self.assertEqual(dynhc.get_health_check_payload()["prompt"], "ping")
        self.assertEqual(dynhc.Resolver().resolve().source, "custom")
        dynhc.set_custom_health_check_payload('{"prompt": "pong"}')
        self.assertEqual(dynhc.get_health_check_payload()["prompt"], "pong")
        dynhc.set_custom_health_check_payload(None)
        self.assertEqual(dynhc.get_health_check_payload(), MINIMAL)

    def test_custom_default_refuses_what_is_not_a_json_object(self):
        for bad in ("[1]", "{", "nope"):
            with self.assertRaises(dynhc.InvalidJSONError):
                dynhc.set_custom_health_check_payload(bad)
        with self.assertRaises(dynhc.UsageError):
            dynhc.set_custom_health_check_payload(["not", "a", "dict"])
        with self.assertRaises(dynhc.UsageError):
            dynhc.set_custom_health_check_payload({"temperature": float("nan")})


class ResolverOptions(unittest.TestCase):
    def test_env_mapping_replaces_the_process_environment(self):
        with mock.patch.dict(os.environ, {"DYN_HEALTH_CHECK_LEVEL": "comprehensive"}):
            result = dynhc.Resolver(env={"DYN_HEALTH_CHECK_LEVEL": " standard\n"}).resolve()
        self.assertEqual(result.level, "standard")

    def test_result_provenance(self):
        env = {"DYN_HEALTH_CHECK_PAYLOAD": '{"prompt": "p", "max_tokens": 7}',
               "DYN_HEALTH_CHECK_INTERVAL": "30", "DYN_HEALTH_CHECK_REQUEST_TIMEOUT": "2s"}
        result = dynhc.Resolver(env=env, config={"model": "gpt2"}).resolve()
        self.assertEqual((result.source, result.origin, result.token_budget, result.model),
                         ("env", "DYN_HEALTH_CHECK_PAYLOAD", 7, "gpt2"))
        self.assertEqual((result.interval, result.timeout, result.enabled), (30.0, 2.0, True))
        self.assertEqual(json.loads(result.text), result.payload)
        self.assertIsNot(result.payload, result.payload)  # a fresh dict each time
        self.assertIn("payload: env DYN_HEALTH_CHECK_PAYLOAD", result.explain())
        self.assertIn("source=env", repr(result))

    def test_runtime_payload_dict_beats_everything(self):
        result = dynhc.Resolver(payload={"prompt": "rt"}, env={
            "DYN_HEALTH_CHECK_PAYLOAD": '{"prompt": "env"}'}).resolve()
        self.assertEqual((result.source, result.origin, result.payload["prompt"]),
                         ("runtime", "<runtime>", "rt"))

    def test_payload_file_and_config_file(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "p.json"), "w") as f:
                f.write('{"prompt": "file"}')
            with open(os.path.join(d, "config.yaml"), "w") as f:
                f.write('model: "gpt2"\nhealth_check_payload:\n  prompt: "yaml"\n')
            self.assertEqual(dynhc.Resolver(payload_file=os.path.join(d, "p.json"), env={})
                             .resolve().payload["prompt"], "file")
            result = dynhc.Resolver(config_file=os.path.join(d, "config.yaml"), env={}).resolve()
            self.assertEqual((result.source, result.payload["prompt"], result.model),
                             ("config", "yaml", "gpt2"))

    def test_every_other_option(self):
        result = dynhc.Resolver(model_type="tokens", level="STANDARD", bos_token_id=42,
                                marker_key="_HEALTH_CHECK", env={}).resolve()
        self.assertEqual(result.payload["token_ids"], [42])
        self.assertIs(result.payload["_HEALTH_CHECK"], True)
        self.assertNotIn("_health_check",
                         dynhc.Resolver(marker_key=None, env={}).resolve().payload)
        merged = dynhc.Resolver(merge=True, payload={"max_tokens": 2}, env={}).resolve()
        self.assertEqual((merged.payload["prompt"], merged.payload["max_tokens"]), ("1", 2))
        custom = dynhc.Resolver(custom_default={"prompt": "mine"}, env={}).resolve()
        self.assertEqual((custom.source, custom.payload["prompt"]), ("custom", "mine"))
        disabled = dynhc.Resolver(disabled=True, env={}).resolve()
        self.assertTrue(disabled.disabled)
        self.assertIsNone(disabled.payload)
        settings = dynhc.Resolver(enabled=False, interval=1.5, timeout=0.25, env={}).resolve()
        self.assertEqual((settings.enabled, settings.interval, settings.timeout),
                         (False, 1.5, 0.25))
        self.assertFalse(dynhc.Resolver(enabled_default=False, env={}).resolve().enabled)
        checked = dynhc.Resolver(check_all=True, env={"DYN_SYSTEM_PORT": "http"}).resolve()
        self.assertEqual([d.source for d in checked.diagnostics], ["DYN_SYSTEM_PORT"])

    def test_diagnostic_fields_and_gnu_form(self):
        env = {"DYN_HEALTH_CHECK_PAYLOAD": '{\n  "prompt": "x",\n  "temperature": 9\n}'}
        d = dynhc.Resolver(env=env).resolve().diagnostics[0]
        self.assertEqual((d.severity, d.source, d.line, d.column), (
            "warning", "DYN_HEALTH_CHECK_PAYLOAD", 3, 18))
        self.assertEqual(str(d), "DYN_HEALTH_CHECK_PAYLOAD:3:18: warning: " + d.message)
        whole = dynhc.Diagnostic("error", "DYN_LOG", 0, 0, "bad")
        self.assertEqual(str(whole), "DYN_LOG: error: bad")

    def test_strict_error_carries_its_diagnostics_and_result(self):
        with self.assertRaises(dynhc.StrictError) as cm:
            dynhc.Resolver(strict=True, env={"DYN_HEALTH_CHECK_LEVEL": "max"}).resolve()
        e = cm.exception
        self.assertEqual([d.source for d in e.diagnostics], ["DYN_HEALTH_CHECK_LEVEL"])
        self.assertEqual(e.diagnostics[0].severity, "error")
        self.assertIsNone(e.result.payload)
        self.assertTrue(str(e).startswith("DYN_HEALTH_CHECK_LEVEL: error: "))

    def test_config_error_for_a_config_file_that_cannot_be_read(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.yaml")
            with open(bad, "w") as f:
                f.write("a: 1\na: 2\n")
            with self.assertRaises(dynhc.ConfigError) as cm:
                dynhc.Resolver(config_file=bad, env={}).resolve()
            self.assertIn(bad + ":2:1: error:", str(cm.exception))
            with self.assertRaises(dynhc.ConfigError):
                dynhc.Resolver(config_file=os.path.join(d, "missing.json"), env={}).resolve()

    def test_usage_errors_for_bad_options(self):
        cases = [dict(model_type="video"), dict(level="max"), dict(bos_token_id=-1),
                 dict(interval=0), dict(timeout=float("inf")), dict(interval="10"),
                 dict(custom_default="[]"), dict(payload={}, payload_file="x"),
                 dict(config={}, config_file="x"), dict(payload=3)]
        expected = [dynhc.UnknownModelTypeError, dynhc.UnknownLevelError] + \
            [dynhc.UsageError] * 4 + [dynhc.InvalidJSONError] + [dynhc.UsageError] * 3
        for kwargs, error in zip(cases, expected):
            with self.subTest(**{k: repr(v) for k, v in kwargs.items()}):
                with self.assertRaises(error):
                    dynhc.Resolver(**kwargs)

    def test_error_classes_map_every_status(self):
        from dynhc.errors import error_for
        for status, cls, std in [(-1, dynhc.NoMemoryError, MemoryError),
                                 (-2, dynhc.UsageError, ValueError),
                                 (-3, dynhc.UnknownModelTypeError, ValueError),
                                 (-4, dynhc.UnknownLevelError, ValueError),
                                 (-5, dynhc.ConfigError, dynhc.Error),
                                 (-6, dynhc.StrictError, dynhc.Error),
                                 (-7, dynhc.InvalidJSONError, ValueError),
                                 (-8, dynhc.BusyError, dynhc.Error),
                                 (-9, dynhc.NotFoundError, LookupError),
                                 (-10, dynhc.UnsupportedError, dynhc.Error),
                                 (-11, dynhc.SystemCallError, OSError),
                                 (1, dynhc.DisabledError, dynhc.Error),
                                 (-99, dynhc.Error, Exception)]:
            e = error_for(status, "m")
            self.assertIs(type(e), cls)
            self.assertIsInstance(e, std)
            self.assertIsInstance(e, dynhc.Error)
            self.assertEqual(e.status, status)
        self.assertTrue(issubclass(dynhc.LibraryNotFoundError, ImportError))


if __name__ == "__main__":
    unittest.main()
