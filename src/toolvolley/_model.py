"""The small interface every provider adapter implements, and what one model call returns."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ._calls import ToolCall, ToolResult
from ._errors import UserError, type_name
from ._events import CallReady, StreamUpdate, TextDelta
from ._toolbox import Toolbox

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ModelAdapter", "ModelResponse", "Usage", "check_adapter"]

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a model call (or a whole conversation) consumed."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """One model response, in toolvolley's terms and in the provider's own.

    ``messages`` are what to append to the transcript (the provider's message format), so the
    follow-up request carries the model's turn exactly as the provider expects it back.
    """

    text: str
    calls: tuple[ToolCall, ...]
    messages: tuple[Message, ...]
    usage: Usage = Usage()
    raw: Any = None
    incomplete: tuple[ToolCall, ...] = ()  # streamed calls whose arguments were cut off
    # a StreamCutError if the stream ended or broke before its finish signal (its __cause__ is
    # the read error, if it broke); a custom adapter may record any exception here
    stream_error: BaseException | None = None


class ModelAdapter(ABC):
    """Speaks one provider's wire format through its official SDK.

    An adapter translates three things: the toolbox into tool definitions, the provider's
    response into :class:`ToolCall` objects, and :class:`ToolResult` objects into the follow-up
    messages (one per call, all in one request).
    """

    provider: ClassVar[str]
    _owned_client: Any = None  # an SDK client the adapter made itself, closed by aclose()

    async def aclose(self) -> None:
        """Close the SDK client if the adapter created it (a client you passed in stays open)."""
        client, self._owned_client = self._owned_client, None
        if client is not None:
            await client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        """Ask the model for its next turn. ``parallel_tool_calls=False`` reaches the provider."""

    async def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
        on_update: Callable[[StreamUpdate], None],
    ) -> ModelResponse:
        """Like :meth:`respond`, streamed: ``on_update`` hears each piece of text and each call
        the moment its arguments are complete, while the model goes on.

        This default waits for the whole response and then reports it; the provider adapters
        override it with real streaming.
        """
        response = await self.respond(transcript, toolbox, parallel_tool_calls=parallel_tool_calls)
        if response.text:
            on_update(TextDelta(response.text))
        for call in response.calls:
            on_update(CallReady(call, time.perf_counter()))
        return response

    @abstractmethod
    def user_message(self, text: str) -> Message:
        """A user message in the provider's format."""

    @abstractmethod
    def result_messages(self, results: Sequence[ToolResult]) -> list[Message]:
        """The follow-up messages answering every call of a turn, in the provider's format."""


def check_adapter(model: object, where: str) -> None:
    """Misuse: ``model`` is not an adapter (most often the SDK's client itself)."""
    if isinstance(model, ModelAdapter):
        return
    package = type(model).__module__.split(".")[0]
    if package == "openai":
        wrap = " Wrap the client: OpenAIChat(client, model=...) or OpenAIResponses(client, ...)."
    elif package == "anthropic":
        wrap = " Wrap the client: AnthropicMessages(client, model=...)."
    else:
        wrap = " Use one from toolvolley.providers (e.g. OpenAIChat(model=...)) or subclass it."
    raise UserError(f"{where} takes a ModelAdapter; got {type_name(model)}.{wrap}")
