"""An MCP server over streamable HTTP: one MCP session per connection.

The SDK's transport answers a request itself when no answer can come (the response stream ended
or broke), and forwards the server's "Session not found" (HTTP 404) like any JSON-RPC error. This
link tells those apart from the server's own answers (see ``_outcomes``): the first is a call
lost with its connection, the second a session the server forgot (it restarted, or expired it),
with the request refused unread. An error status whose body is a JSON-RPC error for the request
itself is the server's answer (it read the request), whatever the status; a 5xx without one
(a proxy whose upstream went away) leaves the call's outcome unknown, like a lost connection.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp.client.streamable_http import (
    MCP_SESSION_ID,
    RequestContext,
    StreamableHTTPTransport,
    StreamWriter,
)
from mcp.shared.dispatcher import coerce_request_id
from mcp_types import CONNECTION_CLOSED, JSONRPCRequest, RequestId

from .._compat import mcp_context_streams
from ._outcomes import Fate
from ._transport import Link

__all__ = ["HttpTransport"]

# The SDK's own defaults: a response stream may stay open for as long as a tool runs.
_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


@dataclass(frozen=True, slots=True)
class HttpTransport:
    url: str
    headers: Mapping[str, str] | None = None

    @property
    def label(self) -> str:
        return f"http: {self.url}"

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Link]:
        link = _HttpLink()
        async with httpx2.AsyncClient(
            headers=dict(self.headers or {}),
            timeout=_TIMEOUT,
            event_hooks={"response": [link.on_response]},
        ) as client:
            transport = _Transport(self.url, link)
            async with _streams(transport, client) as (link.read_stream, link.write_stream):
                yield link


@dataclass(eq=False)
class _HttpLink:
    read_stream: Any = None
    write_stream: Any = None
    forgotten: bool = False  # the server answered 404 to our session: it no longer knows it
    lost: set[RequestId] = field(default_factory=set)
    unseen: set[RequestId] = field(default_factory=set)
    http_errors: dict[RequestId, str] = field(default_factory=dict)  # what became of which

    @property
    def alive(self) -> bool:
        # Otherwise a lost server shows in each request's own answer.
        return not self.forgotten

    async def on_response(self, response: httpx2.Response) -> None:
        status = response.status_code
        if status != 404 and status < 500:
            return
        request = response.request
        request_id = _request_id(request)
        if request_id is not None and await _answers(response, request_id):
            return  # the server's JSON-RPC error for this very request: it read it, and answered
        if status == 404:
            if MCP_SESSION_ID not in request.headers:
                return
            # The spec's answer to a session the server does not know: it did not read the request.
            self.forgotten = True
            if request_id is not None:
                self.unseen.add(request_id)
        elif request_id is not None:
            # A 5xx without an answer (a proxy whose upstream went away, a server that crashed in
            # the handler) says nothing of whether the request ran.
            self.lost.add(request_id)
            self.http_errors[request_id] = f"answered HTTP {status} instead of a result"

    def fate(self, request_id: Any) -> Fate:
        key = coerce_request_id(request_id)
        if key in self.unseen:
            self.unseen.discard(key)
            return "unseen"
        if key in self.lost:
            self.lost.discard(key)
            return "lost"
        return "answered"

    def what_happened(self, request_id: Any) -> str | None:
        return self.http_errors.pop(coerce_request_id(request_id), None)

    async def describe_loss(self, error: str) -> str:
        if self.forgotten:
            return "no longer knows the session (HTTP 404: it restarted, or ended the session)"
        return f"dropped the call's response ({error})"


def _request_id(request: httpx2.Request) -> RequestId | None:
    """The JSON-RPC id of the request a POST carried, if it carried one."""
    if request.method != "POST":
        return None
    with contextlib.suppress(ValueError, TypeError, httpx2.RequestNotRead):
        message = json.loads(request.content)
        if isinstance(message, dict) and isinstance(message.get("id"), str | int):
            return coerce_request_id(message["id"])
    return None


async def _answers(response: httpx2.Response, request_id: RequestId) -> bool:
    """Whether an error status carries the server's JSON-RPC error for ``request_id`` (which the
    SDK passes on as the answer). The spec's "session not found" carries none, or ``id: null``."""
    if not response.headers.get("content-type", "").lower().startswith("application/json"):
        return False
    try:
        message = json.loads(await response.aread())
    except (ValueError, httpx2.StreamError):
        return False
    if not isinstance(message, dict) or "error" not in message:
        return False
    answered = message.get("id")
    return isinstance(answered, str | int) and coerce_request_id(answered) == request_id


class _Transport(StreamableHTTPTransport):
    """The SDK's transport, telling the link which requests it gave up on (through its private
    methods: ``_compat.MCP_TRANSPORT_HOOKS``)."""

    def __init__(self, url: str, link: _HttpLink) -> None:
        super().__init__(url)
        self.link = link

    async def _handle_post_request(self, ctx: RequestContext) -> None:
        # The SDK lets an error reading one POST's answer (a body cut short, a read timeout, a
        # reset, a body that cannot be decoded) escape into the task group every request
        # shares, ending the session under all of them. It is that one request's loss; a
        # request never sent (no connection) was unseen.
        message = ctx.session_message.message
        try:
            await super()._handle_post_request(ctx)
        except httpx2.RequestError as exc:
            if not isinstance(message, JSONRPCRequest):
                return  # a notification or a response of ours: nobody waits on it
            if self._is_initialization_request(message):
                raise  # nothing else is in flight: the connection fails, saying why
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout):
                key = coerce_request_id(message.id)
                self.link.unseen.add(key)
                self.link.http_errors[key] = f"could not be reached ({what})"
            await self._resolve_abandoned_request(ctx.read_stream_writer, message.id, what)

    async def _resolve_abandoned_request(
        self,
        read_stream_writer: StreamWriter,
        request_id: RequestId,
        message: str,
        *,
        code: int = CONNECTION_CLOSED,
    ) -> None:
        # The SDK's own code for the answer it makes up: CONNECTION_CLOSED when the response
        # stream ended or broke (the request may have run); otherwise the server answered in a
        # way that cannot carry a response (202, a redirect), which stays that answer.
        if code == CONNECTION_CLOSED:
            self.link.lost.add(coerce_request_id(request_id))
        await super()._resolve_abandoned_request(read_stream_writer, request_id, message, code=code)


@contextlib.asynccontextmanager
async def _streams(
    transport: _Transport, client: httpx2.AsyncClient
) -> AsyncIterator[tuple[Any, Any]]:
    """``mcp.client.streamable_http.streamable_http_client``, for a transport made here."""
    read_stream_writer, read_stream = mcp_context_streams(0)  # of SessionMessage | Exception
    write_stream, write_stream_reader = mcp_context_streams(0)  # of SessionMessage
    async with (
        read_stream_writer,
        read_stream,
        write_stream,
        write_stream_reader,
        anyio.create_task_group() as tg,
    ):

        def start_get_stream() -> None:
            tg.start_soon(transport.handle_get_stream, client, read_stream_writer)

        tg.start_soon(
            transport.post_writer,
            client,
            write_stream_reader,
            read_stream_writer,
            write_stream,
            start_get_stream,
            tg,
        )
        try:
            yield read_stream, write_stream
        finally:
            if transport.session_id and not transport.link.forgotten:
                await transport.terminate_session(client)
            tg.cancel_scope.cancel()
