"""Timelines: text bars and the SVG/HTML export, opened and checked for one bar per call."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from toolvolley import ToolResult
from toolvolley.observe import Bar, Timeline, save_timelines

SVG = "{http://www.w3.org/2000/svg}"


def _results() -> list[ToolResult]:
    return [
        ToolResult("a", "fast", "ok", "1", queued_at=10.0, started_at=10.0, ended_at=10.5),
        ToolResult("b", "slow", "timeout", "t", queued_at=10.0, started_at=10.2, ended_at=11.0),
        ToolResult(
            "c", "bad", "invalid_arguments", "x", queued_at=10.1, started_at=10.1, ended_at=10.1
        ),
    ]


def test_bars_are_measured_from_the_first_call_handed_over() -> None:
    timeline = Timeline.from_results(_results())
    assert [b.label for b in timeline.bars] == ["a fast", "b slow", "c bad"]
    assert [round(b.start_s, 9) for b in timeline.bars] == [0.0, 0.2, 0.1]
    assert timeline.span_s == 1.0
    text = timeline.render(width=20)
    assert text.splitlines()[1].startswith("b slow │    ████████████████│ 0.80 s timeout")


def test_svg_has_one_bar_per_call(tmp_path: Path) -> None:
    path = Timeline.from_results(_results()).save(tmp_path / "t.svg", title="Three calls")
    root = ET.parse(path).getroot()
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [b.get("data-status") for b in bars] == ["ok", "timeout", "invalid_arguments"]
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[1] > widths[0] > widths[2]  # drawn to scale (the instant one still visible)
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert any("b slow: 0.200 to 1.000 s" in t for t in titles)
    assert any(t.text == "Three calls" for t in root.iter(f"{SVG}text"))


def test_html_export_and_several_sections(tmp_path: Path) -> None:
    first = Timeline.from_results(_results())
    model = Timeline((Bar("model writing", "ok", 0.0, 0.0, 0.4), *first.bars))
    path = save_timelines(tmp_path / "t.html", [("One after another", first), ("At once", model)])
    html = path.read_text()
    assert html.startswith("<!doctype html>")
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    root = ET.fromstring(svg)
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 7
