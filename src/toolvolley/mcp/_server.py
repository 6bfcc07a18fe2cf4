"""An MCP server as a source of tools: :class:`MCPServer`."""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import mcp_types
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from typing_extensions import Self

from .._content import sendable, sendable_text
from .._errors import ToolError, ToolvolleyError, UserError
from .._events import current_reporter
from .._tools import Tool, ToolList
from ._annotations import NO_SIDE_EFFECTS, SideEffects, may_resend, side_effects
from ._connection import ConnectFailed, Connection, RequestFailed
from ._http import HttpTransport
from ._results import error_text, result_value
from ._stdio import StdioTransport
from ._transport import Transport

__all__ = ["MCPServer", "MCPServerError"]

_LISTING_TIMEOUT = 30.0  # seconds, as for the handshake
_log = logging.getLogger("toolvolley.mcp")


class MCPServerError(ToolvolleyError):
    """An MCP server could not be started, reached or listed (outside a tool call).

    Inside a tool call the same failures are the call's ``error`` result instead.
    """


class MCPServer:
    """Tools from an MCP server, called concurrently over one session.

    ::

        async with MCPServer.stdio("python", ["server.py"]) as files:
            executor = Executor(await files.tools(), timeout=10)
            results = await executor.run(calls)

    Each call is one request on the shared session. A call's timeout, the batch deadline or a
    cancelled batch sends the server ``notifications/cancelled`` for it. When the server goes
    away mid-call (exits, closes the stream, writes garbage), every call in flight gets an
    ``error`` naming the server and what happened, and the next call or :meth:`tools` connects
    again (a new process for stdio, a new session for HTTP). The server's progress notifications
    for a call reach the batch's hooks as that call's progress (see
    :func:`~toolvolley.events.report_progress`).

    It is a :class:`~toolvolley.sources.ToolSource`: ``run_loop(model, prompt, server)`` lists
    it at each turn (:meth:`list_tools`), so the model sees the server's tools as they are now.

    **Annotations are hints.** The MCP spec asks clients to treat a server's tool annotations
    as untrusted unless the server is, so by default (``trust_hints=False``) they are kept in
    :attr:`hints`, for display, and change nothing: the tools carry no side-effect flags (under
    ``Executor(side_effects="strict")`` each call is a barrier) and a call lost with its
    connection is never sent again. With ``trust_hints=True`` ``readOnlyHint``,
    ``destructiveHint`` and ``idempotentHint`` become the tools' ``read_only``, ``destructive``
    and ``idempotent`` flags, which the executor schedules by, and a lost call to a read-only or
    idempotent tool is sent once more on a new connection.
    """

    def __init__(
        self, transport: Transport, *, name: str | None = None, trust_hints: bool = False
    ) -> None:
        if not isinstance(trust_hints, bool):
            raise UserError(f"MCPServer: trust_hints must be True or False, not {trust_hints!r}.")
        self._transport = transport
        self._name = name
        self.trust_hints = trust_hints
        self._task_group: anyio.abc.TaskGroup | None = None
        self._current: Connection | None = None
        self._connections: set[Connection] = set()
        self._connect_lock = anyio.Lock()
        self._listing: list[mcp_types.Tool] | None = None
        # the tools made of the last listing, by prefix and trust: the same Tool objects (which
        # the executor keys on) until the listing changes
        self._made: tuple[list[mcp_types.Tool], dict[tuple[str, bool], ToolList]] | None = None

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | PathLike[str] | None = None,
        *,
        name: str | None = None,
        trust_hints: bool = False,
    ) -> MCPServer:
        """A server run as a subprocess speaking MCP on stdin/stdout. ``env`` is added to a
        minimal environment (``PATH``, ``HOME`` ...), as the MCP SDK does. ``trust_hints``: see
        the class docstring."""
        if isinstance(args, str):
            raise UserError("MCPServer.stdio: args is a list of arguments, not one string.")
        transport = StdioTransport(
            command, tuple(args), dict(env) if env else None, None if cwd is None else str(cwd)
        )
        return cls(transport, name=name, trust_hints=trust_hints)

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        trust_hints: bool = False,
    ) -> MCPServer:
        """A server at ``url`` speaking MCP's streamable HTTP transport. ``trust_hints``: see
        the class docstring."""
        transport = HttpTransport(url, dict(headers) if headers else None)
        return cls(transport, name=name, trust_hints=trust_hints)

    @property
    def hints(self) -> dict[str, SideEffects]:
        """What the server's annotations claim of each tool (by the server's own names), as of
        the last listing, trusted or not: ``{"read_only": ..., "destructive": ...,
        "idempotent": ...}``."""
        return {t.name: side_effects(t.annotations) for t in self._listing or ()}

    @property
    def name(self) -> str:
        """The name in messages: ``name=`` if given, else the name the server gave itself."""
        if self._name is not None:
            return self._name
        if self._current is not None and self._current.server_name:
            return self._current.server_name
        return self._transport.label

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r}, {self._transport.label!r})"

    async def __aenter__(self) -> Self:
        if self._task_group is not None:
            raise UserError(f"{self!r} is already open.")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        try:
            await self._connection()
        except BaseException:
            # Unwind the task group we entered before the error propagates (LIFO exit).
            self._task_group = None
            task_group.cancel_scope.cancel()
            task_group.cancel_scope.shield = True
            await task_group.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group = self._task_group
        assert task_group is not None
        for connection in self._connections:
            connection.stop("was closed by the client")
        self._task_group = self._current = None
        self._connections.clear()
        if isinstance(exc, Exception):
            # The body's own error is not the task group's: handing it over would wrap it in an
            # exception group. The connections close as on a clean exit; then it propagates.
            await task_group.__aexit__(None, None, None)
            return None
        return await task_group.__aexit__(exc_type, exc, tb)

    async def tools(self, *, prefix: str = "") -> ToolList:
        """The server's tools as toolvolley tools, listed again after the server said its list
        changed (``notifications/tools/list_changed``) or after a reconnect.

        ``prefix`` goes in front of every name (``prefix="files_"``: ``read`` becomes
        ``files_read``), for servers whose tool names clash; the server is still called by its
        own names.
        """
        for attempt in (1, 2):
            connection = await self._connection_or_raise()
            if self._listing is not None:
                break
            try:
                with anyio.fail_after(_LISTING_TIMEOUT):
                    self._listing = await connection.list_tools(connection.session)
            except TimeoutError as exc:
                raise MCPServerError(
                    f"{self._who} did not list its tools within {_LISTING_TIMEOUT:g} s"
                ) from exc
            except RequestFailed as exc:
                if attempt == 1 and not exc.answered:  # e.g. a restarted HTTP server
                    connection.retire(str(exc))
                    continue
                raise MCPServerError(f"{self._who} could not list its tools: {exc}") from exc
        listing = self._listing
        assert listing is not None
        if self._made is None or self._made[0] is not listing:
            self._made = (listing, {})
        key = (prefix, self.trust_hints)
        made = self._made[1].get(key)
        if made is None:
            made = self._made[1][key] = self._tools(listing, prefix)
        return ToolList(made, made.withheld)

    async def list_tools(self) -> ToolList:
        """The server's tools now, as :meth:`tools` gives them (this is a
        :class:`~toolvolley.sources.ToolSource`, listed by the loop at each turn). A listing
        costs a ``tools/list`` round trip only after the server said its list changed or a
        reconnect; otherwise it is the last one, and the same :class:`~toolvolley.Tool` objects.

        The notification counts from where it is in the stream: a tool that changes the list
        and says so before it answers has changed the next turn's tools. Over HTTP a
        notification the server sends outside the call's request travels on another stream,
        and may reach a turn later."""
        return await self.tools()

    def _tools(self, listing: list[mcp_types.Tool], prefix: str) -> ToolList:
        # One unusable tool leaves the others usable: it is left out, and says why when called.
        counts = collections.Counter(t.name for t in listing)
        tools = ToolList()
        for mcp_tool in listing:
            name = prefix + mcp_tool.name
            if counts[mcp_tool.name] > 1:
                why = f"listed {counts[mcp_tool.name]} tools named {name!r}"
            else:
                try:
                    tools.append(self._tool(mcp_tool, prefix))
                    continue
                except UserError as exc:
                    why = f"listed it with a definition that cannot be used: {exc}"
            if name not in tools.withheld:
                _log.warning("left out the tool %r: %s %s", name, self._who, why)
            tools.withheld[name] = f"{self._who} {why}"
        return tools

    # --- connections --------------------------------------------------------------------------

    @property
    def _who(self) -> str:
        return f"MCP server {self.name!r} ({self._transport.label})"

    @property
    def _reached(self) -> str:
        return "started" if isinstance(self._transport, StdioTransport) else "reached"

    async def _connection(self) -> Connection:
        current = self._current
        if current is not None and current.usable:
            return current
        async with self._connect_lock:
            current = self._current
            if current is not None and current.usable:
                return current
            if self._task_group is None:
                raise UserError(f"Open the server first: async with {self!r}: ...")
            if current is not None:
                current.retire(current.lost or "went away")
            connection = Connection(self._transport, self._tools_changed)
            try:
                await self._task_group.start(connection.run)
            except ConnectFailed as exc:
                raise MCPServerError(f"{self._who} could not be {self._reached}: {exc}") from exc
            self._connections.add(connection)
            self._current = connection
            self._listing = connection.tools
            self._task_group.start_soon(self._forget, connection)
            return connection

    async def _connection_or_raise(self) -> Connection:
        if self._task_group is None:
            raise UserError(f"Open the server first: async with {self!r}: ...")
        return await self._connection()

    async def _forget(self, connection: Connection) -> None:
        await connection.closed.wait()
        self._connections.discard(connection)

    def _tools_changed(self) -> None:
        self._listing = None

    # --- calls --------------------------------------------------------------------------------

    def _tool(self, mcp_tool: mcp_types.Tool, prefix: str) -> Tool:
        trusted = self.trust_hints
        resend = trusted and may_resend(mcp_tool.annotations)
        flags = side_effects(mcp_tool.annotations) if trusted else NO_SIDE_EFFECTS

        async def call(**arguments: Any) -> Any:
            return await self._call(mcp_tool.name, arguments, resend=resend)

        return Tool.from_schema(
            prefix + mcp_tool.name,
            mcp_tool.description or mcp_tool.title or "",
            mcp_tool.input_schema,
            call,
            **flags,
        )

    async def _call(self, name: str, arguments: dict[str, Any], *, resend: bool) -> Any:
        # Read in the call's own task: the SDK runs progress callbacks in tasks of its own.
        reporter = current_reporter.get()
        # A lone surrogate (valid JSON, no UTF-8) in what the model sent cannot be encoded, and
        # the failure would end the session under every call on it: U+FFFD goes instead.
        name, arguments = sendable_text(name), sendable(arguments)
        on_progress: _Progress | None = None
        if reporter is not None:
            on_progress = _Progress(reporter)
        for attempt in (1, 2):
            try:
                connection = await self._connection()
            except MCPServerError as exc:
                raise ToolError(str(exc)) from exc
            connection.active += 1
            try:
                with connection.watching("tools/call") as sent:
                    result = await connection.session.call_tool(
                        name, arguments, progress_callback=on_progress
                    )
            except MCPError as exc:
                # The error says nothing of where it came from (see _outcomes): the streams do.
                fate = sent.outcome
                if fate == "answered":
                    raise ToolError(
                        f"{self._who} answered the call with an error: {error_text(exc)}"
                    ) from exc
                what = await connection.describe(exc, sent.id)
                connection.retire(what)
                if attempt == 1 and (fate == "unseen" or resend):
                    continue  # never run, or the server marked the tool safe to call again
                if fate == "unseen":
                    raise ToolError(f"{self._who} {what}; the call was not run") from exc
                raise ToolError(
                    f"{self._who} {what} while the call was running; the call may or may not "
                    "have taken effect"
                ) from exc
            except ValidationError as exc:
                raise ToolError(
                    f"{self._who} answered with a malformed result: "
                    f"{exc.error_count()} problem(s), first: {_first_error(exc)}"
                ) from exc
            except RuntimeError as exc:  # the SDK's outputSchema check
                raise ToolError(f"{self._who} sent an unusable result: {exc}") from exc
            finally:
                connection.release()
            return result_value(result)
        raise AssertionError("unreachable")  # pragma: no cover


class _Progress:
    """The SDK's progress callback for one call: passes ``notifications/progress`` on to the
    call's batch.

    The SDK runs each notification's callback in a task of its own, and trio may run tasks
    woken together in either order; MCP requires progress to increase with every notification,
    so one that does not is stale and is dropped, and the events stay in order.
    """

    __slots__ = ("_last", "_reporter")

    def __init__(self, reporter: Callable[[float, float | None, str | None], None]) -> None:
        self._reporter = reporter
        self._last = -math.inf

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        if progress > self._last:
            self._last = progress
            self._reporter(progress, total, message)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "result"
    return f"{where}: {error['msg']}"
