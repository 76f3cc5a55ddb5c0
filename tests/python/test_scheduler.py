"""The asyncio Scheduler against a local stub OpenAI-style server: readiness,
failure, timeout, recovery, removal while a send is in flight, traffic, the
status server, callbacks, errors, and a shutdown that leaves no task, no
handle and no reference cycle behind."""
import asyncio
import gc
import json
import socket
import threading
import urllib.error
import urllib.request
import weakref
import unittest

import dynhc

FAST = dict(interval=0.05, timeout=0.5, spread=0, env={})


class StubServer:
    """An OpenAI-style /v1/completions stub: mode "ok" answers 200, "fail" 500,
    "hang" never answers."""

    def __init__(self):
        self.mode = "ok"
        self.requests = []
        self.handlers = set()
        self.release = asyncio.Event()  # ends the hanging answers

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self):
        self.release.set()
        await asyncio.gather(*self.handlers)
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader, writer):
        self.handlers.add(asyncio.current_task())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")][0])
            self.requests.append(json.loads(await reader.readexactly(length)))
            if self.mode == "hang":
                await self.release.wait()
            status, body = (200, {"choices": [{"text": "x"}]}) if self.mode == "ok" else \
                (500, {"error": "engine down"})
            data = json.dumps(body).encode()
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s"
                         % (status, len(data), data))
            await writer.drain()
        finally:
            self.handlers.discard(asyncio.current_task())
            writer.close()

    async def post(self, payload):
        """The send function of the endpoints under test: one POST."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            body = json.dumps(payload).encode()
            writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: stub\r\nContent-Length: %d\r\n"
                         b"\r\n%s" % (len(body), body))
            status = int((await reader.readline()).split()[1])
            if status != 200:
                raise RuntimeError("HTTP %d" % status)
        finally:
            writer.close()


async def until(condition, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met within %.1f s" % timeout)
        await asyncio.sleep(0.01)


def hanging_send():
    """(send, started, cancelled): a send function that never answers, the
    event it sets once called, and the list it appends to when cancelled."""
    started, cancelled = asyncio.Event(), []

    async def send(payload):
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
    return send, started, cancelled


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class SchedulerChecks(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        # Cleanups run last first: the check that nothing is left runs after
        # every scheduler (the tests' own included) and the stub are closed.
        self.addAsyncCleanup(self.nothing_left)
        self.stub = StubServer()
        await self.stub.start()
        self.addAsyncCleanup(self.stub.close)
        self.transitions = []
        self.sched = dynhc.Scheduler(on_transition=lambda name, ready:
                                     self.transitions.append((name, ready)), **FAST)
        self.addAsyncCleanup(self.sched.aclose)
        self.payload = dynhc.Resolver(env={}).resolve()

    async def nothing_left(self):
        self.assertEqual(asyncio.all_tasks(), {asyncio.current_task()})

    async def test_a_successful_check_makes_the_endpoint_ready(self):
        ep = self.sched.add("generate", self.payload, self.stub.post, labels=[("model", "gpt2")])
        self.assertFalse(ep.ready)
        await until(lambda: ep.ready)
        self.assertTrue(self.sched.ready)
        self.assertEqual(self.sched.status()["endpoints"], {"generate": "ready"})
        self.assertEqual(self.stub.requests[0], self.payload.payload)
        await until(lambda: (None, True) in self.transitions)
        self.assertEqual(self.transitions[:2], [("generate", True), (None, True)])
        self.assertIn('dynhc_endpoint_ready{dynhc_endpoint="generate",model="gpt2"} 1',
                      self.sched.metrics())

    async def test_failure_then_recovery(self):
        self.stub.mode = "fail"
        ep = self.sched.add("generate", {"prompt": "hi", "max_tokens": 1}, self.stub.post)
        await until(lambda: self.sched.status(verbose=True)["checks"]["generate"]["result"]
                    == "failure")
        checks = self.sched.status(verbose=True)["checks"]["generate"]
        self.assertEqual(checks["last_error"], "RuntimeError: HTTP 500")
        self.assertFalse(ep.ready)
        self.assertEqual(self.stub.requests[0], {"prompt": "hi", "max_tokens": 1,
                                                 "_health_check": True})
        self.stub.mode = "ok"
        await until(lambda: ep.ready)
        await until(lambda: ("generate", True) in self.transitions)

    async def test_timeout_cancels_the_send(self):
        self.stub.mode = "hang"
        cancelled = []

        async def send(payload):
            try:
                await self.stub.post(payload)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
        ep = self.sched.add("generate", self.payload, send)
        await until(lambda: cancelled)
        self.assertEqual(self.sched.status(verbose=True)["checks"]["generate"]["result"],
                         "timeout")
        self.assertFalse(ep.ready)
        self.assertIn('dynhc_health_checks_total{dynhc_endpoint="generate",result="timeout"} 1',
                      self.sched.metrics())
        self.stub.mode = "ok"
        await until(lambda: ep.ready)

    async def test_removal_while_a_send_is_in_flight(self):
        send, started, cancelled = hanging_send()
        ep = self.sched.add("generate", self.payload, send)
        await started.wait()
        self.assertTrue(ep.in_flight)
        ep.remove()
        ep.remove()  # twice is harmless
        await until(lambda: cancelled)
        self.assertFalse(ep.registered)
        self.assertFalse(ep.in_flight)
        ep.record_activity(True)  # ignored, and safe
        self.assertEqual(self.sched.status()["endpoints"], {})
        self.assertEqual(self.sched.endpoints, [])
        # The name can be registered again: a new endpoint.
        again = self.sched.add("generate", self.payload, self.stub.post)
        await until(lambda: again.ready)
        self.assertFalse(ep.ready)

    async def test_traffic_keeps_an_idle_endpoint_from_being_checked(self):
        sends = []

        async def send(payload):
            sends.append(payload)
        sched = dynhc.Scheduler(interval=1.0, spread=0.5, env={})
        self.addAsyncCleanup(sched.aclose)
        ep = sched.add("generate", self.payload, send)
        ep.record_activity(True)  # before its first check can come
        stop = threading.Event()

        def traffic():  # another thread, as a serving runtime's request threads
            while not stop.wait(0.02):
                ep.record_activity(True)
        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            await asyncio.sleep(1.5)
        finally:
            stop.set()
            worker.join()
        self.assertEqual(sends, [])
        self.assertTrue(ep.ready)  # successful traffic marks it ready
        await until(lambda: sends, timeout=3)  # idle again: a canary

    async def test_send_functions_of_every_shape(self):
        seen = []

        async def with_check(payload, check):
            seen.append((check.endpoint, check.id > 0, check.deadline > check.sent,
                         json.loads(check.text) == payload))

        async def generator(payload):
            yield {"text": "a"}
            seen.append("generator ran to its end")

        async def says_no(payload):
            return False

        def plain(payload):  # not a coroutine: run as it is
            seen.append("plain")
        self.sched.add("one", self.payload, with_check)
        self.sched.add("two", self.payload, generator)
        self.sched.add("three", self.payload, says_no)
        self.sched.add("four", self.payload, plain)
        await until(lambda: len(seen) >= 3 and "three" in self.sched.status(True)["checks"]
                    and self.sched.status(True)["checks"]["three"]["result"] == "failure")
        self.assertIn(("one", True, True, True), seen)
        self.assertIn("generator ran to its end", seen)
        self.assertIn("plain", seen)
        self.assertEqual(self.sched.status(True)["checks"]["three"]["last_error"],
                         "the send function returned False")
        self.assertEqual(self.sched["one"].name, "one")

    async def test_transitions_caused_on_another_thread_reach_the_loop_thread(self):
        threads = []
        sched = dynhc.Scheduler(env={}, enabled=False,
                                on_transition=lambda name, ready:
                                threads.append((name, ready, threading.get_ident())))
        self.addAsyncCleanup(sched.aclose)
        ep = sched.add("generate", self.payload, self.stub.post)
        t = threading.Thread(target=ep.record_activity, args=(True,))
        t.start()
        t.join()
        await until(lambda: len(threads) == 2)
        self.assertEqual(threads, [("generate", True, threading.get_ident()),
                                   (None, True, threading.get_ident())])

    async def test_settings(self):
        sched = dynhc.Scheduler(env={"DYN_SYSTEM_STARTING_HEALTH_STATUS": "ready"})
        self.addAsyncCleanup(sched.aclose)
        self.assertTrue(sched.ready)  # no endpoint: the starting status
        sched.set_process_ready(False)
        self.assertFalse(sched.ready)
        sched2 = dynhc.Scheduler(use_endpoints=["generate"], failures=2, successes=1,
                                 mode="periodic", jitter=0.1, seed=7, not_ready_interval=0.05,
                                 activity_marks_ready=False, starting_ready=False, **FAST)
        self.addAsyncCleanup(sched2.aclose)
        gen = sched2.add("generate", self.payload, self.stub.post)
        sched2.add("other", self.payload, self.stub.post)
        await until(lambda: gen.ready and sched2.ready)
        settings = dynhc.Resolver(env={"DYN_HEALTH_CHECK_ENABLED": "false"}).resolve()
        sched3 = dynhc.Scheduler(settings=settings, spread=0)
        self.addAsyncCleanup(sched3.aclose)
        sends = []

        async def send(payload):
            sends.append(payload)
        ep3 = sched3.add("generate", self.payload, send)
        ep3.record_activity(False)
        await asyncio.sleep(0.2)
        self.assertEqual(sends, [])  # checks disabled by the settings
        self.assertFalse(ep3.ready)

    async def test_log_callback(self):
        lines = []
        sched = dynhc.Scheduler(env={}, on_log=lambda level, message:
                                lines.append((level, message)))
        self.addAsyncCleanup(sched.aclose)
        sched.add("generate", self.payload, self.stub.post)
        self.assertIn((20, "Health check payload for endpoint 'generate' from default: "
                           + self.payload.text), lines)

    async def test_log_limit(self):
        self.stub.mode = "fail"
        lines = []
        sched = dynhc.Scheduler(log_limit=(2, 0.3), on_log=lambda level, message:
                                lines.append(message), **FAST)
        self.addAsyncCleanup(sched.aclose)
        for i in range(5):
            sched.add("e%d" % i, self.payload, self.stub.post)
        await until(lambda: any("held back" in line for line in lines))
        said = [line for line in lines if line.startswith("endpoint '") or "held back" in line]
        # A sink of the host's counts every level: the first period's two lines, then the count.
        self.assertTrue(all(line.startswith("endpoint '") for line in said[:2]), said)
        self.assertRegex(said[2], r"^\d+ endpoint messages held back in the last [\d.]+ s "
                                  r"\(at most 2 per 0\.3 s\)")

    async def test_errors(self):
        self.sched.add("generate", self.payload, self.stub.post, labels=[["model", "gpt2"]])
        self.assertIn('model="gpt2"', self.sched.metrics())  # a list pair is a pair too
        for kwargs, error in [
                (dict(name="generate"), dynhc.UsageError),  # registered already
                (dict(name=""), dynhc.UsageError),
                (dict(labels=[("job", "x")]), dynhc.UsageError),  # a scraper's label
                (dict(labels=["model"]), dynhc.UsageError),
                (dict(send=None), dynhc.UsageError),
                (dict(payload={"prompt": "x"}, model_type="video"), dynhc.UnknownModelTypeError),
                (dict(payload=dynhc.Resolver(disabled=True, env={}).resolve()),
                 dynhc.DisabledError)]:
            args = dict(name="e", payload=self.payload, send=self.stub.post)
            args.update(kwargs)
            with self.subTest(**{k: repr(v) for k, v in kwargs.items()}):
                with self.assertRaises(error):
                    self.sched.add(args.pop("name"), args.pop("payload"), args.pop("send"), **args)
        for kwargs in (dict(mode="sometimes"), dict(interval=0), dict(jitter=1),
                       dict(failures=0), dict(spread=-1), dict(use_endpoints="generate"),
                       dict(log_limit=(2, 0)), dict(log_limit=(-1, 1)), dict(log_limit=5)):
            with self.subTest(**kwargs), self.assertRaises(dynhc.UsageError):
                dynhc.Scheduler(env={}, **kwargs)
        disabled = dynhc.Scheduler(env={"DYN_HEALTH_CHECK_PAYLOAD_DISABLED": "1"})
        self.addAsyncCleanup(disabled.aclose)
        with self.assertRaises(dynhc.DisabledError):  # a dict is resolved with the environment
            disabled.add("x", {"prompt": "p"}, self.stub.post)
        await self.sched.aclose()
        for call in (lambda: self.sched.add("x", self.payload, self.stub.post),
                     self.sched.status, self.sched.metrics,
                     lambda: self.sched.set_process_ready(True), self.sched.start_server):
            with self.assertRaises(dynhc.UsageError):
                call()
        self.assertTrue(self.sched.closed)
        self.assertFalse(self.sched.ready)


class OutsideALoop(unittest.TestCase):
    def test_a_scheduler_made_outside_a_loop_runs_in_the_loop_it_is_used_in(self):
        sched = dynhc.Scheduler(**FAST)
        sent = []

        async def send(payload):
            sent.append(payload)

        async def main():
            async with sched:
                sched.add("generate", dynhc.Resolver(env={}).resolve(), send)
                await until(lambda: sched.ready)
        asyncio.run(main())
        self.assertTrue(sent)
        self.assertTrue(sched.closed)


class StatusServer(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        if not dynhc.Scheduler.server_supported():
            self.skipTest("libdynhc was built without the status server")

    async def test_health_live_and_metrics_on_a_port_it_chose(self):
        async with dynhc.Scheduler(**FAST) as sched:
            port = sched.start_server("127.0.0.1", 0)
            self.assertEqual(sched.server_port, port)
            loop = asyncio.get_running_loop()

            def fetch(path):
                return loop.run_in_executor(None, get, port, path)
            status, body = await fetch("/health")
            self.assertEqual((status, json.loads(body)["status"]), (503, "notready"))

            async def ok(payload):
                pass
            sched.add("generate", dynhc.Resolver(env={}).resolve(), ok,
                      labels={"model": "gpt2"})
            await until(lambda: sched.ready)
            status, body = await fetch("/health")
            self.assertEqual((status, json.loads(body)["endpoints"]), (200, {"generate": "ready"}))
            self.assertEqual((await fetch("/live"))[0], 200)
            self.assertIn('model="gpt2"', (await fetch("/metrics"))[1])
            with self.assertRaises(dynhc.BusyError):
                sched.start_server("127.0.0.1", 0)
            sched.stop_server()
            self.assertIsNone(sched.server_port)

    async def test_settings_from_the_environment(self):
        env = {"DYN_SYSTEM_HOST": "127.0.0.1", "DYN_SYSTEM_PORT": "0",
               "DYN_SYSTEM_HEALTH_PATH": "/healthz"}
        async with dynhc.Scheduler(env=env, starting_ready=True) as sched:
            port = sched.start_server()
            status, body = await asyncio.get_running_loop().run_in_executor(
                None, get, port, "/healthz")
            self.assertEqual(status, 200)
        async with dynhc.Scheduler(env={}) as sched:
            self.assertIsNone(sched.start_server())  # DYN_SYSTEM_PORT unset: off
            self.assertIsNone(sched.start_server(port=-1))

    async def test_errors(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        async with dynhc.Scheduler(env={}) as sched:
            with self.assertRaises(dynhc.SystemCallError) as cm:
                sched.start_server("127.0.0.1", taken.getsockname()[1])
            self.assertIsInstance(cm.exception, OSError)
            self.assertEqual(cm.exception.errno, 98)  # EADDRINUSE
            for kwargs in (dict(host="not a host"), dict(port=70000),
                           dict(health_path="health"), dict(live_path="/metrics")):
                with self.subTest(**kwargs), self.assertRaises(dynhc.UsageError):
                    sched.start_server(**{"port": 0, **kwargs})


class Concurrency(unittest.IsolatedAsyncioTestCase):
    async def test_traffic_from_threads_while_endpoints_come_and_go_and_the_scheduler_closes(self):
        async def send(payload):
            await asyncio.sleep(0.001)
        sched = dynhc.Scheduler(interval=0.01, timeout=0.05, spread=0, env={})
        payload = dynhc.Resolver(env={}).resolve()
        endpoints = [sched.add("ep%d" % i, payload, send) for i in range(8)]
        stop = threading.Event()
        calls = [0]

        def traffic(mine):
            while not stop.is_set():
                for ep in list(mine):
                    ep.record_activity(calls[0] % 3 != 0)
                    _ = ep.ready  # a lock-free read, from this thread
                    calls[0] += 1
        threads = [threading.Thread(target=traffic, args=(endpoints,)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for round_ in range(20):  # removal and re-adding under the threads' feet
                for i, ep in enumerate(list(endpoints)):
                    if (i + round_) % 3 == 0:
                        ep.remove()
                        endpoints[i] = sched.add(ep.name, payload, send)
                await asyncio.sleep(0.01)
            await sched.aclose()  # the threads still record traffic on their handles
            await asyncio.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(calls[0], 0)
        self.assertEqual(asyncio.all_tasks(), {asyncio.current_task()})


    async def test_close_while_threads_record_traffic(self):
        # dynhc_sched_free() may overlap no call on an endpoint: close() from
        # the loop while threads record traffic on their handles once freed
        # the scheduler under a call (ASan: heap-use-after-free in
        # traffic_now), a few rounds in a hundred.
        async def send(payload):
            pass
        payload = dynhc.Resolver(env={}).resolve()
        for _ in range(100):
            sched = dynhc.Scheduler(interval=10, timeout=1, spread=0, env={})
            endpoints = [sched.add("ep%d" % i, payload, send) for i in range(4)]
            stop = threading.Event()

            def traffic():
                while not stop.is_set():
                    for ep in endpoints:
                        ep.record_activity(True)
                        ep.request_begin()
                        ep.record_progress()
                        ep.request_end(True)
            threads = [threading.Thread(target=traffic) for _ in range(4)]
            for t in threads:
                t.start()
            await asyncio.sleep(0.002)
            sched.close()
            stop.set()
            for t in threads:
                t.join()
            self.assertTrue(sched.closed)


class Shutdown(unittest.IsolatedAsyncioTestCase):
    async def test_close_cancels_sends_and_leaves_nothing_behind(self):
        send, started, cancelled = hanging_send()
        sched = dynhc.Scheduler(**FAST)
        ep = sched.add("generate", dynhc.Resolver(env={}).resolve(), send)
        if dynhc.Scheduler.server_supported():
            sched.start_server("127.0.0.1", 0)
        await started.wait()
        refs = [weakref.ref(sched), weakref.ref(ep)]
        async with sched:
            pass
        self.assertEqual(cancelled, [True])
        self.assertTrue(sched.closed)
        sched.close()  # idempotent
        ep.record_activity(True)  # its own reference outlives the scheduler
        self.assertFalse(ep.registered)
        self.assertEqual(asyncio.all_tasks(), {asyncio.current_task()})
        del sched, ep, send
        gc.collect()
        self.assertEqual([r() for r in refs], [None, None])

    async def test_a_dropped_scheduler_is_freed_without_a_collection(self):
        sends = []

        async def send(payload):
            sends.append(payload)
        sched = dynhc.Scheduler(**FAST)
        sched.add("generate", dynhc.Resolver(env={}).resolve(), send)
        ref = weakref.ref(sched)
        gc.disable()
        try:
            del sched  # no cycle: reference counting alone frees it, and its C side
            self.assertIsNone(ref())
        finally:
            gc.enable()
        await asyncio.sleep(0.2)  # its loop timer, if still armed, finds nothing
        self.assertEqual(sends, [])


if __name__ == "__main__":
    unittest.main()
