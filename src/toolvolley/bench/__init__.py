"""Benchmarks that ``toolvolley bench`` and the scripts in ``benchmarks/`` run."""

from ._executor import run_executor_benchmark, run_sweep
from ._journal import run_journal_benchmark
from ._mcp import run_mcp_benchmark
from ._plans import run_plans_benchmark
from ._streaming import StreamingScenario, run_streaming_benchmark, streaming_scenarios

__all__ = [
    "StreamingScenario",
    "run_executor_benchmark",
    "run_journal_benchmark",
    "run_mcp_benchmark",
    "run_plans_benchmark",
    "run_streaming_benchmark",
    "run_sweep",
    "streaming_scenarios",
]
