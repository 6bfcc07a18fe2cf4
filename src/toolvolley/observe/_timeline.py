"""Where the time went in a batch: one bar per call, from the results' monotonic timestamps.

Rendered as text for the terminal, or as a self-contained SVG or HTML file to open in a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .._calls import ToolResult, ToolStatus

__all__ = ["Bar", "Timeline", "timelines_svg"]

_COLOURS = {
    "ok": "#4c78a8",
    "error": "#e45756",
    "timeout": "#f58518",
    "cancelled": "#9d9d9d",
    "invalid_arguments": "#b279a2",
    "unknown_tool": "#b279a2",
    "in_doubt": "#eeca3b",
}
_MODEL = "#72b7b2"


@dataclass(frozen=True, slots=True)
class Bar:
    """One call; times in seconds from the timeline's origin."""

    label: str
    status: ToolStatus
    queued_s: float
    start_s: float
    end_s: float
    attempts: int = 1  # bodies started: more than one after retries or a hedge

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
                    attempts=r.attempts,
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
            if bar.attempts > 1:
                mark += f" ({bar.attempts} attempts)"
            lines.append(
                f"{bar.label:<{label_width}} │{cells:<{width}}│ {bar.duration_s:.2f} s{mark}"
            )
        return "\n".join(lines)

    def to_svg(self, title: str = "toolvolley timeline") -> str:
        """A self-contained SVG: one bar per call, queue time paler, a hover title per bar."""
        return timelines_svg([(title, self)])

    def save(self, path: str | Path, title: str = "toolvolley timeline") -> Path:
        """Write the timeline as SVG, or as an HTML page when ``path`` ends in ``.html``."""
        return save_timelines(path, [(title, self)])


def timelines_svg(sections: Sequence[tuple[str, Timeline]], *, width: int = 900) -> str:
    """Several timelines, one under another, drawn to one time scale."""
    label_w, row_h, gap, top = 230, 22, 34, 12
    span = max((t.span_s for _, t in sections), default=0.0) or 1.0
    plot_w = width - label_w - 70  # room for the last duration label
    scale = plot_w / span
    parts: list[str] = []
    y = top
    for heading, timeline in sections:
        parts.append(f'<text x="8" y="{y + 14}" class="heading">{escape(heading)}</text>')
        y += gap - 10
        for bar in timeline.bars:
            colour = _MODEL if bar.label.startswith("model") else _COLOURS.get(bar.status, "#888")
            x0 = label_w + bar.start_s * scale
            w = max(bar.duration_s * scale, 1.5)
            tip = escape(
                f"{bar.label}: {bar.start_s:.3f} to {bar.end_s:.3f} s "
                f"({bar.duration_s:.3f} s, queued {bar.start_s - bar.queued_s:.3f} s) {bar.status}"
                + (f", {bar.attempts} attempts" if bar.attempts > 1 else "")
            )
            parts.append(f'<text x="8" y="{y + 15}" class="label">{escape(bar.label)}</text>')
            if bar.start_s > bar.queued_s:
                qx = label_w + bar.queued_s * scale
                parts.append(
                    f'<rect class="queue" x="{qx:.1f}" y="{y + 4}" '
                    f'width="{(bar.start_s - bar.queued_s) * scale:.1f}" height="{row_h - 8}" '
                    f'fill="{colour}" opacity="0.3"><title>{tip}</title></rect>'
                )
            parts.append(
                f'<rect class="bar" data-status="{bar.status}" x="{x0:.1f}" y="{y + 2}" '
                f'width="{w:.1f}" height="{row_h - 4}" fill="{colour}"><title>{tip}</title></rect>'
            )
            parts.append(
                f'<text x="{x0 + w + 4:.1f}" y="{y + 15}" class="value">'
                f"{bar.duration_s:.2f} s</text>"
            )
            y += row_h
        y += 10
    axis_y = y + 4
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" stroke="#444"/>'
    )
    for tick in _ticks(span):
        x = label_w + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 5}" stroke="#444"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 18}" class="tick">{tick:g} s</text>')
    height = axis_y + 28
    style = (
        "<style>text{font-family:system-ui,sans-serif;font-size:12px;fill:#222}"
        ".heading{font-weight:600;font-size:13px}.tick{text-anchor:middle;font-size:11px}"
        ".value{font-size:11px;fill:#555}</style>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{style}<rect width="100%" height="100%" fill="white"/>'
        + "".join(parts)
        + "</svg>"
    )


def save_timelines(path: str | Path, sections: Sequence[tuple[str, Timeline]]) -> Path:
    """Write ``sections`` as SVG, or as an HTML page when ``path`` ends in ``.html``."""
    target = Path(path)
    svg = timelines_svg(sections)
    if target.suffix.lower() in (".html", ".htm"):
        title = escape(sections[0][0]) if sections else "toolvolley timeline"
        svg = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body style='margin:16px'>{svg}</body></html>"
        )
    target.write_text(svg, encoding="utf-8")
    return target


def _ticks(span: float) -> list[float]:
    raw = span / 6
    step = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= step * factor:
            step *= factor
            break
    count = int(span / step) + 1
    return [round(i * step, 10) for i in range(count)]
