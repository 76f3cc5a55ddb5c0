#!/usr/bin/env python3
"""dynhc's metrics as an operator's Prometheus sees them (SPEC 3).

    test_prometheus.py DYNHC STUB

Runs `dynhc watch` against two stub servers (tests/stub/openai_stub.py), one
healthy and one failing, then:
- `promtool check metrics` finds nothing wrong in /metrics;
- a real Prometheus server (Debian's `prometheus`) scrapes the watch with the
  target labels prometheus-operator attaches to a PodMonitor target (job,
  instance, namespace, pod, container, endpoint, service, node), without
  honor_labels, and the queries docs/metrics.md documents answer one series
  per dynhc endpoint: readiness grouped by dynhc's own label, the failure
  ratio, and the per-endpoint latency.

Skips (exit 0, saying so) when prometheus or promtool is not installed: the
test command installs them. Ends with unittest's summary.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_probe as tp  # noqa: E402  (the stub and watch drivers)

# What prometheus-operator adds to every sample of a PodMonitor target.
OPERATOR_LABELS = {"namespace": "serving", "pod": "worker-0", "container": "dynhc-watch",
                   "endpoint": "http-metrics", "service": "worker", "node": "gpu-node-1"}


class PrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dynhc-prom-")
        cls.good = tp.Stub()
        cls.bad = tp.Stub("http500")
        cls.watch = tp.Watch("--url", cls.good.url, "--url", cls.bad.url, "--interval", "1s",
                             "--timeout", "1s", "--host", "127.0.0.1", "--port", "0")
        cls.prometheus = None

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus is not None:
            cls.prometheus.terminate()
            cls.prometheus.wait()
        cls.watch.stop()
        cls.good.stop()
        cls.bad.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def metrics_text(self):
        # Both endpoints have been checked once the failing one is not ready.
        deadline = time.monotonic() + 10 * tp.SLACK
        while time.monotonic() < deadline:
            status, text = tp.http("GET", self.watch.url + "/metrics")
            if status == 200 and re.search(r'result="failure"\} [1-9]', text):
                return text
            time.sleep(0.1)
        self.fail("no failed check in /metrics: %r" % (text,))

    def test_promtool_accepts_the_exposition(self):
        text = self.metrics_text()
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual((check.stdout + check.stderr).strip(), "")

    def start_prometheus(self):
        port = tp.free_port()
        labels = "".join('          %s: "%s"\n' % kv for kv in OPERATOR_LABELS.items())
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: serving/worker\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                    "        labels:\n%s" % (self.watch.port, labels))
        type(self).prometheus = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.api = "http://127.0.0.1:%d/api/v1/query?query=" % port

    def query(self, promql, want_series, seconds=30):
        """Waits until promql answers want_series series; returns them."""
        deadline = time.monotonic() + seconds * tp.SLACK
        result = None
        while time.monotonic() < deadline:
            if self.prometheus.poll() is not None:
                self.fail("prometheus exited: %s" % self.prometheus.stderr.read())
            status, text = tp.http("GET", self.api + urllib.parse.quote(promql))
            if status == 200:
                result = json.loads(text)["data"]["result"]
                if len(result) == want_series:
                    return result
            time.sleep(0.5)
        self.fail("%s gave %r, not %d series" % (promql, result, want_series))

    def test_documented_queries_keep_one_series_per_endpoint(self):
        self.metrics_text()
        self.start_prometheus()
        ready = self.query("sum by (dynhc_endpoint) (dynhc_endpoint_ready)", 2)
        by_endpoint = {r["metric"]["dynhc_endpoint"]: r["value"][1] for r in ready}
        self.assertEqual(by_endpoint, {self.good.url: "1", self.bad.url: "0"})
        # The operator's own labels stay the target's: nothing was renamed.
        raw = self.query("dynhc_endpoint_ready", 2)
        for series in raw:
            for name, value in OPERATOR_LABELS.items():
                self.assertEqual(series["metric"].get(name), value, series)
            self.assertFalse(any(k.startswith("exported_") for k in series["metric"]), series)
        failing = self.query(
            'sum by (dynhc_endpoint) (increase(dynhc_health_checks_total{result!="success"}[1m]))'
            " / sum by (dynhc_endpoint) (increase(dynhc_health_checks_total[1m])) > 0", 1)
        self.assertEqual(failing[0]["metric"]["dynhc_endpoint"], self.bad.url)
        latency = self.query("max by (dynhc_endpoint) (dynhc_health_check_last_duration_seconds)",
                             2)
        self.assertTrue(all(float(r["value"][1]) >= 0 for r in latency), latency)
        self.query("histogram_quantile(0.95, sum by (le) "
                   "(rate(dynhc_health_check_duration_seconds_bucket[1m])))", 1)
        self.query("dynhc_build_info", 1)
        self.query("process_start_time_seconds", 1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tp.DYNHC, tp.STUB = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if missing:
        print("skipped: %s not installed (Debian: prometheus)" % ", ".join(missing))
        print("0 passed, 0 failed")
        return
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(PrometheusTest)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
