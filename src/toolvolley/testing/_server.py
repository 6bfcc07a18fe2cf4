"""Serving the offline model over HTTP: a Starlette app, run by uvicorn (the ``cli`` extra).

Every failure is answered in the provider's own error shape and status, never a plain-text 500:
OpenAI's ``{"error": {"message", "type", "param", "code"}}`` under ``/v1/chat/completions`` and
``/v1/responses``, Anthropic's ``{"type": "error", "error": {"type", "message"}}`` under
``/v1/messages``, Google's ``{"error": {"code", "message", "status"}}`` under
``/v1beta/models/MODEL:generateContent`` (and ``:streamGenerateContent``). Bodies are read in
chunks up to ``max_body_bytes`` (413 past it) and within ``body_timeout_s`` (408 past it, and the
connection is closed), and a client that disconnects stops its generation. Errors below HTTP (a
head h11 refuses, a head that never ends) get the same shape through
:meth:`OfflineApp.protocol_error` when served by ``toolvolley.testing._serving``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .._errors import UserError
from .._optional import require
from .._options import check_seconds
from . import _gemini
from ._engine import OfflineModel, StreamCut, kind_of
from ._wire import Kind, WireError, wire_error

__all__ = ["DEFAULT_BODY_TIMEOUT_S", "DEFAULT_MAX_BODY_BYTES", "OfflineApp"]

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_BODY_TIMEOUT_S = 30.0
_log = logging.getLogger("toolvolley.testing")
_ROUTES: tuple[tuple[str, Kind], ...] = (
    ("/v1/chat/completions", "chat"),
    ("/chat/completions", "chat"),
    ("/v1/responses", "responses"),
    ("/responses", "responses"),
    ("/v1/messages", "anthropic"),
    ("/messages", "anthropic"),
)


class OfflineApp:
    """ASGI app answering the three providers' endpoints with ``model``.

    ``OfflineApp(OfflineModel(), max_body_bytes=1_000_000, body_timeout_s=30)``; serve it with
    uvicorn, or with ``toolvolley serve-model``.
    """

    def __init__(
        self,
        model: OfflineModel | None = None,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    ) -> None:
        if body_timeout_s is None:
            raise UserError("body_timeout_s must be a positive number of seconds, not None.")
        check_seconds("body_timeout_s", body_timeout_s)
        self.model = model or OfflineModel()
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = float(body_timeout_s)
        self._app = self._build()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    def protocol_error(self, status: int, message: str, path: str) -> dict[str, Any]:
        """The body of an error found below HTTP, in the shape of ``path``'s provider."""
        return wire_error(kind_of(path) or "chat", status, message).payload

    def _build(self) -> Any:
        require("starlette", "cli")
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        def error_response(exc: WireError) -> Response:
            # A body that came too slowly: what else the connection brings cannot be trusted.
            close = {"connection": "close"} if exc.status == 408 else None
            return JSONResponse(exc.payload, status_code=exc.status, headers=close)

        async def models(request: Request) -> Response:
            return JSONResponse(self.model.models_list())

        def endpoint(kind: Kind) -> Any:
            async def answer(request: Request) -> Any:  # Response, or _Paced
                try:
                    body = await self._read_body(request, kind)
                except WireError as exc:
                    return error_response(exc)
                reply = await self.model.respond(kind, body)
                return _Paced(reply.status, reply.headers, reply.body)

            return answer

        async def converse(request: Request) -> Any:  # Bedrock: the path names the model
            try:
                body = await self._read_body(request, "anthropic")
            except WireError as exc:
                return error_response(exc)
            reply = await self.model.handle("POST", request.url.path, body)
            return _Paced(reply.status, reply.headers, reply.body)

        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            message = (
                f"No route for {request.method} {request.url.path}."
                if status in (404, 405)
                else f"{type(exc).__name__}: {exc}"
            )
            return error_response(wire_error(kind_of(request.url.path) or "chat", status, message))

        async def server_error(request: Request, exc: Exception) -> Response:
            _log.exception("The offline model failed on %s", request.url.path)
            kind = kind_of(request.url.path) or "chat"
            return error_response(wire_error(kind, 500, f"{type(exc).__name__}: {exc}"))

        async def gemini(request: Request) -> Any:  # the model and the stream are in the path
            try:
                body = await self._read_body(request, "gemini")
            except WireError as exc:
                return error_response(exc)
            reply = await self.model.respond("gemini", _gemini.with_path(request.url.path, body))
            return _Paced(reply.status, reply.headers, reply.body)

        routes = [Route(path, endpoint(kind), methods=["POST"]) for path, kind in _ROUTES]
        routes.append(Route("/{version}/models/{action}", gemini, methods=["POST"]))
        routes.append(Route("/model/{model:path}", converse, methods=["POST"]))
        routes += [Route(p, models, methods=["GET"]) for p in ("/v1/models", "/models")]
        return Starlette(
            routes=routes,
            exception_handlers={HTTPException: http_error, Exception: server_error},
        )

    async def _read_body(self, request: Any, kind: Kind) -> bytes:
        """The body, read in chunks and refused (413) as soon as it passes the limit."""
        from starlette.requests import ClientDisconnect

        too_large = wire_error(
            kind,
            413,
            f"The request body is larger than this server's limit of {self.max_body_bytes} bytes.",
            code="request_too_large",
        )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.body_timeout_s):
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise too_large
                    chunks.append(chunk)
            except ClientDisconnect as exc:  # the server already answered a broken body, or
                # the client left: an answer nobody will read, not a failure of the model
                message = "The connection closed before the whole body arrived."
                raise wire_error(kind, 400, message) from exc
            return b"".join(chunks)
        raise wire_error(
            kind,
            408,
            f"The request body was not received within {self.body_timeout_s:g} seconds.",
            code="request_timeout",
        )


class _Paced:
    """A response whose body is generated as it is sent; a disconnect cancels the generation."""

    def __init__(
        self, status: int, headers: list[tuple[str, str]], body: AsyncIterator[bytes]
    ) -> None:
        self.status = status
        self.headers = [(k.encode(), v.encode()) for k, v in headers]
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def watch(cancel: anyio.CancelScope) -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    cancel.cancel()
                    return
                if not message.get("more_body"):  # a wrapper replaying the body: stop listening
                    return

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(watch, group.cancel_scope)
                await send(
                    {"type": "http.response.start", "status": self.status, "headers": self.headers}
                )
                try:
                    async for chunk in self.body:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except StreamCut:
                    group.cancel_scope.cancel()
                    return  # no final message: the server drops the connection
                finally:
                    await self.body.aclose()  # type: ignore[attr-defined]
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        except OSError:  # the client went away while we were sending
            return
