"""What you can watch while tools run: one event object for each thing that happens, told to
every observer (:data:`Observer`, any function that takes an event): the hooks of an Executor
or a batch (``hooks=``) and ``run_loop``/``run_turn``'s ``on_event``. An
:class:`ExecutionHooks` subclass is an observer with one method per event of a batch.
:func:`report_progress` is how a tool reports how far it got.

::

    from toolvolley.events import CallStarted, TextDelta

    def show(event):
        if isinstance(event, TextDelta):
            print(event.text, end="")
        elif isinstance(event, CallStarted):
            print(f"\\n-> {event.call.name}")
"""

from ._events import (
    BatchFinished,
    BatchStarted,
    BatchView,
    CallFinished,
    CallProgress,
    CallReady,
    CallStarted,
    ExecutionHooks,
    Observer,
    StreamUpdate,
    TextDelta,
    TurnEvent,
    TurnFinished,
    TurnStats,
    report_progress,
)

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
