"""Benchmarks that ``toolvolley bench`` and the scripts in ``benchmarks/`` run."""

from ._streaming import StreamingScenario, run_streaming_benchmark, streaming_scenarios

__all__ = ["StreamingScenario", "run_streaming_benchmark", "streaming_scenarios"]
