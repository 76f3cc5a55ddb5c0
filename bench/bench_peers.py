#!/usr/bin/env python3
"""bench_peers: `dynhc watch` beside the checkers an operator would run
instead, on the same N targets in one run (SPEC 6):

  dynhc     dynhc watch --targets FILE (file_sd JSON) --no-metrics, interval 1 s
  haproxy   HAProxy active HTTP checks: one backend of N servers, `option
            httpchk` with `http-check send` of the same payload, inter 1 s,
            one thread
  blackbox  prometheus-blackbox-exporter with an http POST module of the same
            payload, driven by a Prometheus server scraping /probe for each
            target every second (the way blackbox is used)

The targets are N distinct loopback addresses (127.1.x.y) on one port of one
nginx that answers POST /v1/completions like an OpenAI server. nginx's own
request counter (stub_status) counts the checks that reached a target, so
every peer is counted by the same neutral judge.

Each peer runs alone, in turn: started, given a warm-up (every target checked
at least once), then measured over a window:
  checks/s   requests nginx served in the window / window seconds
  us/check   CPU (user + system, /proc/PID/stat, the peer's processes only:
             not nginx) in the window / requests in the window
  RSS        resident memory of the peer's processes at the end of the window
  KiB/target that RSS / N (whole-process memory, so small N overstates it)
and the ratio of each peer's us/check to dynhc's.

Usage: bench_peers.py --dynhc build-bench/dynhc [--targets 1000,10000]
       [--window 20] [--warmup 5] [--peers dynhc,haproxy,blackbox]
Needs nginx-light, haproxy, prometheus-blackbox-exporter and prometheus
(scripts/dev.sh bench-peers installs them). Runs as root or as a user whose
file limit allows 2 * N descriptors.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

COMPLETION = ('{"id":"cmpl-bench","object":"text_completion","model":"bench",'
              '"choices":[{"index":0,"text":"1","finish_reason":"length"}],'
              '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_addresses(n):
    """N distinct loopback addresses, none ending in .0 or .255."""
    return ["127.1.%d.%d" % (i // 250, i % 250 + 1) for i in range(n)]


def raise_file_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need)
    if hard != resource.RLIM_INFINITY and want > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def wait_for(url, seconds=20.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("no answer from " + url)
            time.sleep(0.1)


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (after pid and comm)
    return total / CLOCK_TICKS


def rss_bytes(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/statm" % pid) as f:
            total += int(f.read().split()[1]) * PAGE_SIZE
    return total


def child_pids(pid):
    """pid and its descendants (nginx-style masters, wrappers)."""
    out = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            for c in f.read().split():
                out += child_pids(int(c))
    except OSError:
        pass
    return out


class Nginx:
    def __init__(self, work, port, n):
        self.dir = os.path.join(work, "nginx")
        os.makedirs(self.dir)
        self.port = port
        self.status_url = "http://127.0.0.1:%d/nginx_status" % port
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
daemon off;
worker_processes 2;
worker_rlimit_nofile %(files)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections %(conns)d; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {
        listen %(port)d reuseport backlog=65535;
        location = /nginx_status { stub_status; }
        location / {
            default_type application/json;
            return 200 '%(body)s';
        }
    }
}
""" % {"dir": self.dir, "port": port, "files": 4 * n + 1024, "conns": 2 * n + 1024,
       "body": COMPLETION})
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(self.status_url)

    def requests(self):
        text = wait_for(self.status_url).decode()
        # "server accepts handled requests\n A H R": the third is requests.
        return int(text.split("\n")[2].split()[2])

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Peer:
    """A checker: its processes, started on the targets, stopped at the end."""
    name = ""

    def __init__(self, work, payload, addresses, port, args):
        self.work = os.path.join(work, self.name)
        os.makedirs(self.work)
        self.procs = []
        self.start(payload, addresses, port, args)

    def log_of(self, proc):
        return os.path.join(self.work, os.path.basename(proc.args[0]) + ".log")

    def spawn(self, argv, **kw):
        with open(os.path.join(self.work, os.path.basename(argv[0]) + ".log"), "w") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        return p

    def pids(self):
        out = []
        for p in self.procs:
            if p.poll() is not None:
                with open(self.log_of(p)) as log:
                    tail = log.read()[-2000:]
                raise RuntimeError("%s exited with %s:\n%s" % (self.name, p.returncode, tail))
            out += child_pids(p.pid)
        return out

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Dynhc(Peer):
    name = "dynhc"

    def start(self, payload, addresses, port, args):
        targets = os.path.join(self.work, "targets.json")
        with open(targets, "w") as f:
            json.dump([{"targets": ["%s:%d" % (a, port) for a in addresses]}], f)
        status = free_port()
        # --no-metrics: the peers send the canary alone, and nginx counts
        # every request (a round with the metrics scrape would be two).
        self.spawn([args.dynhc, "watch", "--targets", targets, "--interval", "1s",
                    "--host", "127.0.0.1", "--port", str(status), "--no-metrics"],
                   env=dict(os.environ, DYN_LOG="warn"))
        wait_for("http://127.0.0.1:%d/live" % status)


