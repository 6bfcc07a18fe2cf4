"""``--trace FILE.json`` on demo and bench: the Chrome trace-event format, a track per call, every
model turn a span with its stream inside it."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from toolvolley import ToolCall, ToolResult
from toolvolley._events import CallReady, TextDelta, TurnEvent, TurnFinished, TurnStats
from toolvolley.cli.app import app
from toolvolley.observe._trace import StreamRecorder, TraceSection, TraceTurn, trace_events

FAST = ["--latency", "0.2", "--jitter", "0", "--token-rate", "5000", "--first-token", "0"]
METADATA = {"process_name", "thread_name", "process_sort_index", "thread_sort_index"}
SLACK_US = 0.2  # ts and dur are each rounded to 0.1 µs


def check_schema(trace: dict[str, Any]) -> None:
    """What Perfetto's and chrome://tracing's JSON importers read: ``traceEvents``, each event
    complete ("X", ts and dur in µs), instant ("i", thread scope) or metadata ("M"), every track
    and process named, and spans on one track either apart or nested, never crossing."""
    json.loads(json.dumps(trace, allow_nan=False))  # strict JSON: no NaN, no infinities
    events = trace["traceEvents"]
    assert isinstance(events, list)
    assert events
    named_threads, named_processes, used = set(), set(), set()
    for e in events:
        assert isinstance(e["name"], str)
        assert e["name"]
        assert isinstance(e["pid"], int)
        assert isinstance(e["tid"], int)
        assert e["ph"] in ("X", "i", "M"), e
        if e["ph"] == "M":
            assert e["name"] in METADATA
            key = "sort_index" if e["name"].endswith("sort_index") else "name"
            assert key in e["args"]
            if e["name"] == "thread_name":
                named_threads.add((e["pid"], e["tid"]))
            if e["name"] == "process_name":
                named_processes.add(e["pid"])
            continue
        assert isinstance(e["ts"], float | int)
        assert e["ts"] >= 0
        used.add((e["pid"], e["tid"]))
        if e["ph"] == "X":
            assert isinstance(e["dur"], float | int)
            assert e["dur"] >= 0
        else:
            assert e["s"] == "t"
    assert used <= named_threads
    assert {pid for pid, _ in named_threads} <= named_processes
    assert not crossing(events)


def crossing(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of spans on one track that overlap without one holding the other."""
    tracks: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            tracks[e["pid"], e["tid"]].append(e)
    bad = []
    for spans in tracks.values():
        open_: list[dict[str, Any]] = []  # the spans holding the current one, outermost first
        for span in sorted(spans, key=lambda e: (e["ts"], -e["dur"])):
            while open_ and open_[-1]["ts"] + open_[-1]["dur"] <= span["ts"] + SLACK_US:
                open_.pop()
            if open_ and span["ts"] + span["dur"] > open_[-1]["ts"] + open_[-1]["dur"] + SLACK_US:
                bad.append((open_[-1]["name"], span["name"]))
            open_.append(span)
    return bad


def by_process(trace: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each process's name, its model-turn spans, tool spans, instants and track names."""
    out: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"name": "", "turns": [], "tools": [], "instants": [], "tracks": {}}
    )
    for e in trace["traceEvents"]:
        p = out[e["pid"]]
        if e["ph"] == "M" and e["name"] == "process_name":
            p["name"] = e["args"]["name"]
        elif e["ph"] == "M" and e["name"] == "thread_name":
            p["tracks"][e["tid"]] = e["args"]["name"]
        elif e["ph"] == "X" and e["cat"] == "model" and e["name"].startswith("model turn"):
            p["turns"].append(e)
        elif e["ph"] == "X" and e["cat"] == "tool":
            p["tools"].append(e)
        elif e["ph"] == "i":
            p["instants"].append(e)
    return dict(out)


