"""A batch's observers (:class:`Observers`): what tells them of each event, and what asks the
program to stop.

Observers (hooks, ``on_event``, the span recorder) are told of each event once and cannot change
a result or stop the batch: what one raises is logged and kept (``Batch.hook_errors``), never
obeyed, the runtime's cancellation aside. A ``KeyboardInterrupt`` or ``SystemExit`` (from an
observer, or from a tool: the batch hands those over with :meth:`Observers.interrupted`) is kept
too, the first of them only: the batch re-raises it once every call has its result, so the
program still stops as it was asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ._errors import UserError
from ._events import Observer, TurnEvent

__all__ = ["Observers", "check_observers"]

logger = logging.getLogger("toolvolley")


class Observers:
    """A batch's observers (``observers``), what they raised (``errors``) and the first
    interrupt (``interrupt``)."""

    __slots__ = ("cancelled_exc", "errors", "interrupt", "observers")

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = check_observers(observers)
        self.errors: list[BaseException] = []
        self.interrupt: BaseException | None = None
        self.cancelled_exc: type[BaseException] = BaseException  # the runtime's, once open

    def interrupted(self, exc: BaseException) -> None:
        """Keep ``exc`` if it asks the program to stop and is the first to."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and self.interrupt is None:
            self.interrupt = exc

    def notify(self, event: TurnEvent) -> None:
        """Tell every observer of ``event``; one that raises is logged and kept, never obeyed."""
        for observer in self.observers:
            try:
                observer(event)
            except BaseException as exc:  # an observer's bug, whatever its kind, is only reported
                if isinstance(exc, self.cancelled_exc):
                    raise
                self.interrupted(exc)
                self.errors.append(exc)
                logger.error(
                    "Hook %r raised on %s; the batch goes on.",
                    observer,
                    type(event).__name__,
                    exc_info=exc,
                )


def check_observers(observers: Sequence[Observer]) -> tuple[Observer, ...]:
    """``observers`` as a tuple; misuse: one that cannot be called with an event."""
    found = tuple(observers)
    for observer in found:
        if not callable(observer):
            raise UserError(
                f"A hook is a function that takes an event or an ExecutionHooks subclass's "
                f"instance, not {observer!r} (a {type(observer).__name__})."
            )
    return found
