"""What every SDK adapter shares: the client, the offline constructor, the pull stream and the
neutral tool data each format renders.

A wire format is one module holding one :class:`SDKAdapter` subclass that owns all of it: the
request, the tool definitions (``tool_definitions``), the stream's assembler, the response's
parsing, the transcript turn, the result messages (``result_messages``) and the SDK's tool-call
objects (``call_type``, ``read_call``). Adding a provider is one module and its line in
``_registry.py``.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import anyio.lowlevel

from .._calls import ToolCall, ToolResult
from .._content import sendable, sendable_text
from .._errors import StreamCutError
from .._events import CallReady
from .._model import Message, ModelAdapter, ModelResponse, ModelStream, Usage
from .._optional import require
from .._toolbox import Toolbox
from ._assembly import Assembled, Assembler
from ._serial import first_call_only, one_call_at_a_time

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..testing import OfflineModel

__all__ = ["SDKAdapter", "ToolSpec", "expiry", "tool_specs"]

ToolSpec = tuple[str, str, Any]  # the wire name, the description, the JSON schema


def tool_specs(toolbox: Toolbox) -> list[ToolSpec]:
    """Each tool's neutral data, ready to send. A description may hold a lone surrogate (an MCP
    server chooses it; valid JSON, but no UTF-8): U+FFFD goes in its place, or no request
    offering the tool could be encoded."""
    return [
        (toolbox.wire_name(t.name), sendable_text(t.description), sendable(t.parameters))
        for t in toolbox
    ]


def expiry(container: Mapping[str, Any] | None) -> datetime | None:
    """A container's ``expires_at`` (an ISO 8601 text, or a datetime), as an aware datetime."""
    value = None if container is None else container.get("expires_at")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class SDKAdapter(ModelAdapter):
    """An adapter over an official SDK's async client.

    Subclasses say which SDK (``_sdk``, ``_client_class``, or ``_new_client``), how to build a
    request, how to send it (``_send``), how to read a whole response (``_parse``), which
    assembler reads its stream (and, for an SDK unlike OpenAI's and Anthropic's,
    ``_open_stream``, ``_event``, ``_close``), and how to write a turn back into the transcript
    (``_assistant_messages``).
    """

    _sdk: ClassVar[str]  # the package, and the name of its extra
    _client_class: ClassVar[str]
    _assembler: ClassVar[type[Assembler]]
    _default_model: ClassVar[str]
    call_type: ClassVar[str]  # the ``type`` its SDK's tool-call objects say they are
    # The API has no switch for parallel tool calls: ``parallel_tool_calls=False`` is kept on
    # the client, a response's first call run and the others declined (see ``_serial``).
    serial_on_client: ClassVar[bool] = False
    # the other parts of its responses, and how to keep only the calls (a misuse's hint)
    other_parts: ClassVar[frozenset[str]] = frozenset()
    other_parts_hint: ClassVar[str] = ""

    @staticmethod
    @abstractmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """The toolbox's tools as this format's tool definitions."""

    @staticmethod
    @abstractmethod
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        """The follow-up messages answering every call of a turn (no client needed:
        ``toolvolley.result_messages()`` calls it on the class)."""

    @staticmethod
    @abstractmethod
    def read_call(value: object, where: str) -> ToolCall:
        """One of the SDK's own tool-call objects (or its dict), whose ``type`` is
        ``call_type``, as a :class:`ToolCall`; a :class:`UserError` for ``where`` if it lacks
        what a call needs."""

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

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
            client = self._new_client(base_url, api_key)
            self._owned_client = client
        self.client = client
        self.model = model or self._default_model
        self.system = system
        self.request_options = dict(request_options or {})

    def _new_client(self, base_url: str | None, api_key: str | None) -> Any:
        """The SDK's async client, when none was passed in."""
        sdk: Any = require(self._sdk, self._sdk)
        if base_url is not None and api_key is None and not self._key_in_environment():
            api_key = "not-needed"  # local servers (vLLM, serve-model ...) take no key
        return getattr(sdk, self._client_class)(base_url=base_url, api_key=api_key)

    def _key_in_environment(self) -> bool:
        """Whether the SDK will find its key by itself (``OPENAI_API_KEY`` ...)."""
        return bool(os.environ.get(f"{self._sdk.upper()}_API_KEY"))

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> Self:
        """This adapter, talking to the offline model in-process through the official SDK."""
        from ..testing import OfflineModel  # the test double loads only when asked for
        from ..testing._clients import sdk_client

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
        turn: tuple[Message, ...] | None = None,
        kept: Sequence[Message] = (),
        container: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        if turn is None:
            turn = self._assistant_messages(text, (*calls, *incomplete))
        by_code = any(c.by_code for c in (*calls, *incomplete))
        return ModelResponse(
            text=text,
            calls=calls,
            # The turn goes back to the model in the next request, and what it sent may hold
            # lone surrogates (valid JSON escapes, but no UTF-8: the SDK could not encode it).
            messages=sendable(self._with_kept(turn, kept) if kept else turn),
            usage=usage,
            raw=raw,
            incomplete=incomplete,
            stream_error=stream_error,
            expires_at=expiry(container) if by_code else None,
        )

    def _with_kept(self, turn: tuple[Message, ...], kept: Sequence[Message]) -> tuple[Message, ...]:
        """The assistant's turn with the provider's own items put back where the provider wants
        them (the code that made programmatic calls); a format without any keeps the turn."""
        return turn

    def _provider_parts(self, raw: Any) -> tuple[tuple[Message, ...], Mapping[str, Any] | None]:
        """What a whole response holds besides text and calls: the provider's own items to
        keep in the transcript, and its code container (see ``Assembled``)."""
        return (), None

    def _stream_options(self) -> dict[str, Any]:
        return {}

    # How a stream is opened, read and closed: the OpenAI and Anthropic SDKs' way by default.
    async def _open_stream(self, request: dict[str, Any]) -> Any:
        return await self._send(request | {"stream": True} | self._stream_options())

    def _event(self, event: Any) -> Mapping[str, Any]:
        """One stream event as the assembler reads it: a dict in the provider's own shape."""
        dumped: Mapping[str, Any] = event.model_dump(mode="json", exclude_none=True)
        return dumped

    async def _close(self, stream: Any) -> None:
        await stream.close()

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        raw = await self._send(self._request(transcript, toolbox, parallel_tool_calls))
        text, calls, usage = self._parse(raw)
        kept, container = self._provider_parts(raw)
        response = self._build(text, calls, usage, raw=raw, kept=kept, container=container)
        return self._serial(response, parallel_tool_calls)

    def _serial(self, response: ModelResponse, parallel_tool_calls: bool) -> ModelResponse:
        """``response`` as serial mode on the client has it (see ``serial_on_client``)."""
        if parallel_tool_calls or not self.serial_on_client:
            return response
        return first_call_only(response)

    def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelStream:
        updates = self._stream(self._request(transcript, toolbox, parallel_tool_calls))
        if parallel_tool_calls or not self.serial_on_client:
            return updates
        return one_call_at_a_time(updates)

    async def _stream(self, request: dict[str, Any]) -> ModelStream:
        assembler = self._assembler()
        broke: Exception | None = None
        stream = await self._open_stream(request)
        try:
            while True:
                # Only reading the stream can break it: what the reader does with an update
                # happens outside this generator (and ends it, if it raises).
                try:
                    event = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:  # the stream broke: keep what was assembled
                    broke = exc
                    break
                updates = assembler.feed(self._event(event))
                for update in updates:
                    yield update
                if any(isinstance(u, CallReady) for u in updates):
                    # the SDKs parse a buffered burst of events without yielding: let the calls
                    # start before parsing on
                    await anyio.lowlevel.checkpoint()
        except BaseException:
            await self._close(stream)
            raise
        await self._close(stream)  # here, so a failure to close is the model's, as the read's
        done: Assembled = assembler.finish()
        cut: StreamCutError | None = None
        if broke is not None or not done.finished:
            cut = StreamCutError(self._cut_message(done, broke), provider=self.provider)
            cut.__cause__ = broke
        yield self._build(
            done.text,
            done.calls,
            done.usage,
            raw=done.raw,
            incomplete=done.incomplete,
            stream_error=cut,
            turn=done.turn,
            kept=done.kept,
            container=done.container,
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
