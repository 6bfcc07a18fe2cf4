"""Where the time went in a batch: one bar per call, from the results' monotonic timestamps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._calls import ToolResult, ToolStatus

__all__ = ["Bar", "Timeline"]


@dataclass(frozen=True, slots=True)
class Bar:
    """One call; times in seconds from the timeline's origin."""

    label: str
    status: ToolStatus
    queued_s: float
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Timeline:
    """Bars for a batch of results, measured from the first call handed over::

    print(Timeline.from_results(results).render())
    call_0 get_weather │███████████████               │ 1.02 s
    call_1 get_weather │██████████████████████        │ 1.51 s
    """

    bars: tuple[Bar, ...]

    @classmethod
    def from_results(
        cls,
        results: Sequence[ToolResult],
        *,
        origin: float | None = None,
        labels: Sequence[str] | None = None,
    ) -> Timeline:
        """Bars from ``results``; ``labels`` (one per result) default to "call id, tool name"."""
        if not results:
            return cls(())
        zero = min(r.queued_at for r in results) if origin is None else origin
        names = labels if labels is not None else [f"{r.call_id} {r.name}" for r in results]
        return cls(
            tuple(
                Bar(
                    label=label,
                    status=r.status,
                    queued_s=r.queued_at - zero,
                    start_s=r.started_at - zero,
                    end_s=r.ended_at - zero,
                )
                for r, label in zip(results, names, strict=True)
            )
        )

    @property
    def span_s(self) -> float:
        return max((b.end_s for b in self.bars), default=0.0)

    def render(self, width: int = 40, span_s: float | None = None) -> str:
        """Text bars, ``width`` characters for ``span_s`` seconds (the timeline's own span by
        default; pass a common span to draw two timelines to the same scale)."""
        span = span_s if span_s is not None else self.span_s
        label_width = max((len(b.label) for b in self.bars), default=0)
        lines = []
        for bar in self.bars:
            start = round(bar.start_s / span * width) if span > 0 else 0
            end = max(start + 1, round(bar.end_s / span * width)) if span > 0 else 1
            cells = " " * start + "█" * (end - start)
            mark = "" if bar.status == "ok" else f" {bar.status}"
            lines.append(
                f"{bar.label:<{label_width}} │{cells:<{width}}│ {bar.duration_s:.2f} s{mark}"
            )
        return "\n".join(lines)
