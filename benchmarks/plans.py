"""Plans benchmark: hedged calls, retries and references, each figure measured in this run.

::

    python benchmarks/plans.py --json                          # about a minute
    python benchmarks/plans.py --calls 50 --json               # a quick look
    python benchmarks/plans.py --plan-sweep 0.5,1,2 --json     # the capitals task, slower turns

See ``toolvolley.bench._plans`` for what is measured; ``toolvolley bench --plans`` runs the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolvolley import UserError
from toolvolley.bench import run_plans_benchmark


def _seconds_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from None
    if any(not v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"seconds must be >= 0: {text!r}")
    return values


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls in hedging and retries")
    parser.add_argument("--median", type=float, default=0.05, help="median tool latency, s")
    parser.add_argument("--pairs", type=int, default=500, help="reference pairs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plan-runs", type=int, default=3, help="capitals task runs, each way")
    parser.add_argument(
        "--plan-latency", type=float, default=1.0, help="capitals task: seconds a tool request"
    )
    parser.add_argument("--plan-token-rate", type=float, default=50.0, help="tokens a second")
    parser.add_argument("--plan-first-token", type=float, default=0.2, help="s to first token")
    parser.add_argument(
        "--plan-sweep",
        type=_seconds_list,
        default=[],
        help="capitals task again at each of these seconds to the first token (0.5,1,2)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default)")
    args = parser.parse_args(argv)
    try:
        report = run_plans_benchmark(
            calls=args.calls,
            median=args.median,
            pairs=args.pairs,
            seed=args.seed,
            plan_runs=args.plan_runs,
            plan_latency=args.plan_latency,
            token_rate=args.plan_token_rate,
            first_token_s=args.plan_first_token,
            sweep_first_token=args.plan_sweep,
            progress=lambda step: print(f"  {step}", file=sys.stderr),
        )
    except UserError as exc:
        parser.error(str(exc))
    report["command"] = "python benchmarks/plans.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