def check_conversation(process: dict[str, Any], model_turns: int) -> None:
    """Every model turn a span on track 0, in order; every call one span on a track of its own,
    starting after its turn's model span started and after its arguments were complete."""
    turns = process["turns"]
    assert [t["args"]["turn"] for t in turns] == list(range(1, model_turns + 1))
    assert {t["tid"] for t in turns} == {0}
    assert process["tracks"][0] == "model"
    for earlier, later in itertools.pairwise(turns):
        assert earlier["ts"] + earlier["dur"] <= later["ts"]
    tools = process["tools"]
    assert sorted(t["tid"] for t in tools) == sorted(tid for tid in process["tracks"] if tid)
    assert len({t["args"]["call_id"] for t in tools}) == len(tools)  # one span per call
    ready = ready_times(process)
    for call in tools:
        turn = turns[call["args"]["turn"] - 1]
        assert call["ts"] >= turn["ts"]
        assert turn["args"]["calls"] == sum(
            c["args"]["turn"] == turn["args"]["turn"] for c in tools
        )
        assert call["args"]["status"] == "ok"
        assert json.loads(call["args"]["arguments"])["city"]
        if turn["args"]["streamed"]:
            assert turn["ts"] <= ready[call["args"]["call_id"]] <= call["ts"] + SLACK_US
    first_outputs = [i for i in process["instants"] if i["name"] == "first output"]
    assert len(first_outputs) == model_turns  # every turn streamed something
    for turn, first in zip(turns, first_outputs, strict=True):
        assert turn["ts"] <= first["ts"] <= turn["ts"] + turn["dur"] + SLACK_US


def ready_times(process: dict[str, Any]) -> dict[str, float]:
    """When each call's arguments were complete: its instant on the model track."""
    return {
        i["args"]["call_id"]: i["ts"] for i in process["instants"] if "call_id" in i.get("args", {})
    }