class Haproxy(Peer):
    name = "haproxy"

    def start(self, payload, addresses, port, args):
        conf = os.path.join(self.work, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write("""global
    nbthread 1
    # Its checks take a descriptor each, beside maxconn's: the frontend
    # needs none of its own.
    maxconn 1024
    spread-checks 5
defaults
    mode http
    timeout connect 3s
    timeout client 3s
    timeout server 3s
    timeout check 3s
frontend unused
    # HAProxy refuses to run without a listener; nothing connects to it.
    bind 127.0.0.1:%(listen)d
    default_backend fleet
backend fleet
    option httpchk
    http-check send meth POST uri /v1/completions ver HTTP/1.1 hdr Host localhost hdr Content-Type application/json body '%(payload)s'
    http-check expect status 200
    default-server check inter 1s fall 1 rise 1
""" % {"payload": payload, "listen": free_port()})
            for i, a in enumerate(addresses):
                f.write("    server t%d %s:%d\n" % (i, a, port))
        self.spawn(["haproxy", "-db", "-f", conf])
        time.sleep(1)


class Blackbox(Peer):
    name = "blackbox"

    def start(self, payload, addresses, port, args):
        modules = os.path.join(self.work, "blackbox.yml")
        with open(modules, "w") as f:
            f.write("""modules:
  completions:
    prober: http
    timeout: 3s
    http:
      method: POST
      headers:
        Content-Type: application/json
      body: '%s'
      valid_status_codes: [200]
""" % payload)
        bb_port = free_port()
        self.spawn(["prometheus-blackbox-exporter", "--config.file=" + modules,
                    "--web.listen-address=127.0.0.1:%d" % bb_port])
        wait_for("http://127.0.0.1:%d/metrics" % bb_port)
        sd = os.path.join(self.work, "targets.json")
        with open(sd, "w") as f:
            json.dump([{"targets": ["http://%s:%d/v1/completions" % (a, port)
                                    for a in addresses]}], f)
        prom = os.path.join(self.work, "prometheus.yml")
        with open(prom, "w") as f:
            f.write("""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [completions]
    file_sd_configs:
      - files: ['%s']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:%d
""" % (sd, bb_port))
        prom_port = free_port()
        self.spawn(["prometheus", "--config.file=" + prom,
                    "--storage.tsdb.path=" + os.path.join(self.work, "data"),
                    "--web.listen-address=127.0.0.1:%d" % prom_port])
        wait_for("http://127.0.0.1:%d/-/ready" % prom_port, 60)


PEERS = {"dynhc": Dynhc, "haproxy": Haproxy, "blackbox": Blackbox}


def measure(peer_class, work, payload, n, args):
    nginx = Nginx(work, free_port(), n)
    peer = None
    try:
        addresses = target_addresses(n)
        peer = peer_class(work, payload, addresses, nginx.port, args)
        time.sleep(args.warmup)
        pids = peer.pids()
        cpu0, req0, t0 = cpu_seconds(pids), nginx.requests(), time.monotonic()
        time.sleep(args.window)
        pids = peer.pids()
        cpu1, req1, t1 = cpu_seconds(pids), nginx.requests(), time.monotonic()
        rss = rss_bytes(pids)
        checks = max(req1 - req0 - 1, 0)  # less the stub_status request itself
        return {
            "checks_per_s": checks / (t1 - t0),
            "us_per_check": (cpu1 - cpu0) * 1e6 / checks if checks else float("inf"),
            "cpu_share": (cpu1 - cpu0) / (t1 - t0),
            "rss_mib": rss / 2**20,
            "kib_per_target": rss / 1024 / n,
        }
    finally:
        if peer is not None:
            peer.stop()
        nginx.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dynhc", default="build-bench/dynhc")
    ap.add_argument("--targets", default="1000,10000")
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--peers", default="dynhc,haproxy,blackbox")
    args = ap.parse_args()
    sizes = [int(x) for x in args.targets.split(",")]
    peers = args.peers.split(",")
    for p in peers:
        if p not in PEERS:
            sys.exit("bench_peers: unknown peer %r (expected one of %s)" % (p, ", ".join(PEERS)))
    missing = [tool for tool in ("nginx", "haproxy", "prometheus-blackbox-exporter",
                                 "prometheus") if shutil.which(tool) is None]
    if missing:
        sys.exit("bench_peers: not installed: %s (scripts/dev.sh bench-peers installs them)"
                 % ", ".join(missing))
    raise_file_limit(8 * max(sizes) + 4096)
    payload = subprocess.run([args.dynhc, "resolve", "--compact"], check=True,
                             capture_output=True, text=True).stdout.strip()
    print("bench_peers: %s targets at 1 s on one nginx, warm-up %g s, window %g s; payload %s"
          % (args.targets, args.warmup, args.window, payload))
    print("%-9s %7s %10s %10s %9s %9s %11s %9s" % ("peer", "targets", "checks/s", "us/check",
                                                  "CPU", "RSS MiB", "KiB/target", "vs dynhc"))
    for n in sizes:
        base = None
        for p in peers:
            with tempfile.TemporaryDirectory(prefix="dynhc-peers-") as work:
                r = measure(PEERS[p], work, payload, n, args)
            if p == "dynhc":
                base = r["us_per_check"]
            ratio = "%.2fx" % (r["us_per_check"] / base) if base else "-"
            print("%-9s %7d %10.0f %10.1f %8.0f%% %9.1f %11.2f %9s" % (
                p, n, r["checks_per_s"], r["us_per_check"], 100 * r["cpu_share"], r["rss_mib"],
                r["kib_per_target"], ratio), flush=True)


if __name__ == "__main__":
    main()
