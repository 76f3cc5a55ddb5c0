#!/usr/bin/env python3
"""`dynhc watch --dns` (SPEC 6): targets discovered through DNS, the way a
Kubernetes headless service is, against a real DNS server on loopback
(Debian's dnsmasq, started by the test; the cases skip without it).

    test_dns.py DYNHC STUB

- an SRV name gives one target per record, on the record's port;
- NAME:PORT gives one target per A record; a changed answer (dnsmasq
  re-reads its hosts file on SIGHUP) adds and removes targets, and a name
  that no longer exists (NXDOMAIN) leaves none;
- a DNS server that stops answering keeps the last targets, said once;
- bad --dns values are usage errors.
Ends with unittest's summary.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_probe as tp  # noqa: E402  (the stub and watch drivers)

DNSMASQ = shutil.which("dnsmasq") or (os.path.exists("/usr/sbin/dnsmasq") and "/usr/sbin/dnsmasq")


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


class Dnsmasq:
    """dnsmasq answering for *.test from a hosts file and SRV records."""

    def __init__(self, tmp, hosts, srv):
        self.hosts = os.path.join(tmp, "hosts")
        self.write_hosts(hosts)
        # Another test may take the port between its choice and dnsmasq's
        # bind: a few tries.
        for _ in range(5):
            self.start(tmp, srv)
            try:
                self.wait_ready()
                return
            except AssertionError as err:
                if "Address already in use" not in str(err):
                    raise
        raise AssertionError("dnsmasq found no free port")

    def start(self, tmp, srv):
        self.port = free_port()
        args = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--addn-hosts=" + self.hosts, "--local=/test/",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % self.port,
                "--pid-file=", "--user=",
                "--local-ttl=0", "--log-facility=" + os.path.join(tmp, "dnsmasq.log")]
        args += ["--srv-host=%s,%s,%d" % record for record in srv]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)

    def write_hosts(self, hosts):
        with open(self.hosts, "w") as f:
            f.write("".join("%s %s\n" % (address, name) for name, address in hosts))

    def wait_ready(self):
        """Until the server answers on its port (or has died)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited: %s" % self.proc.stderr.read())
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                # A query for "test." of type A: any answer means it listens.
                query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                         b"\x04test\x00\x00\x01\x00\x01")
                try:
                    s.sendto(query, ("127.0.0.1", self.port))
                    s.recvfrom(512)
                    return
                except OSError:
                    time.sleep(0.05)
        raise AssertionError("dnsmasq does not answer on port %d" % self.port)

    def reload(self, hosts):
        self.write_hosts(hosts)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def endpoints(watch):
    status, text = tp.http("GET", watch.url + "/health?verbose")
    return json.loads(text)["endpoints"] if status else {}


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds * tp.SLACK
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("not within %d s: %s (last: %r)" % (seconds, what, value))


@unittest.skipIf(not DNSMASQ, "dnsmasq is not installed")
class DnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stubs = [tp.Stub() for _ in range(3)]

    @classmethod
    def tearDownClass(cls):
        for s in cls.stubs:
            s.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dynhc-dns-")
        self.watches = []
        self.dns = None

    def tearDown(self):
        for w in self.watches:
            if not hasattr(w, "stderr"):  # not stopped by the test
                code, _ = w.stop()
                self.assertEqual(code, 0, w.stderr)
            self.assertNotIn("Sanitizer", w.stderr)
            self.assertNotIn("runtime error", w.stderr)
        if self.dns is not None:
            self.dns.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def watch(self, *args):
        w = tp.Watch("--port", "0", "--host", "127.0.0.1", "--interval", "300ms", "--timeout",
                     "2s", "--no-metrics", "--dns-server", "127.0.0.1:%d" % self.dns.port,
                     "--dns-refresh", "300ms", *args, env={"DYN_LOG": "info"})
        self.watches.append(w)
        return w

    def test_srv_name_gives_a_target_per_record_on_its_port(self):
        srv = [("_http._tcp.fleet.test", "stubs.test", s.port) for s in self.stubs[:2]]
        self.dns = Dnsmasq(self.tmp, [("stubs.test", "127.0.0.1")], srv)
        w = self.watch("--dns", "_http._tcp.fleet.test")
        want = {"http://127.0.0.1:%d" % s.port: "ready" for s in self.stubs[:2]}
        wait_until(lambda: endpoints(w) == want, 10, "both SRV targets ready")

    def test_a_records_follow_the_answer_and_nxdomain_leaves_none(self):
        port = self.stubs[2].port
        self.dns = Dnsmasq(self.tmp, [("web.test", "127.0.0.1")], [])
        w = self.watch("--dns", "web.test:%d" % port, "--url", self.stubs[0].url)
        first = "http://127.0.0.1:%d" % port
        wait_until(lambda: endpoints(w).get(first) == "ready", 10, "the A target ready")
        # The answer changes: the old address goes, the new one comes (no
        # server listens there: not ready), the --url target stays.
        self.dns.reload([("web.test", "127.0.0.2")])
        second = "http://127.0.0.2:%d" % port
        wait_until(lambda: set(endpoints(w)) == {second, self.stubs[0].url}, 10,
                   "the target moved to the new address")
        # The name goes (NXDOMAIN): no target from it, and no warning: a
        # service scaled to zero is not a failure.
        self.dns.reload([])
        wait_until(lambda: set(endpoints(w)) == {self.stubs[0].url}, 10, "no DNS target left")
        code, _ = w.stop()
        self.assertEqual(code, 0, w.stderr)
        self.assertNotIn("failed", w.stderr)
        self.assertIn("DNS found 1 targets", w.stderr)

    def test_a_dns_server_that_stops_answering_keeps_the_targets(self):
        self.dns = Dnsmasq(self.tmp, [("web.test", "127.0.0.1")], [])
        port = self.stubs[1].port
        w = self.watch("--dns", "web.test:%d" % port)
        target = "http://127.0.0.1:%d" % port
        wait_until(lambda: endpoints(w).get(target) == "ready", 10, "the A target ready")
        self.dns.stop()
        time.sleep(3 * tp.SLACK)  # several refreshes, each timing out
        self.assertEqual(endpoints(w), {target: "ready"})
        code, _ = w.stop()
        self.assertEqual(code, 0, w.stderr)
        warnings = [line for line in w.stderr.splitlines() if "DNS lookup of web.test" in line]
        self.assertEqual(len(warnings), 1, w.stderr)  # said once, not every refresh
        self.assertIn("keeping its 1 last targets", warnings[0])

    def test_bad_dns_values_are_usage_errors(self):
        self.dns = None
        cases = [
            ("web.test", "NAME:PORT"),
            ("web.test:0", "NAME:PORT"),
            ("web.test:70000", "NAME:PORT"),
            (":80", "NAME:PORT"),
            ("_http._tcp.fleet.test:80", "takes no port"),
            ("_http.fleet", "_SERVICE._PROTO.NAME"),
        ]
        for value, expected in cases:
            out = subprocess.run([tp.DYNHC, "watch", "--dns", value], capture_output=True,
                                 text=True, env=tp.clean_env())
            self.assertEqual(out.returncode, 2, (value, out.stderr))
            self.assertIn("--dns", out.stderr)
            self.assertIn(expected, out.stderr, value)
            self.assertEqual(out.stdout, "")
        out = subprocess.run([tp.DYNHC, "watch", "--dns", "web.test:80", "--dns-refresh", "0"],
                             capture_output=True, text=True, env=tp.clean_env())
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("--dns-refresh", out.stderr)


if __name__ == "__main__":
    tp.run_driver(DnsTest, __doc__)
