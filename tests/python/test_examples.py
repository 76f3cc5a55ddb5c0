"""examples/python/ run as a user runs them: each of the guide's snippets as
a program, and worker.py serving completions, canary-checking itself when
idle, answering /health on DYN_SYSTEM_PORT, stopping on SIGTERM, and showing
forward progress: a wedged engine turns not ready as stalled while its
requests hang, a saturated one stays ready while a canary would time out."""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def environment(**changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYN_")}
    env.update(changes)
    return env


def run(name, **env):
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], env=environment(**env),
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (name, out.returncode, out.stdout,
                                                        out.stderr))
    return out.stdout


def http(port, path, body=None, timeout=10):
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class Snippets(unittest.TestCase):
    def test_default_payloads(self):
        self.assertEqual(run("default_payloads.py").count("as the guide shows"), 5)

    def test_basic_usage(self):
        out = run("basic_usage.py")
        self.assertIn('handler got {"_health_check": true, "max_tokens": 1, "prompt": "1", '
                      '"stream": false, "temperature": 0.0}', out)

    def test_custom_payload_at_runtime(self):
        out = run("custom_payload_at_runtime.py",
                  DYN_HEALTH_CHECK_PAYLOAD='{"prompt": "from the environment"}')
        self.assertIn('"prompt": "What is 1+1?"', out)
        self.assertNotIn("from the environment", out)

    def test_set_global_custom_default(self):
        self.assertEqual(json.loads(run("set_global_custom_default.py"))["prompt"], "ping")

    def test_python_config(self):
        lines = run("python_config.py").splitlines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0], lines[1])
        self.assertEqual(json.loads(lines[0])["prompt"], "The weather is")

    def test_model_specific_tuning(self):
        out = run("model_specific_tuning.py")
        self.assertIn('generate {"_health_check": true, "max_tokens": 5, "prompt": "def hello():"',
                      out)
        self.assertIn("chat ", out)


