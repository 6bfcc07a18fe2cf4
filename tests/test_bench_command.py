"""`toolvolley bench` run in-process with tiny scenarios; its JSON, chart and timeline checked."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from toolvolley.bench import streaming_scenarios
from toolvolley.cli.app import app

SVG = "{http://www.w3.org/2000/svg}"


def test_bench_json_chart_and_timeline(tmp_path: Path) -> None:
    chart, timeline = tmp_path / "sweep.svg", tmp_path / "timeline.svg"
    args = [
        "bench", "--json", "--repeat", "1", "--scale", "0.002", "--only", "ACD",
        "--token-rate", "5000", "--first-token", "0",
        "--plot", str(chart), "--sweep-latency", "0.002", "--max-calls", "5",
        "--timeline", str(timeline),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(report) == ["executor", "streaming", "sweep"]
    assert sorted(report["executor"]["scenarios"]) == ["A", "C", "D"]
    for key in "AC":
        variants = report["executor"]["scenarios"][key]["variants"]
        assert {"toolvolley_parallel", "toolvolley_serial", "textbook_gather"} <= set(variants)
    names = [row["scenario"] for row in report["streaming"]["scenarios"]]
    assert names == [s.name for s in streaming_scenarios()]
    assert len(names) == 11  # 9 in Chat Completions, 1 in Gemini, 1 in Converse
    points = report["sweep"]["points"]
    assert {(p["kind"], p["variant"]) for p in points} == {
        (kind, variant)
        for kind in ("async", "sync", "cpu")
        for variant in ("toolvolley_parallel", "toolvolley_serial", "textbook_gather")
    }
    assert sorted({p["calls"] for p in points}) == [1, 2, 5]
    series = [
        e for e in ET.parse(chart).getroot().iter(f"{SVG}polyline") if e.get("class") == "series"
    ]
    assert len(series) == 2 * 9  # two panels, nine lines each
    bars = [r for r in ET.parse(timeline).getroot().iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 6  # scenario A's three calls, serial and parallel


def test_bench_without_anything_to_run_prints_nothing_much() -> None:
    result = CliRunner().invoke(app, ["bench", "--only", "", "--no-streaming", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {}


def test_bad_options_are_one_line_before_any_work(tmp_path: Path) -> None:
    for args in (
        ["--repeat", "0"],
        ["--trace", str(tmp_path / "no" / "x.json")],
        ["--scale", "0"],
        ["--token-rate", "0"],
        ["--first-token", "-1"],
    ):
        result = CliRunner().invoke(app, ["bench", "--only", "A", *args])
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error:")
    result = CliRunner().invoke(app, ["bench", "--help"], env={"COLUMNS": "200"})
    flags = [line for line in result.stdout.splitlines() if "--json" in line or "--serial" in line]
    assert flags
    assert not [line for line in flags if "<bool>" in line]  # --json, not --json <bool>


def test_bench_plans_runs_the_plans_benchmark() -> None:
    args = [
        "bench", "--plans", "--only", "", "--no-streaming", "--repeat", "1", "--scale", "0.002",
        "--token-rate", "5000", "--first-token", "0",
    ]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)["plans"]
    assert sorted(plans) == ["hedging", "hedging_stragglers", "plans", "references", "retries"]
    assert (plans["plans"]["flat_turns"], plans["plans"]["planned_turns"]) == (3, 2)
    assert plans["hedging"]["calls"] == 20
    shown = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "2% stragglers" in shown.stdout
    assert "Capitals task: flat" in shown.stdout


def test_bench_journal_reports_the_journal_s_cost_per_batch() -> None:
    args = ["bench", "--only", "", "--no-streaming", "--journal", "--repeat", "1", "--json"]
    result = CliRunner().invoke(app, [*args, "--scale", "0.02"])
    assert result.exit_code == 0, result.output
    journal = json.loads(result.stdout)["journal"]
    large, small = journal["large_batch"], journal["small_batches"]
    assert large["calls_per_batch"] == 20
    assert small["calls_per_batch"] == 4
    for row in (large, small):
        assert set(row["ms_per_batch"]) == {"off", "sqlite"}
        assert all(v > 0 for v in row["us_per_call"].values())
    seed = journal["seed_exercise"]  # the three-city demo end to end, off and on
    assert set(seed["over_off"]) == {"off", "sqlite"}
    assert all(v > 0 for v in seed["end_to_end_s"].values())
