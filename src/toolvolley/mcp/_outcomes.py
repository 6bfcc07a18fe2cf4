"""What became of a call's request: answered by the server, never seen by it, or lost.

The SDK raises the same :class:`~mcp.shared.exceptions.MCPError` for a JSON-RPC error the server
sent and for its own account of a connection that went away; both may carry code -32000, where
the server-error range starts. So the error cannot tell them apart; the streams can. A
connection watches its session's two streams: a request written while a :class:`Sent` for its
method is current in the writer's context is tied to its id, and a response for that id marks
it ``answered``, unless the transport made the response up itself (see ``Link.fate``). A request
that no response reached was lost with its connection.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import anyio
from typing_extensions import Self

if TYPE_CHECKING:
    from .._compat import ReadStream, WriteStream

__all__ = ["Fate", "Sent", "WatchedRead", "WatchedWrite", "current_sent"]

Fate = Literal["answered", "unseen", "lost"]
"""``answered``: the server sent a response (a result or a JSON-RPC error). ``unseen``: the
request never reached the server, or the server refused it unread (an HTTP session it does not
know). ``lost``: it was sent, and no response can come."""

T = TypeVar("T")


class Sent:
    """One request (``method``): its id once written, and what became of it."""

    __slots__ = ("fate", "id", "method")

    def __init__(self, method: str) -> None:
        self.method = method
        self.id: Any = None
        self.fate: Fate | None = None

    @property
    def outcome(self) -> Fate:
        """The fate, for a request that ended without a result."""
        if self.fate is not None:
            return self.fate
        return "unseen" if self.id is None else "lost"


current_sent: ContextVar[Sent | None] = ContextVar("toolvolley_mcp_sent", default=None)


class _Watched:
    """What both watched streams do as themselves: close the stream they wrap."""

    _inner: WriteStream[Any] | ReadStream[Any]

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class WatchedWrite(_Watched, Generic[T]):
    """A session's write stream that reports each message before passing it on."""

    _inner: WriteStream[T]

    def __init__(self, inner: WriteStream[T], on_send: Callable[[T], None]) -> None:
        self._inner = inner
        self._on_send = on_send

    async def send(self, item: T, /) -> None:
        self._on_send(item)
        await self._inner.send(item)


class WatchedRead(_Watched, Generic[T]):
    """A session's read stream that reports each item as it is taken."""

    _inner: ReadStream[T]

    def __init__(self, inner: ReadStream[T], on_receive: Callable[[T], None]) -> None:
        self._inner = inner
        self._on_receive = on_receive

    @property
    def last_context(self) -> Any:
        # The SDK runs each message in the context it was sent from, where the transport has one.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> T:
        item = await self._inner.receive()
        self._on_receive(item)
        return item

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
