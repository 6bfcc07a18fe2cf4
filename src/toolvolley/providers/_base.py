"""What the three SDK adapters share: the client, the offline constructor and the stream loop."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import anyio.lowlevel

from .._calls import ToolCall
from .._events import StreamUpdate
from .._model import Message, ModelAdapter, ModelResponse, Usage
from .._optional import require
from .._toolbox import Toolbox
from ..offline import OfflineModel, http_client_for
from ._assembly import Assembled, _Assembler

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SDKAdapter"]


class SDKAdapter(ModelAdapter):
    """An adapter over an official SDK's async client.

    Subclasses say which SDK (``_sdk``, ``_client_class``, ``_offline_url``), how to build a
    request, how to send it (``_send``), how to read a whole response (``_parse``), which
    assembler reads its stream, and how to write a turn back into the transcript
    (``_assistant_messages``).
    """

    _sdk: ClassVar[str]  # the package, and the name of its extra
    _client_class: ClassVar[str]
    _offline_url: ClassVar[str]  # never resolved: the offline transport is in-process
    _assembler: ClassVar[type[_Assembler]]
    _default_model: ClassVar[str]

    def __init__(
        self,
        client: Any = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        if client is None:
            sdk: Any = require(self._sdk, self._sdk)
            client = getattr(sdk, self._client_class)(base_url=base_url, api_key=api_key)
            self._owned_client = client
        self.client = client
        self.model = model or self._default_model
        self.system = system
        self.request_options = dict(request_options or {})

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> Self:
        """This adapter, talking to the offline model in-process through the official SDK."""
        sdk: Any = require(cls._sdk, cls._sdk)
        engine = model or OfflineModel()
        client = getattr(sdk, cls._client_class)(
            base_url=cls._offline_url,
            api_key="offline",
            max_retries=0,
            http_client=http_client_for(engine, sdk.DefaultAsyncHttpxClient),
        )
        adapter = cls(client, **{"model": engine.name, **options})
        adapter._owned_client = client
        return adapter

    @abstractmethod
    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]: ...

    @abstractmethod
    async def _send(self, request: dict[str, Any]) -> Any:
        """Call the SDK: a whole response, or a stream when the request says so."""

    @abstractmethod
    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        """Text, calls and usage of a whole (non-streamed) response."""

    @abstractmethod
    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        """The assistant's turn in the provider's transcript format (every call it began)."""

    def _build(
        self,
        text: str,
        calls: tuple[ToolCall, ...],
        usage: Usage,
        *,
        raw: Any = None,
        incomplete: tuple[ToolCall, ...] = (),
        stream_error: Exception | None = None,
    ) -> ModelResponse:
        return ModelResponse(
            text=text,
            calls=calls,
            messages=self._assistant_messages(text, (*calls, *incomplete)),
            usage=usage,
            raw=raw,
            incomplete=incomplete,
            stream_error=stream_error,
        )

    def _stream_options(self) -> dict[str, Any]:
        return {}

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        raw = await self._send(self._request(transcript, toolbox, parallel_tool_calls))
        text, calls, usage = self._parse(raw)
        return self._build(text, calls, usage, raw=raw)

    async def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
        on_update: Callable[[StreamUpdate], None],
    ) -> ModelResponse:
        request = self._request(transcript, toolbox, parallel_tool_calls)
        assembler = self._assembler(on_update)
        error: Exception | None = None
        stream = await self._send(request | {"stream": True} | self._stream_options())
        try:
            async for event in stream:
                if assembler.feed(event.model_dump(mode="json", exclude_none=True)):
                    await anyio.lowlevel.checkpoint()  # let the call start before parsing on
        except Exception as exc:  # the stream broke: keep what was assembled
            error = exc
        finally:
            await stream.close()
        done: Assembled = assembler.finish()
        return self._build(
            done.text, done.calls, done.usage, incomplete=done.incomplete, stream_error=error
        )
