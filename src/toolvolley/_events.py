"""What callers can watch while a turn runs: text as it streams, calls as they start and end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ._calls import ToolCall, ToolResult

if TYPE_CHECKING:
    from ._loop import TurnStats

__all__ = [
    "CallFinished",
    "CallReady",
    "CallStarted",
    "ExecutionHooks",
    "StreamUpdate",
    "TextDelta",
    "TurnEvent",
    "TurnFinished",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the model's text, as it streams."""

    text: str


@dataclass(frozen=True, slots=True)
class CallReady:
    """The stream has finished a call's arguments: it can run now, while the model goes on."""

    call: ToolCall
    at: float  # time.perf_counter()


StreamUpdate = TextDelta | CallReady


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A tool began running (after any barrier and concurrency limit)."""

    call: ToolCall
    at: float


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A call has its one result."""

    result: ToolResult


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """A model turn and the batch that answered it are done."""

    turn: TurnStats


TurnEvent = TextDelta | CallReady | CallStarted | CallFinished | TurnFinished


class ExecutionHooks(Protocol):
    """Called by the executor around every call, for logging, metrics or tracing.

    Hooks run on the event loop and must not block; an exception in a hook is a bug in the
    hook and propagates.
    """

    def call_started(self, call: ToolCall, at: float) -> None: ...

    def call_finished(self, result: ToolResult) -> None: ...
