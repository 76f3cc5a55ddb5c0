"""The scheduler (SPEC 3) inside an asyncio event loop, and its status server.

No thread of its own: one loop timer is armed at dynhc_sched_next_deadline()
and calls dynhc_sched_tick(); the wakeup callback (called by C from any
thread) re-arms it through loop.call_soon_threadsafe(). Each check runs the
endpoint's async send function as a task: its return is a success, its
exception a failure; when the tick times the check out, the task is
cancelled.

Lifetime: C holds no pointer to a Python object. Its callbacks get small
integer keys, and the ctypes callback objects close over a weak reference to
the Scheduler, so that dropping the Scheduler (or close()) frees the C side
and nothing is called back into a freed object. An Endpoint holds its own C
reference (dynhc_endpoint_ref), valid after removal and after the scheduler
is freed, so record_activity() and the forward-progress calls (request_begin,
record_progress, request_end) from any thread are always safe.
"""
from __future__ import annotations

import asyncio
import ctypes
import inspect
import itertools
import json
import logging
import os
import threading
import weakref
from dataclasses import dataclass
from typing import (Any, AsyncIterable, AsyncIterator, Callable, Dict, Iterable, List, Mapping,
                    Optional, Sequence, Tuple, TypeVar, Union)

from . import _lib
from ._lib import decode, encode, lib
from .errors import (DisabledError, NoMemoryError, SystemCallError, UnsupportedError,
                     UsageError, error_for)
from .progress import Request, track
from .resolver import Payload, Resolver, Result, _Env, check, seconds_to_ns

logger = logging.getLogger("dynhc")

T = TypeVar("T")

_LOG_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}


@dataclass(frozen=True)
class Check:
    """One check as the send function may ask for it (send(payload, check))."""
    id: int
    endpoint: str
    text: str
    sent: float      # the scheduler's clock, seconds (time.monotonic())
    deadline: float


SendFn = Callable[..., Any]  # async def send(payload) or send(payload, check); async generators too
Labels = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


class Endpoint:
    """An endpoint registered with Scheduler.add(). Its methods may be called
    from any thread (they are the C API's "any thread" calls), also after the
    endpoint is removed or the scheduler closed: they then do nothing."""

    def __init__(self, scheduler: "Scheduler", name: str, ptr: int, send: SendFn,
                 key: int) -> None:
        self.name = name
        self._scheduler = weakref.ref(scheduler)
        self._ptr = ptr  # our own reference: valid until this object goes
        self._send = send
        self._send_takes_check = _positional_count(send) >= 2
        self._key = key
        self._task: Optional["asyncio.Task[None]"] = None
        self._deadline_ns = 0
        weakref.finalize(self, lib.dynhc_endpoint_release, ptr)

    def record_activity(self, ok: bool = True) -> None:
        """Real traffic reached the endpoint: resets its idle timer and, when
        ok, marks it ready (SPEC 3). Lock-free; any thread."""
        lib.dynhc_endpoint_record_activity(self._ptr, 1 if ok else 0)

    def request_begin(self) -> None:
        """A request started (SPEC 3, forward progress): one more in flight.
        Traffic for the idle timer, not progress. Lock-free; any thread."""
        lib.dynhc_endpoint_request_begin(self._ptr)

    def request_end(self, ok: bool = True) -> None:
        """A request ended: one fewer in flight. ok: it succeeded, which is
        progress and does what record_activity(True) does; else it is
        traffic only, as record_activity(False). Lock-free; any thread."""
        lib.dynhc_endpoint_request_end(self._ptr, 1 if ok else 0)

    def record_progress(self) -> None:
        """The endpoint made progress (a token streamed): resets the stall
        timer and makes a stalled endpoint ready. Lock-free; any thread."""
        lib.dynhc_endpoint_record_progress(self._ptr)

    def request(self) -> Request:
        """One request as a context manager: `async with ep.request() as r:`
        begins it, r.progress() per token, ends it ok unless an exception
        leaves the block (see dynhc.progress.Request)."""
        return Request(self)

    def track(self, stream: AsyncIterable[T]) -> AsyncIterator[T]:
        """stream (an async iterable: a handler's answer) as one request:
        `async for chunk in ep.track(handler(request)):` begins it at the
        first iteration, records progress per item and ends it, ok when the
        stream is exhausted, not ok when it raises or is left early."""
        return track(self, stream)

    @property
    def ready(self) -> bool:
        return bool(lib.dynhc_endpoint_is_ready(self._ptr))

    @property
    def registered(self) -> bool:
        return bool(lib.dynhc_endpoint_is_registered(self._ptr))

    @property
    def in_flight(self) -> bool:
        """Whether a check's send is running now."""
        return self._task is not None and not self._task.done()

    def remove(self) -> None:
        """Removes the endpoint; a send in flight is cancelled (its outcome
        would be ignored). Safe to call twice."""
        scheduler = self._scheduler()
        if scheduler is not None:
            scheduler._remove(self)

    def __repr__(self) -> str:
        return "<dynhc.Endpoint %r %s%s>" % (self.name, "ready" if self.ready else "not ready",
                                             "" if self.registered else ", removed")


