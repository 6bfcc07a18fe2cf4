"""MCP benchmark: toolvolley over an MCP session against the MCP SDK's own ClientSession.

    python benchmarks/mcp_bench.py --json   # 64 calls of 0.5 s, median of 5: about a minute
    python benchmarks/mcp_bench.py --calls 8 --latency 0.05 --repeat 1

See ``toolvolley.bench._mcp`` for what is measured. Needs the ``mcp`` extra. (Not called
``mcp.py``: a script of that name shadows the MCP SDK, for itself and for mypy.)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolvolley.bench import run_mcp_benchmark


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--calls", type=int, default=64, help="calls in the batch")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds each call sleeps")
    parser.add_argument("--noops", type=int, default=200, help="calls for the overhead figures")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default)")
    args = parser.parse_args(argv)
    report = run_mcp_benchmark(
        repeat=args.repeat,
        calls=args.calls,
        latency=args.latency,
        noops=args.noops,
        progress=lambda step: print(f"  {step}", file=sys.stderr),
    )
    report["command"] = "python benchmarks/mcp_bench.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
