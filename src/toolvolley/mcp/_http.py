"""An MCP server over streamable HTTP: one MCP session per connection."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp.client.streamable_http import streamable_http_client

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
        async with (
            httpx2.AsyncClient(headers=dict(self.headers or {}), timeout=_TIMEOUT) as client,
            streamable_http_client(self.url, http_client=client) as (read_stream, write_stream),
        ):
            yield _HttpLink(read_stream, write_stream)


@dataclass(frozen=True, slots=True)
class _HttpLink:
    read_stream: Any
    write_stream: Any

    @property
    def alive(self) -> bool:
        return True  # over HTTP a lost server shows in each request's own answer

    async def describe_loss(self, error: str) -> str:
        return f"dropped the call's response ({error})"
