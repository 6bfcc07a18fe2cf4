"""One model response's calls scheduled together when a framework runs each in its own task.

Frameworks such as Pydantic AI start every call of a model response as a task of their own and
hand it to a tool source one at a time. :class:`ResponseTurns` gives those calls what a
:class:`Batch` gives its own: the response's cap on calls in flight, serial mode and side-effect
barriers, all from one :class:`Scheduler` per response. Calls are admitted in the order they
reach it, which is the model's order when the framework starts them in that order.

Each call runs in its own task (the framework's), not in a batch's: where the framework's tasks
would otherwise finish at once, they still do, so nothing of theirs is kept alive while the
others run (a batch keeps every caller waiting on its future: about 90 objects a call for
Pydantic AI, which for 1,000 calls triggers full garbage collections and doubles their cost).
:mod:`._volleys` is the other form, for adapters whose calls need the executor's own call path.

A response's schedule lives while any of its calls is here, so nothing outlasts the response:
a call arriving after all the earlier ones finished starts a new one, which is equivalent
(every barrier before it is then behind it, and no place is taken). Where each call finishes
before the next arrives (tools that never suspend), that would be a schedule made per call: a
schedule left as new (no barrier, no call, no place taken) is kept as the spare the next
response without one takes instead.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import anyio

from .._scheduling import Schedulable, Scheduler, SideEffectsPolicy

__all__ = ["EVENTS", "Place", "ResponseTurns"]


class _AnyioEvents:
    """The events of the responses' barriers: anyio's, for whichever loop the calls run on.
    Made only for a barrier, so a response without one asks nothing of the running loop (its
    schedule is made anew for each call that finds no other of its response running)."""

    __slots__ = ()

    def event(self) -> anyio.Event:
        return anyio.Event()


EVENTS = _AnyioEvents()


class _Open:
    __slots__ = ("calls", "interrupt", "plain", "response", "scheduler")

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.calls = 0
        self.interrupt: BaseException | None = None  # what a call asked the program to stop with
        self.response: Hashable = None  # the response it schedules now
        # The place of the calls that wait for nothing (no barrier before them, no limit): they
        # share one, as they share their admission, so a call keeps no object of its own here.
        self.plain: Place | None = None


class Place:
    """A call's place in its response's schedule: :meth:`wait` for its turn (if
    :attr:`waits`), run the call, then :meth:`leave` (always, also when it failed). Calls that
    do not wait may share one."""

    __slots__ = ("_entry", "_owner", "_turn", "_turns", "waits")

    def __init__(self, turns: ResponseTurns, entry: _Open, turn: Any):
        self._turns = turns
        self._entry = entry
        self._turn = turn
        self.waits = turn.waits
        self._owner: object | None = None

    async def wait(self) -> None:
        owner = object()  # the limiters' borrower: this call, whatever task it runs in
        await self._turn.wait(owner)  # on failure (cancelled) it holds no place: none to free
        self._owner = owner

    def interrupted(self, error: BaseException) -> None:
        """The call's tool asked the program to stop (``KeyboardInterrupt``, ``SystemExit``):
        the response's last call to :meth:`leave` is handed the first such error."""
        if self._entry.interrupt is None:
            self._entry.interrupt = error

    @property
    def last_interrupted(self) -> bool:
        """Whether a call of the response was interrupted and this call is the last one in."""
        entry = self._entry
        return entry.interrupt is not None and entry.calls == 1

    def leave(self) -> BaseException | None:
        """Free the call's places: the calls waiting behind it may go. Returns what a call of
        the response was interrupted with (:meth:`interrupted`) to the last call to leave."""
        entry = self._entry
        interrupt = None
        try:
            if self._owner is not None:
                self._turn.release(self._owner)
        finally:
            self._turn.finish()
            entry.calls -= 1
            turns = self._turns
            open_ = turns._open
            if entry.calls == 0:
                interrupt, entry.interrupt = entry.interrupt, None
                if open_.get(entry.response) is entry:
                    del open_[entry.response]
                    entry.response = None  # the key may hold the framework's run: not kept
                    if not turns._spare and entry.scheduler.fresh:
                        turns._spare.append(entry)
        return interrupt


class ResponseTurns:
    """Schedules of the responses whose calls are running, by a key naming the response."""

    __slots__ = ("_max_concurrency", "_open", "_serial", "_side_effects", "_spare")

    def __init__(
        self, *, serial: bool, max_concurrency: int | None, side_effects: SideEffectsPolicy
    ) -> None:
        self._serial = serial
        self._max_concurrency = max_concurrency
        self._side_effects: SideEffectsPolicy = side_effects
        self._open: dict[Hashable, _Open] = {}
        # At most one schedule left as new, for the next response (list.pop() and append()
        # are atomic: two threads never take the same one).
        self._spare: list[_Open] = []

    @property
    def responses(self) -> int:
        """Responses with a call still here (0 once every call has left)."""
        return len(self._open)

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, response: Hashable) -> bool:
        """Whether ``response`` has a call here."""
        return response in self._open

    def enter(self, response: Hashable, tool: Schedulable) -> Place:
        """This call's place in ``response``, in the order calls enter."""
        entry = self._open.get(response)
        if entry is None:
            try:
                entry = self._spare.pop()
            except IndexError:
                scheduler = Scheduler(
                    EVENTS,
                    serial=self._serial,
                    max_concurrency=self._max_concurrency,
                    side_effects=self._side_effects,
                )
                entry = _Open(scheduler)
            entry.response = response
            self._open[response] = entry
        entry.calls += 1
        turn = entry.scheduler.admit(tool)
        if turn.waits:
            return Place(self, entry, turn)
        place = entry.plain
        if place is None or place._turn is not turn:  # a barrier began a new phase
            place = entry.plain = Place(self, entry, turn)
        return place
