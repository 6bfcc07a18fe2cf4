"""One model response's calls scheduled together when a framework runs each in its own task.

Frameworks such as Pydantic AI start every call of a model response as a task of their own and
hand it to a tool source one at a time. :class:`ResponseTurns` gives those calls what a
:class:`Batch` gives its own: the response's cap on calls in flight, serial mode and side-effect
barriers, all from one :class:`Scheduler` per response. Calls are admitted in the order they
reach it, which is the model's order when the framework starts them in that order.

A response's schedule lives while any of its calls is here, so nothing outlasts the response:
a call arriving after all the earlier ones finished starts a new one, which is equivalent
(every barrier before it is then behind it, and no place is taken).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

from .._runtime import current_runtime
from .._scheduling import Schedulable, Scheduler, SideEffectsPolicy

__all__ = ["ResponseTurns"]


class _Open:
    __slots__ = ("calls", "scheduler")

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.calls = 0


class ResponseTurns:
    """Schedules of the responses whose calls are running, by a key naming the response."""

    __slots__ = ("_max_concurrency", "_open", "_serial", "_side_effects")

    def __init__(
        self, *, serial: bool, max_concurrency: int | None, side_effects: SideEffectsPolicy
    ) -> None:
        self._serial = serial
        self._max_concurrency = max_concurrency
        self._side_effects: SideEffectsPolicy = side_effects
        self._open: dict[Hashable, _Open] = {}

    @property
    def responses(self) -> int:
        """Responses with a call still here (0 once every call has left)."""
        return len(self._open)

    @asynccontextmanager
    async def place(self, response: Hashable, tool: Schedulable) -> AsyncIterator[None]:
        """Wait for this call's turn in ``response``; the block is the call's body. On leaving,
        its places are freed and the calls waiting behind it may go."""
        entry = self._open.get(response)
        if entry is None:
            scheduler = Scheduler(
                current_runtime(),
                serial=self._serial,
                max_concurrency=self._max_concurrency,
                side_effects=self._side_effects,
            )
            entry = self._open[response] = _Open(scheduler)
        entry.calls += 1
        turn = entry.scheduler.admit(tool)
        owner = object()  # the limiters' borrower: this call, whatever task it runs in
        try:
            if turn.waits:
                await turn.wait(owner)
            try:
                yield
            finally:
                if turn.waits:
                    turn.release(owner)
        finally:
            turn.finish()
            entry.calls -= 1
            if entry.calls == 0 and self._open.get(response) is entry:
                del self._open[response]
