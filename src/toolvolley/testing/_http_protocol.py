"""uvicorn's h11 protocol, with a deadline on what the client owes and errors in the app's shape.

uvicorn times out an idle connection only after an answer, and any byte restarts nothing: a
client that connects and sends nothing, or trickles its request head a byte at a time
(slowloris), holds its file descriptor for ever, and a few hundred of them lock everyone out.
Here, whenever the server waits on the client with no request in hand (from the connection
on, after each answer, or while the rest of an already refused body comes in), the client has
``head_timeout_s`` in all, not per byte; then it gets a 408 if it had started a request, and
the connection is closed. A request head h11 refuses (too large, a bad ``Content-Length``) is
answered with h11's status (400, 431, 501) in the app's error shape rather than plain text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from .._optional import require

__all__ = ["ErrorPayload", "guarded_protocol"]

ErrorPayload = Callable[[int, str, str], dict[str, Any]]  # (status, message, path) -> JSON body
_HEAD_KEPT = 8192  # bytes of a request head kept to find its path for an error answer


def guarded_protocol(
    *, head_timeout_s: float, error_payload: ErrorPayload | None
) -> type[asyncio.Protocol]:
    """An h11 protocol class for ``uvicorn.Config(http=...)`` (see the module docstring)."""
    require("uvicorn", "cli")
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class _Connection(h11.Connection):
        """Keeps the protocol error h11 raised: its status hint is the answer's status."""

        error: h11.RemoteProtocolError | None = None

        def next_event(self) -> Any:
            try:
                return super().next_event()
            except h11.RemoteProtocolError as exc:
                self.error = exc
                raise

    class GuardedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            limit = self.config.h11_max_incomplete_event_size
            options = {} if limit is None else {"max_incomplete_event_size": limit}
            self.conn: _Connection = _Connection(h11.SERVER, **options)
            self._deadline: asyncio.TimerHandle | None = None
            self._head = bytearray()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._watch()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE and len(self._head) < _HEAD_KEPT:
                self._head += data[: _HEAD_KEPT - len(self._head)]
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()  # an answer is on its way: it cannot become an error
                return
            error = self.conn.error
            status = error.error_status_hint if error is not None else 400
            self._answer(status, f"Invalid HTTP request: {error or msg}.")

        def _owed(self) -> bool:
            """Whether the server waits on the client with no request of its own in hand."""
            state = self.conn.their_state
            if state is h11.IDLE:
                return True
            answered = self.cycle is not None and self.cycle.response_complete
            return bool(state is h11.SEND_BODY and answered)

        def _watch(self) -> None:
            if self.transport.is_closing() or not self._owed():
                self._disarm()
                if self.conn.their_state is not h11.IDLE:
                    self._head.clear()
            elif self._deadline is None:
                self._deadline = self.loop.call_later(head_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.conn.their_state is h11.IDLE and self._head.strip():
                self._answer(
                    408, f"The request was not received within {head_timeout_s:g} seconds."
                )
            else:  # idle, or the rest of a body already answered
                self.transport.close()

        def _answer(self, status: int, message: str) -> None:
            """Write a whole answer outside h11's state machine (no request may have been
            parsed), then close: nothing after a broken or late request can be trusted."""
            path = _path_of(bytes(self._head))
            if error_payload is not None:
                body = json.dumps(error_payload(status, message, path)).encode()
                kind = b"application/json"
            else:
                body, kind = message.encode(), b"text/plain; charset=utf-8"
            try:
                reason = HTTPStatus(status).phrase.encode()
            except ValueError:
                reason = b""
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, reason, kind, len(body), body)
            )
            self.transport.close()

    return GuardedH11Protocol


def _path_of(head: bytes) -> str:
    """The path of a request line (``POST /v1/messages?x HTTP/1.1``), or ``""``."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) < 2:
        return ""
    return parts[1].split(b"?", 1)[0].decode("latin-1")
