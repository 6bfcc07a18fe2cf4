"""Calls a result store keeps that start together: their starts recorded in one go.

A store (a journal) records that a call starts before its body runs, so that a crash can never
leave a call run but unrecorded. The calls of a parallel batch submitted in one step of the
event loop, each with no wait of its own (no limit, barrier or reference), are recorded
together by one task - a journal's group commit makes them one transaction - and then spawned;
none waits on its own. They are grouped by timeout, so the record is bounded by each call's
own: a call's timeout counts the record's time (:attr:`Start.took`), not its siblings' bodies;
one whose time ran out during the record times out, its body not run (:class:`Late`). When the
batch is being cancelled before the record, none of them starts and nothing is recorded; what
the store raises is each call's error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._references import ReferenceTurn
    from ._results import Slot
    from ._runtime import Runtime
    from ._scheduling import AdmissionLike
    from ._tools import Tool
    from .runners._base import Runner
    from .stores import StoreBatch

__all__ = ["Job", "Late", "Start", "Starts"]

Job = tuple[
    "Slot", "Tool", "dict[str, Any] | None", "AdmissionLike | ReferenceTurn", "Runner | None"
]
"""A call to run: its slot, tool, checked arguments, turn and runner (``Batch._run``'s)."""


class Start:
    """How long recording the starts of calls recorded together took, and what the store
    raised."""

    __slots__ = ("error", "took")

    def __init__(self) -> None:
        self.took = 0.0
        self.error: BaseException | None = None


class Late(Exception):
    """A call's time ran out before its start was recorded: it times out, its body not run."""


class Starts:
    """One batch's calls waiting to start together, by timeout. ``run(*job, start)`` runs a
    call once its start is recorded; ``stopping()`` says the batch is being cancelled."""

    __slots__ = ("_cancelled", "_deadline", "_kept", "_pending", "_run", "_runtime", "_stopping")

    def __init__(
        self,
        runtime: Runtime,
        kept: StoreBatch,
        *,
        deadline: float,
        cancelled: type[BaseException],
        stopping: Callable[[], bool],
        run: Callable[..., Coroutine[Any, Any, None]],
    ) -> None:
        self._runtime = runtime
        self._kept = kept
        self._deadline = deadline
        self._cancelled = cancelled
        self._stopping = stopping
        self._run = run
        self._pending: dict[float | None, list[Job]] = {}

    def add(self, job: Job, timeout: float | None) -> None:
        """Start ``job`` (a call whose timeout is ``timeout``) with the others submitted in this
        step of the event loop with the same timeout: one task per timeout records them."""
        jobs = self._pending.get(timeout)
        if jobs is None:
            jobs = self._pending[timeout] = []
            self._runtime.spawn(self._start_together, jobs, timeout, name="toolvolley-starts")
        jobs.append(job)

    async def _start_together(self, jobs: list[Job], seconds: float | None) -> None:
        """Record the starts of ``jobs`` (calls whose timeout is ``seconds``), then spawn them."""
        runtime = self._runtime
        del self._pending[seconds]  # calls submitted from now on start with the next group
        if self._stopping():
            return  # none of them starts: each is reported cancelled, and nothing recorded
        since = runtime.now()
        start = Start()
        with runtime.guard(self._deadline, seconds):
            try:
                await self._kept.started([(slot.key, slot.call) for slot, *_ in jobs])
            except BaseException as exc:  # each call's error result: a store that cannot record
                if isinstance(exc, self._cancelled) and runtime.cancelling():
                    raise
                start.error = exc
        start.took = runtime.now() - since
        for job in jobs:
            runtime.spawn(self._run, *job, start, name=job[0].call.id)