class _Handles:
    """What C holds or uses: the scheduler and server pointers and every
    ctypes callback object; freed by Scheduler.close() or the finalizer."""

    def __init__(self) -> None:
        self.sched: Optional[int] = None
        self.server: Optional[int] = None
        self.callbacks: List[Any] = []

    def free(self) -> None:
        if self.server:
            lib.dynhc_server_free(self.server)
            self.server = None
        if self.sched:
            lib.dynhc_sched_set_wakeup(self.sched, _lib.wakeup_fn(0), None)  # NULL: none
            lib.dynhc_sched_free(self.sched)
            self.sched = None
        self.callbacks.clear()


def _labels(labels: Optional[Labels]) -> List[Tuple[str, str]]:
    if labels is None:
        return []
    pairs = list(labels.items()) if isinstance(labels, Mapping) else list(labels)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(x, str) for x in pair)):
            raise UsageError("labels: expected (name, value) string pairs, got %r" % (pair,))
    return [(name, value) for name, value in pairs]


class Scheduler:
    """Health checks for the endpoints of an asyncio serving runtime.

    It runs in the loop that is running when it is created (or loop=), or,
    created outside one, in the loop it is first used in (add() or `async
    with`). Settings are keyword arguments; times are in seconds:
      settings:    a Result whose enabled, interval and timeout it takes;
                   by default a resolution of the environment (env), so that
                   DYN_HEALTH_CHECK_ENABLED/INTERVAL/TIMEOUT and
                   DYN_CANARY_WAIT_TIME are honoured
      env:         mapping read in place of os.environ (DYN_SYSTEM_* too)
      mode:        "idle" (canary, the default) or "periodic"
      interval, not_ready_interval, timeout, jitter, spread, seed,
      failures, successes (thresholds), activity_marks_ready, enabled,
      starting_ready, use_endpoints: as in include/dynhc/sched.h
      stall_timeout: with requests in flight (Endpoint.request_begin), time
                   without progress before an endpoint turns not ready as
                   "stalled"; 0 turns it off; None (the default) keeps
                   DYN_HEALTH_CHECK_STALL_TIMEOUT (off unless set)
      log_limit:   (burst, seconds): at most burst log lines about single
                   endpoints per seconds, the others counted in one line
                   (dynhc_sched_set_log_limit()); None or burst 0: no limit
      on_transition(name, ready): a readiness change (name None: overall),
                   called in the loop
      on_log(level, message): the log sink (logging levels); default: the
                   logger "dynhc"; any thread
    Use `async with Scheduler() as s:` or call aclose()/close().
    """

    def __init__(self, *, loop: Optional[asyncio.AbstractEventLoop] = None,
                 settings: Optional[Result] = None, env: Optional[Mapping[str, str]] = None,
                 mode: str = "idle", interval: Optional[float] = None,
                 not_ready_interval: Optional[float] = None, timeout: Optional[float] = None,
                 jitter: Optional[float] = None, spread: Optional[float] = None,
                 seed: Optional[int] = None, failures: int = 1, successes: int = 1,
                 activity_marks_ready: bool = True, enabled: Optional[bool] = None,
                 starting_ready: Optional[bool] = None,
                 use_endpoints: Optional[Sequence[str]] = None,
                 stall_timeout: Optional[float] = None,
                 log_limit: Optional[Tuple[int, float]] = None,
                 on_transition: Optional[Callable[[Optional[str], bool], Any]] = None,
                 on_log: Optional[Callable[[int, str], Any]] = None) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread = 0
        self._bind(loop)
        self._env = env
        self._on_transition = on_transition
        self._on_log = on_log
        self._endpoints: Dict[int, Endpoint] = {}
        self._in_flight: Dict[int, Endpoint] = {}  # endpoints whose send runs
        self._by_name: Dict[str, Endpoint] = {}
        self._keys = itertools.count(1)
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_ns = _lib.NO_DEADLINE
        self._rearm_pending = False
        self._h = _Handles()
        self._finalizer = weakref.finalize(self, _Handles.free, self._h)
        ptr = lib.dynhc_sched_new()
        if not ptr:
            raise NoMemoryError("dynhc_sched_new: out of memory")
        self._h.sched = ptr
        me = weakref.ref(self)
        # The callbacks close over a weak reference only (no cycle through C).
        cbs = (_lib.log_fn(lambda level, msg, _ud: _on_log(me, level, msg)),
               _lib.transition_fn(lambda _s, _ep, name, ready, _ud:
                                  _on_transition(me, name, ready)),
               _lib.wakeup_fn(lambda _s, _ud: _on_wakeup(me)),
               _lib.send_fn(lambda _s, _ep, chk, key: _on_send(me, chk, key)))
        self._h.callbacks.extend(cbs)
        self._send_cb = cbs[3]
        check(lib.dynhc_sched_set_log(ptr, cbs[0], None), "log")
        check(lib.dynhc_sched_set_transition_callback(ptr, cbs[1], None), "on_transition")
        check(lib.dynhc_sched_set_wakeup(ptr, cbs[2], None), "wakeup")
        if settings is None:
            settings = Resolver(env=env).resolve(log=True)
        check(lib.dynhc_sched_apply_result(ptr, settings._ptr), "settings")
        lookup = _Env(env)
        try:
            check(lib.dynhc_sched_load_env(ptr, lookup.fn, None), "load_env")
        finally:
            lookup.kept.clear()
        modes = {"idle": 0, "periodic": 1}
        if mode not in modes:
            raise UsageError("mode: expected 'idle' or 'periodic', got %r" % (mode,))
        check(lib.dynhc_sched_set_mode(ptr, modes[mode]), "mode")
        for name, value, setter in (
                ("interval", interval, lib.dynhc_sched_set_interval_ns),
                ("not_ready_interval", not_ready_interval,
                 lib.dynhc_sched_set_not_ready_interval_ns),
                ("timeout", timeout, lib.dynhc_sched_set_timeout_ns)):
            if value is not None:
                check(setter(ptr, seconds_to_ns(value, name)), name)
        if spread is not None:
            if isinstance(spread, bool) or not isinstance(spread, (int, float)) or spread < 0:
                raise UsageError("spread: expected seconds >= 0, got %r" % (spread,))
            check(lib.dynhc_sched_set_spread_ns(ptr, 0 if spread == 0 else
                                                seconds_to_ns(spread, "spread")), "spread")
        if jitter is not None:
            if not (isinstance(jitter, (int, float)) and 0 <= jitter < 1):
                raise UsageError("jitter: expected a fraction in [0, 1), got %r" % (jitter,))
            check(lib.dynhc_sched_set_jitter(ptr, float(jitter)), "jitter")
        if seed is not None:
            check(lib.dynhc_sched_set_seed(ptr, seed), "seed")
        if not (isinstance(failures, int) and isinstance(successes, int)
                and failures >= 1 and successes >= 1):
            raise UsageError("failures, successes: expected integers >= 1, got %r, %r"
                             % (failures, successes))
        check(lib.dynhc_sched_set_thresholds(ptr, failures, successes), "thresholds")
        check(lib.dynhc_sched_set_activity_marks_ready(ptr, int(bool(activity_marks_ready))),
              "activity_marks_ready")
        if enabled is not None:
            check(lib.dynhc_sched_set_enabled(ptr, int(bool(enabled))), "enabled")
        if starting_ready is not None:
            check(lib.dynhc_sched_set_starting_status(ptr, int(bool(starting_ready))),
                  "starting_ready")
        if stall_timeout is not None:
            self.set_stall_timeout(stall_timeout)
        if log_limit is not None:
            if (not isinstance(log_limit, tuple) or len(log_limit) != 2
                    or isinstance(log_limit[0], bool) or not isinstance(log_limit[0], int)
                    or not 0 <= log_limit[0] <= 0xFFFFFFFF):
                raise UsageError("log_limit: expected (burst, seconds), burst an integer >= 0, "
                                 "got %r" % (log_limit,))
            burst, period = log_limit
            check(lib.dynhc_sched_set_log_limit(ptr, burst, 0 if burst == 0 else
                                                seconds_to_ns(period, "log_limit")), "log_limit")
        if use_endpoints is not None:
            if isinstance(use_endpoints, str):
                raise UsageError("use_endpoints: expected a list of names, got a string")
            names = (ctypes.c_char_p * max(1, len(use_endpoints)))(
                *[encode(n, "use_endpoints") for n in use_endpoints])
            check(lib.dynhc_sched_set_use_endpoints(ptr, names, len(use_endpoints)),
                  "use_endpoints")

    # ---- endpoints ----------------------------------------------------------

    def add(self, name: str, payload: Union[Result, Payload], send: SendFn, *,
            labels: Optional[Labels] = None, model_type: Optional[str] = None) -> Endpoint:
        """Registers an endpoint. payload is a Result, or a dict / JSON text
        resolved as the runtime payload (with model_type, the environment
        and the marker). send is an async function called as send(payload)
        or, when it takes two arguments, send(payload, check), with a fresh
        dict per check; an async generator is run to its end. Its return is
        a success (unless it returns False), its exception a failure.
        labels: metric labels such as [("model", "gpt2")]. Raises UsageError
        for a bad or duplicate name or label, DisabledError when payload
        needs resolving and payloads are disabled."""
        sched = self._sched()
        if not callable(send):
            raise UsageError("send: expected an async function, got %r" % (send,))
        if not isinstance(payload, Result):
            payload = Resolver(payload=payload, model_type=model_type,
                               env=self._env).resolve(log=True)
        if payload.text is None:
            raise DisabledError("endpoint %r: health-check payloads are disabled" % (name,))
        if not isinstance(name, str) or not name:
            raise UsageError("endpoint name: expected a non-empty string, got %r" % (name,))
        if name in self._by_name:
            raise UsageError("endpoint %r is registered already" % (name,))
        pairs = _labels(labels)
        c_labels = (_lib.Label * max(1, len(pairs)))(
            *[_lib.Label(encode(k, "label name"), encode(v, "label value")) for k, v in pairs])
        key = next(self._keys)
        options = _lib.EndpointOptions(size=ctypes.sizeof(_lib.EndpointOptions),
                                       name=encode(name, "endpoint name"), payload=payload._ptr,
                                       labels=c_labels, label_count=len(pairs),
                                       send=self._send_cb, user_data=key)
        out = ctypes.c_void_p()
        status = lib.dynhc_sched_add(sched, ctypes.byref(options), ctypes.byref(out))
        if status < 0:
            raise error_for(status, "endpoint %r: %s%s" % (
                name, decode(lib.dynhc_strerror(status)),
                " (a label name must be a Prometheus label name other than dynhc_endpoint, "
                "result, le, job, instance, endpoint, namespace, pod, service, container and "
                "node)" if status == -2 and pairs else ""))
        endpoint = Endpoint(self, name, lib.dynhc_endpoint_ref(out.value), send, key)
        self._endpoints[key] = endpoint
        self._by_name[name] = endpoint
        self._rearm()
        return endpoint

    def _remove(self, endpoint: Endpoint) -> None:
        if self._endpoints.get(endpoint._key) is not endpoint:
            return
        del self._endpoints[endpoint._key]
        del self._by_name[endpoint.name]
        self._in_flight.pop(endpoint._key, None)
        if self._h.sched:
            lib.dynhc_sched_remove_endpoint(self._h.sched, endpoint._ptr)
        if endpoint._task is not None:
            endpoint._task.cancel()
        self._rearm()

    def __getitem__(self, name: str) -> Endpoint:
        return self._by_name[name]

    @property
    def endpoints(self) -> List[Endpoint]:
        return list(self._by_name.values())

    # ---- reports ------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """The overall status (any thread)."""
        return bool(self._h.sched and lib.dynhc_sched_is_ready(self._h.sched))

    def set_stall_timeout(self, seconds: Optional[float]) -> None:
        """The stall threshold in seconds (at most 24 h); None or 0 turns
        stall detection off. Any time, from the loop's thread."""
        if seconds is not None and (isinstance(seconds, bool)
                                    or not isinstance(seconds, (int, float))
                                    or not 0 <= seconds <= 86400):
            raise UsageError("stall_timeout: expected seconds from 0 (off) to 24 h, or None "
                             "(off), got %r" % (seconds,))
        ns = 0 if not seconds else seconds_to_ns(seconds, "stall_timeout")
        check(lib.dynhc_sched_set_stall_ns(self._sched(), ns), "stall_timeout")

    def set_process_ready(self, ready: bool) -> None:
        """The status used when no endpoint makes the overall status."""
        check(lib.dynhc_sched_set_process_ready(self._sched(), int(bool(ready))), "process_ready")

    def status(self, verbose: bool = False) -> Dict[str, Any]:
        """The status JSON of Dynamo's /health, as a dict."""
        ptr = lib.dynhc_sched_status_json(self._sched(), int(bool(verbose)))
        if not ptr:
            raise NoMemoryError("dynhc_sched_status_json: out of memory")
        status: Dict[str, Any] = json.loads(_lib.text(ptr))
        return status

    def metrics(self) -> str:
        """The Prometheus text exposition (docs/metrics.md)."""
        ptr = lib.dynhc_sched_metrics(self._sched())
        if not ptr:
            raise NoMemoryError("dynhc_sched_metrics: out of memory")
        return _lib.text(ptr)

    # ---- status server ------------------------------------------------------

    @staticmethod
    def server_supported() -> bool:
        """Whether libdynhc was built with the status server."""
        return bool(lib.dynhc_server_supported())

    def start_server(self, host: Optional[str] = None, port: Optional[int] = None, *,
                     health_path: Optional[str] = None,
                     live_path: Optional[str] = None) -> Optional[int]:
        """Starts the status server (SPEC 4) and returns the port it listens
        on. Settings not given come from DYN_SYSTEM_HOST, DYN_SYSTEM_PORT,
        DYN_SYSTEM_HEALTH_PATH and DYN_SYSTEM_LIVE_PATH (of env); port 0
        takes any free port. Returns None when the port is off (-1, or not
        set anywhere). Raises UnsupportedError without the server,
        SystemCallError when the address cannot be bound, BusyError when
        it runs already."""
        sched = self._sched()
        if not lib.dynhc_server_supported():
            raise UnsupportedError("start_server: libdynhc was built without the status server")
        if self._h.server is None:
            srv = lib.dynhc_server_new(sched)
            if not srv:
                raise NoMemoryError("dynhc_server_new: out of memory")
            self._h.server = srv
        srv = self._h.server
        lookup = _Env(self._env)
        try:
            check(lib.dynhc_server_load_env(srv, lookup.fn, None), "server environment")
        finally:
            lookup.kept.clear()
        for what, value, setter in (("host", host, lib.dynhc_server_set_host),
                                    ("health_path", health_path, lib.dynhc_server_set_health_path),
                                    ("live_path", live_path, lib.dynhc_server_set_live_path)):
            if value is not None:
                status = setter(srv, encode(value, what))
                if status < 0:
                    raise error_for(status, "%s: %s: %r" % (
                        what, decode(lib.dynhc_strerror(status)), value))
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int) or not -1 <= port <= 65535:
                raise UsageError("port: expected -1 (off), 0 (any) or 1..65535, got %r" % (port,))
            check(lib.dynhc_server_set_port(srv, port), "port")
        sys_errno = ctypes.c_int(0)
        status = lib.dynhc_server_start(srv, ctypes.byref(sys_errno))
        if status == _lib.DISABLED:
            return None
        if status == -11:
            e = SystemCallError("start_server: %s" % os.strerror(sys_errno.value))
            e.errno = sys_errno.value
            raise e
        check(status, "start_server")
        return int(lib.dynhc_server_port(srv))

    def stop_server(self) -> None:
        """Stops the status server (closing every connection); no-op when stopped."""
        if self._h.server:
            lib.dynhc_server_stop(self._h.server)

    @property
    def server_port(self) -> Optional[int]:
        port = lib.dynhc_server_port(self._h.server) if self._h.server else -1
        return None if port < 0 else port

    # ---- shutdown -----------------------------------------------------------

    def close(self) -> None:
        """Cancels the sends in flight, stops the server and frees the C
        side. Idempotent. Await aclose() instead to let the cancelled sends
        finish unwinding."""
        for endpoint in self._endpoints.values():
            if endpoint._task is not None:
                endpoint._task.cancel()
        self._endpoints.clear()
        self._by_name.clear()
        self._in_flight.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._finalizer()

    async def aclose(self) -> None:
        tasks = [e._task for e in self._endpoints.values() if e._task is not None]
        self.close()
        if tasks:
            # wait(), not gather(): gather's future would keep the cancelled
            # tasks' exceptions, whose tracebacks hold this scheduler.
            await asyncio.wait(tasks)

    @property
    def closed(self) -> bool:
        return not self._h.sched

    async def __aenter__(self) -> "Scheduler":
        self._rearm()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # ---- time ---------------------------------------------------------------

    def _sched(self) -> int:
        if not self._h.sched:
            raise UsageError("the scheduler is closed")
        return self._h.sched

    def _bind(self, loop: Optional[asyncio.AbstractEventLoop] = None) -> bool:
        """Takes the loop given, else the running one, if not bound yet."""
        if self._loop is None:
            try:
                self._loop = loop or asyncio.get_running_loop()
            except RuntimeError:  # created outside a loop: bound at first use in one
                return False
            self._loop_thread = threading.get_ident() if loop is None else 0
        return True

    def _rearm(self) -> None:
        """Arms the loop timer at the next deadline (loop thread)."""
        self._rearm_pending = False
        if not self._h.sched or not self._bind():
            return
        loop = self._loop
        assert loop is not None  # bound just above
        deadline = lib.dynhc_sched_next_deadline(self._h.sched)
        if deadline == self._timer_ns and (self._timer is not None or deadline == _lib.NO_DEADLINE):
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_ns = deadline
        if deadline != _lib.NO_DEADLINE:
            wait = max(0, deadline - lib.dynhc_now_ns()) / 1e9
            self._timer = loop.call_at(loop.time() + wait, _on_timer, weakref.ref(self))

    def _tick(self) -> None:
        self._timer = None
        sched = self._h.sched
        if not sched:
            return
        # The loop may fire a hair early: tick at the deadline it was given.
        now = max(lib.dynhc_now_ns(), self._timer_ns)
        self._timer_ns = _lib.NO_DEADLINE
        lib.dynhc_sched_tick(sched, now)
        # The tick timed out every check whose deadline is now or before:
        # their sends are cancelled (the scheduler has recorded the timeout).
        for task in [e._task for e in self._in_flight.values() if e._deadline_ns <= now]:
            if task is not None:
                task.cancel()
        self._rearm()

    def _start_check(self, chk: "_lib.Check", key: int) -> int:
        endpoint = self._endpoints.get(key)
        if endpoint is None or self._loop is None:  # ticks run in the bound loop only
            return -1
        text = decode(chk.payload_text)
        info = (Check(chk.id, endpoint.name, text, chk.sent_ns / 1e9, chk.deadline_ns / 1e9)
                if endpoint._send_takes_check else None)
        endpoint._deadline_ns = chk.deadline_ns
        endpoint._task = self._loop.create_task(
            self._run_check(endpoint, json.loads(text), chk.id, info))
        self._in_flight[key] = endpoint
        return 0

    async def _run_check(self, endpoint: Endpoint, payload: Dict[str, Any], check_id: int,
                         info: Optional[Check]) -> None:
        error: Optional[str] = None
        try:
            outcome = (endpoint._send(payload, info) if endpoint._send_takes_check
                       else endpoint._send(payload))
            if hasattr(outcome, "__aiter__"):  # an async generator, as Dynamo handlers are
                async for _ in outcome:
                    pass
            elif inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome is False:
                error = "the send function returned False"
        except asyncio.CancelledError:
            raise  # timed out by the tick, removed or closed: C knows already
        except Exception as e:  # the outcome of the check, reported to C
            error = ("%s: %s" % (type(e).__name__, e)) if str(e) else type(e).__name__
        finally:
            if endpoint._task is asyncio.current_task():
                endpoint._task = None
                self._in_flight.pop(endpoint._key, None)
        if self._h.sched:
            lib.dynhc_sched_complete(self._h.sched, check_id, 0 if error is None else 1,
                                     None if error is None else error.encode("utf-8", "replace"))


