"""Retries and hedged calls around any runner: :class:`PolicyRunner` carries out a tool's
:class:`~toolvolley.Retry` and :class:`~toolvolley.Hedge` (the settings, in
:mod:`toolvolley._policies`), for tools marked ``idempotent=True`` only.

It wraps the tool's runner, inside the call's timeout: the call's
``timeout`` and the batch ``deadline`` hold for all attempts together, and no attempt or hedge
starts after the call has stopped (a cancelled call cancels its attempts; a backoff that would
end past the deadline is not slept, the last error stands instead).

Every attempt shows in the result: the runner records them in the call's
:attr:`CallContext.attempts`. ``attempts`` counts the bodies started (retries and hedges),
``attempt_errors`` says, for each one that did not give the answer, why (in the order they
ended), so ``len(attempt_errors) == attempts - 1`` when the call succeeds.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import anyio

from .._clock import now
from .._errors import describe_exception
from .._policies import Hedge, Retry
from ._base import Attempts, CallContext, Runner

__all__ = ["HEDGE_LOST", "PolicyRunner"]

HEDGE_LOST = "cancelled: the other copy of this hedged call answered first"


class PolicyRunner(Runner):
    """Runs an idempotent tool through ``inner`` with its :class:`Retry` and :class:`Hedge`.

    One per tool per executor (the executor makes it), so the latencies that set the hedge
    threshold and the hedge budget are this tool's, on this executor.
    """

    name = "policies"

    def __init__(self, inner: Runner, retry: Retry | None, hedge: Hedge | None) -> None:
        self.inner = inner
        self.retry = retry
        self.hedge = hedge
        self.latencies: deque[float] = deque(maxlen=hedge.window if hedge else 1)
        self.calls = 0  # attempts that could have been hedged
        self.hedged_at: deque[int] = deque()  # self.calls when each recent hedge started

    async def run(self, call: CallContext) -> Any:
        """Run the body, retried and hedged by the policies, recording each attempt in
        ``call.attempts``."""
        tries = call.attempts = Attempts()
        deadline = call.deadline
        retry = self.retry
        failed = 0
        while True:
            try:
                return await self._once(tries, call)
            except Exception as exc:
                failed += 1
                if retry is None or failed >= retry.attempts or not isinstance(exc, retry.on):
                    raise
                delay = retry.delay(failed)
                if now() + delay >= deadline:
                    raise  # the retry could not start before the call is stopped
                tries.errors.append(describe_exception(exc))
            await anyio.sleep(delay)

    async def _once(self, tries: Attempts, call: CallContext) -> Any:
        hedge = self.hedge
        if hedge is None:
            tries.count += 1
            return await self.inner.run(call)
        self.calls += 1
        after = self._threshold(hedge)
        if after is None:
            tries.count += 1
            return self._timed(await self._timed_run(call))
        return await self._race(tries, call, after)

    async def _timed_run(self, call: CallContext) -> tuple[float, Any]:
        started = now()
        value = await self.inner.run(call)
        return started, value

    def _timed(self, outcome: tuple[float, Any]) -> Any:
        started, value = outcome
        self.latencies.append(now() - started)
        return value

    def _threshold(self, hedge: Hedge) -> float | None:
        if hedge.percentile is not None and len(self.latencies) >= hedge.min_samples:
            ordered = sorted(self.latencies)
            rank = max(0, math.ceil(hedge.percentile / 100 * len(ordered)) - 1)
            return ordered[rank]
        return hedge.after

    def _within_budget(self, hedge: Hedge) -> bool:
        """Whether one more hedge keeps hedges within ``max_share`` of the last ``window``
        calls (never past it, from the first call on)."""
        while self.hedged_at and self.hedged_at[0] <= self.calls - hedge.window:
            self.hedged_at.popleft()
        return len(self.hedged_at) + 1 <= hedge.max_share * min(self.calls, hedge.window)

    async def _race(self, tries: Attempts, call: CallContext, after: float) -> Any:
        hedge = self.hedge
        assert hedge is not None
        cancelled = anyio.get_cancelled_exc_class()
        won: list[Any] = []  # what the copies that succeeded returned
        failed: BaseException | None = None  # the failure that answers if none succeeds
        running = 0  # copies whose body has started and not ended

        async def copy(scope: anyio.CancelScope, first: bool) -> None:
            nonlocal running, failed
            if not first:
                await anyio.sleep(after)
                if not self._within_budget(hedge) or now() >= call.deadline:
                    return  # over budget, or too late: the first copy answers alone
                self.hedged_at.append(self.calls)
            tries.count += 1
            running += 1
            try:
                value = self._timed(await self._timed_run(call))
            except cancelled:
                running -= 1
                if won or failed is not None:  # lost the race
                    tries.errors.append(HEDGE_LOST)
                raise
            except BaseException as exc:  # the body's own failure
                running -= 1
                if running:  # the other copy may yet succeed: a failure never beats it
                    tries.errors.append(describe_exception(exc))
                    return
                if won:  # both ended at once
                    tries.errors.append(describe_exception(exc))
                else:
                    failed = exc
            else:
                running -= 1
                if won:  # both ended at once
                    tries.errors.append(HEDGE_LOST)
                won.append(value)
            scope.cancel()  # answered: stop the other copy, or the hedge not started yet

        async with anyio.create_task_group() as group:
            group.start_soon(copy, group.cancel_scope, True)
            group.start_soon(copy, group.cancel_scope, False)
        if won:
            return won[0]
        assert failed is not None, "a copy ended, or the call was cancelled"
        raise failed
