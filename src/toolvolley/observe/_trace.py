"""Timelines in the Chrome trace-event format (``chrome://tracing``, Perfetto, speedscope).

Each section (a run of calls, or a conversation) is a process. Its model turns are spans on a
``model`` track, with the stream inside them: a ``streaming`` span from the first output to the
end of the turn, and an instant where each call's arguments were complete. Each tool call is a
track of its own, with one complete (``"X"``) event from its start to its end (and a ``queued``
event before it when it waited). Times are microseconds from the section's first event.

::

    recorder = StreamRecorder()
    outcome = await run_loop(model, prompt, tools, on_event=recorder)
    write_trace("run.json", [TraceSection("conversation", turns=recorder.turns)])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._calls import ToolCall, ToolResult
from .._events import CallReady, TextDelta, TurnEvent, TurnFinished, TurnStats

__all__ = [
    "StreamRecorder",
    "TraceSection",
    "TraceTurn",
    "trace_events",
    "write_trace",
]

_SHOWN_CHARS = 500  # of a call's content or a turn's text, in the event's args


@dataclass(frozen=True)
class TraceTurn:
    """A model turn as the trace draws it: its stats (from ``run_turn``/``run_loop``), when the
    stream first delivered anything (text or a complete call), and when each call's arguments
    were complete, by call id. :class:`StreamRecorder` notes both."""

    stats: TurnStats
    first_output_at: float | None = None
    ready_at: Mapping[str, float] = field(default_factory=dict)


class StreamRecorder:
    """An ``on_event`` handler that keeps each finished turn with its stream's times::

        recorder = StreamRecorder()
        await run_loop(model, prompt, tools, on_event=recorder)
        recorder.turns  # one TraceTurn per model turn, in order

    ``then`` is called with every event as well.
    """

    def __init__(self, then: Callable[[TurnEvent], None] | None = None) -> None:
        self.turns: list[TraceTurn] = []
        self._then = then
        self._first: float | None = None
        self._ready: dict[str, float] = {}

    def __call__(self, event: TurnEvent) -> None:
        if isinstance(event, CallReady):
            self._ready[event.call.id] = event.at
            if self._first is None:
                self._first = event.at
        elif isinstance(event, TextDelta) and self._first is None:
            self._first = time.perf_counter()
        elif isinstance(event, TurnFinished):
            self.turns.append(TraceTurn(event.turn, self._first, dict(self._ready)))
            self._first, self._ready = None, {}
        if self._then is not None:
            self._then(event)


@dataclass(frozen=True)
class TraceSection:
    """One process in the trace: calls run on their own (``results``, with ``calls`` for their
    arguments), model turns with their calls (``turns``), and plain model spans as (label,
    start, end). All times on the ``time.perf_counter()`` clock of the results."""

    name: str
    results: Sequence[ToolResult] = ()
    model_spans: Sequence[tuple[str, float, float]] = ()
    turns: Sequence[TraceTurn] = ()
    calls: Sequence[ToolCall] = ()


def trace_events(sections: Sequence[TraceSection]) -> dict[str, Any]:
    """The trace as a JSON-ready mapping (``{"traceEvents": [...]}``)."""
    events: list[dict[str, Any]] = []
    for pid, section in enumerate(sections, start=1):
        events += _section(pid, section)
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_trace(path: str | Path, sections: Sequence[TraceSection]) -> Path:
    target = Path(path)
    target.write_text(json.dumps(trace_events(sections)), encoding="utf-8")
    return target


def _section(pid: int, section: TraceSection) -> list[dict[str, Any]]:
    turns = [t.stats for t in section.turns]
    times = [r.queued_at for r in section.results]
    times += [s[1] for s in section.model_spans] + [t.started_at for t in turns]
    times += [r.queued_at for t in turns for r in t.results]
    zero = min(times, default=0.0)

    def us(t: float) -> float:
        return round((t - zero) * 1e6, 1)

    events = [_meta("process_name", pid, 0, section.name), _meta("process_sort_index", pid, 0, pid)]
    if section.model_spans or section.turns:
        events += [_meta("thread_name", pid, 0, "model"), _meta("thread_sort_index", pid, 0, 0)]
    for label, start, end in section.model_spans:
        events.append(_span(label, "model", pid, 0, us(start), us(end)))
    tid = 0
    calls = {c.id: c for c in section.calls}
    for result in section.results:
        tid += 1
        events += _call(pid, tid, result, calls.get(result.call_id), None, "", us)
    for number, turn in enumerate(section.turns, start=1):
        events += _turn(pid, number, turn, us)
        calls = {c.id: c for c in turn.stats.tool_calls}
        for result in turn.stats.results:
            tid += 1
            prefix = f"turn {number} · " if len(section.turns) > 1 else ""
            events += _call(pid, tid, result, calls.get(result.call_id), number, prefix, us)
    return events


def _turn(
    pid: int, number: int, turn: TraceTurn, us: Callable[[float], float]
) -> list[dict[str, Any]]:
    """The turn's span on the model track, its streaming span and the instants inside it."""
    stats = turn.stats
    start, end = us(stats.started_at), us(stats.model_ended_at)
    span = _span(f"model turn {number}", "model", pid, 0, start, end)
    span["args"] = {
        "turn": number,
        "streamed": stats.streamed,
        "calls": stats.calls,
        "text": stats.text[:_SHOWN_CHARS],
        "stream_error": None if stats.stream_error is None else str(stats.stream_error),
    }
    events = [span]
    if turn.first_output_at is not None:
        first = min(max(us(turn.first_output_at), start), end)
        events.append(_span("streaming", "model", pid, 0, first, end))
        events.append(_instant("first output", "stream", pid, 0, first))
    for call in stats.tool_calls:
        if call.id in turn.ready_at:
            at = min(max(us(turn.ready_at[call.id]), start), end)
            ready = _instant(f"arguments complete: {call.name}", "stream", pid, 0, at)
            ready["args"] = {"call_id": call.id, "arguments": call.arguments}
            if call.caller is not None:
                ready["args"]["caller"] = dict(call.caller)
            events.append(ready)
    return events


def _call(
    pid: int,
    tid: int,
    result: ToolResult,
    call: ToolCall | None,
    turn: int | None,
    prefix: str,
    us: Callable[[float], float],
) -> list[dict[str, Any]]:
    """A call's track: its name (saying so if code made the call), a ``queued`` span when it
    waited, then its one span."""
    by_code = call is not None and call.by_code
    label = f"{prefix}{result.name} {result.call_id}{' (from code)' if by_code else ''}"
    events = [
        _meta("thread_name", pid, tid, label),
        _meta("thread_sort_index", pid, tid, tid),
    ]
    if result.started_at > result.queued_at:
        events.append(
            _span("queued", "queue", pid, tid, us(result.queued_at), us(result.started_at))
        )
    span = _span(result.name, "tool", pid, tid, us(result.started_at), us(result.ended_at))
    span["args"] = {
        "call_id": result.call_id,
        "status": result.status,
        "arguments": None if call is None else call.arguments,
        "content": result.content[:_SHOWN_CHARS],
    }
    if call is not None and call.caller is not None:
        span["args"]["caller"] = dict(call.caller)
    if turn is not None:
        span["args"]["turn"] = turn
    events.append(span)
    return events


def _meta(kind: str, pid: int, tid: int, value: str | int) -> dict[str, Any]:
    key = "sort_index" if kind.endswith("sort_index") else "name"
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid, "args": {key: value}}


def _instant(name: str, cat: str, pid: int, tid: int, at: float) -> dict[str, Any]:
    return {"name": name, "cat": cat, "ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": at}


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
