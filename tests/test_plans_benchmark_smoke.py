"""The plans benchmark runs end to end in miniature (figures are not checked here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "plans.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plans_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_plans_report_has_every_figure() -> None:
    fast_plans = ["--plan-latency", "0.01", "--plan-token-rate", "5000", "--plan-first-token", "0"]
    small = ["--calls", "40", "--median", "0.001", "--pairs", "5", "--plan-runs", "1"]
    report = _load().main([*small, *fast_plans, "--plan-sweep", "0.001,0"])
    for scenario in ("hedging", "hedging_stragglers"):
        hedging = report[scenario]
        assert set(hedging) >= {"p99_plain_s", "p99_hedged_s", "p99_ratio_bound"}
        # the window is the measured batch: at most 5 % of its own calls, as the bound assumes
        assert 0 <= hedging["extra_calls_share"] <= 0.05
        assert hedging["p99_ratio_bound"] >= 1
    assert 0 <= report["retries"]["success_share"] <= 1
    assert report["references"]["ready_to_start_p99_ms"] >= 0
    plans = report["plans"]
    assert (plans["flat_turns"], plans["planned_turns"]) == (3, 2)
    assert plans["flat_s"] > 0
    assert plans["planned_s"] > 0
    assert abs(plans["speedup"] - plans["flat_s"] / plans["planned_s"]) < 0.01
    assert [p["first_token_s"] for p in report["plans_sweep"]] == [0.001, 0]
    assert report["command"].endswith("--plan-sweep 0.001,0")


def test_plans_benchmark_refuses_counts_and_seconds_it_cannot_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for bad in (["--calls", "0"], ["--plan-runs", "0"], ["--median", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            _load().main(bad)
        assert exit_info.value.code == 2
        assert "error:" in capsys.readouterr().err
