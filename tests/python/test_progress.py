"""Forward progress from Python (SPEC 3, docs/python.md "Forward progress"):
Endpoint.request_begin/request_end/record_progress, the request() context
manager and track(), the stall threshold (stall_timeout=,
set_stall_timeout(), DYN_HEALTH_CHECK_STALL_TIMEOUT), the stall and its
recovery on a real event loop, and begin/progress/end from many threads.

Timings leave wide margins for a loaded machine: progress comes at least
ten times as often as the threshold asks, and waits for a transition allow
seconds for what takes a fraction of one."""
import asyncio
import threading
import unittest

import dynhc

# No checks (readiness follows traffic alone), starting not ready.
QUIET = dict(enabled=False, starting_ready=False, env={})


def checks(sched, name="generate"):
    return sched.status(verbose=True)["checks"][name]


async def until(condition, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met within %.1f s" % timeout)
        await asyncio.sleep(0.01)


async def ok(payload):
    return None


class Calls(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.sched = dynhc.Scheduler(**QUIET)
        self.addAsyncCleanup(self.sched.aclose)
        self.ep = self.sched.add("generate", {"prompt": "hi"}, ok)

    async def test_begin_and_end_count_the_requests_in_flight(self):
        self.ep.request_begin()
        self.ep.request_begin()
        self.assertEqual(checks(self.sched)["requests_in_flight"], 2)
        self.assertIn('dynhc_endpoint_requests_in_flight{dynhc_endpoint="generate"} 2',
                      self.sched.metrics())
        self.ep.request_end(ok=False)
        self.ep.request_end(ok=False)
        self.ep.request_end(ok=False)  # one more than began: the count stays at 0
        self.assertEqual(checks(self.sched)["requests_in_flight"], 0)

    async def test_a_failed_end_is_not_progress_a_successful_one_is(self):
        self.ep.request_begin()
        self.ep.request_end(ok=False)
        self.assertIsNone(checks(self.sched)["last_progress_secs_ago"])
        self.assertFalse(self.ep.ready)
        self.ep.request_begin()
        self.ep.request_end()  # ok by default: progress, and it marks the endpoint ready
        self.assertIsNotNone(checks(self.sched)["last_progress_secs_ago"])
        self.assertTrue(self.ep.ready)

    async def test_record_progress_is_progress(self):
        self.ep.record_progress()
        self.assertLess(checks(self.sched)["last_progress_secs_ago"], 5)
        self.assertTrue(self.ep.ready)

    async def test_the_calls_do_nothing_after_removal_and_after_close(self):
        other = self.sched.add("other", {"prompt": "hi"}, ok)
        self.ep.request_begin()
        self.ep.remove()  # with a request in flight: it needs no end
        self.ep.request_end(ok=True)  # ignored: it would have made the endpoint ready
        self.ep.record_progress()
        self.assertFalse(self.ep.ready)
        await self.sched.aclose()
        for ep in (self.ep, other):
            ep.request_begin()
            ep.record_progress()
            ep.request_end(ok=True)
            with ep.request() as request:
                request.progress()
            self.assertEqual([item async for item in ep.track(chunks(["a"]))], ["a"])
            self.assertFalse(ep.ready)
            self.assertFalse(ep.registered)


async def chunks(items, fail=None):
    for item in items:
        await asyncio.sleep(0)
        yield item
    if fail is not None:
        raise fail


class Helpers(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.sched = dynhc.Scheduler(**QUIET)
        self.addAsyncCleanup(self.sched.aclose)
        self.ep = self.sched.add("generate", {"prompt": "hi"}, ok)

    def state(self):
        c = checks(self.sched)
        return c["requests_in_flight"], c["last_progress_secs_ago"] is not None, self.ep.ready

    async def test_request_begins_on_entry_and_ends_ok_on_a_normal_exit(self):
        async with self.ep.request():
            self.assertEqual(self.state(), (1, False, False))
        self.assertEqual(self.state(), (0, True, True))

    async def test_request_progress_reports_progress(self):
        with self.ep.request() as request:  # also a plain context manager
            request.progress()
            self.assertEqual(self.state(), (1, True, True))
        self.assertEqual(self.state(), (0, True, True))

    async def test_request_left_by_an_exception_ends_not_ok_and_lets_it_through(self):
        with self.assertRaises(RuntimeError):
            async with self.ep.request():
                raise RuntimeError("engine failure")
        self.assertEqual(self.state(), (0, False, False))

    async def test_request_cancelled_ends_not_ok(self):
        entered = asyncio.Event()

        async def handler():
            async with self.ep.request():
                entered.set()
                await asyncio.sleep(3600)

        task = asyncio.ensure_future(handler())
        await entered.wait()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertEqual(self.state(), (0, False, False))

    async def test_request_with_ok_set_false_ends_not_ok(self):
        async with self.ep.request() as request:
            request.ok = False  # an error answered without raising
        self.assertEqual(self.state(), (0, False, False))

    async def test_a_request_is_entered_once(self):
        request = self.ep.request()
        with request:
            with self.assertRaisesRegex(dynhc.UsageError, "entered once"):
                with request:
                    pass
        self.assertEqual(self.state(), (0, True, True))

    async def test_track_begins_at_the_first_item_and_ends_ok_at_the_end(self):
        stream = self.ep.track(chunks(["a", "b", "c"]))
        self.assertEqual(self.state(), (0, False, False))  # not begun before it is iterated
        seen = []
        async for item in stream:
            seen.append(item)
            self.assertEqual(self.state(), (1, True, True))  # each item is progress
        self.assertEqual(seen, ["a", "b", "c"])
        self.assertEqual(self.state(), (0, True, True))

    async def test_track_of_a_failing_stream_ends_not_ok_and_raises(self):
        with self.assertRaisesRegex(ValueError, "bad request"):
            async for _ in self.ep.track(chunks([], fail=ValueError("bad request"))):
                pass
        self.assertEqual(self.state(), (0, False, False))

    async def test_track_left_early_ends_not_ok_and_closes_the_stream(self):
        closed = []

        async def stream():
            try:
                yield "a"
                yield "b"
            finally:
                closed.append(True)

        tracked = self.ep.track(stream())
        async for _ in tracked:
            break
        await tracked.aclose()
        self.assertEqual(closed, [True])
        self.assertEqual(checks(self.sched)["requests_in_flight"], 0)
        self.assertEqual(self.state(), (0, True, True))  # its one item was progress

    async def test_track_takes_any_async_iterable(self):
        class Numbers:
            def __aiter__(self):
                return chunks([1, 2]).__aiter__()

        self.assertEqual([n async for n in self.ep.track(Numbers())], [1, 2])
        self.assertEqual(self.state(), (0, True, True))


class Threads(unittest.IsolatedAsyncioTestCase):
    async def test_begin_progress_end_from_many_threads_while_the_loop_ticks(self):
        sched = dynhc.Scheduler(interval=0.01, timeout=1, spread=0, stall_timeout=60, env={})
        self.addAsyncCleanup(sched.aclose)
        eps = [sched.add(name, {"prompt": "hi"}, ok) for name in ("a", "b")]
        errors = []

        def worker(i):
            try:
                ep = eps[i % 2]
                for n in range(2000):
                    with ep.request() as request:
                        request.progress()
                    ep.request_begin()
                    ep.record_progress()
                    ep.request_end(ok=n % 2 == 0)
            except BaseException as e:  # reported below, in the test's thread
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            await asyncio.sleep(0.01)  # the loop ticks and checks meanwhile
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual([checks(sched, n)["requests_in_flight"] for n in ("a", "b")], [0, 0])
        self.assertTrue(all(ep.ready for ep in eps))

    async def test_calls_from_threads_race_removal_and_close(self):
        sched = dynhc.Scheduler(**QUIET)
        ep = sched.add("generate", {"prompt": "hi"}, ok)
        stop = threading.Event()

        def worker():
            while not stop.is_set():
                ep.request_begin()
                ep.record_progress()
                ep.request_end(ok=True)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        await asyncio.sleep(0.05)
        ep.remove()
        await asyncio.sleep(0.05)
        await sched.aclose()
        await asyncio.sleep(0.05)
        stop.set()
        for t in threads:
            t.join()
        self.assertFalse(ep.registered)


class Stall(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.transitions = []
        self.logs = []
        self.sends = 0

    def scheduler(self, **options):
        settings = dict(interval=0.05, timeout=2, spread=0, env={},
                        on_transition=lambda name, ready: self.transitions.append((name, ready)),
                        on_log=lambda level, text: self.logs.append(text))
        settings.update(options)
        sched = dynhc.Scheduler(**settings)
        self.addAsyncCleanup(sched.aclose)
        return sched

    async def send(self, payload):
        self.sends += 1

    async def test_busy_with_progress_stays_ready_and_is_sent_no_check(self):
        sched = self.scheduler(stall_timeout=1.0)
        ep = sched.add("generate", {"prompt": "hi"}, self.send)
        await until(lambda: ep.ready)
        ep.request_begin()
        await until(lambda: not ep.in_flight)  # a check sent before the request ends first
        sends = self.sends
        stop = threading.Event()

        def progress():  # a token every 20 ms: fifty times as often as the threshold asks
            while not stop.wait(0.02):
                ep.record_progress()

        thread = threading.Thread(target=progress)
        thread.start()
        try:
            for _ in range(30):  # 1.5 s: longer than the threshold
                await asyncio.sleep(0.05)
                self.assertTrue(ep.ready)
                self.assertFalse(checks(sched)["stalled"])
        finally:
            stop.set()
            thread.join()
        self.assertEqual(self.sends, sends)  # busy: no canary while requests are in flight
        ep.request_end(ok=True)
        await until(lambda: self.sends > sends)  # idle again: the canary is back

    async def test_no_progress_stalls_and_progress_recovers(self):
        sched = self.scheduler(stall_timeout=0.5)
        ep = sched.add("generate", {"prompt": "hi"}, self.send)
        await until(lambda: ep.ready)
        ep.request_begin()
        await until(lambda: not ep.ready)
        self.assertFalse(sched.ready)
        state = checks(sched)
        self.assertEqual((state["stalled"], state["requests_in_flight"]), (True, 1))
        self.assertIn('dynhc_endpoint_stalls_total{dynhc_endpoint="generate"} 1',
                      sched.metrics())
        self.assertTrue(any("'generate' is now not ready: stalled" in line for line in self.logs),
                        self.logs)
        ep.record_progress()
        self.assertTrue(ep.ready)  # at once, by the progress call itself
        self.assertFalse(checks(sched)["stalled"])
        # on_transition comes through the loop, after the calls that caused it.
        await until(lambda: [t for t in self.transitions if t[0] == "generate"][-2:]
                    == [("generate", False), ("generate", True)])
        ep.request_end(ok=True)

    async def test_requests_failing_while_wedged_do_not_hide_the_stall(self):
        sched = self.scheduler(stall_timeout=0.5)
        ep = sched.add("generate", {"prompt": "hi"}, self.send)
        await until(lambda: ep.ready)
        ep.request_begin()
        ep.request_begin()
        await until(lambda: not ep.ready)
        ep.request_end(ok=False)  # the server timed one out: traffic, not progress
        await asyncio.sleep(0.1)
        self.assertFalse(ep.ready)
        ep.request_end(ok=True)  # one finished after all: progress
        self.assertTrue(ep.ready)

    async def test_set_stall_timeout_turns_it_on_and_off(self):
        sched = self.scheduler()  # off by default
        ep = sched.add("generate", {"prompt": "hi"}, self.send)
        await until(lambda: ep.ready)
        ep.request_begin()
        sched.set_stall_timeout(0.3)
        await until(lambda: not ep.ready)
        ep.record_progress()
        sched.set_stall_timeout(None)  # off: a busy spell without progress is fine again
        self.assertTrue(ep.ready)
        await asyncio.sleep(1.0)
        self.assertTrue(ep.ready)
        self.assertEqual(checks(sched)["stalled"], False)
        ep.request_end(ok=True)

    async def test_the_environment_sets_it_and_the_keyword_overrides(self):
        env = {"DYN_HEALTH_CHECK_STALL_TIMEOUT": "0.3"}
        sched = self.scheduler(env=env)
        ep = sched.add("generate", {"prompt": "hi"}, self.send)
        await until(lambda: ep.ready)
        ep.request_begin()
        await until(lambda: not ep.ready)
        ep.request_end(ok=True)
        off = self.scheduler(env=env, stall_timeout=0)
        ep = off.add("generate", {"prompt": "hi"}, self.send)
        await until(lambda: ep.ready)
        ep.request_begin()
        await asyncio.sleep(1.0)  # three thresholds of the environment's
        self.assertTrue(ep.ready)
        ep.request_end(ok=True)

    async def test_a_bad_environment_value_is_a_warning(self):
        self.scheduler(env={"DYN_HEALTH_CHECK_STALL_TIMEOUT": "soon"})
        self.assertTrue(any("DYN_HEALTH_CHECK_STALL_TIMEOUT" in line and "soon" in line
                            for line in self.logs), self.logs)

    async def test_bad_thresholds_are_refused(self):
        for bad in (-1, 86401, "1", True, float("nan")):
            with self.assertRaisesRegex(dynhc.UsageError, r"stall_timeout: expected seconds"):
                dynhc.Scheduler(stall_timeout=bad, env={})
        sched = self.scheduler()
        with self.assertRaisesRegex(dynhc.UsageError, r"stall_timeout: .* got -0.5"):
            sched.set_stall_timeout(-0.5)
        await sched.aclose()
        with self.assertRaisesRegex(dynhc.UsageError, "closed"):
            sched.set_stall_timeout(1)


if __name__ == "__main__":
    unittest.main()
