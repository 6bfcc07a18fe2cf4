"""The turn loop: ask the model, run every call it asked for at once, send all results back in one
follow-up request, and repeat until it answers without tools."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._calls import ToolCall, ToolResult
from ._errors import ToolvolleyError, UserError
from ._executor import Executor
from ._model import Message, ModelAdapter, Usage
from ._report import BatchReport
from ._toolbox import Toolbox
from ._tools import Tool

__all__ = ["LoopResult", "MaxTurnsExceeded", "TurnStats", "run_loop"]


@dataclass(frozen=True, slots=True)
class TurnStats:
    """One model call and the tool batch that answered it (if it asked for tools)."""

    index: int
    calls: int
    model_s: float
    tools_s: float
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    results: tuple[ToolResult, ...] = ()
    report: BatchReport | None = None


@dataclass(frozen=True, slots=True)
class LoopResult:
    """How a conversation ended: the final text and everything that led to it.

    ``transcript`` is in the provider's own message format: append a user message and pass it
    back to :func:`run_loop` to continue the conversation.
    """

    final_text: str
    transcript: list[Message]
    usage: Usage
    turns: tuple[TurnStats, ...] = field(default=())

    @property
    def model_turns(self) -> int:
        """How many times the model was called."""
        return len(self.turns)

    @property
    def tool_calls(self) -> int:
        return sum(t.calls for t in self.turns)

    @property
    def model_s(self) -> float:
        return sum(t.model_s for t in self.turns)

    @property
    def tools_s(self) -> float:
        return sum(t.tools_s for t in self.turns)


class MaxTurnsExceeded(ToolvolleyError):
    """The model was still asking for tools after ``max_turns`` model calls.

    ``transcript`` and ``turns`` hold the conversation so far (every call has its result).
    """

    def __init__(self, max_turns: int, transcript: list[Message], turns: Sequence[TurnStats]):
        super().__init__(
            f"The model still asked for tools after {max_turns} model calls (max_turns). "
            "Raise max_turns if the task needs more steps, or look at the tool results in "
            ".transcript: a model that repeats a call is often reacting to a failure."
        )
        self.max_turns = max_turns
        self.transcript = transcript
        self.turns = tuple(turns)


async def run_loop(
    model: ModelAdapter,
    prompt: str | Sequence[Mapping[str, Any]],
    tools: Executor | Toolbox | Iterable[Tool],
    *,
    parallel_tool_calls: bool = True,
    max_turns: int = 10,
) -> LoopResult:
    """Run a conversation until the model answers without asking for tools.

    ``prompt`` is the user's text, or a transcript in the provider's format to continue.
    ``tools`` is an :class:`Executor` (its mode, timeouts and limits apply) or the tools to run
    with a default one. ``parallel_tool_calls=False`` asks the model for one call per response.
    """
    if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
        raise UserError("max_turns must be an integer >= 1.")
    executor = tools if isinstance(tools, Executor) else Executor(tools)
    toolbox = executor.toolbox
    transcript: list[Message] = (
        [model.user_message(prompt)] if isinstance(prompt, str) else [dict(m) for m in prompt]
    )
    usage = Usage()
    turns: list[TurnStats] = []
    for index in range(max_turns):
        started = time.perf_counter()
        response = await model.respond(transcript, toolbox, parallel_tool_calls=parallel_tool_calls)
        model_s = time.perf_counter() - started
        transcript.extend(response.messages)
        usage += response.usage
        if not response.calls:
            turns.append(TurnStats(index, 0, model_s, 0.0, response.text))
            return LoopResult(response.text, transcript, usage, tuple(turns))
        started = time.perf_counter()
        async with executor.batch() as batch:
            for call in response.calls:
                batch.submit(call)
        results = batch.results()
        transcript.extend(model.result_messages(results))
        tools_s = time.perf_counter() - started
        turns.append(
            TurnStats(
                index,
                len(results),
                model_s,
                tools_s,
                response.text,
                response.calls,
                tuple(results),
                BatchReport.from_results(results),
            )
        )
    raise MaxTurnsExceeded(max_turns, transcript, turns)
