"""The executor benchmark runs end to end in miniature (figures are not checked here)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

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


def _load_script(name: str) -> ModuleType:
    path = SCRIPT.with_name(name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_mcp_benchmark_report_has_both_transports_and_the_overheads() -> None:
    args = ["--calls", "4", "--latency", "0.01", "--repeat", "1", "--noops", "5"]
    report = _load_script("mcp_bench.py").main(args)
    for transport in ("stdio", "http"):
        row = report[transport]
        assert set(row) == {"wall_s", "ideal_s", "efficiency", "bare_sdk_wall_s", "ratio_to_bare"}
        assert row["ideal_s"] == 0.01
        assert row["wall_s"] >= 0.01
        assert row["bare_sdk_wall_s"] >= 0.01
    assert set(report["overhead_us_per_call"]) == {"mcp", "python"}
    assert report["command"].startswith("python benchmarks/mcp_bench.py")


def test_bench_command_runs_the_mcp_benchmark_when_asked() -> None:
    from typer.testing import CliRunner

    from toolvolley.cli.app import app

    args = ["bench", "--only", "", "--no-streaming", "--mcp", "--repeat", "1", "--scale", "0.02"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "MCP: 64 calls of 0.01 s" in result.stdout
    assert "stdio" in result.stdout
    assert "http" in result.stdout


def test_scale_benchmark_report_has_its_ratios_in_miniature() -> None:
    args = ["--conversations", "6", "--concurrency", "3", "--calls", "2", "--latency", "0.01"]
    args += ["--token-rate", "20000", "--first-token", "0", "--many-conversations", "12"]
    report = _load_script("scale.py").main([*args, "--no-ray"])
    batch = report["batch"]
    assert batch["conversations"] == 6
    assert batch["concurrency"] == 3
    assert batch["failed"] == 0
    assert batch["ideal_s"] == round(2 * batch["one_conversation_s"], 3)  # two waves
    # The report rounds to milliseconds; at these tiny sizes that rounding is most of the error.
    rounding = batch["ratio"] * (0.0005 / batch["wall_s"] + 0.0005 / batch["ideal_s"]) + 0.001
    assert abs(batch["ratio"] - batch["wall_s"] / batch["ideal_s"]) <= rounding
    many = report["many"]
    assert many["conversations"] == 12
    assert many["concurrency"] == 30  # ten times --concurrency unless given
    assert many["failed"] == 0
    assert many["peak_rss_mb"] >= many["peak_rss_mb_before"] > 0
    assert "ray" not in report
    assert report["calls_per_conversation"] == 2
    assert report["command"].startswith("python benchmarks/scale.py --conversations 6")


SCRIPTS = sorted(SCRIPT.parent.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_every_benchmark_script_takes_json(script: Path) -> None:
    # Checks outside the repository run `python benchmarks/<name>.py --json`: each script
    # accepts it (JSON is what they all print), rather than failing on an unknown argument.
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--json" in done.stdout
