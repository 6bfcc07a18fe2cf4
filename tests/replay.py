"""An HTTP transport for the SDKs that replays canned bodies: JSON for plain requests, and an SSE
byte stream, cut where the test says, for streamed ones (optionally breaking partway)."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Canned:
    body: dict[str, Any] = field(default_factory=dict)
    stream: bytes = b""
    cuts: Sequence[int] = ()  # sizes of the chunks the stream is sent in (cycled)
    stop_after: int | None = None  # send only this many bytes of the stream...
    fail: bool = False  # ...then raise a read error instead of ending cleanly


def replay_client(client_class: type[Any], canned: Canned) -> Any:
    base = next(c for c in client_class.__mro__ if c.__name__ == "AsyncClient")
    http: Any = importlib.import_module(base.__module__.split(".")[0])

    class Body(http.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, chunks: list[bytes]) -> None:
            self._chunks = chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk
            if canned.fail:
                raise http.ReadError("connection lost in the middle of the stream")

    class Replay(http.AsyncBaseTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: Any) -> Any:
            sent = json.loads(await request.aread())
            if not sent.get("stream"):
                return http.Response(200, json=canned.body)
            data = (
                canned.stream if canned.stop_after is None else canned.stream[: canned.stop_after]
            )
            chunks: list[bytes] = []
            start, sizes = 0, list(canned.cuts) or [len(data) or 1]
            while start < len(data):
                size = sizes[len(chunks) % len(sizes)]
                chunks.append(data[start : start + size])
                start += size
            headers = {"content-type": "text/event-stream"}
            return http.Response(200, headers=headers, stream=Body(chunks))

    return client_class(transport=Replay())
