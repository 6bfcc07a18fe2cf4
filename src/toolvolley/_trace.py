"""Timelines in the Chrome trace-event format (``chrome://tracing``, Perfetto, speedscope).

Each section is a process; each tool call is a track of its own, with one complete (``"X"``)
event from its start to its end (and a ``queued`` event before it when it waited); the model's
turns are spans on a ``model`` track. Times are microseconds from the section's first event.

::

    write_trace("run.json", [TraceSection("parallel", results, model_spans=[("model", t0, t1)])])
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._calls import ToolResult
from ._errors import UserError

if TYPE_CHECKING:
    from .demo import DemoReport

__all__ = ["TraceSection", "check_writable", "demo_trace", "trace_events", "write_trace"]


@dataclass(frozen=True)
class TraceSection:
    """One process in the trace: its calls, and the model's spans as (label, start, end) in the
    same clock as the results' ``started_at``."""

    name: str
    results: Sequence[ToolResult]
    model_spans: Sequence[tuple[str, float, float]] = field(default=())


def check_writable(path: str | None, flag: str) -> None:
    """Refuse an output path whose directory is missing or read-only, before any work starts."""
    if path is None:
        return
    directory = Path(path).parent
    if not directory.is_dir():
        raise UserError(f"{flag} {path}: the directory {str(directory)!r} does not exist.")
    if not os.access(directory, os.W_OK):
        raise UserError(f"{flag} {path}: the directory {str(directory)!r} is not writable.")


def trace_events(sections: Sequence[TraceSection]) -> dict[str, Any]:
    """The trace as a JSON-ready mapping (``{"traceEvents": [...]}``)."""
    events: list[dict[str, Any]] = []
    for pid, section in enumerate(sections, start=1):
        times = [r.queued_at for r in section.results] + [s[1] for s in section.model_spans]
        zero = min(times, default=0.0)

        def us(t: float, zero: float = zero) -> float:
            return round((t - zero) * 1e6, 1)

        events.append(_meta("process_name", pid, 0, section.name))
        if section.model_spans:
            events.append(_meta("thread_name", pid, 0, "model"))
        for label, start, end in section.model_spans:
            events.append(_span(label, "model", pid, 0, us(start), us(end)))
        for tid, result in enumerate(section.results, start=1):
            events.append(_meta("thread_name", pid, tid, f"{result.name} {result.call_id}"))
            if result.started_at > result.queued_at:
                events.append(
                    _span("queued", "queue", pid, tid, us(result.queued_at), us(result.started_at))
                )
            span = _span(result.name, "tool", pid, tid, us(result.started_at), us(result.ended_at))
            span["args"] = {"call_id": result.call_id, "status": result.status}
            events.append(span)
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_trace(path: str | Path, sections: Sequence[TraceSection]) -> Path:
    target = Path(path)
    target.write_text(json.dumps(trace_events(sections)), encoding="utf-8")
    return target


def demo_trace(report: DemoReport) -> list[TraceSection]:
    """The demo's two runs; the streamed first turn is a span on the model track."""
    spans: list[tuple[str, float, float]] = []
    if report.first_turn is not None:
        turn = report.first_turn
        spans.append(("model writing (streamed)", turn.started_at, turn.model_ended_at))
    if report.mode == "serial":
        return [
            TraceSection("parallel tool calls off (tool time)", report.sequential),
            TraceSection("parallel tool calls on, first turn", report.parallel),
        ]
    return [
        TraceSection("one after another", report.sequential),
        TraceSection("all at once, as written", report.parallel, spans),
    ]


def _meta(kind: str, pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}


def _span(name: str, cat: str, pid: int, tid: int, start: float, end: float) -> dict[str, Any]:
    return {
        "name": name,
        "cat": cat,
        "ph": "X",
        "pid": pid,
        "tid": tid,
        "ts": start,
        "dur": max(0.0, round(end - start, 1)),
    }
