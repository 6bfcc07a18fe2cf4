"""``toolvolley demo --plan`` in-process: the capitals exercise flat (three model turns) and
planned with references (two turns), checked on the calls' timestamps, not on timings."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from toolvolley.cli.app import app

FAST = ["--latency", "0.05", "--jitter", "0", "--token-rate", "5000", "--first-token", "0"]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["demo", "--plan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_flat_takes_three_turns_and_planned_two_with_references() -> None:
    code, stdout, stderr = _run("--json", *FAST)
    assert code == 0, stderr
    report: dict[str, Any] = json.loads(stdout)
    flat, planned = report["flat"], report["planned"]
    assert flat["calls_per_turn"] == [3, 3, 0]
    assert planned["calls_per_turn"] == [6, 0]
    assert [json.loads(c["arguments"]) for c in planned["calls"]] == [
        {"country": "France"},
        {"country": "Japan"},
        {"country": "Peru"},
        {"city": "$1.capital"},
        {"city": "$2.capital"},
        {"city": "$3.capital"},
    ]
    cities = [json.loads(c["content"])["city"] for c in planned["calls"][3:]]
    assert cities == ["Paris", "Tokyo", "Lima"]  # the references were resolved
    assert [json.loads(c["arguments"]) for c in flat["calls"][3:]] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
        {"city": "Lima"},
    ]
    # Each figure is rounded on its own; compare within that rounding.
    rounding = report["speedup"] * (0.00005 / report["flat_s"] + 0.00005 / report["planned_s"])
    assert abs(report["speedup"] - report["flat_s"] / report["planned_s"]) <= rounding + 0.0005


def test_each_planned_weather_call_starts_after_its_own_capital_ended() -> None:
    code, stdout, stderr = _run("--json", *FAST)
    assert code == 0, stderr
    report = json.loads(stdout)
    calls = report["planned"]["calls"]
    assert {c["turn"] for c in calls} == {1}  # one response, one batch
    for capital, weather in zip(calls[:3], calls[3:], strict=True):
        assert weather["started_s"] >= capital["ended_s"]
    # flat: the weather calls come in the next turn, after every capital
    flat = report["flat"]["calls"]
    assert min(c["started_s"] for c in flat[3:]) >= max(c["ended_s"] for c in flat[:3])
    assert {c["turn"] for c in flat[3:]} == {2}


def test_human_output_shows_both_conversations_and_the_planned_timeline() -> None:
    code, stdout, stderr = _run(*FAST)
    assert code == 0, stderr
    assert "Flat: 3 model turns" in stdout
    assert "Planned: 2 model turns" in stdout
    assert 'get_weather(city="$1.capital")' in stdout
    assert "Speedup" in stdout
    assert "get_weather($3.capital)" in stdout  # a bar in the planned timeline
    assert "model turn 2" in stdout


def test_an_unknown_country_is_a_failed_call_and_a_non_zero_exit() -> None:
    prompt = "What's the weather in the capitals of France and Atlantis?"
    code, stdout, stderr = _run("--json", "--prompt", prompt, *FAST)
    assert code == 1
    report = json.loads(stdout)
    planned = report["planned"]["calls"]
    assert [c["status"] for c in planned] == ["ok", "error", "ok", "error"]
    assert "did not succeed" in planned[3]["content"]  # the reference to the failed look-up
    assert report["flat"]["calls_per_turn"] == [2, 1, 0]  # no weather for Atlantis
    assert "failed:" in stderr
