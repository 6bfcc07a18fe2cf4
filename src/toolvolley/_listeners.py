"""What a batch's hooks are told, and what asks the program to stop: :class:`Listeners`.

Hooks are told of each call once and cannot change a result or stop the batch: what a hook
raises is logged and kept (``Batch.hook_errors``), never obeyed, the runtime's cancellation
aside. A ``KeyboardInterrupt`` or ``SystemExit`` (from a hook, or from a tool: the batch hands
those over with :meth:`Listeners.interrupted`) is kept too, the first of them only: the batch
re-raises it once every call has its result, so the program still stops as it was asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._events import ExecutionHooks

__all__ = ["Listeners"]

logger = logging.getLogger("toolvolley")


class Listeners:
    """A batch's hooks, what they raised (``errors``) and the first interrupt (``interrupt``)."""

    __slots__ = ("cancelled_exc", "errors", "hooks", "interrupt")

    def __init__(self, hooks: Sequence[ExecutionHooks]) -> None:
        self.hooks = tuple(hooks)
        self.errors: list[BaseException] = []
        self.interrupt: BaseException | None = None
        self.cancelled_exc: type[BaseException] = BaseException  # the runtime's, once open

    def interrupted(self, exc: BaseException) -> None:
        """Keep ``exc`` if it asks the program to stop and is the first to."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and self.interrupt is None:
            self.interrupt = exc

    def tell(self, event: str, *args: Any) -> None:
        """Tell every hook of ``event``; a hook that raises is logged and kept, never obeyed."""
        for hook in self.hooks:
            try:
                getattr(hook, event)(*args)
            except BaseException as exc:  # a hook's bug, whatever its kind, is only reported
                if isinstance(exc, self.cancelled_exc):
                    raise
                self.interrupted(exc)
                self.errors.append(exc)
                logger.error("Hook %r raised in %s; the batch goes on.", hook, event, exc_info=exc)
