"""What the three SDK adapters share: the client, the offline constructor and the stream loop."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import anyio.lowlevel

from .._calls import ToolCall
from .._content import sendable
from .._errors import StreamCutError
from .._events import StreamUpdate
from .._model import Message, ModelAdapter, ModelResponse, Usage
from .._optional import require
from .._toolbox import Toolbox
from ..testing import OfflineModel
from ..testing._clients import sdk_client
from ._assembly import Assembled, _Assembler

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SDKAdapter"]


class SDKAdapter(ModelAdapter):
    """An adapter over an official SDK's async client.

    Subclasses say which SDK (``_sdk``, ``_client_class``), how to build a
    request, how to send it (``_send``), how to read a whole response (``_parse``), which
    assembler reads its stream, and how to write a turn back into the transcript
    (``_assistant_messages``).
    """

    _sdk: ClassVar[str]  # the package, and the name of its extra
    _client_class: ClassVar[str]
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
            if base_url is not None and api_key is None and not self._key_in_environment():
                api_key = "not-needed"  # local servers (vLLM, serve-model ...) take no key
            client = getattr(sdk, self._client_class)(base_url=base_url, api_key=api_key)
            self._owned_client = client
        self.client = client
        self.model = model or self._default_model
        self.system = system
        self.request_options = dict(request_options or {})

    def _key_in_environment(self) -> bool:
        """Whether the SDK will find its key by itself (``OPENAI_API_KEY`` ...)."""
        return bool(os.environ.get(f"{self._sdk.upper()}_API_KEY"))

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> Self:
        """This adapter, talking to the offline model in-process through the official SDK."""
        engine = model or OfflineModel()
        client = sdk_client(cls._sdk, engine)
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
        stream_error: StreamCutError | None = None,
    ) -> ModelResponse:
        return ModelResponse(
            text=text,
            calls=calls,
            # The turn goes back to the model in the next request, and what it sent may hold
            # lone surrogates (valid JSON escapes, but no UTF-8: the SDK could not encode it).
            messages=sendable(self._assistant_messages(text, (*calls, *incomplete))),
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
        broke: Exception | None = None
        stream = await self._send(request | {"stream": True} | self._stream_options())
        try:
            while True:
                # Only reading the stream can break it: an exception from on_update (a caller's
                # bug) is not a cut stream, and propagates.
                try:
                    event = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:  # the stream broke: keep what was assembled
                    broke = exc
                    break
                if assembler.feed(event.model_dump(mode="json", exclude_none=True)):
                    await anyio.lowlevel.checkpoint()  # let the call start before parsing on
        finally:
            await stream.close()
        done: Assembled = assembler.finish()
        cut: StreamCutError | None = None
        if broke is not None or not done.finished:
            cut = StreamCutError(self._cut_message(done, broke), provider=self.provider)
            cut.__cause__ = broke
        return self._build(
            done.text, done.calls, done.usage, incomplete=done.incomplete, stream_error=cut
        )

    def _cut_message(self, done: Assembled, broke: Exception | None) -> str:
        how = f"broke ({type(broke).__name__}: {broke})" if broke is not None else "ended"
        if done.failure:
            how = f"ended with the response failed ({done.failure})"
        said = f"{len(done.text)} characters of text"
        if done.calls or done.incomplete:
            said += f", {len(done.calls)} complete and {len(done.incomplete)} cut-off tool calls"
        return (
            f"The {self.provider} response stream {how} before its finish signal "
            f"({self._assembler.finish_signal}), after {said}: what it said is not a whole "
            "answer. Ask again; if it keeps happening, look at the network or the server."
        )