def _positional_count(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


# ---- callbacks from C: weak references only ----------------------------------

def _on_timer(ref: "weakref.ref[Scheduler]") -> None:
    s = ref()
    if s is not None:
        s._tick()


def _on_rearm(ref: "weakref.ref[Scheduler]") -> None:
    s = ref()
    if s is not None:
        s._rearm()


def _on_wakeup(ref: "weakref.ref[Scheduler]") -> None:
    s = ref()
    if s is None or s._rearm_pending or s._loop is None:
        return  # gone, already asked, or not in a loop yet (it arms when bound)
    s._rearm_pending = True
    try:
        # The loop holds the weak reference alone: a pending re-arm does not
        # keep a dropped Scheduler alive.
        if threading.get_ident() == s._loop_thread:
            s._loop.call_soon(_on_rearm, ref)
        else:
            s._loop.call_soon_threadsafe(_on_rearm, ref)
    except RuntimeError:  # the loop is closed: nothing left to wake
        s._rearm_pending = False


def _on_send(ref: "weakref.ref[Scheduler]", chk: Any, key: Optional[int]) -> int:
    s = ref()
    if s is None or key is None:
        return -1
    try:
        return s._start_check(chk.contents, key)
    except Exception:  # never unwind through C: the check fails at once
        logger.exception("dynhc: cannot start a check")
        return -1


def _on_transition(ref: "weakref.ref[Scheduler]", name: Optional[bytes], ready: int) -> None:
    s = ref()
    if s is None or s._on_transition is None:
        return
    if s._loop is None:  # not in a loop yet: nothing to hand it to
        s._on_transition(None if name is None else decode(name), bool(ready))
        return
    try:
        s._loop.call_soon_threadsafe(s._on_transition, None if name is None else decode(name),
                                     bool(ready))
    except RuntimeError:
        pass  # the loop is closed


def _on_log(ref: "weakref.ref[Scheduler]", level: int, message: bytes) -> None:
    s = ref()
    handler = None if s is None else s._on_log
    text = decode(message)
    py_level = _LOG_LEVELS.get(level, logging.ERROR)
    if handler is None:
        logger.log(py_level, "%s", text)
        return
    try:
        handler(py_level, text)
    except Exception:
        logger.exception("dynhc: the on_log callback failed")
