"""A miniature serving runtime in the shape of Dynamo's Python API, on dynhc.

The guide's examples call `DistributedRuntime.from_settings()`,
`runtime.namespace(...).component(...).endpoint(...)` and
`endpoint.serve_endpoint(handler=..., health_check_payload=...,
metrics_labels=[...])`. This module gives those calls a body that is a
real, if small, server:

- each served endpoint is registered with one dynhc.Scheduler, whose
  canary check calls the endpoint's own handler with the health-check
  payload (as Dynamo's canary does) and which is told of each real request
  (begun, each streamed chunk as progress, ended with its outcome), so
  that only an idle endpoint is checked and, with a stall threshold
  (DYN_HEALTH_CHECK_STALL_TIMEOUT), a busy one is judged by its progress;
- requests reach the handlers over HTTP, OpenAI-style: POST
  /v1/completions goes to the endpoint named "generate", /v1/chat/completions
  to "chat", /v1/embeddings to "embedding" (any other endpoint: POST
  /v1/endpoints/NAME); a handler is an async generator (or an async
  function) taking the request body;
- the status server of dynhc answers /health, /live and /metrics on
  DYN_SYSTEM_PORT (unset: off), as Dynamo's system server does.

Standard library only. examples/python/worker.py is a worker built on it.
"""
import asyncio
import json
import logging
import signal
from typing import Any, AsyncIterator, Dict, Optional, Set

import dynhc

log = logging.getLogger("serving")

ROUTES = {"/v1/completions": "generate", "/v1/chat/completions": "chat",
          "/v1/embeddings": "embedding"}


class DistributedRuntime:
    """One process's runtime: the scheduler, the status server and the HTTP
    front of its endpoints."""

    def __init__(self, serve_for: Optional[float], **scheduler_options: Any) -> None:
        self.scheduler = dynhc.Scheduler(**scheduler_options)
        self.endpoints: Dict[str, "Endpoint"] = {}
        self.http: Optional[asyncio.AbstractServer] = None
        self.http_port: Optional[int] = None
        self.connections: Set["asyncio.Task[None]"] = set()
        self.closing = False
        self.status_port = self.scheduler.start_server()
        self.stopped = asyncio.Event()
        if serve_for is not None:
            asyncio.get_running_loop().call_later(serve_for, self.stopped.set)
        if self.status_port is not None:
            log.info("status server on port %d: curl http://localhost:%d/health",
                     self.status_port, self.status_port)

    @classmethod
    async def from_settings(cls, serve_for: Optional[float] = None,
                            **scheduler_options: Any) -> "DistributedRuntime":
        """A runtime configured from the environment (DYN_*). serve_for: stop
        serving after that many seconds (None: until shutdown());
        scheduler_options: keyword arguments of dynhc.Scheduler."""
        return cls(serve_for, **scheduler_options)

    def namespace(self, name: str) -> "Namespace":
        return Namespace(self, name)

    async def start_http(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serves the endpoints' OpenAI-style routes; returns the port."""
        self.http = await asyncio.start_server(self._serve_connection, host, port)
        self.http_port = self.http.sockets[0].getsockname()[1]
        log.info("serving http://%s:%d/v1/completions", host, self.http_port)
        return self.http_port

    def shutdown(self) -> None:
        self.stopped.set()

    def stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.shutdown)

    async def close(self) -> None:
        if self.http is not None:
            self.http.close()
            # Requests stuck in a wedged engine would never end by themselves.
            self.closing = True
            for task in self.connections:
                task.cancel()
            await self.http.wait_closed()
        await self.scheduler.aclose()

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, path, body = request
                status, answer = await self._answer(method, path, body)
                data = json.dumps(answer).encode()
                writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s"
                             % (status, b"OK" if status == 200 else b"Error", len(data), data))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            if not self.closing:
                raise
            # Ended by close(): asyncio would log a cancelled connection as an error.
        finally:
            self.connections.discard(task)
            writer.close()

    async def _answer(self, method: str, path: str, body: bytes):
        name = ROUTES.get(path) or (path[len("/v1/endpoints/"):]
                                    if path.startswith("/v1/endpoints/") else None)
        endpoint = self.endpoints.get(name or "")
        if endpoint is None:
            return 404, {"error": "no endpoint at %s" % path}
        if method != "POST":
            return 405, {"error": "POST only"}
        try:
            request = json.loads(body or b"{}")
        except ValueError as e:
            return 400, {"error": "invalid JSON: %s" % e}
        return await endpoint.call(request)


class Namespace:
    def __init__(self, runtime: DistributedRuntime, name: str) -> None:
        self.runtime, self.name = runtime, name

    def component(self, name: str) -> "Component":
        return Component(self.runtime, name)


class Component:
    def __init__(self, runtime: DistributedRuntime, name: str) -> None:
        self.runtime, self.name = runtime, name

    def endpoint(self, name: str) -> "Endpoint":
        return Endpoint(self.runtime, name)


class Endpoint:
    def __init__(self, runtime: DistributedRuntime, name: str) -> None:
        self.runtime, self.name = runtime, name
        self.handler = None
        self.health: Optional[dynhc.Endpoint] = None

    async def serve_endpoint(self, handler, graceful_shutdown: bool = True,
                             metrics_labels=None,
                             health_check_payload: Optional[Dict[str, Any]] = None) -> None:
        """Serves handler until the runtime shuts down. With a payload, the
        endpoint is health-checked by calling handler with it when idle."""
        self.handler = handler
        self.runtime.endpoints[self.name] = self
        if health_check_payload is not None:
            self.health = self.runtime.scheduler.add(self.name, health_check_payload,
                                                     self._canary, labels=metrics_labels or [])
        try:
            await self.runtime.stopped.wait()
        finally:
            if self.health is not None:
                self.health.remove()  # cancels a canary in flight
            del self.runtime.endpoints[self.name]

    async def _canary(self, payload: Dict[str, Any]) -> None:
        async for _ in _stream(self.handler(payload)):
            pass

    async def call(self, request: Dict[str, Any]):
        """One real request, reported to the scheduler: begun, each chunk
        progress, ended ok or not with its outcome (track())."""
        answer = _stream(self.handler(request))
        if self.health is not None:
            answer = self.health.track(answer)
        try:
            chunks = [chunk async for chunk in answer]
        except Exception as e:  # the engine failed this request
            return 500, {"error": "%s: %s" % (type(e).__name__, e)}
        return 200, chunks[-1] if len(chunks) == 1 else {"chunks": chunks}


async def _stream(outcome) -> AsyncIterator[Any]:
    """A handler's answer as chunks: an async generator's, or one awaited."""
    if hasattr(outcome, "__aiter__"):
        async for chunk in outcome:
            yield chunk
    else:
        yield await outcome


async def _read_request(reader: asyncio.StreamReader):
    """(method, path, body) of one HTTP/1.1 request, None at the end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return method, path.split("?", 1)[0], body

