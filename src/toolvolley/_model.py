"""The small interface every provider adapter implements, and what one model call returns."""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from ._calls import ToolCall, ToolResult
from ._errors import UserError, type_name
from ._events import CallReady, StreamUpdate, TextDelta
from ._toolbox import Toolbox

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ModelAdapter",
    "ModelResponse",
    "ModelStream",
    "Usage",
    "check_adapter",
    "collect",
    "whole",
]

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
    # calls the adapter will not run, each with what the model reads instead (Gemini and Bedrock
    # in serial mode: no API switch, so calls after a response's first are answered, not run)
    declined: tuple[tuple[ToolCall, str], ...] = ()
    # a StreamCutError if the stream ended or broke before its finish signal (its __cause__ is
    # the read error, if it broke); a custom adapter may record any exception here
    stream_error: BaseException | None = None
    # when the provider's code container that made calls (programmatic tool calling) expires:
    # their results must reach the provider before it, or the code waiting on them fails
    expires_at: datetime | None = None


NOT_RUN_SERIAL = (
    "Not run: tool calls run one at a time in this conversation, and only the first call of "
    "a response runs. If you still need this call, call it again in your next turn."
)
"""What the model reads for a call an adapter declined (see ``ModelResponse.declined``)."""

ModelStream = AsyncIterator[StreamUpdate | ModelResponse]
"""What :meth:`ModelAdapter.stream` returns: updates as they arrive, then the response."""


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

    def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelStream:
        """Like :meth:`respond`, streamed: an async iterator of each piece of text
        (:class:`TextDelta`) and each call the moment its arguments are complete
        (:class:`CallReady`), while the model goes on; its last item is the
        :class:`ModelResponse`. The loop pulls from it and starts each call itself::

            async for item in model.stream(transcript, toolbox):
                ...  # TextDelta, CallReady ..., then the ModelResponse

        This default waits for the whole response and then yields it; the provider adapters
        override it with real streaming (an ``async def`` with ``yield`` is the easy way).
        """
        return whole(
            functools.partial(
                self.respond, transcript, toolbox, parallel_tool_calls=parallel_tool_calls
            )
        )

    @abstractmethod
    def user_message(self, text: str) -> Message:
        """A user message in the provider's format."""

    @abstractmethod
    def result_messages(self, results: Sequence[ToolResult]) -> list[Message]:
        """The follow-up messages answering every call of a turn, in the provider's format."""


async def whole(respond: Callable[[], Awaitable[ModelResponse]]) -> ModelStream:
    """A response that comes in one piece, as a stream: its text, each call ready at once, and
    the response itself (the non-streamed path goes through the same code as a stream)."""
    done = await respond()
    if done.text:
        yield TextDelta(done.text)
    now = time.perf_counter()
    for call in done.calls:
        yield CallReady(call, now)
    yield done


async def collect(stream: ModelStream) -> ModelResponse:
    """Read ``stream`` to its end: the :class:`ModelResponse` it ends with."""
    try:
        async for item in stream:
            if isinstance(item, ModelResponse):
                return item
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    raise UserError("The model's stream ended without its ModelResponse (its last item).")


def check_adapter(model: object, where: str) -> None:
    """Misuse: ``model`` is not an adapter (most often the SDK's client itself)."""
    if isinstance(model, ModelAdapter):
        return
    package = type(model).__module__.split(".")[0]
    if package == "openai":
        wrap = " Wrap the client: OpenAIChat(client, model=...) or OpenAIResponses(client, ...)."
    elif package == "anthropic":
        wrap = " Wrap the client: AnthropicMessages(client, model=...)."
    elif type(model).__module__.startswith("google.genai"):
        wrap = " Wrap the client: Gemini(client, model=...)."
    else:
        wrap = " Use one from toolvolley.providers (e.g. OpenAIChat(model=...)) or subclass it."
    raise UserError(f"{where} takes a ModelAdapter; got {type_name(model)}.{wrap}")
