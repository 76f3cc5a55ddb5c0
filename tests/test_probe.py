#!/usr/bin/env python3
"""The HTTP commands of SPEC 4 against tests/stub/openai_stub.py.

    test_probe.py DYNHC STUB probe|watch

Runs the built dynhc binary with a clean environment (PATH and the sanitizer
settings only, so no proxy or DYN_* variable of the caller leaks in) and
checks exit statuses, stderr lines, what the stub received and, for watch,
what the status server says. Ends with unittest's summary; exits non-zero on
any failure.
"""

import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

DYNHC = STUB = None

# Sanitizer builds run slower; every time bound below has this much slack.
SLACK = 2.0


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k == "PATH" or k.split("_")[0] in ("ASAN", "UBSAN", "LSAN", "TSAN")}
    env.update(extra or {})
    return env


def http(method, url, body=None, timeout=5):
    """(status, body text) of one request; status 0 when nothing answers."""
    req = urllib.request.Request(url, data=body.encode() if body is not None else None,
                                 method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


class Stub:
    """One openai_stub.py process."""

    def __init__(self, mode="healthy", metrics="none"):
        self.proc = subprocess.Popen([sys.executable, STUB, "--mode", mode, "--metrics", metrics],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = "http://127.0.0.1:%d" % self.port

    def mode(self, mode):
        self.assert_ok(http("POST", self.url + "/_mode", mode))

    def metrics(self, metrics):
        self.assert_ok(http("POST", self.url + "/_metrics", metrics))

    def last(self):
        status, text = http("GET", self.url + "/_last")
        self.assert_ok((status, text))
        return json.loads(text)

    @staticmethod
    def assert_ok(answer):
        if answer[0] != 200:
            raise AssertionError("the stub did not answer: %r" % (answer,))

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def dynhc(*args, env=None, cwd=None):
    """(status, stdout, stderr lines, seconds) of one dynhc run."""
    start = time.monotonic()
    done = subprocess.run([DYNHC, *args], env=clean_env(env), cwd=cwd, capture_output=True,
                          text=True, timeout=30)
    return (done.returncode, done.stdout, done.stderr.splitlines(), time.monotonic() - start)


class ProbeTest(unittest.TestCase):
    def setUp(self):
        self.stub = Stub()

    def tearDown(self):
        self.stub.stop()

    def probe(self, *args, env=None, cwd=None):
        return dynhc("probe", "--url", self.stub.url, *args, env=env, cwd=cwd)

    def assert_healthy(self, result):
        status, out, err, _ = result
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err), 1, err)
        self.assertRegex(err[0], r"^dynhc: healthy: http://127\.0\.0\.1:\d+/\S+: HTTP 200 in \d+ ms$")

    def assert_unhealthy(self, result, pattern):
        """Exit 1, nothing on stdout, one line on stderr matching pattern."""
        status, out, err, _ = result
        self.assertEqual(status, 1, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err), 1, err)
        self.assertRegex(err[0], r"^dynhc: unhealthy: http://127\.0\.0\.1:\d+/\S+: " + pattern)

    def assert_usage(self, result, pattern):
        status, out, err, _ = result
        self.assertEqual(status, 2, err)
        self.assertEqual(out, "")
        self.assertRegex(err[0], "^dynhc: error: " + pattern)
        self.assertEqual(err[-1], "Try 'dynhc --help'.")

    def sent(self):
        last = self.stub.last()
        self.assertEqual(last["content_type"], "application/json")
        return last["path"], json.loads(last["body"])

    # ---- routes and bodies

    def test_generate_payload_goes_to_completions(self):
        self.assert_healthy(self.probe())
        self.assertEqual(self.sent(), ("/v1/completions", {
            "prompt": "1", "max_tokens": 1, "temperature": 0.0, "stream": False,
            "_health_check": True}))

    def test_chat_payload_goes_to_chat_completions(self):
        self.assert_healthy(self.probe("--model-type", "chat"))
        path, body = self.sent()
        self.assertEqual(path, "/v1/chat/completions")
        self.assertEqual(body["messages"], [{"role": "user", "content": "Hi"}])

    def test_embedding_payload_goes_to_embeddings(self):
        self.assert_healthy(self.probe("--model-type", "embeddings", "--level", "standard"))
        self.assertEqual(self.sent(), ("/v1/embeddings", {"input": "The sky is",
                                                          "_health_check": True}))

    def test_base_url_gets_the_route_once_and_keeps_its_query(self):
        for suffix, path in (("/", "/v1/completions"), ("/v1", "/v1/completions"),
                             ("/v1/", "/v1/completions"),
                             ("/v1?api-version=2", "/v1/completions?api-version=2")):
            self.assert_healthy(dynhc("probe", "--url", self.stub.url + suffix))
            self.assertEqual(self.sent()[0], path, suffix)

    def test_url_naming_a_route_is_used_as_is(self):
        self.assert_healthy(dynhc("probe", "--url", self.stub.url + "/v1/embeddings",
                                  "--model-type", "embedding"))
        self.assertEqual(self.sent()[0], "/v1/embeddings")

    def test_url_with_a_prefix_keeps_it(self):
        self.assert_unhealthy(dynhc("probe", "--url", self.stub.url + "/llm"), "HTTP 404: ")
        self.assertEqual(self.sent()[0], "/llm/v1/completions")

    def test_model_comes_from_the_option(self):
        self.assert_healthy(self.probe("--model", 'gpt2 "large"'))
        self.assertEqual(self.sent()[1]["model"], 'gpt2 "large"')

    def test_model_comes_from_the_config_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "config.yaml"), "w") as f:
                f.write("model: Qwen/Qwen3-0.6B\nmodel_type: chat\n")
            self.assert_healthy(self.probe("--config", "config.yaml", cwd=tmp))
        path, body = self.sent()
        self.assertEqual(path, "/v1/chat/completions")
        self.assertEqual(body["model"], "Qwen/Qwen3-0.6B")

    def test_model_of_the_payload_is_kept(self):
        self.assert_healthy(self.probe("--payload", '{"prompt":"x","model":"mine"}',
                                       "--model", "other", "--no-marker"))
        self.assertEqual(self.sent()[1], {"prompt": "x", "model": "mine"})

    def test_model_is_added_to_an_empty_payload(self):
        result = self.probe("--payload", "{}", "--no-marker", "--model", "m")
        self.assertEqual(result[0], 0, result[2])
        self.assertEqual(self.sent()[1], {"model": "m"})

    def test_no_model_known_sends_none(self):
        self.assert_healthy(self.probe())
        self.assertNotIn("model", self.sent()[1])

    def test_proxy_variables_are_ignored(self):
        self.assert_healthy(self.probe(env={"http_proxy": "http://127.0.0.1:1",
                                            "HTTPS_PROXY": "http://127.0.0.1:1"}))

    def test_diagnostics_are_printed_as_resolve_prints_them(self):
        status, _, err, _ = self.probe(env={"DYN_HEALTH_CHECK_PAYLOAD": '{"prompt":"x","top_p":7}'})
        self.assertEqual(status, 0, err)
        self.assertEqual(len(err), 2, err)
        self.assertRegex(err[0], r"^DYN_HEALTH_CHECK_PAYLOAD:1:\d+: warning: ")
        self.assertEqual(self.sent()[1]["top_p"], 7)

    # ---- verdicts

    def test_slow_answer_within_the_timeout_is_healthy(self):
        self.stub.mode("slow 200")
        self.assert_healthy(self.probe("--timeout", "5s"))

    def test_hanging_server_times_out_after_the_option(self):
        self.stub.mode("hang")
        result = self.probe("--timeout", "300ms")
        self.assert_unhealthy(result, r"no answer within 300 ms$")
        self.assertLess(result[3], 2.0)

    def test_timeout_comes_from_the_environment(self):
        self.stub.mode("hang")
        result = self.probe(env={"DYN_HEALTH_CHECK_REQUEST_TIMEOUT": "0.4"})
        self.assert_unhealthy(result, r"no answer within 400 ms$")
        self.assertLess(result[3], 2.0)

    def test_refused_connection(self):
        dead = Stub("dead")
        try:
            result = dynhc("probe", "--url", dead.url)
        finally:
            dead.stop()
        self.assert_unhealthy(result, r"cannot connect: Connection refused$")

    def test_http_500_shows_the_start_of_the_body_escaped(self):
        self.stub.mode("http500")
        result = self.probe()
        self.assert_unhealthy(result, r"HTTP 500: 'engine failed\\x0a\\x09at step 7\\x1b\[0m x+\.\.\.'$")
        self.assertLess(len(result[2][0]), 300)

    def test_malformed_json(self):
        self.stub.mode("malformed")
        self.assert_unhealthy(self.probe(), r"the answer is not valid JSON: '\{\"choices\"")

    def test_missing_choices(self):
        self.stub.mode("nochoices")
        self.assert_unhealthy(self.probe(), r'the answer has no non-empty "choices" array: ')

    def test_missing_data_for_embeddings(self):
        self.stub.mode("nochoices")
        self.assert_unhealthy(self.probe("--model-type", "embedding"),
                              r'the answer has no non-empty "data" array: ')

    def test_empty_choices(self):
        self.stub.mode("empty")
        self.assert_unhealthy(self.probe("--model-type", "chat"),
                              r'the answer has no non-empty "choices" array: ')

    def test_connection_closed_mid_answer(self):
        self.stub.mode("close")
        self.assert_unhealthy(self.probe(), r"the connection closed in the middle of the answer ")

    # ---- what is not a probe

    def test_disabled_payloads_send_nothing(self):
        status, out, err, _ = self.probe(env={"DYN_HEALTH_CHECK_PAYLOAD_DISABLED": "true"})
        self.assertEqual((status, out), (3, ""))
        self.assertEqual(err, ["dynhc: health-check payloads are disabled (from environment "
                               "DYN_HEALTH_CHECK_PAYLOAD_DISABLED): nothing to send"])
        self.assertEqual(self.stub.last(), {})

    def test_strict_failure_sends_nothing(self):
        status, _, err, _ = self.probe("--strict", "--payload", '{"prompt":"x","top_p":7}')
        self.assertEqual(status, 1, err)
        self.assertEqual(self.stub.last(), {})

    def test_usage_errors(self):
        url = self.stub.url
        cases = [
            ((), r"probe needs --url URL$"),
            (("--url", url, "--url", url), r"probe takes one --url$"),
            (("--url", url, "--timeout", "30x"), r"--timeout '30x': expected a duration"),
            (("--url", url, "--timeout", "0"), r"--timeout '0': expected a duration"),
            (("--url", url, "--timeout="), r"--timeout '': expected a duration"),
            (("--url", url, "--frobnicate"), r"unknown option '--frobnicate'$"),
            (("--url", url, "--compact"), r"option '--compact' does not apply to this command$"),
            (("--url", url, "--interval", "1"), r"option '--interval' does not apply"),
            (("--url", url, "--model", ""), r"--model needs a non-empty name$"),
            (("--url", "ftp://127.0.0.1/"), r"--url 'ftp://127\.0\.0\.1/': expected an http:// or https:// URL$"),
            (("--url", "127.0.0.1:8000"), r"--url '127\.0\.0\.1:8000': expected an http:// or https:// URL"),
            (("--url", "http://"), r"--url 'http://': expected an http:// or https:// URL"),
            (("--url", url, "--model-type", "tokens"), r"model type 'tokens' has no OpenAI-compatible route"),
            (("--url", url, "--model-type", "nope"), r"unknown model type 'nope'"),
        ]
        for args, pattern in cases:
            with self.subTest(args=args):
                self.assert_usage(dynhc("probe", *args), pattern)
        self.assertEqual(self.stub.last(), {})

    def test_help(self):
        status, out, err, _ = dynhc("probe", "--help")
        self.assertEqual((status, err), (0, []))
        self.assertIn("--url URL", out)


