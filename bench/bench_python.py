#!/usr/bin/env python3
"""The Python package's costs, each beside the peer a Python runtime would
use instead, measured in the same run:

1. get_health_check_payload() beside the few lines of pure Python a Dynamo
   worker uses (json.loads of DYN_HEALTH_CHECK_PAYLOAD, else a default
   dict), with the variable set and unset;
2. the asyncio Scheduler's CPU per fired check beside a plain
   loop.call_later() per endpoint that starts the same send task.

Usage: DYNHC_LIBRARY=build/libdynhc.so PYTHONPATH=python bench/bench_python.py
       [--endpoints N] [--seconds S]. Prints figures and ratios (dynhc / peer).
"""
import argparse
import asyncio
import json
import os
import random
import time

import dynhc

MINIMAL = {"prompt": "1", "max_tokens": 1, "temperature": 0.0, "stream": False}


def dynamo_style_payload():
    """What a pure-Python worker does: the environment's JSON, else a default."""
    raw = os.environ.get("DYN_HEALTH_CHECK_PAYLOAD")
    payload = json.loads(raw) if raw else dict(MINIMAL)
    payload.setdefault("_health_check", True)
    return payload


def per_call_ns(fn, seconds=0.5):
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(200):
            fn()
        calls += 200
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls * 1e9


def bench_resolution():
    print("== get_health_check_payload() beside json.loads(os.environ[...])")
    for label, value in (("DYN_HEALTH_CHECK_PAYLOAD set", '{"prompt": "ping", "max_tokens": 2}'),
                         ("nothing set (default)", None)):
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DYN_")}
        if value is not None:
            os.environ["DYN_HEALTH_CHECK_PAYLOAD"] = value
        try:
            assert dynhc.get_health_check_payload()["prompt"] == dynamo_style_payload()["prompt"]
            ours = per_call_ns(dynhc.get_health_check_payload)
            peer = per_call_ns(dynamo_style_payload)
        finally:
            os.environ.pop("DYN_HEALTH_CHECK_PAYLOAD", None)
            os.environ.update(saved)
        print("  %-30s dynhc %8.0f ns/call   pure Python %6.0f ns/call   ratio %5.1f"
              % (label, ours, peer, ours / peer))


async def send(payload):
    return None


async def run_dynhc(endpoints, interval, seconds):
    payload = dynhc.Resolver(env={}).resolve()
    async with dynhc.Scheduler(env={}, mode="periodic", interval=interval, spread=interval,
                               timeout=interval, seed=1, on_log=lambda level, message: None) as s:
        for i in range(endpoints):
            s.add("ep%d" % i, payload, send)
        await asyncio.sleep(interval)  # every endpoint's first check is out
        before = s.metrics()
        cpu = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu
        after = s.metrics()
    return cpu, checks(after) - checks(before)


def checks(metrics):
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines()
               if line.startswith("dynhc_health_checks_total{"))


async def run_call_later(endpoints, interval, seconds):
    loop = asyncio.get_running_loop()
    payload = dynamo_style_payload()
    fired = [0]
    handles = []

    def fire(i):
        fired[0] += 1
        loop.create_task(send(payload))
        handles[i] = loop.call_later(interval, fire, i)
    rng = random.Random(1)
    for i in range(endpoints):
        handles.append(loop.call_later(rng.uniform(0, interval), fire, i))
    await asyncio.sleep(interval)
    start_fired, cpu = fired[0], time.process_time()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu
    for h in handles:
        h.cancel()
    return cpu, fired[0] - start_fired


def bench_scheduler(endpoints, seconds):
    interval = 0.1
    print("== asyncio: CPU per check, %d endpoints, periodic every %.1f s, %.1f s"
          % (endpoints, interval, seconds))
    ours_cpu, ours_checks = asyncio.run(run_dynhc(endpoints, interval, seconds))
    peer_cpu, peer_checks = asyncio.run(run_call_later(endpoints, interval, seconds))
    ours = ours_cpu / max(1, ours_checks) * 1e6
    peer = peer_cpu / max(1, peer_checks) * 1e6
    print("  dynhc.Scheduler    %7d checks  %6.1f us CPU/check" % (ours_checks, ours))
    print("  loop.call_later    %7d checks  %6.1f us CPU/check" % (peer_checks, peer))
    print("  ratio (dynhc / call_later) %.2f" % (ours / peer))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print("libdynhc %s from %s" % (dynhc.library_version(), dynhc.library_path()))
    bench_resolution()
    bench_scheduler(args.endpoints, args.seconds)


if __name__ == "__main__":
    main()
