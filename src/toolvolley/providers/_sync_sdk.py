"""A synchronous SDK on the event loop: each call, and each read of a response stream, in a
worker thread (``anyio.to_thread``), so the loop never waits on the network.

A cancelled caller abandons the thread (``abandon_on_cancel``); closing the stream then shuts
its socket down, which ends a read blocked in that thread at once (a plain close would leave it
waiting for the server, until the SDK's read timeout).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread

from .._compat import botocore_raw_stream, shut_socket_down

__all__ = ["ThreadedStream", "in_thread"]

T = TypeVar("T")


async def in_thread(call: Callable[[], T]) -> T:
    """``call()`` in a worker thread; a cancel leaves the thread to finish by itself."""
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


class ThreadedStream:
    """A botocore event stream (``converse_stream``'s ``response["stream"]``) read one event at
    a time in a worker thread."""

    _END = object()

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._events = iter(stream)

    def _next(self) -> Any:
        return next(self._events, self._END)

    async def __anext__(self) -> Any:
        event = await in_thread(self._next)
        if event is self._END:
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        """Wake a read blocked in an abandoned thread (shut the socket down), then close; a
        body that lives on the event loop (the offline model's) is closed there."""
        raw = botocore_raw_stream(self._stream)
        shut_socket_down(raw)
        self._stream.close()
        closing: Callable[[], Awaitable[None]] | None = getattr(raw, "aclose", None)
        if closing is not None:
            await closing()
