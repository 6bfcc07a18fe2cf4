"""How much a batch gained from running its calls concurrently."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._calls import ToolResult, ToolStatus

__all__ = ["BatchReport"]


@dataclass(frozen=True, slots=True)
class BatchReport:
    """Figures for one batch, computed from its results.

    * ``wall_s``: from the first call handed over to the last one ending.
    * ``sum_s``: the calls' durations added up, what running them one after another would cost.
    * ``ideal_s``: the longest call, the least any schedule can take.
    * ``speedup``: ``sum_s / wall_s``; ``efficiency``: ``ideal_s / wall_s`` (1.0 is perfect).
    """

    calls: int
    wall_s: float
    sum_s: float
    ideal_s: float
    statuses: dict[ToolStatus, int] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.sum_s / self.wall_s if self.wall_s > 0 else 1.0

    @property
    def efficiency(self) -> float:
        return self.ideal_s / self.wall_s if self.wall_s > 0 else 1.0

    @classmethod
    def from_results(cls, results: Sequence[ToolResult]) -> BatchReport:
        if not results:
            return cls(calls=0, wall_s=0.0, sum_s=0.0, ideal_s=0.0)
        durations = [r.duration for r in results]
        wall = max(r.ended_at for r in results) - min(r.queued_at for r in results)
        return cls(
            calls=len(results),
            wall_s=wall,
            sum_s=sum(durations),
            ideal_s=max(durations),
            statuses=dict(Counter(r.status for r in results)),
        )

    def summary(self) -> str:
        """One line for logs: ``3 calls in 2.01 s (sequential 4.50 s): 2.24x, efficiency 0.99``."""
        return (
            f"{self.calls} calls in {self.wall_s:.2f} s (sequential {self.sum_s:.2f} s): "
            f"{self.speedup:.2f}x, efficiency {self.efficiency:.2f}"
        )
