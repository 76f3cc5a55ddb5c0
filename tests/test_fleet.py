#!/usr/bin/env python3
"""`dynhc watch` running a fleet (SPEC 6, docs/fleet.md).

    test_fleet.py DYNHC STUB

Against stub servers (tests/stub/openai_stub.py), each reached as two
targets (127.0.0.1 and localhost):
- targets from a Prometheus file_sd file, their labels on the metrics, the
  model type and name chosen by __dynhc_ labels;
- a change of the file, and SIGHUP, add and remove targets while unchanged
  ones keep their counters (a removed one's check in flight is stopped); a
  bad file keeps the previous targets;
- errors in a file name FILE:LINE:COLUMN; bad --shard values are usage errors;
- N watch processes with --shard I/N check every target exactly once, and a
  real Prometheus (Debian's prometheus; that case skips without it) scraping
  every shard answers the fleet's readiness;
- one connection per target is kept alive: no TIME_WAIT per check;
- /health names only failing endpoints, with counts, when asked;
- a fleet failing at once logs the --log-limit burst of lines about single
  targets and one line counting the rest; so does a fleet without metrics.
Ends with unittest's summary.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_probe as tp  # noqa: E402  (the stub and watch drivers)

SHARDS = 3


def ready_series(watch):
    """{endpoint: (ready, checks, labels)} from watch's /metrics."""
    status, text = tp.http("GET", watch.url + "/metrics")
    if status != 200:
        return {}
    out = {}
    for m in re.finditer(r'^dynhc_endpoint_ready\{dynhc_endpoint="([^"]*)"(.*)\} (\d)$', text,
                         re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        out[m.group(1)] = (int(m.group(3)), 0, labels)
    for m in re.finditer(r'^dynhc_health_checks_total\{dynhc_endpoint="([^"]*)".*\} (\d+)$',
                         text, re.M):
        if m.group(1) in out:
            ready, checks, labels = out[m.group(1)]
            out[m.group(1)] = (ready, checks + int(m.group(2)), labels)
    return out


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds * tp.SLACK
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("not within %d s: %s" % (seconds, what))


def time_wait_count(port):
    """TCP connections to port in TIME_WAIT, from /proc/net/tcp and tcp6."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote, state = fields[2], fields[3]
            if state == "06" and int(remote.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stubs = [tp.Stub() for _ in range(4)]
        cls.targets = sorted("http://%s:%d" % (host, s.port) for s in cls.stubs
                             for host in ("127.0.0.1", "localhost"))

    @classmethod
    def tearDownClass(cls):
        for s in cls.stubs:
            s.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dynhc-fleet-")
        self.watches = []

    def tearDown(self):
        for w in self.watches:
            if w.proc.poll() is None:
                w.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.replace(path + ".new", path)  # as a ConfigMap update swaps it
        return path

    def watch(self, *args, env=None):
        w = tp.Watch("--port", "0", "--host", "127.0.0.1", "--interval", "300ms", "--timeout",
                     "2s", *args, env=env)
        self.watches.append(w)
        return w

    def file_sd(self, groups):
        return self.write("targets.json", json.dumps(groups))

    def test_file_sd_targets_labels_and_model_choices(self):
        port = self.stubs[0].port
        # Two files, one YAML and one JSON.
        yaml_path = self.write("targets.yaml",
                               "- targets: ['127.0.0.1:%d']\n"
                               "  labels: {pool: a, __dynhc_model: m-one, __meta_x: dropped}\n"
                               % port)
        json_path = self.write("more.json", json.dumps(
            [{"targets": ["http://localhost:%d" % port],
              "labels": {"pool": "b", "__dynhc_model_type": "chat"}}]))
        w = self.watch("--targets", yaml_path, "--targets", json_path)
        series = wait_until(lambda: (lambda s: s if len(s) == 2 and all(v[0] for v in s.values())
                                     else None)(ready_series(w)), 10, "both ready")
        self.assertEqual(series["http://127.0.0.1:%d" % port][2], {"pool": "a", "model": "m-one"})
        self.assertEqual(series["http://localhost:%d" % port][2], {"pool": "b"})
        # The chat target got the chat route and payload.
        bodies = set()
        wait_until(lambda: bodies.add(self.stubs[0].last()["path"]) or
                   {"/v1/completions", "/v1/chat/completions"} <= bodies, 10, "both routes")

    def test_reload_on_change_and_sighup_keeps_unchanged_targets(self):
        a, b, c = self.targets[0], self.targets[1], self.targets[2]
        path = self.file_sd([{"targets": [a, b], "labels": {"pool": "x"}}])
        w = self.watch("--targets", path)
        wait_until(lambda: ready_series(w).get(a, (0, 0))[1] >= 3, 10, "a checked 3 times")
        before = ready_series(w)[a][1]
        # b's labels change, c comes: a is kept with its counters.
        self.file_sd([{"targets": [a], "labels": {"pool": "x"}},
                      {"targets": [b, c], "labels": {"pool": "y"}}])
        series = wait_until(lambda: (lambda s: s if c in s and s[b][2].get("pool") == "y"
                                     else None)(ready_series(w)), 10, "the change applied")
        self.assertGreaterEqual(series[a][1], before, "a's counters started again")
        # A bad file keeps what is watched, and says where it is bad.
        bad = self.write("targets.json", '[{"targets": ["%s"], "labels": {"job": "x"}}]' % a)
        w.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5 * tp.SLACK)
        self.assertEqual(set(ready_series(w)), {a, b, c})
        # SIGHUP reads a file changed behind watch's back (same size and times).
        self.file_sd([{"targets": [a]}])
        w.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: set(ready_series(w)) == {a}, 10, "b and c removed")
        self.assertEqual(w.stop()[0], 0)
        self.assertIn("dynhc: error: %s:1:" % bad, w.stderr)
        self.assertIn("label 'job' cannot be a metric label", w.stderr)
        self.assertIn("dynhc: warning: targets not reloaded: keeping the 3 targets watched",
                      w.stderr)
        self.assertIn("dynhc: info: targets: 2 added, 1 removed, 1 kept", w.stderr)

    def remove_in_flight(self, stuck):
        """Watches a good target and stuck, whose round never ends, and
        removes stuck from the file while its round is in flight: the
        transfer is stopped first and everything goes cleanly."""
        a = self.targets[0]
        path = self.file_sd([{"targets": [a, stuck]}])
        w = self.watch("--targets", path, "--timeout", "10s")
        wait_until(lambda: json.loads(tp.http("GET", w.url + "/health?verbose")[1])
                   ["checks"][stuck]["in_flight"], 10, "the round in flight")
        self.file_sd([{"targets": [a]}])
        wait_until(lambda: set(ready_series(w)) == {a}, 10, "the stuck target removed")
        self.assertEqual(w.stop()[0], 0, w.stderr)
        self.assertIn("dynhc: info: targets: 0 added, 1 removed, 1 kept", w.stderr)
        self.assertNotIn("Sanitizer", w.stderr)

    def test_a_target_removed_with_its_check_in_flight_goes_cleanly(self):
        hanging = tp.Stub("hang")  # answers /metrics (404), never the canary
        try:
            self.remove_in_flight(hanging.url)
        finally:
            hanging.stop()

    def test_a_target_removed_with_its_metrics_scrape_in_flight_goes_cleanly(self):
        # A server that accepts and never answers: the round is still at its
        # scrape of /metrics.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            self.remove_in_flight("http://127.0.0.1:%d" % silent.getsockname()[1])

    def test_errors_in_a_file_name_its_line_and_column(self):
        cases = [
            ('- targets: ["127.0.0.1:1"]\n  labels:\n    pod: x\n', ":3:10: label 'pod' cannot be "
             "a metric label: a label that Prometheus or its operator attaches"),
            ('- targets: ["127.0.0.1:1"]\n  labels: {model: x}\n', ":2:19: label 'model' is the "
             "model name that checks send: set it with __dynhc_model"),
            ('- targets: ["127.0.0.1:1"]\n  labels: {__dynhc_modle: x}\n',
             ":2:27: unknown label '__dynhc_modle'"),
            ('- targets: ["127.0.0.1:1"]\n  labels: {__dynhc_model_type: tokenz}\n',
             ":2:32: label '__dynhc_model_type': unknown model type 'tokenz'"),
            ('- targets: ["127.0.0.1:1", "ftp://h"]\n', ":1:28: target 'ftp://h': expected"),
            ('- targets: [1]\n', ":1:13: expected a target"),
            ('- target: ["127.0.0.1:1"]\n', ":1:11: unknown key 'target' in a group"),
            ('targets: []\n', ":1:1: expected a list of groups"),
            ('- targets: ["127.0.0.1:1", "127.0.0.1:1"]\n',
             "target 'http://127.0.0.1:1' is given twice: %(f)s:1:13 and %(f)s:1:28"),
            ('- targets: [\n', ":2:1: "),
        ]
        for text, expected in cases:
            path = self.write("bad.yaml", text)
            status, out, err, _ = tp.dynhc("watch", "--targets", path, "--port", "0")
            self.assertEqual(status, 1, (text, err))
            self.assertEqual(out, "")
            self.assertIn(expected % {"f": path} if "%(f)s" in expected else path + expected,
                          "\n".join(err), text)
        status, _, err, _ = tp.dynhc("watch", "--targets", os.path.join(self.tmp, "none.json"))
        self.assertEqual(status, 1)
        self.assertRegex(err[0], r"--targets .*none\.json: cannot open: No such file")

    def test_bad_options_are_usage_errors(self):
        cases = [
            (["--shard", "3/3"], "--shard '3/3': the shard index I counts from 0 and is below N"),
            (["--shard", "1/0"], "--shard '1/0': the number of shards N must be at least 1"),
            (["--shard", "1"], "--shard '1': expected I/N"),
            (["--shard", "-1/3"], "--shard '-1/3': expected I/N"),
            (["--jitter", "1"], "--jitter '1': expected a fraction"),
            (["--spread", "x"], "--spread 'x': expected a duration"),
            (["--status-endpoints", "some"], "--status-endpoints 'some': expected auto, all"),
            (["--log-limit", "20"], "--log-limit '20': expected N/D"),
            (["--log-limit", "20/0"], "--log-limit '20/0': expected N/D"),
            (["--log-limit", "x/10s"], "--log-limit 'x/10s': expected N/D"),
            (["--targets", ""], "--targets needs a non-empty file name"),
            (["--targets", "t.yaml", "--metrics-url", "http://127.0.0.1:1/metrics"],
             "--metrics-url names the metrics of one --url, not of --targets"),
        ]
        for args, expected in cases:
            status, out, err, _ = tp.dynhc("watch", "--url", "http://127.0.0.1:1", *args)
            self.assertEqual(status, 2, (args, err))
            self.assertTrue(err[0].startswith("dynhc: error: " + expected), (args, err))
        status, _, err, _ = tp.dynhc("watch")
        self.assertEqual(status, 2)
        self.assertEqual(err[0], "dynhc: error: watch needs at least one --url URL, --targets "
                                 "FILE or --dns NAME")

    def test_the_last_spread_given_wins_and_zero_checks_at_once(self):
        good = "http://127.0.0.1:%d" % self.stubs[0].port
        # With an hour's spread the first check would almost surely wait.
        w = self.watch("--url", good, "--interval", "1h", "--spread", "1h", "--spread", "0")
        w.wait_for(200, 5 * tp.SLACK)

    def test_a_file_limit_too_low_for_the_targets_is_warned_about(self):
        import resource
        path = self.file_sd([{"targets": ["127.0.0.1:%d" % p for p in range(1, 1001)]}])
        proc = subprocess.Popen(
            [tp.DYNHC, "watch", "--targets", path, "--port", "0", "--interval", "1h"],
            env=tp.clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (2048, 2048)))
        try:
            line = ""
            while "file limit" not in line and proc.poll() is None:
                line = proc.stderr.readline()
            self.assertEqual(line, "dynhc: warning: the file limit (2048) is below what 1000 "
                                   "targets need (2128, half of it for the status server's "
                                   "clients): connections may fail; raise it (ulimit -n)\n")
        finally:
            proc.terminate()
            proc.wait()
            proc.stderr.close()

    def test_repeated_failures_are_summed_up_and_dyn_log_applies(self):
        good = "http://127.0.0.1:%d" % self.stubs[0].port
        w = self.watch("--url", good, "--url", "http://127.0.0.1:1")
        time.sleep(12)  # a summary every ten intervals, at least 10 s apart
        self.assertEqual(w.stop()[0], 0)
        lines = [l for l in w.stderr.splitlines() if "checks failed" in l]
        self.assertTrue(lines, w.stderr)
        self.assertRegex(lines[0], r"^dynhc: warning: 1 of 2 targets not ready; \d+ checks failed "
                                   r"in 1\d s$")
        # The failing target's own warning comes once, its repeats at debug level.
        self.assertEqual(w.stderr.count("endpoint 'http://127.0.0.1:1' is not ready"), 1)
        # DYN_LOG=error keeps watch's own warnings out too.
        quiet = tp.Watch("--port", "0", "--host", "127.0.0.1", "--interval", "300ms", "--url",
                         "http://127.0.0.1:1", "--targets", self.file_sd([]),
                         env={"DYN_LOG": "error"})
        time.sleep(1)
        self.file_sd([{"targets": [good]}])
        wait_until(lambda: good in ready_series(quiet), 10, "the target added")
        self.assertEqual(quiet.stop()[0], 0)
        self.assertNotIn("targets: 1 added", quiet.stderr)
        # So does it to the scrapes' lines: a fleet without metrics says so per target.
        self.assertIn("dynhc: warning: http://127.0.0.1:1: no usable metrics", w.stderr)
        self.assertNotIn("no usable metrics", quiet.stderr)

    def failing_fleet(self, count, *args):
        """A watch of count targets that refuse connections, stopped once each failed
        a check and then after 3 s more; its stderr's lines."""
        urls = ["http://127.0.0.1:1/p%d" % i for i in range(count)]
        w = self.watch("--no-metrics", *args, *[a for u in urls for a in ("--url", u)])
        wait_until(lambda: sum(c > 0 for _, c, _ in ready_series(w).values()) == count, 10,
                   "every target checked")
        time.sleep(3)
        self.assertEqual(w.stop()[0], 0)
        return w.stderr.splitlines()

    def test_a_fleet_failing_at_once_logs_a_burst_and_counts_the_rest(self):
        lines = self.failing_fleet(50, "--log-limit", "5/2s")
        per_target = [l for l in lines if l.startswith("dynhc: warning: endpoint '")]
        self.assertEqual(len(per_target), 5, "\n".join(lines))
        held = [l for l in lines if "held back" in l]
        self.assertEqual(len(held), 1, "\n".join(lines))
        self.assertRegex(held[0], r"^dynhc: warning: 45 endpoint messages held back in the last "
                                  r"[\d.]+ s \(at most 5 per 2 s\); the verbose status and the "
                                  r"metrics have every endpoint's state$")
        # By default 20 per 10 s; 0 writes them all.
        lines = self.failing_fleet(30)
        self.assertEqual(sum(l.startswith("dynhc: warning: endpoint '") for l in lines), 20)
        lines = self.failing_fleet(30, "--log-limit", "0")
        self.assertEqual(sum(l.startswith("dynhc: warning: endpoint '") for l in lines), 30)
        self.assertFalse([l for l in lines if "held back" in l])

    def test_a_fleet_without_metrics_says_so_within_the_limit(self):
        # Every target's scrape finds no metrics (the stub answers 404): each
        # would say so once; the log limit holds all but the burst back.
        urls = ["http://127.0.0.1:%d/v1?t=%d" % (self.stubs[1].port, i) for i in range(30)]
        w = self.watch("--log-limit", "5/2s", *[a for u in urls for a in ("--url", u)],
                       env={"DYN_LOG": "warn"})
        wait_until(lambda: sum(c > 0 for _, c, _ in ready_series(w).values()) == 30, 10,
                   "every target checked")
        time.sleep(3)
        self.assertEqual(w.stop()[0], 0)
        lines = w.stderr.splitlines()
        said = [l for l in lines if "no usable metrics" in l]
        self.assertEqual(len(said), 5, "\n".join(lines))
        held = [l for l in lines if "held back" in l]
        self.assertEqual(len(held), 1, "\n".join(lines))
        self.assertRegex(held[0], r"^dynhc: warning: 25 endpoint messages held back ")

    def test_many_urls_have_no_small_limit(self):
        urls = ["http://127.0.0.1:%d/v1/p%d" % (self.stubs[0].port, i) for i in range(100)]
        args = [a for u in urls for a in ("--url", u)]
        w = self.watch("--interval", "1h", "--status-endpoints", "none", *args)
        wait_until(lambda: len(ready_series(w)) == 100, 10, "100 endpoints")
        status, text = w.health()
        self.assertEqual(json.loads(text)["endpoints"], {})

    def test_shards_check_every_target_once_and_prometheus_sums_them(self):
        path = self.file_sd([{"targets": self.targets, "labels": {"pool": "p"}}])
        shards = [self.watch("--targets", path, "--shard", "%d/%d" % (i, SHARDS))
                  for i in range(SHARDS)]

        def checked_once():
            seen = {}
            for i, w in enumerate(shards):
                for name, (_, checks, _) in ready_series(w).items():
                    if checks > 0:
                        seen.setdefault(name, []).append(i)
            return seen if sorted(seen) == self.targets else None
        seen = wait_until(checked_once, 15, "every target checked")
        for name, where in seen.items():
            self.assertEqual(len(where), 1, (name, where))
        if shutil.which("prometheus") is None:
            print("prometheus not installed (Debian: prometheus): its query is skipped")
            return
        port = tp.free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: serving/dynhc-watch\n"
                    "    static_configs:\n      - targets: [%s]\n"
                    % ", ".join("'127.0.0.1:%d'" % w.port for w in shards))
        prometheus = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            api = "http://127.0.0.1:%d/api/v1/query?query=" % port

            def value(promql):
                status, text = tp.http("GET", api + urllib.parse.quote(promql))
                result = json.loads(text)["data"]["result"] if status == 200 else []
                return result[0]["value"][1] if len(result) == 1 else None
            n = str(len(self.targets))
            wait_until(lambda: value("sum(dynhc_endpoint_ready)") == n, 30, "sum of ready")
            self.assertEqual(value("count(dynhc_endpoint_ready)"), n)
            # Every shard is scraped (one may hold no target, so the sum can
            # be complete before its first scrape: the ports are random).
            wait_until(lambda: value("count(up == 1)") == str(SHARDS), 30, "every shard up")
        finally:
            prometheus.terminate()
            prometheus.wait()

    def test_one_connection_per_target_is_kept_alive(self):
        stub = self.stubs[3]
        # The watch processes of other tests closed their connections when
        # they stopped: those wait out their TIME_WAIT, and are not counted.
        before = time_wait_count(stub.port)
        w = self.watch("--url", "http://127.0.0.1:%d" % stub.port, "--interval", "100ms")
        wait_until(lambda: ready_series(w).get("http://127.0.0.1:%d" % stub.port, (0, 0))[1]
                   >= 20, 15, "20 checks")
        # Without reuse each of the 20 checks would leave a TIME_WAIT behind.
        self.assertLessEqual(time_wait_count(stub.port) - before, 2)

    def test_health_names_failing_endpoints_with_counts(self):
        good = "http://127.0.0.1:%d" % self.stubs[0].port
        w = self.watch("--url", good, "--url", "http://127.0.0.1:1", "--status-endpoints",
                       "failing")
        w.wait_for(503, 10 * tp.SLACK)
        body = wait_until(lambda: (lambda j: j if j["endpoint_counts"]["ready"] == 1 else None)(
            json.loads(w.health()[1])), 10, "the good one ready")
        self.assertEqual(body["endpoints"], {"http://127.0.0.1:1": "notready"})
        self.assertEqual(body["endpoint_counts"], {"ready": 1, "notready": 1})
        verbose = json.loads(tp.http("GET", w.url + "/health?verbose")[1])
        self.assertEqual(set(verbose["endpoints"]), {good, "http://127.0.0.1:1"})


if __name__ == "__main__":
    tp.run_driver(FleetTest, __doc__)
