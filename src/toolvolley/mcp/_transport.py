"""What a connection to an MCP server needs from its transport, whichever it is."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

from mcp.shared.message import SessionMessage

from ._outcomes import Fate

if TYPE_CHECKING:
    from .._compat import ReadStream, WriteStream  # the types ClientSession takes

__all__ = ["Link", "Transport"]


class Link(Protocol):
    """One open connection: the session's two streams, and what to say when it is lost."""

    @property
    def read_stream(self) -> ReadStream[SessionMessage | Exception]: ...

    @property
    def write_stream(self) -> WriteStream[SessionMessage]: ...

    @property
    def alive(self) -> bool:
        """False once the server is known to be gone (a new request would not reach it)."""
        ...

    def fate(self, request_id: Any) -> Fate:
        """For a response to ``request_id`` on the read stream: ``"answered"`` if the server sent
        it, else what the transport that made it up knows (``"lost"``, ``"unseen"``)."""
        ...

    def what_happened(self, request_id: Any) -> str | None:
        """What the transport knows of one request's loss, to follow the server's name (e.g.
        "answered HTTP 502 instead of a result", "could not be reached (ConnectError: ...)");
        else None, and :meth:`describe_loss` says what became of the server."""
        ...

    async def describe_loss(self, error: str) -> str:
        """What happened to the server, to follow its name: e.g. "exited with code 1".

        ``error`` is the SDK's own account (e.g. "Connection closed").
        """
        ...


class Transport(Protocol):
    """How to reach a server. ``connect()`` may be entered again after a connection is lost."""

    @property
    def label(self) -> str: ...  # "stdio: python server.py", "http: http://127.0.0.1:8000/mcp"

    def connect(self) -> AbstractAsyncContextManager[Link]: ...
