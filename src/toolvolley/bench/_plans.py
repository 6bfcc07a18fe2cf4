"""Plans benchmark: hedged calls, retries and references, each figure measured in this run.

* ``hedging``: a tool whose latency is lognormal (median ``median`` s, sigma 0.99, so its p99
  is about 10x its p50), ``calls`` calls at once, without and with
  ``Hedge(percentile=95, max_share=0.05, window=calls)`` (after a warm-up batch of a fifth
  as many calls, at least ``min_samples``, that gives the percentile its first latencies).
  ``extra_calls_share``: bodies started beyond one per call, over the measured calls.
  ``p99_ratio_bound``: the best ratio any hedging policy could reach at that share. Hedges on
  at most 5 % of the calls leave at least 95 % with their own latency, so at least
  ``P(latency > x) - 5 %`` of the calls still end after ``x``. A p99 of ``x`` then needs
  ``P(latency > x) <= 6 %``: the hedged p99 is at least the plain p94, and the bound is the plain
  p99 over the plain p94 (about 2.15x for this lognormal).
* ``hedging_stragglers``: the same with rare stragglers, as in *The Tail at Scale*: 98 % of
  calls lognormal with sigma 0.25 around ``median``, 2 % taking 10 to 20 times ``median``.
* ``retries``: a tool that fails 30 % of the time at random, with ``Retry(attempts=3)``: the
  share of calls that succeed, against the share that would without retries.
* ``references``: pairs of calls where the second refers to the first (``"$1.v"``): from the
  first call's end to the second's start (``ready_to_start_p99_ms``).
* ``plans``: the capitals task ("What's the weather in the capitals of France, Japan and
  Peru?", ``toolvolley demo --plan``) end to end, with the offline model in-process and the local
  weather service on loopback. The pacing is ``token_rate`` tokens a second, ``first_token_s``
  to the first token, and ``plan_latency`` s +/- a quarter a tool request (the capital look-up
  takes as long as one request). It runs the flat conversation (three model turns) against the
  planned one (two turns, references), the median of ``plan_runs`` runs each. ``speedup`` is
  ``flat_s / planned_s``. The saving is one model turn, so ``plans_sweep`` repeats it at each of
  ``sweep_first_token`` (seconds to the first token): how the speedup grows with the cost of a
  turn.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.lowlevel

from .._calls import ToolCall, ToolResult
from .._executor import Executor
from .._options import check_count, check_seconds
from .._policies import Hedge, Retry
from .._tools import Tool
from ..demo import PlanSettings, WeatherService, run_plan_demo
from ..testing import OfflineModel
from ..testing._serving import serve_in_thread

__all__ = ["run_plans_benchmark"]

SIGMA = math.log(10) / 2.326  # p99 / p50 = exp(2.326 sigma) = 10
MAX_SHARE = 0.05

Latency = Callable[[random.Random], float]  # a call's latency in medians


def _p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def lognormal(rng: random.Random) -> float:
    return rng.lognormvariate(0, SIGMA)


def stragglers(rng: random.Random) -> float:
    if rng.random() < 0.02:
        return rng.uniform(10, 20)
    return rng.lognormvariate(0, 0.25)


def _slow_tool(rng: random.Random, median: float, latency: Latency, hedge: Hedge | None) -> Tool:
    async def fetch(i: int) -> int:
        await anyio.sleep(median * latency(rng))
        return i

    schema = {"type": "object", "properties": {"i": {"type": "integer"}}}
    return Tool.from_schema("fetch", "Fetch.", schema, fetch, idempotent=True, hedge=hedge)


def _calls(name: str, n: int, start: int = 0) -> list[ToolCall]:
    return [ToolCall(f"c{start + i}", name, {"i": start + i}) for i in range(n)]


def _latency(r: ToolResult) -> float:
    return r.ended_at - r.queued_at


async def hedging(calls: int, median: float, seed: int, latency: Latency) -> dict[str, Any]:
    rng = random.Random(seed)
    plain = await Executor([_slow_tool(rng, median, latency, None)]).run(_calls("fetch", calls))
    # The window is the measured batch: its hedges are at most MAX_SHARE of its own calls,
    # whatever the warm-up before it, as the bound below assumes.
    policy = Hedge(percentile=95, max_share=MAX_SHARE, window=calls)
    executor = Executor([_slow_tool(rng, median, latency, policy)])
    warm_up = max(policy.min_samples, calls // 5)
    await executor.run(_calls("fetch", warm_up, start=calls))  # the percentile's first samples
    hedged = await executor.run(_calls("fetch", calls))
    plain_s = [_latency(r) for r in plain]
    p99_plain = _p(plain_s, 99)
    p99_hedged = _p([_latency(r) for r in hedged], 99)
    bound_q = 99 - 100 * MAX_SHARE
    return {
        "calls": calls,
        "median_s": median,
        "p50_plain_s": round(_p(plain_s, 50), 4),
        "p99_plain_s": round(p99_plain, 4),
        "p99_hedged_s": round(p99_hedged, 4),
        "p99_ratio": round(p99_plain / p99_hedged, 2),
        "p99_ratio_bound": round(p99_plain / _p(plain_s, bound_q), 2),
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
        if results[1].value != i:
            raise RuntimeError(f"the reference was not filled in: {results[1]!r}")
        gaps.append(results[1].started_at - results[0].ended_at)
    return {
        "pairs": pairs,
        "ready_to_start_p50_ms": round(_p(gaps, 50) * 1000, 4),
        "ready_to_start_p99_ms": round(_p(gaps, 99) * 1000, 4),
    }


async def plans(settings: PlanSettings, runs: int, weather_url: str) -> dict[str, Any]:
    flat: list[float] = []
    planned: list[float] = []
    turns: set[tuple[int, int]] = set()
    for _ in range(runs):
        report = await run_plan_demo(settings, weather_url=weather_url)
        if report.failed:
            raise RuntimeError(f"a call of the capitals task failed: {report.failed[0]!r}")
        flat.append(report.flat.end_to_end_s)
        planned.append(report.planned.end_to_end_s)
        turns.add((report.flat.model_turns, report.planned.model_turns))
    flat_s, planned_s = statistics.median(flat), statistics.median(planned)
    ((flat_turns, planned_turns),) = turns  # the planner is deterministic
    return {
        "runs": runs,
        "latency_s": settings.capital_latency_s,
        "token_rate": settings.token_rate,
        "first_token_s": settings.first_token_s,
        "flat_turns": flat_turns,
        "planned_turns": planned_turns,
        "flat_s": round(flat_s, 4),
        "planned_s": round(planned_s, 4),
        "saved_s": round(flat_s - planned_s, 4),
        "speedup": round(flat_s / planned_s, 3),
    }


def run_plans_benchmark(
    *,
    calls: int = 1000,
    median: float = 0.05,
    pairs: int = 500,
    seed: int = 7,
    plan_runs: int = 3,
    plan_latency: float = 1.0,
    token_rate: float = 50.0,
    first_token_s: float = 0.2,
    sweep_first_token: Sequence[float] = (),
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The report described in the module docstring."""
    # Before any work, by the rules the options and the offline model have anyway
    for label, count in (("calls", calls), ("pairs", pairs), ("plan_runs", plan_runs)):
        check_count(label, count)
    for label, seconds in (("median", median), ("plan_latency", plan_latency)):
        check_seconds(label, seconds)
    for first_token in (first_token_s, *sweep_first_token):
        OfflineModel(token_rate=token_rate, first_token_s=first_token)
    service = WeatherService(latency_s=plan_latency, jitter_s=plan_latency / 4)

    def settings(first_token: float) -> PlanSettings:
        return PlanSettings(
            token_rate=token_rate,
            first_token_s=first_token,
            capital_latency_s=plan_latency,
            capital_jitter_s=plan_latency / 4,
        )

    async def run(weather_url: str) -> dict[str, Any]:
        report: dict[str, Any] = {}
        progress("hedging: lognormal")
        report["hedging"] = await hedging(calls, median, seed, lognormal)
        progress("hedging: stragglers")
        report["hedging_stragglers"] = await hedging(calls, median, seed, stragglers)
        progress("retries")
        report["retries"] = await retries(calls, seed)
        progress("references")
        report["references"] = await references(pairs)
        progress("plans: the capitals task")
        report["plans"] = await plans(settings(first_token_s), plan_runs, weather_url)
        sweep = []
        for first_token in sweep_first_token:
            progress(f"plans: {first_token:g} s to the first token")
            sweep.append(await plans(settings(first_token), plan_runs, weather_url))
        if sweep:
            report["plans_sweep"] = sweep
        return report

    with serve_in_thread(service) as url:
        return anyio.run(run, url)


def steps(sweep_first_token: Sequence[float]) -> int:
    """How many times :func:`run_plans_benchmark` calls ``progress``."""
    return 5 + len(sweep_first_token)
