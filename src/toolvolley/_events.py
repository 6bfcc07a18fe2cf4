"""What callers can watch while a turn runs: one event object for each thing that happens (text
as it streams, a batch opening, calls as they start, report progress and end, the turn's end).

An observer is any function that takes an event (:data:`Observer`). The batch tells its hooks
(``Executor(hooks=)``, ``executor.batch(hooks=)``, the span recorder) and
:func:`~toolvolley.run_loop` adds ``on_event`` to them; :class:`ExecutionHooks` is an observer
that hands each event to a method of its own. A tool reports progress with
:func:`report_progress`, which reaches them as :class:`CallProgress`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._calls import ToolCall, ToolResult
from ._clock import now
from ._report import BatchReport
from ._scheduling import Mode

if TYPE_CHECKING:
    from ._results import Slot

__all__ = [
    "BatchFinished",
    "BatchStarted",
    "BatchView",
    "CallFinished",
    "CallProgress",
    "CallReady",
    "CallStarted",
    "ExecutionHooks",
    "Observer",
    "StreamUpdate",
    "TextDelta",
    "TurnEvent",
    "TurnFinished",
    "TurnStats",
    "report_progress",
]


class BatchView(Protocol):
    """What hooks can read of a batch: a read-only view, so hooks cannot change it."""

    @property
    def mode(self) -> Mode:
        """``"parallel"`` or ``"serial"``."""
        ...

    @property
    def size(self) -> int:
        """Calls submitted so far."""
        ...


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the model's text, as it streams."""

    text: str


@dataclass(frozen=True, slots=True)
class CallReady:
    """The stream has finished a call's arguments: it can run now, while the model goes on."""

    call: ToolCall
    at: float  # time.perf_counter()
    # What of the model's turn goes back with this call, in the format's own shape, where the
    # format keeps more of a turn than its calls (Gemini: the parts since the previous ready
    # call, this one's own with its thought signature). A journal records it with the call, so
    # a turn a crash cut short goes back as the model wrote it.
    parts: tuple[Any, ...] = ()


StreamUpdate = TextDelta | CallReady


@dataclass(frozen=True, slots=True)
class BatchStarted:
    """A batch opened (before any call was submitted)."""

    batch: BatchView
    at: float


@dataclass(frozen=True, slots=True)
class BatchFinished:
    """Every call of the batch has its result (or the batch was cancelled)."""

    batch: BatchView
    at: float


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A tool began running (after any barrier and concurrency limit)."""

    call: ToolCall
    at: float


@dataclass(frozen=True, slots=True)
class CallProgress:
    """A running call reported progress (:func:`report_progress`, or an MCP server's
    ``notifications/progress``). ``total`` and ``message`` are ``None`` when not given."""

    call: ToolCall
    progress: float
    total: float | None
    message: str | None
    at: float


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A call has its one result."""

    result: ToolResult


@dataclass(frozen=True, slots=True)
class TurnStats:
    """One model call and the tool batch that answered it (if it asked for tools).

    ``started_at`` and ``model_ended_at`` are ``time.perf_counter()`` stamps, on the same clock
    as the results' times, so a timeline can show calls starting before the model finished.
    """

    index: int
    calls: int
    model_s: float
    tools_s: float
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    results: tuple[ToolResult, ...] = ()
    report: BatchReport | None = None
    wall_s: float = 0.0
    started_at: float = 0.0
    model_ended_at: float = 0.0
    streamed: bool = False
    stream_error: BaseException | None = None
    hook_errors: tuple[BaseException, ...] = ()  # what on_event and hooks raised (also logged)


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """A model turn and the batch that answered it are done."""

    turn: TurnStats


TurnEvent = (
    TextDelta
    | CallReady
    | BatchStarted
    | CallStarted
    | CallProgress
    | CallFinished
    | BatchFinished
    | TurnFinished
)
"""Every event an observer may be told of."""

Observer = Callable[[TurnEvent], None]
"""Told of each event, on the event loop: a hook, ``on_event``. It must not block; what it
raises is logged and kept (``hook_errors``), never obeyed."""


class ExecutionHooks:
    """An observer with one method per event of a batch, for logging, metrics or tracing.

    Subclass and override what you need; the defaults do nothing, and events without a method
    here (text, calls ready, the turn's end) are ignored. Hooks run on the event loop and must
    not block. A hook cannot change a result or stop a batch: an exception it raises is logged
    (logger ``"toolvolley"``) and kept in the batch's ``hook_errors``, and the batch goes on.
    Times are ``time.perf_counter()`` seconds, like the results' times.
    """

    def __call__(self, event: TurnEvent) -> None:
        """Hand ``event`` to the method for it."""
        match event:
            case CallStarted(call, at):
                self.call_started(call, at)
            case CallFinished(result):
                self.call_finished(result)
            case CallProgress(call, progress, total, message):
                self.call_progress(call, progress, total, message)
            case BatchStarted(batch):
                self.batch_started(batch)
            case BatchFinished(batch):
                self.batch_finished(batch)

    def batch_started(self, batch: BatchView) -> None:
        """The batch opened (before any call was submitted)."""

    def call_started(self, call: ToolCall, at: float) -> None:
        """A tool began running (after any barrier and concurrency limit)."""

    def call_progress(
        self, call: ToolCall, progress: float, total: float | None, message: str | None
    ) -> None:
        """A running call reported progress (see :func:`report_progress`)."""

    def call_finished(self, result: ToolResult) -> None:
        """A call has its one result (also for calls that never ran)."""

    def batch_finished(self, batch: BatchView) -> None:
        """Every call of the batch has its result (or the batch was cancelled)."""


class ProgressReporter:
    """What :func:`report_progress` reaches inside one call: its batch's observers.

    The batch sets one for a call only when it has observers, so a batch without them pays
    nothing. Progress is passed on from the event loop's thread only (observers run there) and
    only until the call has its result.
    """

    __slots__ = ("_notify", "_slot", "_thread")

    def __init__(self, notify: Observer, slot: Slot) -> None:
        self._notify = notify  # the batch's: a raising observer is logged and kept, never obeyed
        self._slot = slot
        self._thread = threading.get_ident()

    def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        slot = self._slot
        if slot.result is None and threading.get_ident() == self._thread:
            self._notify(CallProgress(slot.call, progress, total, message, now()))


current_reporter: ContextVar[ProgressReporter | None] = ContextVar(
    "toolvolley_progress", default=None
)


def report_progress(
    progress: float, total: float | None = None, message: str | None = None
) -> None:
    """Tell whoever watches the running call how far it has got::

        @tool
        async def index(paths: list[str]) -> int:
            for done, path in enumerate(paths, 1):
                await scan(path)
                report_progress(done, len(paths), f"scanned {path}")
            return len(paths)

    Reaches the batch's hooks and ``run_loop``'s ``on_event`` as :class:`CallProgress`
    (``ExecutionHooks.call_progress``). Does nothing outside a call, in a batch without hooks,
    and in sync tools (their threads are not the event loop's, where hooks run).
    """
    reporter = current_reporter.get()
    if reporter is not None:
        reporter(progress, total, message)
