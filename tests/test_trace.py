"""``--trace FILE.json`` on demo and bench: the Chrome trace-event format, a track per call."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from toolvolley._cli import app

FAST = ["--latency", "0.2", "--jitter", "0", "--token-rate", "5000", "--first-token", "0"]


def _tracks(trace: dict[str, Any]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for e in trace["traceEvents"]:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names.setdefault(e["pid"], []).append(e["args"]["name"])
    return names


def test_demo_trace_has_a_track_per_call_and_the_models_stream(tmp_path: Path) -> None:
    path = tmp_path / "demo.json"
    result = CliRunner().invoke(app, ["demo", *FAST, "--trace", str(path)])
    assert result.exit_code == 0, result.output
    trace = json.loads(path.read_text())
    tracks = _tracks(trace)
    assert len(tracks[1]) == 3  # one after another: a track per call
    assert tracks[2][0] == "model"  # all at once: the model's streamed turn, then the calls
    assert len(tracks[2]) == 4
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    tool_spans = Counter((e["pid"], e["tid"]) for e in spans if e["cat"] == "tool")
    assert sorted(tool_spans) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    (model,) = [e for e in spans if e["cat"] == "model"]
    parallel_starts = [e["ts"] for e in spans if e["cat"] == "tool" and e["pid"] == 2]
    # Calls start while the model is still writing (early dispatch), as the trace shows.
    assert min(parallel_starts) < model["ts"] + model["dur"]
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans)


def test_bench_trace_has_scenario_a_each_way(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    args = ["bench", "--repeat", "1", "--scale", "0.002", "--only", "A", "--no-streaming"]
    result = CliRunner().invoke(app, [*args, "--json", "--trace", str(path)])
    assert result.exit_code == 0, result.output
    tracks = _tracks(json.loads(path.read_text()))
    assert [len(t) for t in tracks.values()] == [3, 3]
