"""One MCP session with a server, from its handshake to its close.

A connection is run by a task in the :class:`~toolvolley.mcp.MCPServer`'s task group and carries
any number of calls at once. Once it is lost (the server exited, wrote garbage, dropped a call's
response) it takes no new calls, and it closes when the last call on it has its answer, so a
reconnect never cuts off calls that could still finish.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.abc
import mcp_types
from mcp import ClientSession
from mcp.client.session import IncomingMessage
from mcp.shared.dispatcher import coerce_request_id
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from ._outcomes import Sent, WatchedRead, WatchedWrite, current_sent
from ._results import error_text
from ._transport import Link, Transport

__all__ = ["ConnectFailed", "Connection", "RequestFailed"]

T = TypeVar("T")

_CLIENT_INFO = mcp_types.Implementation(name="toolvolley", version="0")
_HANDSHAKE_TIMEOUT = 30.0
_MAX_TOOL_PAGES = 100  # a paginator that never ends cannot hang a listing


class ConnectFailed(Exception):
    """The server could not be started or reached, or failed its handshake; ``str()`` says how."""


class RequestFailed(Exception):
    """A request of the connection's own failed; ``str()`` says how. ``answered``: the server
    sent the error, and the connection is as good as it was."""

    def __init__(self, text: str, *, answered: bool) -> None:
        super().__init__(text)
        self.answered = answered


class Connection:
    def __init__(self, transport: Transport, on_tools_changed: Callable[[], None]) -> None:
        self._transport = transport
        self._on_tools_changed = on_tools_changed
        self._session: ClientSession | None = None
        self._link: Link | None = None
        self._stop = anyio.Event()
        self.closed = anyio.Event()
        self.lost: str | None = None  # what happened, once the connection is unusable
        self.active = 0  # calls in flight on this connection
        self.server_name: str | None = None
        self.tools: list[mcp_types.Tool] = []
        self._sent: dict[Any, Sent] = {}  # by request id: calls waiting for their response
        self._handshake: anyio.CancelScope | None = None

    @property
    def session(self) -> ClientSession:
        assert self._session is not None, "the connection is not open"
        return self._session

    @property
    def usable(self) -> bool:
        return self.lost is None and self._link is not None and self._link.alive

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Connect, list the tools, then hold the session open until :meth:`stop`."""
        started = False
        try:
            async with self._transport.connect() as link:
                self._link = link
                async with ClientSession(
                    WatchedRead(link.read_stream, self._received),
                    WatchedWrite(link.write_stream, self._sending),
                    message_handler=self._on_message,
                    client_info=_CLIENT_INFO,
                ) as session:
                    try:
                        with anyio.fail_after(_HANDSHAKE_TIMEOUT):
                            # stop() ends the handshake too: a stream out of step never answers it
                            with anyio.CancelScope() as self._handshake:
                                result = await self.ask("initialize", session.initialize)
                                self.tools = await self.list_tools(session)
                    except RequestFailed as exc:
                        raise ConnectFailed(str(exc)) from exc
                    except TimeoutError as exc:
                        raise ConnectFailed(
                            f"did not finish the MCP handshake within {_HANDSHAKE_TIMEOUT:g} s"
                        ) from exc
                    if self._handshake.cancel_called:
                        raise ConnectFailed(self.lost or "closed the connection")
                    self._handshake = None
                    self.server_name = result.server_info.name
                    self._session = session
                    started = True
                    task_status.started()
                    await self._stop.wait()
        except Exception as exc:
            if not started:
                raise ConnectFailed(describe_exception(exc)) from exc
            self.lost = self.lost or f"failed ({describe_exception(exc)})"
        finally:
            self.lost = self.lost or "closed the connection"
            self.closed.set()

    async def describe(self, error: MCPError, request_id: Any = None) -> str:
        """What became of the server, for a request (``request_id``, once sent) that got
        ``error`` (connection closed)."""
        assert self._link is not None
        if request_id is not None and (said := self._link.what_happened(request_id)):
            return said
        if self.lost is not None:
            return self.lost
        return await self._link.describe_loss(error.error.message)

    def retire(self, reason: str) -> None:
        """Take no new calls; close once the calls in flight have their answers."""
        self.lost = self.lost or reason
        if self.active == 0:
            self._stop.set()

    def release(self) -> None:
        self.active -= 1
        if self.lost is not None and self.active == 0:
            self._stop.set()

    def stop(self, reason: str) -> None:
        """Close now: calls in flight are answered "connection closed"."""
        self.lost = self.lost or reason
        self._stop.set()
        if self._handshake is not None:
            self._handshake.cancel()

    @contextlib.contextmanager
    def watching(self, method: str) -> Iterator[Sent]:
        """What becomes of the ``method`` request the caller sends next (see ``_outcomes``)."""
        sent = Sent(method)
        token = current_sent.set(sent)
        try:
            yield sent
        finally:
            current_sent.reset(token)
            self._sent.pop(sent.id, None)

    async def ask(self, method: str, request: Callable[[], Awaitable[T]]) -> T:
        """Send one request of the connection's own (``initialize``, ``tools/list``)."""
        with self.watching(method) as sent:
            try:
                return await request()
            except MCPError as exc:
                if sent.outcome == "answered":
                    text = f"answered {method} with an error: {error_text(exc)}"
                    raise RequestFailed(text, answered=True) from exc
                raise RequestFailed(await self.describe(exc, sent.id), answered=False) from exc

    async def list_tools(self, session: ClientSession) -> list[mcp_types.Tool]:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_TOOL_PAGES):
            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self.ask(
                "tools/list", functools.partial(session.list_tools, params=params)
            )
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    def _sending(self, item: SessionMessage) -> None:
        message = item.message
        sent = current_sent.get()
        if (
            sent is not None
            and sent.id is None
            and isinstance(message, mcp_types.JSONRPCRequest)
            and message.method == sent.method
        ):
            sent.id = coerce_request_id(message.id)
            self._sent[sent.id] = sent

    def _received(self, item: SessionMessage | Exception) -> None:
        if (
            isinstance(item, SessionMessage)
            and isinstance(item.message, mcp_types.JSONRPCNotification)
            and item.message.method == "notifications/tools/list_changed"
        ):
            # Here, in the order the server wrote it, not in the SDK's notification task: a
            # tool that changes the list and then answers has changed it before its result is
            # read, so the next turn's listing has the new tools.
            self._on_tools_changed()
        elif isinstance(item, SessionMessage) and isinstance(
            item.message, mcp_types.JSONRPCResponse | mcp_types.JSONRPCError
        ):
            request_id = item.message.id
            sent = (
                self._sent.pop(coerce_request_id(request_id), None)
                if request_id is not None
                else None
            )
            if sent is not None:
                assert self._link is not None
                sent.fate = self._link.fate(request_id)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            # Nothing in a stream that is out of step can be trusted to belong to any request, and
            # the request it answered would wait forever: end the session, every call hears why.
            assert self._link is not None
            self.stop(await self._link.describe_loss(str(message)))
        await anyio.lowlevel.checkpoint()


def describe_exception(exc: BaseException) -> str:
    # Task groups wrap what failed in an exception group; one failure reads better unwrapped.
    inner: tuple[BaseException, ...] = getattr(exc, "exceptions", ())
    while len(inner) == 1:
        exc = inner[0]
        inner = getattr(exc, "exceptions", ())
    if isinstance(exc, ConnectFailed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
