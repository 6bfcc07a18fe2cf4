"""Reaching the offline model in-process: an HTTP transport for the SDK's own HTTP client.

The official SDKs are built on httpx (or its successor httpx2); the transport is made for
whichever module the SDK's client class comes from, and streams the body as it is generated.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

from ._engine import OfflineModel, StreamCut

__all__ = ["http_client_for"]


def http_client_for(model: OfflineModel, client_class: type[Any]) -> Any:
    """An instance of the SDK's ``DefaultAsyncHttpxClient`` whose requests go to ``model``."""
    base = next(c for c in client_class.__mro__ if c.__name__ == "AsyncClient")
    http: Any = importlib.import_module(base.__module__.split(".")[0])

    class _Body(http.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, chunks: AsyncIterator[bytes]) -> None:
            self._chunks = chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._chunks:
                    yield chunk
            except StreamCut as exc:  # what httpx raises when a server drops the connection
                raise http.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                ) from exc

        async def aclose(self) -> None:
            await self._chunks.aclose()  # type: ignore[attr-defined]

    class _OfflineTransport(http.AsyncBaseTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: Any) -> Any:
            body = await request.aread()
            reply = await model.handle(request.method, request.url.path, body)
            return http.Response(reply.status, headers=reply.headers, stream=_Body(reply.body))

    return client_class(transport=_OfflineTransport())
