"""Retries and hedged calls for idempotent tools: :class:`Retry`, :class:`Hedge`.

Both send a call's body again, so both are for tools marked ``idempotent=True`` only (calling
again with the same arguments has no further effect). The rule: a :class:`Retry` or
:class:`Hedge` given to a tool that is not idempotent is a :class:`~toolvolley.UserError` when
the tool is defined; one given to the executor applies to its idempotent tools and leaves the
others alone.

They wrap the tool's runner (:class:`PolicyRunner`), inside the call's timeout: the call's
``timeout`` and the batch ``deadline`` hold for all attempts together, and no attempt or hedge
starts after the call has stopped (a cancelled call cancels its attempts; a backoff that would
end past the deadline is not slept, the last error stands instead).

Every attempt shows in the result: ``attempts`` counts the bodies started (retries and hedges),
``attempt_errors`` says, for each one that did not give the answer, why (in the order they
ended), so ``len(attempt_errors) == attempts - 1`` when the call succeeds.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from ._clock import now
from ._errors import UserError, describe_exception
from ._options import check_count, check_flag, check_seconds
from ._runners import Runner, ToolSpec

__all__ = ["Attempts", "Hedge", "PolicyRunner", "Retry"]

HEDGE_LOST = "cancelled: the other copy of this hedged call answered first"


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Try an idempotent tool again when it fails with one of the ``on`` exceptions.

    ``attempts`` counts the first try (3: at most 2 retries). Before retry ``n`` (1, 2 ...)
    it waits ``min(max_backoff, backoff * 2 ** (n - 1))`` seconds, or, with ``jitter`` (the
    default), a random time between 0 and that ("full jitter", so many failing calls do not
    come back at once)::

        Retry(attempts=3, backoff=0.1, max_backoff=2.0, on=(TimeoutError, ConnectionError))

    A :class:`~toolvolley.ToolError` is the tool's message to the model and is retried only
    if ``on`` names it. The call's own timeout (toolvolley's) is never retried: it bounds the
    call as a whole.
    """

    attempts: int = 3
    backoff: float = 0.1
    max_backoff: float = 2.0
    jitter: bool = True
    on: tuple[type[Exception], ...] = (TimeoutError, ConnectionError)

    def __post_init__(self) -> None:
        check_count("Retry.attempts", self.attempts)
        for label, seconds in (("backoff", self.backoff), ("max_backoff", self.max_backoff)):
            if seconds is None:
                raise UserError(f"Retry.{label} must be a number of seconds, not None.")
        if self.backoff != 0:
            check_seconds("Retry.backoff", self.backoff)
        check_seconds("Retry.max_backoff", self.max_backoff)
        if self.max_backoff < self.backoff:
            raise UserError(
                f"Retry.max_backoff ({self.max_backoff!r}) must be at least backoff "
                f"({self.backoff!r})."
            )
        check_flag("Retry.jitter", self.jitter)
        on = self.on
        if (
            not isinstance(on, tuple)
            or not on
            or not all(isinstance(t, type) and issubclass(t, Exception) for t in on)
        ):
            raise UserError(
                "Retry.on must be a non-empty tuple of Exception subclasses (cancellation and "
                f"other BaseExceptions are never retried), not {on!r}."
            )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        cap = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return random.uniform(0, cap) if self.jitter else cap


@dataclass(frozen=True, slots=True, kw_only=True)
class Hedge:
    """Start a second copy of a slow idempotent call; the first copy to succeed answers, the
    other is cancelled.

    A copy's failure answers only when no other copy is still running: while one runs, the
    failure waits for it (and is listed in ``attempt_errors`` if it does not answer); if both
    fail, the last failure answers. A failure before the hedge has started answers at once, and
    no hedge starts (retrying failures is :class:`Retry`'s job).

    The copy starts ``after`` seconds, or once the call has run longer than the
    ``percentile`` of this tool's recent latencies (the last ``window`` calls of this
    executor, once there are ``min_samples``; before that ``after``, if given, else no hedge).
    ``max_share`` caps the extra load: hedges are counted when they start, and no more than
    ``max_share`` times the calls started meanwhile start over any ``window`` calls (from the
    first call on; retries count as calls), so a long quiet spell banks no budget for a
    slowdown to spend at once. A burst larger than ``window`` therefore gets at most
    ``max_share * window`` hedges: size ``window`` to the bursts you want hedged::

        Hedge(percentile=95, max_share=0.05, window=1000)   # the slowest 5 % of 1,000 at once
    """

    after: float | None = None
    percentile: float | None = None
    max_share: float = 0.05
    window: int = 200
    min_samples: int = 20

    def __post_init__(self) -> None:
        check_seconds("Hedge.after", self.after)
        p = self.percentile
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 100
        ):
            raise UserError(f"Hedge.percentile must be between 0 and 100 (exclusive), not {p!r}.")
        if self.after is None and p is None:
            raise UserError("Hedge needs after= (seconds) or percentile= (of recent latencies).")
        share = self.max_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise UserError(f"Hedge.max_share must be in (0, 1], not {share!r}.")
        check_count("Hedge.window", self.window)
        check_count("Hedge.min_samples", self.min_samples)


class Attempts:
    """What happened to one call's attempts: the batch reads it into the result."""

    __slots__ = ("count", "errors")

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[str] = []


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

    async def run(self, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float) -> Any:
        return await self.attempt(Attempts(), tool, kwargs, deadline)

    async def attempt(
        self, tries: Attempts, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float
    ) -> Any:
        """Run the body, retried and hedged by the policies, recording each attempt."""
        retry = self.retry
        failed = 0
        while True:
            try:
                return await self._once(tries, tool, kwargs, deadline)
            except Exception as exc:
                failed += 1
                if retry is None or failed >= retry.attempts or not isinstance(exc, retry.on):
                    raise
                delay = retry.delay(failed)
                if now() + delay >= deadline:
                    raise  # the retry could not start before the call is stopped
                tries.errors.append(describe_exception(exc))
            await anyio.sleep(delay)

    async def _once(
        self, tries: Attempts, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float
    ) -> Any:
        hedge = self.hedge
        if hedge is None:
            tries.count += 1
            return await self.inner.run(tool, kwargs, deadline)
        self.calls += 1
        after = self._threshold(hedge)
        if after is None:
            tries.count += 1
            return self._timed(await self._timed_run(tool, kwargs, deadline))
        return await self._race(tries, tool, kwargs, deadline, after)

    async def _timed_run(
        self, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float
    ) -> tuple[float, Any]:
        started = now()
        value = await self.inner.run(tool, kwargs, deadline)
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

    async def _race(
        self,
        tries: Attempts,
        tool: ToolSpec,
        kwargs: Mapping[str, Any],
        deadline: float,
        after: float,
    ) -> Any:
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
                if not self._within_budget(hedge) or now() >= deadline:
                    return  # over budget, or too late: the first copy answers alone
                self.hedged_at.append(self.calls)
            tries.count += 1
            running += 1
            try:
                value = self._timed(await self._timed_run(tool, kwargs, deadline))
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
