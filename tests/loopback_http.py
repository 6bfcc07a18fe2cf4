"""A minimal HTTP/1.1 server on 127.0.0.1 for tests: each request goes to a handler that returns
the status, content type and body pieces to send (chunked, so a test can hold the stream between
pieces). Keep-alive, no TLS; enough for an SDK pointed at it by its base URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.abc


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query, as sent
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    pieces: AsyncIterator[bytes]


Handler = Callable[[Request], Awaitable[Reply]]


async def pieces_of(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` for the block; yields the base URL (``http://127.0.0.1:PORT``)."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, lambda stream: _connection(stream, handler))
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            group.cancel_scope.cancel()


async def _connection(stream: anyio.abc.SocketStream, handler: Handler) -> None:
    buffer = b""
    async with stream:
        while True:
            while b"\r\n\r\n" not in buffer:
                try:
                    buffer += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])
            }
            size = int(headers.get("content-length", "0"))
            while len(buffer) < size:
                buffer += await stream.receive()
            body, buffer = buffer[:size], buffer[size:]
            reply = await handler(Request(method, target, body))
            await stream.send(
                f"HTTP/1.1 {reply.status} X\r\ncontent-type: {reply.content_type}\r\n"
                "transfer-encoding: chunked\r\n\r\n".encode()
            )
            async for piece in reply.pieces:
                if piece:
                    await stream.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            await stream.send(b"0\r\n\r\n")
