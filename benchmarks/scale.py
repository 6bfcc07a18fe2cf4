"""Scale benchmark: run_many / toolvolley batch against its ideal, memory, and Ray's overhead.

    python benchmarks/scale.py --json   # 1,000 and 10,000 conversations, Ray: a few minutes
    python benchmarks/scale.py --conversations 20 --concurrency 5 --calls 2 --no-ray

See ``toolvolley.bench._scale`` for what is measured. ``--many-conversations`` and
``--many-concurrency`` default to ten times ``--conversations`` and ``--concurrency``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolvolley.bench._scale import run_scale_benchmark


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000, help="batch: conversations")
    parser.add_argument("--concurrency", type=int, default=100, help="batch: at once")
    parser.add_argument("--calls", type=int, default=3, help="parallel tool calls each")
    parser.add_argument("--many-conversations", type=int, help="default 10x --conversations")
    parser.add_argument("--many-concurrency", type=int, help="default 10x --concurrency")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds each tool call takes")
    parser.add_argument("--token-rate", type=float, default=50.0, help="offline model tokens/s")
    parser.add_argument("--first-token", type=float, default=0.2, help="seconds to first token")
    parser.add_argument("--ray-calls", type=int, default=200, help="Ray: calls per round")
    parser.add_argument("--repeat", type=int, default=5, help="Ray: rounds (median)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray figures")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default)")
    args = parser.parse_args(argv)
    report = run_scale_benchmark(
        conversations=args.conversations,
        concurrency=args.concurrency,
        calls=args.calls,
        many_conversations=args.many_conversations or 10 * args.conversations,
        many_concurrency=args.many_concurrency or 10 * args.concurrency,
        latency=args.latency,
        token_rate=args.token_rate,
        first_token_s=args.first_token,
        ray=not args.no_ray,
        ray_calls=args.ray_calls,
        repeat=args.repeat,
        progress=lambda step: print(f"  {step}", file=sys.stderr),
    )
    report["command"] = "python benchmarks/scale.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