def demo(tmp_path: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    path = tmp_path / "demo.json"
    result = CliRunner().invoke(app, ["demo", *FAST, *args, "--json", "--trace", str(path)])
    assert result.exit_code == 0, result.output
    trace = json.loads(path.read_text())
    check_schema(trace)
    return json.loads(result.stdout), trace


def test_demo_trace_has_every_turn_of_the_conversation_and_both_runs(tmp_path: Path) -> None:
    report, trace = demo(tmp_path)
    processes = by_process(trace)
    assert sorted(processes) == [1, 2]
    ids = [c["id"] for c in report["calls"]]
    # 1: the first turn's calls one after another: no model, a track and a span per call.
    sequential = processes[1]
    assert sequential["turns"] == []
    assert 0 not in sequential["tracks"]
    assert sorted(t["args"]["call_id"] for t in sequential["tools"]) == sorted(ids)
    spans = sorted(sequential["tools"], key=lambda e: e["ts"])
    for before, after in itertools.pairwise(spans):
        assert before["ts"] + before["dur"] <= after["ts"] + SLACK_US
    # 2: the conversation: the streamed first turn with its calls, then the follow-up turns.
    conversation = processes[2]
    assert report["model_turns"] >= 2
    check_conversation(conversation, report["model_turns"])
    assert sorted(t["args"]["call_id"] for t in conversation["tools"]) == sorted(ids)
    first = conversation["turns"][0]
    # Calls start while the model is still writing (early dispatch), as the trace shows.
    assert min(t["ts"] for t in conversation["tools"]) < first["ts"] + first["dur"]
    assert "Seoul" in conversation["turns"][-1]["args"]["text"]  # the final answer's turn


def test_demo_serial_trace_has_both_conversations_turn_by_turn(tmp_path: Path) -> None:
    report, trace = demo(tmp_path, "--serial")
    processes = by_process(trace)
    assert sorted(processes) == [1, 2]
    serial, comparison = processes[1], processes[2]
    assert "parallel tool calls off" in serial["name"]
    check_conversation(serial, report["model_turns"])
    assert sorted(t["args"]["call_id"] for t in serial["tools"]) == sorted(
        c["id"] for c in report["calls"]
    )
    # one call per model turn, each turn after the one before had its result
    assert [t["args"]["turn"] for t in sorted(serial["tools"], key=lambda e: e["ts"])] == [1, 2, 3]
    check_conversation(comparison, report["parallel_conversation_turns"])
    assert [t["args"]["turn"] for t in comparison["tools"]] == [1, 1, 1]


def test_the_trace_is_in_microseconds_from_the_sections_first_event() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Seoul"}')
    result = ToolResult(
        "call_1", "get_weather", "ok", "sunny", queued_at=10.2, started_at=10.25, ended_at=11.0
    )
    stats = TurnStats(
        index=0,
        calls=1,
        model_s=0.5,
        tools_s=0.75,
        tool_calls=(call,),
        results=(result,),
        started_at=10.0,
        model_ended_at=10.5,
        streamed=True,
    )
    turn = TraceTurn(stats, first_output_at=10.1, ready_at={"call_1": 10.2})
    trace = trace_events([TraceSection("one turn", turns=[turn])])
    check_schema(trace)
    timed = {
        (e["name"], e["tid"]): (e["ts"], e.get("dur"))
        for e in trace["traceEvents"]
        if e["ph"] != "M"
    }
    assert timed["model turn 1", 0] == (0.0, 500000.0)
    assert timed["streaming", 0] == (100000.0, 400000.0)
    assert timed["first output", 0] == (100000.0, None)
    assert timed["arguments complete: get_weather", 0] == (200000.0, None)
    assert timed["queued", 1] == (200000.0, 50000.0)
    assert timed["get_weather", 1] == (250000.0, 750000.0)
    (span,) = [e for e in trace["traceEvents"] if e["name"] == "get_weather"]
    assert span["args"] == {
        "call_id": "call_1",
        "status": "ok",
        "arguments": '{"city": "Seoul"}',
        "content": "sunny",
        "turn": 1,
    }


def test_the_overlap_check_catches_crossing_spans() -> None:
    def span(name: str, ts: float, dur: float) -> dict[str, Any]:
        return {"name": name, "ph": "X", "pid": 1, "tid": 0, "ts": ts, "dur": dur}

    assert crossing([span("a", 0, 10), span("nested", 2, 8), span("after", 10, 5)]) == []
    assert crossing([span("a", 0, 10), span("b", 5, 10)]) == [("a", "b")]


def test_the_recorder_keeps_each_turns_first_output_and_ready_calls() -> None:
    seen: list[TurnEvent] = []
    recorder = StreamRecorder(then=seen.append)
    call = ToolCall("c1", "t", "{}")
    stats = TurnStats(index=0, calls=1, model_s=1.0, tools_s=0.0)
    events: list[TurnEvent] = [
        CallReady(call, 5.0),
        TextDelta("x"),
        TurnFinished(stats),
        TurnFinished(stats),
    ]
    for event in events:
        recorder(event)
    assert seen == events
    assert [(t.first_output_at, dict(t.ready_at)) for t in recorder.turns] == [
        (5.0, {"c1": 5.0}),
        (None, {}),  # nothing carried over into the next turn
    ]


@pytest.mark.parametrize("streaming", [False, True])
def test_bench_trace_has_scenario_a_and_the_early_dispatch_runs(
    tmp_path: Path, streaming: bool
) -> None:
    path = tmp_path / "bench.json"
    args = ["bench", "--repeat", "1", "--scale", "0.002", "--only", "A"]
    args += ["--streaming", "--token-rate", "1000", "--first-token", "0"] if streaming else []
    args += [] if streaming else ["--no-streaming"]
    result = CliRunner().invoke(app, [*args, "--json", "--trace", str(path)])
    assert result.exit_code == 0, result.output
    trace = json.loads(path.read_text())
    check_schema(trace)
    processes = by_process(trace)
    assert [len(processes[pid]["tools"]) for pid in (1, 2)] == [3, 3]  # scenario A each way
    streamed = [p for pid, p in sorted(processes.items()) if pid > 2]
    if not streaming:
        assert streamed == []
        return
    scenarios = json.loads(result.stdout)["streaming"]["scenarios"]
    assert [p["name"] for p in streamed] == [
        f"streaming, early dispatch: {s['scenario']}" for s in scenarios
    ]
    for process, scenario in zip(streamed, scenarios, strict=True):
        assert len(process["tools"]) == scenario["calls"]
        check_conversation_shape(process)
        (turn,) = process["turns"]
        # the first call runs while the model is still writing the others
        assert min(t["ts"] for t in process["tools"]) < turn["ts"] + turn["dur"]


def check_conversation_shape(process: dict[str, Any]) -> None:
    (turn,) = process["turns"]
    ready = ready_times(process)
    assert sorted(ready) == sorted(t["args"]["call_id"] for t in process["tools"])
    for call in process["tools"]:
        assert turn["ts"] <= ready[call["args"]["call_id"]] <= call["ts"] + SLACK_US
