"""The sweep as an SVG chart: speedup and efficiency against the number of calls."""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

__all__ = ["sweep_svg"]

_VARIANTS = {
    "toolvolley_parallel": ("#4c78a8", "toolvolley parallel"),
    "toolvolley_serial": ("#f58518", "toolvolley serial"),
    "textbook_gather": ("#9d9d9d", "textbook gather"),
}
_KINDS = {"async": ("", "async tools"), "sync": ("6 4", "sync tools"), "cpu": ("2 3", "CPU-bound")}


def sweep_svg(sweep: dict[str, Any], *, width: int = 980) -> str:
    points: list[dict[str, Any]] = sweep["points"]
    sizes = sorted({p["calls"] for p in points})
    left, top, panel_h = 60, 40, 300
    panel_w = (width - left - 60 - 30) // 2  # two panels, a gap, and a right margin
    max_speedup = max(max(p["speedup"] for p in points), 2.0)
    x_of = _log_axis(min(sizes), max(sizes), panel_w)
    speed_of = _log_axis(0.01, 10 ** math.ceil(math.log10(max_speedup)), panel_h)
    parts: list[str] = []
    for panel, (metric, title) in enumerate(
        (
            ("speedup", "Speedup (calls x latency / wall)"),
            ("efficiency", "Efficiency (latency / wall)"),
        )
    ):
        ox = left + panel * (panel_w + 60)
        parts.append(f'<text x="{ox}" y="{top - 14}" class="title">{title}</text>')
        parts.append(
            f'<rect x="{ox}" y="{top}" width="{panel_w}" height="{panel_h}" fill="none" '
            'stroke="#999"/>'
        )

        def y_of(value: float, metric: str = metric) -> float:
            if metric == "efficiency":
                return top + panel_h - max(0.0, min(value, 1.0)) * panel_h
            return top + panel_h - speed_of(max(value, 0.01))

        ticks = (
            [0.0, 0.25, 0.5, 0.75, 1.0]
            if metric == "efficiency"
            else [10.0**k for k in range(-2, int(math.log10(max_speedup)) + 2)]
        )
        for tick in ticks:
            y = y_of(tick)
            if top - 1 <= y <= top + panel_h + 1:
                parts.append(
                    f'<line x1="{ox}" y1="{y:.1f}" x2="{ox + panel_w}" y2="{y:.1f}" '
                    'stroke="#eee"/>'
                    f'<text x="{ox - 6}" y="{y + 4:.1f}" class="ytick">{tick:g}</text>'
                )
        for n in sizes:
            x = ox + x_of(n)
            parts.append(f'<text x="{x:.1f}" y="{top + panel_h + 16}" class="xtick">{n}</text>')
        parts.append(
            f'<text x="{ox + panel_w / 2}" y="{top + panel_h + 34}" class="xtick">'
            "tool calls in the batch</text>"
        )
        for variant, (colour, _) in _VARIANTS.items():
            for kind, (dash, _) in _KINDS.items():
                line = sorted(
                    (p for p in points if p["variant"] == variant and p["kind"] == kind),
                    key=lambda p: p["calls"],
                )
                if not line:
                    continue
                path = " ".join(f"{ox + x_of(p['calls']):.1f},{y_of(p[metric]):.1f}" for p in line)
                parts.append(
                    f'<polyline class="series" data-variant="{variant}" data-kind="{kind}" '
                    f'points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                    f'stroke-dasharray="{dash}"/>'
                )
    legend_y = top + panel_h + 60
    x = left
    for colour, label in _VARIANTS.values():
        parts.append(
            f'<line x1="{x}" y1="{legend_y}" x2="{x + 24}" y2="{legend_y}" stroke="{colour}" '
            f'stroke-width="3"/><text x="{x + 30}" y="{legend_y + 4}">{escape(label)}</text>'
        )
        x += 165
    for dash, label in _KINDS.values():
        parts.append(
            f'<line x1="{x}" y1="{legend_y}" x2="{x + 24}" y2="{legend_y}" stroke="#333" '
            f'stroke-width="2" stroke-dasharray="{dash}"/>'
            f'<text x="{x + 30}" y="{legend_y + 4}">{escape(label)}</text>'
        )
        x += 115
    note = f"each call {sweep['latency_s'] * 1000:g} ms; one warmed-up event loop per kind of tool"
    parts.append(f'<text x="{left}" y="{legend_y + 26}" class="note">{escape(note)}</text>')
    height = legend_y + 40
    style = (
        "<style>text{font-family:system-ui,sans-serif;font-size:12px;fill:#222}"
        ".title{font-weight:600;font-size:13px}.xtick{text-anchor:middle;font-size:11px}"
        ".ytick{text-anchor:end;font-size:11px}.note{fill:#666;font-size:11px}</style>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{style}<rect width="100%" height="100%" fill="white"/>'
        + "".join(parts)
        + "</svg>"
    )


def _log_axis(low: float, high: float, length: float) -> Callable[[float], float]:
    span = math.log10(high) - math.log10(low) or 1.0

    def position(value: float) -> float:
        return (math.log10(value) - math.log10(low)) / span * length

    return position