def handles_signal(pid, sig):
    """Whether process pid has a handler installed for sig (from /proc)."""
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return (int(line.split()[1], 16) >> (sig - 1)) & 1 == 1
    except FileNotFoundError:
        pass
    return False


def file_limits(pid):
    """(soft, hard) "Max open files" of process pid (from /proc)."""
    with open("/proc/%d/limits" % pid) as limits:
        for line in limits:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no file limit for %d" % pid)


def allow_descriptors(test, needed):
    """Raises this process's soft file limit to the hard one; skips the test
    when needed descriptors still do not fit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        test.skipTest("needs %d file descriptors, the hard limit is %d" % (needed, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Watch:
    """One `dynhc watch` process and its status server."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen([DYNHC, "watch", *args], env=clean_env(env),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_line = self.proc.stdout.readline()
        match = re.fullmatch(r"listening on http://([^\s]+):(\d+)\n", self.first_line)
        if match is None:
            self.stop()
            raise AssertionError("first line %r, stderr %r" % (self.first_line, self.stderr))
        self.host = match.group(1)
        self.port = int(match.group(2))
        self.url = "http://127.0.0.1:%d" % self.port

    def health(self):
        return http("GET", self.url + "/health")

    def wait_for(self, status, seconds):
        """Seconds until /health answers status; fails after seconds."""
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            answer = self.health()
            if answer[0] == status:
                return time.monotonic() - start, json.loads(answer[1])
            time.sleep(0.02)
        raise AssertionError("/health did not turn %d within %.1f s: %r" % (status, seconds,
                                                                          self.health()))

    def wait_for_error(self, endpoint, error, seconds):
        """Waits until the verbose status gives endpoint's last error."""
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            status, text = http("GET", self.url + "/health?verbose")
            if status and json.loads(text)["checks"][endpoint]["last_error"] == error:
                return
            time.sleep(0.02)
        raise AssertionError("last error of %s is not %r: %s" % (endpoint, error, text))

    def stays(self, status, seconds):
        """Fails unless /health answers status all along for seconds."""
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            answer = self.health()
            if answer[0] != status:
                raise AssertionError("/health turned %r" % (answer,))
            time.sleep(0.02)

    def last_error(self, endpoint):
        status, text = http("GET", self.url + "/health?verbose")
        return json.loads(text)["checks"][endpoint]["last_error"] if status else None

    def stop(self, sig=signal.SIGTERM):
        """(exit status, seconds to exit)."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            status = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return status, time.monotonic() - start


class WatchTest(unittest.TestCase):
    INTERVAL, TIMEOUT = 0.2, 0.3

    def setUp(self):
        self.stub = Stub()
        self.watch = None

    def tearDown(self):
        # Every watch ends as a pod's would: SIGTERM, exit 0, clean stderr.
        if self.watch is not None and self.watch.proc.returncode is None:
            code, seconds = self.watch.stop()
            self.assertEqual(code, 0, self.watch.stderr)
            self.assertLess(seconds, 2.0)
        if self.watch is not None:
            self.assertNotIn("Sanitizer", self.watch.stderr)
            self.assertNotIn("runtime error", self.watch.stderr)
        self.stub.stop()

    def start(self, *args, env=None):
        self.watch = Watch("--url", self.stub.url, "--port", "0", "--interval", "200ms",
                           "--timeout", "300ms", *args, env=env)
        return self.watch

    def turn_bound(self):
        return self.INTERVAL + self.TIMEOUT + SLACK

    def test_ready_then_hang_then_back_then_dead(self):
        w = self.start("--model", "gpt2")
        self.assertEqual(w.host, "0.0.0.0")
        _, status = w.wait_for(200, 5)
        self.assertEqual(status["status"], "ready")
        self.assertEqual(status["endpoints"], {self.stub.url: "ready"})

        self.stub.mode("hang")
        seconds, status = w.wait_for(503, self.turn_bound())
        self.assertEqual(status["endpoints"], {self.stub.url: "notready"})

        self.stub.mode("healthy")
        w.wait_for(200, self.turn_bound())

        self.stub.proc.kill()
        w.wait_for(503, self.turn_bound())
        # The first failure may also be the kept-alive connection dying: the
        # next ones are refusals.
        w.wait_for_error(self.stub.url, "cannot connect: Connection refused", self.turn_bound())

        code, seconds = w.stop()
        self.assertEqual(code, 0, w.stderr)
        self.assertLess(seconds, 2.0)
        self.assertIn("dynhc: warning: endpoint 'http://127.0.0.1:%d' is now not ready: "
                      "no answer within 300 ms\n" % self.stub.port, w.stderr)

    def test_each_check_judges_its_own_answer(self):
        # A target keeps its easy handle and answer buffer from check to
        # check: an answer must not run on into the next one's.
        w = self.start("--no-metrics")
        w.wait_for(200, 5)
        self.stub.mode("nochoices")
        w.wait_for(503, self.turn_bound())
        w.wait_for_error(self.stub.url, "the answer has no non-empty \"choices\" array: "
                         "'{\"id\": \"cmpl-stub\", \"object\": \"text_completion\"}'",
                         self.turn_bound())
        self.stub.mode("hang")
        w.wait_for_error(self.stub.url, "no answer within 300 ms", self.turn_bound())
        self.stub.mode("healthy")
        w.wait_for(200, self.turn_bound())

    def test_metrics_parse_and_carry_the_model_label(self):
        w = self.start("--model", "gpt2")
        w.wait_for(200, 5)
        status, text = http("GET", w.url + "/metrics")
        self.assertEqual(status, 200)
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                            r'[-+]?([0-9.]+(e[-+]?[0-9]+)?|Inf|NaN)$')
        samples = [line for line in text.splitlines() if line and not line.startswith("#")]
        self.assertTrue(samples)
        for line in samples:
            self.assertRegex(line, sample)
        self.assertIn('model="gpt2"', text)
        self.assertIn('{dynhc_endpoint="%s"' % self.stub.url, text)

    # ---- forward progress from the server's own metrics (scrape.c)

    def test_a_busy_server_that_generates_stays_ready_and_gets_no_canary(self):
        self.stub.metrics("busy-progressing")
        self.stub.mode("hang")  # a canary would queue behind the requests and time out
        w = self.start("--stall-timeout", "1s")
        w.wait_for(200, 5)
        w.stays(200, 1.5)
        self.assertEqual(self.stub.last(), {})  # no POST: never a canary
        status, text = http("GET", w.url + "/metrics")
        self.assertRegex(text, r'dynhc_endpoint_last_progress_timestamp_seconds\{[^}]*\} [1-9]')

    def test_a_busy_server_whose_counter_freezes_is_stalled_then_recovers(self):
        self.stub.metrics("busy-progressing")
        self.stub.mode("hang")
        w = self.start("--stall-timeout", "600ms")
        w.wait_for(200, 5)
        self.stub.metrics("busy-stalled")
        seconds, _ = w.wait_for(503, 0.6 + self.turn_bound())
        self.assertGreaterEqual(seconds, 0.6 - self.INTERVAL)
        self.assertEqual(w.last_error(self.stub.url),
                         "stalled: requests running (vllm:num_requests_running) and "
                         "vllm:generation_tokens_total unchanged for 0.6 s")
        self.assertEqual(self.stub.last(), {})  # judged by the metrics, not a canary
        self.stub.metrics("busy-progressing")
        w.wait_for(200, self.turn_bound())
        code, _ = w.stop()
        self.assertEqual(code, 0, w.stderr)
        # Said when it happened, not at every round.
        self.assertEqual(w.stderr.count("is now not ready: stalled: "), 1, w.stderr)
        self.assertNotIn("is not ready: stalled", w.stderr)

    def test_an_idle_server_gets_canaries(self):
        self.stub.metrics("idle")
        w = self.start("--stall-timeout", "600ms")
        w.wait_for(200, 5)
        self.assertEqual(self.stub.last()["path"], "/v1/completions")
        self.stub.mode("hang")
        w.wait_for(503, self.turn_bound())
        w.wait_for_error(self.stub.url, "no answer within 300 ms", self.turn_bound())

    def test_without_a_stall_threshold_a_frozen_busy_server_gets_the_canary(self):
        self.stub.metrics("busy-stalled")
        w = self.start()
        w.wait_for(200, 5)
        w.stays(200, 1.0)
        self.assertEqual(self.stub.last()["path"], "/v1/completions")

    def test_the_stall_threshold_comes_from_the_environment(self):
        self.stub.metrics("busy-stalled")
        self.stub.mode("hang")
        w = self.start(env={"DYN_HEALTH_CHECK_STALL_TIMEOUT": "500ms"})
        w.wait_for(200, 5)  # busy: judged by its counter, from the first look on
        w.wait_for(503, 0.5 + self.turn_bound())
        self.assertRegex(w.last_error(self.stub.url), r"^stalled: .* unchanged for 0\.5 s$")

    def test_no_metrics_falls_back_to_canaries_and_says_so_once(self):
        w = self.start("--stall-timeout", "1s")  # the stub has no /metrics
        w.wait_for(200, 5)
        time.sleep(5 * self.INTERVAL)
        self.assertEqual(self.stub.last()["path"], "/v1/completions")
        self.stub.mode("hang")
        w.wait_for(503, self.turn_bound())
        code, _ = w.stop()
        self.assertEqual(code, 0, w.stderr)
        self.assertEqual(w.stderr.count("no usable metrics at %s/metrics (HTTP 404): checking "
                                        "with canaries only" % self.stub.url), 1, w.stderr)

    def test_a_counter_that_goes_back_is_a_restart_not_a_stall(self):
        self.stub.metrics("busy-progressing")
        self.stub.mode("hang")
        w = self.start("--stall-timeout", "1s")
        w.wait_for(200, 5)
        self.stub.metrics("restart")
        w.stays(200, 1.5)
        code, _ = w.stop()
        self.assertEqual(code, 0, w.stderr)
        self.assertRegex(w.stderr, r"vllm:generation_tokens_total went back from \d+ to \d+ "
                                   r"\(a restart\)")

    def test_other_metric_names_and_a_separate_metrics_url(self):
        metrics_server = Stub(metrics="busy-stalled")
        try:
            w = self.start("--stall-timeout", "500ms", "--metrics-url",
                           metrics_server.url + "/metrics", "--running-metric", "custom_running",
                           "--tokens-metric", "custom_tokens_total")
            w.wait_for(200, 5)
            w.wait_for(503, 0.5 + self.turn_bound())
            self.assertEqual(w.last_error(self.stub.url),
                             "stalled: requests running (custom_running) and "
                             "custom_tokens_total unchanged for 0.5 s")
            self.assertEqual(self.stub.last(), {})
        finally:
            metrics_server.stop()

    def test_no_metrics_option_sends_only_canaries(self):
        self.stub.metrics("busy-stalled")
        w = self.start("--stall-timeout", "300ms", "--no-metrics")
        w.wait_for(200, 5)
        w.stays(200, 1.0)
        code, _ = w.stop()
        self.assertNotIn("no usable metrics", w.stderr)
        self.assertEqual(self.stub.last()["path"], "/v1/completions")

    def test_sigint_stops_it_with_a_check_in_flight(self):
        w = self.start("--timeout", "10s")
        w.wait_for(200, 5)
        self.stub.mode("hang")
        time.sleep(2 * self.INTERVAL)
        code, seconds = w.stop(signal.SIGINT)
        self.assertEqual(code, 0, w.stderr)
        self.assertLess(seconds, 2.0)

    def test_signal_blocked_by_the_parent_still_stops_it_at_once(self):
        # The signal mask survives exec: a parent may start watch with
        # SIGTERM blocked. One sent at once, before watch has even run,
        # waits pending and must still end it with exit 0.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            proc = subprocess.Popen([DYNHC, "watch", "--url", self.stub.url, "--port", "0"],
                                    env=clean_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            self.fail("watch ignored a SIGTERM sent while its parent blocked it")
        self.assertEqual(proc.returncode, 0, err)

    def test_a_signal_at_any_moment_of_the_start_exits_0(self):
        # From watch's first step (handling the signals) to serving, wherever
        # the signal lands, the exit is clean.
        for i, delay in enumerate((0, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064)):
            sig = (signal.SIGTERM, signal.SIGINT)[i % 2]
            proc = subprocess.Popen([DYNHC, "watch", "--url", self.stub.url, "--port", "0"],
                                    env=clean_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10
            while not handles_signal(proc.pid, sig) and time.monotonic() < deadline:
                time.sleep(0.0002)
            time.sleep(delay)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=10)
            with self.subTest(delay=delay, signal=sig.name):
                self.assertEqual(proc.returncode, 0, err)
                # Stopped before serving, or after: never half-started.
                self.assertRegex(out, r"^(listening on http://0\.0\.0\.0:\d+\n)?$")
                self.assertNotIn("Sanitizer", err)

    def test_watch_takes_its_whole_file_limit(self):
        # The status server's connection limit follows the soft file limit:
        # watch raises it to the hard one.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard <= 1024:
            self.skipTest("the hard file limit leaves nothing to raise")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        try:
            w = self.start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(file_limits(w.proc.pid), (hard, hard))

    def test_stops_at_once_with_hundreds_of_connections_held(self):
        # More quiet connections than the old fixed limit of 256: its
        # threads, at their limit, slept until a 30 s timeout on stop.
        allow_descriptors(self, 1024)
        w = self.start()
        held = [socket.create_connection(("127.0.0.1", w.port)) for _ in range(600)]
        slow = [socket.create_connection(("127.0.0.1", w.port)) for _ in range(60)]
        try:
            for s in slow:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            # A fresh probe is answered after all of them.
            status, _ = http("GET", w.url + "/health", timeout=2)
            self.assertIn(status, (200, 503))
            code, seconds = w.stop()
            self.assertEqual(code, 0, w.stderr)
            self.assertLess(seconds, 1.0)
        finally:
            for s in held + slow:
                s.close()

    def test_one_bad_server_of_two_makes_the_status_not_ready(self):
        dead = Stub("dead")
        try:
            w = self.start("--url", dead.url)
            _, status = w.wait_for(503, 5)
            time.sleep(self.INTERVAL + self.TIMEOUT)
            _, status = w.wait_for(503, 5)
            self.assertEqual(status["endpoints"], {self.stub.url: "ready", dead.url: "notready"})
        finally:
            dead.stop()

    def test_use_endpoint_health_status_picks_the_urls_that_count(self):
        dead = Stub("dead")
        try:
            self.start("--url", dead.url,
                       env={"DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS": json.dumps([self.stub.url])})
            self.watch.wait_for(200, 5)
        finally:
            dead.stop()

    def test_port_and_host_come_from_the_environment(self):
        port = free_port()
        self.watch = Watch("--url", self.stub.url, env={"DYN_SYSTEM_PORT": str(port),
                                                        "DYN_SYSTEM_HOST": " 127.0.0.1 "})
        self.assertEqual((self.watch.host, self.watch.port), ("127.0.0.1", port))
        self.assertEqual(self.watch.health()[0] in (200, 503), True)

    def test_without_a_port_it_listens_on_8082_on_every_address(self):
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", 8082))
            except OSError:
                self.skipTest("port 8082 is taken on this machine")
        self.watch = Watch("--url", self.stub.url)
        self.assertEqual((self.watch.host, self.watch.port), ("0.0.0.0", 8082))
        self.assertEqual(self.watch.health()[0] in (200, 503), True)

    def test_options_beat_the_environment(self):
        self.watch = Watch("--url", self.stub.url, "--host", "localhost", "--port", "0",
                           env={"DYN_SYSTEM_PORT": "-1", "DYN_SYSTEM_HOST": "::1"})
        # The first line names the address bound: localhost is 127.0.0.1.
        self.assertEqual(self.watch.host, "127.0.0.1")
        self.assertNotEqual(self.watch.port, 0)
        self.watch.wait_for(200, 5)

    def test_busy_port_is_an_error(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            status, out, err, _ = dynhc("watch", "--url", self.stub.url, "--host", "127.0.0.1",
                                        "--port", str(busy.getsockname()[1]))
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err[-1], "dynhc: error: the status server cannot start: "
                                  "Address already in use")

    def test_usage_errors(self):
        url = self.stub.url
        cases = [
            ((), r"watch needs at least one --url URL, --targets FILE or --dns NAME$"),
            (("--url", url, "--url", url), r"--url '.*' is given twice$"),
            (("--url", url, "--port", "65536"), r"--port needs a port number from 0 to 65535"),
            (("--url", url, "--port", "-1"), r"--port needs a port number"),
            (("--url", url, "--host", "example.com"), r"--host 'example\.com': expected an IPv4"),
            (("--url", url, "--interval", "1x"), r"--interval '1x': expected a duration"),
            (("--url", "file:///etc/passwd"), r"--url 'file:///etc/passwd': expected an http"),
            (("--url", url, "--compact"), r"option '--compact' does not apply"),
            (("--url", url, "--stall-timeout", "0"), r"--stall-timeout '0': expected a duration"),
            (("--url", url, "--url", url + "/v1", "--metrics-url", url + "/metrics"),
             r"--metrics-url names the metrics of one --url, and there are 2$"),
            (("--url", url, "--metrics-url", "ftp://x/metrics"),
             r"--metrics-url 'ftp://x/metrics': expected an http"),
        ]
        for args, pattern in cases:
            with self.subTest(args=args):
                status, out, err, _ = dynhc("watch", *args)
                self.assertEqual(status, 2, err)
                self.assertEqual(out, "")
                # Some usage errors are found once the scheduler has logged
                # the registration of the URLs before (info lines).
                errors = [line for line in err if not line.startswith("dynhc: info: ")]
                self.assertRegex(errors[0], "^dynhc: error: " + pattern)


def run_driver(case, usage):
    """The main of a driver run as `NAME.py DYNHC STUB` for one TestCase:
    unittest's summary, exit 1 on any failure or when no test ran."""
    global DYNHC, STUB
    if len(sys.argv) != 3:
        sys.exit(usage)
    DYNHC, STUB = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)


def main():
    global DYNHC, STUB
    if len(sys.argv) != 4 or sys.argv[3] not in ("probe", "watch"):
        sys.exit(__doc__)
    DYNHC, STUB = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    case = ProbeTest if sys.argv[3] == "probe" else WatchTest
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
