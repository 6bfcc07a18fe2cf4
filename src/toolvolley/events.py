"""What you can watch while tools run: the events ``run_loop``/``run_turn`` pass to ``on_event``,
the hooks an :class:`ExecutionHooks` subclass receives from an Executor, and
:func:`report_progress`, with which a tool reports how far it got.

::

    from toolvolley.events import CallStarted, TextDelta

    def show(event):
        if isinstance(event, TextDelta):
            print(event.text, end="")
        elif isinstance(event, CallStarted):
            print(f"\\n-> {event.call.name}")
"""

from ._events import (
    BatchView,
    CallFinished,
    CallProgress,
    CallReady,
    CallStarted,
    ExecutionHooks,
    StreamUpdate,
    TextDelta,
    TurnEvent,
    TurnFinished,
    TurnStats,
    report_progress,
)

__all__ = [
    "BatchView",
    "CallFinished",
    "CallProgress",
    "CallReady",
    "CallStarted",
    "ExecutionHooks",
    "StreamUpdate",
    "TextDelta",
    "TurnEvent",
    "TurnFinished",
    "TurnStats",
    "report_progress",
]
