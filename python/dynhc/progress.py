"""Per-request forward-progress reports (SPEC 3, docs/python.md "Forward
progress"): a Request brackets one request with request_begin() and
request_end(ok), and track() wraps a streamed answer so that each item is
progress. Both rest on the Endpoint's three calls, which are safe from any
thread and after removal or close.
"""
from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, AsyncIterable, AsyncIterator, Optional, Type, TypeVar

from .errors import UsageError

if TYPE_CHECKING:
    from .scheduler import Endpoint

T = TypeVar("T")


class Request:
    """One request on an endpoint, as a context manager (`with` or `async
    with`): entering it begins the request, progress() reports a sign of
    progress (a token streamed), leaving it ends the request, ok unless it
    is left by an exception (cancellation included: a request whose client
    gave up or whose server timed it out is not a success, and its end must
    not count as progress) or `ok` was set to False. Used once."""

    def __init__(self, endpoint: "Endpoint") -> None:
        self._endpoint = endpoint
        self._entered = False
        self.ok = True  # set to False for a request that failed without raising

    def progress(self) -> None:
        self._endpoint.record_progress()

    def __enter__(self) -> "Request":
        if self._entered:
            raise UsageError("a dynhc Request is entered once (make one per request)")
        self._entered = True
        self._endpoint.request_begin()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self._endpoint.request_end(ok=exc_type is None and self.ok)

    async def __aenter__(self) -> "Request":
        return self.__enter__()

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.__exit__(exc_type, exc, tb)


async def track(endpoint: "Endpoint", stream: AsyncIterable[T]) -> AsyncIterator[T]:
    """Yields stream's items as one request: begun at the first iteration,
    progress per item, ended ok when the stream is exhausted, not ok when it
    raises or the consumer stops early (the stream is then closed)."""
    with Request(endpoint) as request:
        iterator = stream.__aiter__()
        try:
            async for item in iterator:
                request.progress()
                yield item
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()
