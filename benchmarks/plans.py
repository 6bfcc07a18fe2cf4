"""Plans benchmark: hedged calls, retries and references, each figure measured in this run.

::

    python benchmarks/plans.py --json              # 1,000 hedging calls, about 15 s
    python benchmarks/plans.py --calls 50 --json   # a quick look (the capitals task: ~45 s)

* ``hedging``: a tool whose latency is lognormal (median ``--median`` s, sigma 0.99, so its
  p99 is about 10x its p50), ``--calls`` calls at once, without and with
  ``Hedge(percentile=95, max_share=0.05)`` (after a warm-up batch that fills the latency
  window). ``extra_calls_share``: bodies started beyond one per call, over the calls.
* ``retries``: a tool that fails 30 % of the time at random, with ``Retry(attempts=3)``:
  the share of calls that succeed, against the share that would without retries.
* ``references``: pairs of calls where the second refers to the first (``"$1.v"``): from the
  first call's end to the second's start (``ready_to_start_p99_ms``).
* ``plans``: the capitals task ("What's the weather in the capitals of France, Japan and
  Peru?", ``toolvolley demo --plan``) end to end with the offline model in-process and the local
  weather service on loopback, default pacing (50 tokens/s, 0.2 s to the first token, 1 s +/-
  0.25 s a request; the capital look-up takes as long as one request): the flat conversation
  (three model turns) against the planned one (two turns, references), the median of
  ``--plan-runs`` runs each. ``speedup`` is ``flat_s / planned_s``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from typing import Any

import anyio
import anyio.lowlevel

from toolvolley import Executor, Hedge, Retry, Tool, ToolCall, ToolResult
from toolvolley._serving import serve_in_thread
from toolvolley.demo import PlanSettings, WeatherService, run_plan_demo

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


async def plans(args: argparse.Namespace, weather_url: str) -> dict[str, Any]:
    runs, latency = args.plan_runs, args.plan_latency
    settings = PlanSettings(
        token_rate=args.plan_token_rate,
        first_token_s=args.plan_first_token,
        capital_latency_s=latency,
        capital_jitter_s=latency / 4,
    )
    flat: list[float] = []
    planned: list[float] = []
    turns: set[tuple[int, int]] = set()
    for _ in range(runs):
        report = await run_plan_demo(settings, weather_url=weather_url)
        assert not report.failed, report.failed
        flat.append(report.flat.end_to_end_s)
        planned.append(report.planned.end_to_end_s)
        turns.add((report.flat.model_turns, report.planned.model_turns))
    flat_s, planned_s = statistics.median(flat), statistics.median(planned)
    ((flat_turns, planned_turns),) = turns  # the planner is deterministic
    return {
        "runs": runs,
        "latency_s": latency,
        "token_rate": settings.token_rate,
        "first_token_s": settings.first_token_s,
        "flat_turns": flat_turns,
        "planned_turns": planned_turns,
        "flat_s": round(flat_s, 4),
        "planned_s": round(planned_s, 4),
        "speedup": round(flat_s / planned_s, 3),
    }


async def run(args: argparse.Namespace, weather_url: str) -> dict[str, Any]:
    return {
        "hedging": await hedging(args.calls, args.median, args.seed),
        "retries": await retries(args.calls, args.seed),
        "references": await references(args.pairs),
        "plans": await plans(args, weather_url),
    }


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
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    service = WeatherService(latency_s=args.plan_latency, jitter_s=args.plan_latency / 4)
    with serve_in_thread(service) as weather_url:
        report = anyio.run(run, args, weather_url)
    report["command"] = "python benchmarks/plans.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    result = main()
    print(json.dumps(result, indent=2))
