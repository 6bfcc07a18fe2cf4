"""Retries and hedged calls for idempotent tools, as settings: :class:`Retry`, :class:`Hedge`.

Both send a call's body again, so both are for tools marked ``idempotent=True`` only (calling
again with the same arguments has no further effect). The rule: a :class:`Retry` or
:class:`Hedge` given to a tool that is not idempotent is a :class:`~toolvolley.UserError` when
the tool is defined; one given to the executor applies to its idempotent tools and leaves the
others alone.

These are the settings only, cheap to import (tool and executor options); the runner that
carries them out wraps the tool's runner: :class:`toolvolley.runners.policies.PolicyRunner`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._errors import UserError
from ._options import check_count, check_flag, check_seconds

__all__ = ["Hedge", "Retry"]


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
