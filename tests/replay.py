"""An HTTP transport for the SDKs that replays canned bodies: JSON for plain requests, and an SSE
byte stream, cut where the test says, for streamed ones (optionally pausing until the test lets it
go on, or breaking partway)."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Canned:
    body: dict[str, Any] = field(default_factory=dict)
    stream: bytes = b""
    cuts: Sequence[int] = ()  # sizes of the chunks the stream is sent in (cycled)
    stop_after: int | None = None  # send only this many bytes of the stream...
    fail: bool = False  # ...then raise a read error instead of ending cleanly
    pause_at: int | None = None  # after this many bytes, wait for `resume()` before the rest
    resume: Callable[[], Awaitable[None]] | None = None


def replay_client(client_class: type[Any], canned: Canned) -> Any:
    base = next(c for c in client_class.__mro__ if c.__name__ == "AsyncClient")
    http: Any = importlib.import_module(base.__module__.split(".")[0])

    class Body(http.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, before: list[bytes], after: list[bytes]) -> None:
            self._before, self._after = before, after

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._before:
                yield chunk
            if canned.pause_at is not None and canned.resume is not None:
                await canned.resume()
            for chunk in self._after:
                yield chunk
            if canned.fail:
                raise http.ReadError("connection lost in the middle of the stream")

    def cut(data: bytes) -> list[bytes]:
        chunks: list[bytes] = []
        start, sizes = 0, list(canned.cuts) or [len(data) or 1]
        while start < len(data):
            size = sizes[len(chunks) % len(sizes)]
            chunks.append(data[start : start + size])
            start += size
        return chunks

    class Replay(http.AsyncBaseTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: Any) -> Any:
            sent = json.loads(await request.aread())
            if not sent.get("stream"):
                return http.Response(200, json=canned.body)
            data = (
                canned.stream if canned.stop_after is None else canned.stream[: canned.stop_after]
            )
            pause = len(data) if canned.pause_at is None else canned.pause_at
            body = Body(cut(data[:pause]), cut(data[pause:]))
            headers = {"content-type": "text/event-stream"}
            return http.Response(200, headers=headers, stream=body)

    return client_class(transport=Replay())