class Worker(unittest.TestCase):
    def start(self, *args, **env):
        env = environment(**{"DYN_SYSTEM_HOST": "127.0.0.1", "DYN_SYSTEM_PORT": "0",
                             "DYN_HEALTH_CHECK_INTERVAL": "0.3", **env})
        self.proc = subprocess.Popen([sys.executable, str(EXAMPLES / "worker.py"),
                                      "--http-port", "0", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(self.stop)
        self.log = []
        ports = {}
        while len(ports) < 2:
            line = self.proc.stdout.readline()
            if not line:
                self.fail("worker.py exited early:\n" + "".join(self.log))
            self.log.append(line)
            m = re.search(r"status server on port (\d+)|serving http://[\d.]+:(\d+)/", line)
            if m:
                ports["status" if m.group(1) else "http"] = int(m.group(1) or m.group(2))
        return ports["http"], ports["status"]

    def stop(self):
        if self.proc.stdout.closed:  # stopped already (the test, then its cleanup)
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        # Not communicate(): with a timeout it reads the pipe itself, past
        # what readline() has buffered already.
        self.log.append(self.proc.stdout.read())
        self.proc.stdout.close()
        return self.proc.wait(timeout=30)

    def wait_health(self, port, code, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            status, body = http(port, "/health")
            if status == code:
                return body
            if time.monotonic() > deadline:
                self.fail("/health stayed %d: %s" % (status, body))
            time.sleep(0.05)

    def test_serves_completions_canary_checks_when_idle_and_reports_health(self):
        port, status_port = self.start("--config")
        status, answer = http(port, "/v1/completions", {"prompt": "Hello", "max_tokens": 3})
        self.assertEqual((status, answer["choices"][0]["text"]), (200, " lorem ipsum dolor"))
        body = self.wait_health(status_port, 200)
        self.assertEqual(body["endpoints"], {"generate": "ready"})
        self.assertEqual(http(port, "/v1/completions", {"max_tokens": 1})[0], 500)
        self.assertEqual(http(port, "/v1/chat/completions", {})[0], 404)
        deadline = time.monotonic() + 10
        while True:  # idle now: canaries, every 0.3 s
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % status_port) as r:
                metrics = r.read().decode()
            canaries = re.search(r'dynhc_health_checks_total\{dynhc_endpoint="generate",'
                                 r'model="gpt2",result="success"\} (\d+)', metrics)
            if int(canaries.group(1)) >= 2:
                break
            self.assertLess(time.monotonic(), deadline, metrics)
            time.sleep(0.05)
        self.assertEqual(self.stop(), 0)
        log = "".join(self.log)
        self.assertIn("Health check payload for endpoint 'generate' from runtime <runtime>: "
                      '{"prompt":"The weather is","max_tokens":3,"temperature":0.5,'
                      '"_health_check":true}', log)
        self.assertIn("generated 3 tokens (health check)", log)

    def test_a_failing_engine_turns_health_503(self):
        port, status_port = self.start("--fail-after", "3")
        self.wait_health(status_port, 200)
        self.wait_health(status_port, 503)  # its canaries fail from the third call on
        self.assertEqual(http(port, "/v1/completions", {"prompt": "x"})[0], 500)
        self.assertEqual(self.stop(), 0)
        self.assertIn("is now not ready: RuntimeError: engine failure", "".join(self.log))

    def test_a_wedged_engine_turns_not_ready_as_stalled_while_its_requests_hang(self):
        # Checks 30 s apart (the first one anywhere in those 30 s: 1 token):
        # a first request (2 tokens) makes the endpoint ready, and the
        # engine wedges inside the streamed one, after at least 2 of its
        # tokens, whenever the first canary comes.
        port, status_port = self.start("--engine", "wedged", "--wedge-after", "5",
                                       DYN_HEALTH_CHECK_INTERVAL="30",
                                       DYN_HEALTH_CHECK_STALL_TIMEOUT="1")
        self.assertEqual(http(port, "/v1/completions", {"prompt": "Hi", "max_tokens": 2})[0],
                         200)
        self.wait_health(status_port, 200)
        hung = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(hung.close)
        body = json.dumps({"prompt": "Hi", "max_tokens": 20, "stream": True}).encode()
        hung.sendall(b"POST /v1/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        self.assertEqual(self.wait_health(status_port, 503, timeout=30)["status"], "notready")
        status, verbose = http(status_port, "/health?verbose")
        self.assertEqual(status, 503)
        self.assertEqual({k: verbose["checks"]["generate"][k]
                          for k in ("stalled", "requests_in_flight")},
                         {"stalled": True, "requests_in_flight": 1})
        hung.settimeout(0.5)
        with self.assertRaises(socket.timeout):  # the request still hangs in the engine
            hung.recv(1)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % status_port) as r:
            self.assertIn('dynhc_endpoint_stalls_total{dynhc_endpoint="generate",model="gpt2"} 1',
                          r.read().decode())
        self.assertEqual(self.stop(), 0)  # SIGTERM ends the stuck request too
        log = "".join(self.log)
        self.assertIn("wedged after 5 tokens", log)
        self.assertNotIn("Traceback", log)
        self.assertIn("'generate' is now not ready: stalled", log)

    def test_a_saturated_engine_stays_ready_while_a_canary_would_time_out(self):
        port, status_port = self.start("--engine", "saturated", "--token-time", "0.1",
                                       DYN_HEALTH_CHECK_STALL_TIMEOUT="2",
                                       DYN_HEALTH_CHECK_REQUEST_TIMEOUT="0.5")
        self.wait_health(status_port, 200)
        answers = []
        # Three requests of 15 tokens, one at a time: 4.5 s of work, a token
        # (progress) every 0.1 s, far within the stall threshold.
        clients = [threading.Thread(target=lambda: answers.append(http(
            port, "/v1/completions", {"prompt": "Hi", "max_tokens": 15, "stream": True},
            timeout=60))) for _ in range(3)]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 10
        while http(status_port, "/health?verbose")[1]["checks"]["generate"][
                "requests_in_flight"] < 3:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        # What a canary would meet: the check's timeout passes in the queue.
        with self.assertRaises((socket.timeout, urllib.error.URLError)):
            http(port, "/v1/completions", {"prompt": "1", "max_tokens": 1}, timeout=0.5)
        seen = []
        while any(client.is_alive() for client in clients):
            status, body = http(status_port, "/health?verbose")
            seen.append((status, body["checks"]["generate"]["stalled"]))
            time.sleep(0.1)
        for client in clients:
            client.join()
        self.assertGreater(len(seen), 5)
        self.assertEqual(set(seen), {(200, False)})
        self.assertEqual([(status, len(body["chunks"])) for status, body in answers],
                         [(200, 15)] * 3)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % status_port) as r:
            metrics = r.read().decode()
        self.assertIn('dynhc_endpoint_stalls_total{dynhc_endpoint="generate",model="gpt2"} 0',
                      metrics)
        self.assertEqual(self.stop(), 0)
        self.assertIn("saturated: request", "".join(self.log))


if __name__ == "__main__":
    unittest.main()
