"""The executor benchmark runs end to end in miniature (figures are not checked here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "executor.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("executor_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_report_has_every_scenario_and_variant() -> None:
    report = _load().main(["--scale", "0.002", "--repeat", "1", "--noops", "20"])
    scenarios = report["scenarios"]
    assert sorted(scenarios) == ["A", "B", "C", "D", "E"]
    for key in "ABCE":
        variants = scenarios[key]["variants"]
        assert {"toolvolley_parallel", "toolvolley_serial", "textbook_gather"} <= set(variants)
        assert all(v["wall_s"] > 0 for v in variants.values())
    assert "bare_gather_floor" in scenarios["A"]["variants"]
    assert "bare_gather_floor" not in scenarios["B"]["variants"]
    assert set(scenarios["D"]["us_per_call"]) == {
        "bare_gather",
        "textbook_gather",
        "toolvolley_parallel",
    }
