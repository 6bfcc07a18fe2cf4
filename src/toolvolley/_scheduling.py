"""When each call of a batch may start: barriers, concurrency limits and serial mode.

The :class:`Scheduler` sees calls in the order they are submitted and gives each an
:class:`Admission`: what it must wait for before its body runs, and what it frees when it ends.
It knows nothing of where bodies run (that is the runners' business), and another policy can
wrap an admission without touching it (``_references``: a call waits first for the results it
names).

* A **barrier** (a call of a ``sequential`` tool, or every call in ``serial`` mode) waits for
  the calls submitted before it to finish, runs alone, and the calls after it wait for it.
* **Side effects** (:data:`SideEffectsPolicy`) add barriers: under ``"declared"`` a tool
  declared ``destructive`` is one, under ``"strict"`` every tool not declared ``read_only`` is.
  Calls between two barriers run at once.
* **Limits**: the tool's own ``max_concurrency`` first, then the batch's, so a call waiting
  for a place under its tool's limit holds no place that others could use.

Three words, three things: ``sequential`` is a tool's option (its calls are barriers),
``serial`` the executor's mode (every call is one), and ``parallel_tool_calls`` a request to the
model (``False``: at most one call per response); the scheduler never sees the last.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import anyio

__all__ = [
    "Admission",
    "AdmissionLike",
    "Events",
    "Mode",
    "Schedulable",
    "Scheduler",
    "SideEffectsPolicy",
]

Mode = Literal["parallel", "serial"]
"""``parallel``: every call starts at once (barriers and limits aside). ``serial``: every call
is a barrier, so one runs at a time, in the order submitted."""

SideEffectsPolicy = Literal["declared", "strict"]
"""How a tool's side-effect flags schedule its calls in a parallel batch.

* ``"declared"`` (default): a tool declared ``destructive=True`` is a barrier (the calls before
  it finish, it runs alone, the calls after it wait); every other call starts at once. Tools
  that declare nothing run as before.
* ``"strict"``: only ``read_only=True`` tools start at once; every other call, destructive or
  undeclared, is a barrier. For tools that share state and did not all say what they change.
"""


class Events(Protocol):
    """Where the scheduler gets the events its barriers wait on: a batch's runtime, or (for
    calls run in a framework's own tasks) anything whose ``event()`` makes one."""

    def event(self) -> Any: ...


class Schedulable(Protocol):
    """What the scheduler reads of a call's tool: a :class:`Tool`, or a framework's tool
    described by the same flags."""

    @property
    def name(self) -> str: ...

    @property
    def sequential(self) -> bool: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def destructive(self) -> bool: ...

    @property
    def max_concurrency(self) -> int | None: ...


class _Phase:
    """The calls submitted since the last barrier; a barrier waits until ``pending`` is zero.

    It is also the admission of a call that waits for nothing (no barrier before it, no limit): one
    object shared by those calls, so the common case allocates nothing.
    """

    __slots__ = ("drained", "pending")

    waits = False

    def __init__(self) -> None:
        self.pending = 0
        self.drained: Any = None  # made by a barrier that has to wait; set when pending hits 0

    async def wait(self, owner: object) -> None:
        return None

    def release(self, owner: object) -> None:
        return None

    def finish(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self.drained is not None:
            self.drained.set()


class Admission:
    """One call's place in the schedule.

    ``waits`` says whether :meth:`wait` has anything to do (the common case, a call with no
    barrier and no limit, skips it). :meth:`release` frees the limits' places as soon as the
    body is done; :meth:`finish` lets the calls behind a barrier go, once the call has its result.
    """

    __slots__ = ("_done", "_drain", "_gate", "_limiters", "_runtime", "waits")

    def __init__(
        self,
        runtime: Events,
        gate: Any,
        drain: _Phase | None,
        done: Any,
        limiters: tuple[anyio.CapacityLimiter, ...],
    ) -> None:
        self._runtime = runtime
        self._gate = gate  # the previous barrier's done event, to wait for
        self._drain = drain  # for a barrier: the phase before it, to wait out
        self._done = done  # a barrier's own event, or the phase the call belongs to
        self._limiters = limiters
        self.waits = gate is not None or drain is not None or bool(limiters)

    async def wait(self, owner: object) -> None:
        """Wait for the barrier before the call and for a place in each limit. On failure
        (cancellation), frees what it took."""
        if self._gate is not None:
            await self._gate.wait()
        drain = self._drain
        if drain is not None and drain.pending:
            drain.drained = self._runtime.event()
            await drain.drained.wait()
        acquired: list[anyio.CapacityLimiter] = []
        try:
            for limiter in self._limiters:
                await limiter.acquire_on_behalf_of(owner)
                acquired.append(limiter)
        except BaseException:
            for limiter in reversed(acquired):
                limiter.release_on_behalf_of(owner)
            raise

    def release(self, owner: object) -> None:
        """The body is done: free the places it held in the limits."""
        for limiter in reversed(self._limiters):
            limiter.release_on_behalf_of(owner)

    def finish(self) -> None:
        """The call has its result: it no longer holds up a barrier."""
        done = self._done
        if type(done) is _Phase:
            done.finish()
        else:
            done.set()


AdmissionLike = Admission | _Phase
"""What :meth:`Scheduler.admit` hands out: both have ``waits``, ``wait``, ``release`` and
``finish``."""


class Scheduler:
    """Admits the calls of one batch, in submission order (see the module docstring)."""

    __slots__ = (
        "_batch_limiter",
        "_gate",
        "_phase",
        "_runtime",
        "_serial",
        "_strict",
        "_tool_limiters",
    )

    def __init__(
        self,
        runtime: Events,
        *,
        serial: bool,
        max_concurrency: int | None,
        side_effects: SideEffectsPolicy = "declared",
    ) -> None:
        self._runtime = runtime
        self._serial = serial
        self._strict = side_effects == "strict"
        self._batch_limiter = (
            anyio.CapacityLimiter(max_concurrency) if max_concurrency is not None else None
        )
        self._tool_limiters: dict[str, anyio.CapacityLimiter] = {}
        self._gate: Any = None  # the last barrier's done event (the runtime's event type)
        self._phase = _Phase()

    @property
    def fresh(self) -> bool:
        """As new: no barrier admitted and no call pending (its limits are free once every
        call has released its places), so it can schedule another batch's calls."""
        return self._gate is None and self._phase.pending == 0

    def admit(self, tool: Schedulable) -> AdmissionLike:
        """The admission of the next call, in submission order."""
        gate, phase = self._gate, self._phase
        limiters = self._limiters(tool)
        if (
            self._serial
            or tool.sequential
            or tool.destructive
            or (self._strict and not tool.read_only)
        ):
            done = self._gate = self._runtime.event()
            self._phase = _Phase()
            return Admission(self._runtime, gate, phase, done, limiters)
        phase.pending += 1
        if gate is None and not limiters:
            return phase
        return Admission(self._runtime, gate, None, phase, limiters)

    def _limiters(self, tool: Schedulable) -> tuple[anyio.CapacityLimiter, ...]:
        if tool.max_concurrency is None and self._batch_limiter is None:
            return ()
        limiters: tuple[anyio.CapacityLimiter, ...] = ()
        if tool.max_concurrency is not None:
            limiter = self._tool_limiters.get(tool.name)
            if limiter is None:
                limiter = self._tool_limiters[tool.name] = anyio.CapacityLimiter(
                    tool.max_concurrency
                )
            limiters = (limiter,)
        if self._batch_limiter is not None:
            limiters = (*limiters, self._batch_limiter)
        return limiters
