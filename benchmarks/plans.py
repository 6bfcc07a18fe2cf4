"""Plans benchmark: hedged calls, retries and references, each figure measured in this run.

::

    python benchmarks/plans.py --json              # 1,000 hedging calls, about 15 s
    python benchmarks/plans.py --calls 50 --json   # a quick look

* ``hedging``: a tool whose latency is lognormal (median ``--median`` s, sigma 0.99, so its
  p99 is about 10x its p50), ``--calls`` calls at once, without and with
  ``Hedge(percentile=95, max_share=0.05)`` (after a warm-up batch that fills the latency
  window). ``extra_calls_share``: bodies started beyond one per call, over the calls.
* ``retries``: a tool that fails 30 % of the time at random, with ``Retry(attempts=3)``:
  the share of calls that succeed, against the share that would without retries.
* ``references``: pairs of calls where the second refers to the first (``"$1.v"``): from the
  first call's end to the second's start (``ready_to_start_p99_ms``).
* ``plans``: the end-to-end figure needs a model that writes references (the offline model does
  not yet), so it is ``null``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from typing import Any

import anyio
import anyio.lowlevel

from toolvolley import Executor, Hedge, Retry, Tool, ToolCall, ToolResult

SIGMA = math.log(10) / 2.326  # p99 / p50 = exp(2.326 sigma) = 10


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _slow_tool(rng: random.Random, median: float, hedge: Hedge | None) -> Tool:
    async def fetch(i: int) -> int:
        await anyio.sleep(median * rng.lognormvariate(0, SIGMA))
        return i

    schema = {"type": "object", "properties": {"i": {"type": "integer"}}}
    return Tool.from_schema("fetch", "Fetch.", schema, fetch, idempotent=True, hedge=hedge)


def _calls(name: str, n: int, start: int = 0) -> list[ToolCall]:
    return [ToolCall(f"c{start + i}", name, {"i": start + i}) for i in range(n)]


def _latency(r: ToolResult) -> float:
    return r.ended_at - r.queued_at


async def hedging(calls: int, median: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    plain = await Executor([_slow_tool(rng, median, None)]).run(_calls("fetch", calls))
    policy = Hedge(percentile=95, max_share=0.05, window=1000)
    executor = Executor([_slow_tool(rng, median, policy)])
    await executor.run(_calls("fetch", max(policy.min_samples, calls // 5)))  # warm-up
    hedged = await executor.run(_calls("fetch", calls))
    p99_plain = _p([_latency(r) for r in plain], 99)
    p99_hedged = _p([_latency(r) for r in hedged], 99)
    return {
        "calls": calls,
        "median_s": median,
        "p50_plain_s": round(_p([_latency(r) for r in plain], 50), 4),
        "p99_plain_s": round(p99_plain, 4),
        "p99_hedged_s": round(p99_hedged, 4),
        "p99_ratio": round(p99_plain / p99_hedged, 2),
        "extra_calls_share": round(sum(r.attempts - 1 for r in hedged) / calls, 4),
    }


async def retries(calls: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)

    async def flaky(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        if rng.random() < 0.3:
            raise ConnectionError("reset by peer")
        return i

    schema = {"type": "object", "properties": {"i": {"type": "integer"}}}
    tool = Tool.from_schema("flaky", "Flaky.", schema, flaky, idempotent=True)
    once = await Executor([tool]).run(_calls("flaky", calls))
    policy = Retry(attempts=3, backoff=0.001, max_backoff=0.01)
    retried = await Executor([tool], retry=policy).run(_calls("flaky", calls))
    return {
        "calls": calls,
        "failure_rate": 0.3,
        "max_retries": policy.attempts - 1,
        "success_share_without_retries": round(sum(r.ok for r in once) / calls, 4),
        "success_share": round(sum(r.ok for r in retried) / calls, 4),
        "mean_attempts": round(sum(r.attempts for r in retried) / calls, 3),
    }


async def references(pairs: int) -> dict[str, Any]:
    async def make(i: int) -> dict[str, int]:
        await anyio.sleep(0.001)
        return {"v": i}

    async def use(v: int) -> int:
        return v

    int_schema = {"type": "object", "properties": {"i": {"type": "integer"}}}
    v_schema = {"type": "object", "properties": {"v": {"type": "integer"}}}
    executor = Executor(
        [
            Tool.from_schema("make", "Make.", int_schema, make),
            Tool.from_schema("use", "Use.", v_schema, use),
        ],
        references=True,
    )
    gaps: list[float] = []
    for i in range(pairs):
        results = await executor.run(
            [ToolCall("a", "make", {"i": i}), ToolCall("b", "use", '{"v": "$1.v"}')]
        )
        assert results[1].value == i, results[1]
        gaps.append(results[1].started_at - results[0].ended_at)
    return {
        "pairs": pairs,
        "ready_to_start_p50_ms": round(_p(gaps, 50) * 1000, 4),
        "ready_to_start_p99_ms": round(_p(gaps, 99) * 1000, 4),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "hedging": await hedging(args.calls, args.median, args.seed),
        "retries": await retries(args.calls, args.seed),
        "references": await references(args.pairs),
        "plans": None,
        "plans_note": (
            "The end-to-end capitals figure needs the offline model to write references "
            "($1.capital); it does not yet, so it is not measured."
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls in hedging and retries")
    parser.add_argument("--median", type=float, default=0.05, help="median tool latency, s")
    parser.add_argument("--pairs", type=int, default=500, help="reference pairs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = anyio.run(run, args)
    report["command"] = "python benchmarks/plans.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    result = main()
    print(json.dumps(result, indent=2))
