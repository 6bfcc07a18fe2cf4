"""Streaming benchmark: early dispatch vs executing after the stream, and the lower bound.

    python benchmarks/streaming.py               # about 2 minutes; prints a JSON report
    python benchmarks/streaming.py --scale 0.2   # every tool latency five times shorter

See ``toolvolley.bench._streaming`` for what is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolvolley.bench import run_streaming_benchmark


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every tool latency")
    parser.add_argument("--token-rate", type=float, default=50.0, help="offline model tokens/s")
    args = parser.parse_args(argv)
    return run_streaming_benchmark(
        repeat=args.repeat,
        scale=args.scale,
        token_rate=args.token_rate,
        progress=lambda name: print(f"  {name}", file=sys.stderr),
    )


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
