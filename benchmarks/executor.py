"""Executor benchmark: toolvolley parallel and serial against the textbook gather code.

Prints one JSON report, every figure measured in this run (median of ``--repeat`` runs)::

    python benchmarks/executor.py                 # the full run, about 6 minutes
    python benchmarks/executor.py --scale 0.1     # every latency ten times shorter

The scenarios are described in ``toolvolley.bench._executor``; ``toolvolley bench`` runs them
too, with the streaming scenarios, a progress bar and an optional chart.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolvolley.bench import run_executor_benchmark


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every latency")
    parser.add_argument("--noops", type=int, default=1000, help="calls in scenario D")
    parser.add_argument("--only", default="ABCDE", help="scenario letters to run")
    args = parser.parse_args(argv)
    report = run_executor_benchmark(
        repeat=args.repeat,
        scale=args.scale,
        noops=args.noops,
        only=args.only,
        progress=lambda step: print(f"  {step}", file=sys.stderr),
    )
    report["command"] = "python benchmarks/executor.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
