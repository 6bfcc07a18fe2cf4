"""A boto3 ``bedrock-runtime`` client answered in-process by the offline model.

boto3 is synchronous and sends through urllib3, not httpx: the client's ``before-send`` event
(botocore's documented hook for answering a request without sending it) hands each request to
the model, and the body comes back one piece at a time as the model writes it. The model lives
on the event loop, and :class:`~toolvolley.providers.BedrockConverse` calls boto3 in an AnyIO
worker thread, so the hook reaches the loop with ``anyio.from_thread``: the client works only
from such a thread (it is the adapter's, not one to call from synchronous code).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any, cast
from urllib.parse import urlsplit

import anyio.from_thread

from .._optional import require
from ._engine import OfflineModel, StreamCut

__all__ = ["bedrock_client"]

# Never resolved: the hook answers before anything is sent.
OFFLINE_ENDPOINT = "http://offline.toolvolley.invalid"


def bedrock_client(model: OfflineModel) -> Any:
    """A ``boto3`` ``bedrock-runtime`` client whose requests ``model`` answers."""
    boto3: Any = require("boto3", "bedrock")
    config: Any = require("botocore.config", "bedrock")
    session = boto3.session.Session(
        aws_access_key_id="offline", aws_secret_access_key="offline", region_name="us-east-1"
    )
    client = session.client(
        "bedrock-runtime",
        endpoint_url=OFFLINE_ENDPOINT,
        config=config.Config(retries={"max_attempts": 1}),
    )

    def answer(request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

        body = request.body or b""
        sent = body.encode() if isinstance(body, str) else bytes(body)
        path = urlsplit(request.url).path
        reply = anyio.from_thread.run(model.handle, request.method, path, sent)
        return AWSResponse(request.url, reply.status, dict(reply.headers), _Body(reply.body))

    client.meta.events.register("before-send.bedrock-runtime", answer)
    return client


class _Body:
    """The response body as urllib3's response gives it to botocore (``stream``, ``close``),
    each piece pulled from the model's async body on the event loop."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = cast("AsyncGenerator[bytes, None]", chunks)  # the model's are generators
        self._closed = False
        self._pulling = False

    async def _pull(self) -> bytes | None:
        if self._closed:
            return None
        self._pulling = True
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            return None
        finally:
            self._pulling = False
        if self.closed:  # closed while this piece was being written: stop the generation
            await self._chunks.aclose()
            return None
        return chunk

    @property
    def closed(self) -> bool:
        return self._closed

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        while True:
            try:
                chunk = anyio.from_thread.run(self._pull)
            except StreamCut as exc:  # what urllib3 raises when the server drops the connection
                from urllib3.exceptions import ProtocolError

                raise ProtocolError("Connection broken: the response ended early") from exc
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self._closed = True

    async def aclose(self) -> None:
        """Close the model's body on the loop (the adapter calls it after ``close``); a piece
        being written now closes it when it is done."""
        self._closed = True
        if not self._pulling:
            await self._chunks.aclose()
