"""Executor benchmark: toolvolley parallel and serial against the textbook gather code.

Scenarios (latencies before ``scale``):
  A  3 async tools sleeping 1.0, 1.5 and 2.0 s
  B  the same three as sync tools (time.sleep)
  C  32 sync tools of 0.5 s
  D  1,000 async no-op tools: microseconds per call, against a bare asyncio.gather
  E  200 async tools of 0.1 s

For the async scenarios, ``bare_gather_floor`` gathers the same sleeps with no executor at
all: the best any executor could do on the machine. The textbook code is what most tutorials
show: ``asyncio.gather(..., return_exceptions=True)`` with ``asyncio.wait_for`` around async
tools and ``loop.run_in_executor(None, ...)`` for sync ones. Each measurement starts a fresh
event loop, as a new program would.

The sweep (``run_sweep``) measures the same three variants for 1 to 1,000 calls of async, sync
and CPU-bound tools, for ``toolvolley bench --plot``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from .._calls import ToolCall, ToolResult
from .._executor import Executor
from .._toolbox import Toolbox
from .._tools import tool

TIMEOUT = 30.0  # every variant runs with a timeout, as production code would


@tool(timeout=TIMEOUT)
async def async_sleep(seconds: float) -> float:
    """Stands for an async I/O-bound tool."""
    await asyncio.sleep(seconds)
    return seconds


@tool(timeout=TIMEOUT)
def sync_sleep(seconds: float) -> float:
    """Stands for a blocking I/O-bound tool."""
    time.sleep(seconds)
    return seconds


@tool(timeout=TIMEOUT)
async def noop(i: int) -> int:
    """Does nothing: what is measured is the executor's own cost."""
    return i


TOOLBOX = Toolbox([async_sleep, sync_sleep, noop])


@dataclass(frozen=True)
class Scenario:
    key: str
    description: str
    tool: str
    latencies: list[float]


def scenarios(scale: float) -> list[Scenario]:
    return (
        [
            Scenario("A", "3 async tools: 1.0, 1.5, 2.0 s", "async_sleep", [1.0, 1.5, 2.0]),
            Scenario("B", "3 sync tools: 1.0, 1.5, 2.0 s", "sync_sleep", [1.0, 1.5, 2.0]),
            Scenario("C", "32 sync tools of 0.5 s", "sync_sleep", [0.5] * 32),
            Scenario("E", "200 async tools of 0.1 s", "async_sleep", [0.1] * 200),
        ]
        if scale == 1
        else [
            Scenario(
                s.key,
                f"{s.description} (latencies x{scale:g})",
                s.tool,
                [x * scale for x in s.latencies],
            )
            for s in scenarios(1)
        ]
    )


def make_calls(name: str, values: list[Any], key: str) -> list[ToolCall]:
    return [ToolCall(f"call_{i}", name, json.dumps({key: v})) for i, v in enumerate(values)]


# --- the textbook code ---------------------------------------------------------------------------


async def textbook(calls: list[ToolCall]) -> list[Any]:
    loop = asyncio.get_running_loop()

    async def one(call: ToolCall) -> Any:
        func = TOOLBOX.get(call.name)
        assert func is not None
        args = json.loads(call.arguments_text())
        if func.is_async:
            return await asyncio.wait_for(func.func(**args), TIMEOUT)
        return await loop.run_in_executor(None, functools.partial(func.func, **args))

    return await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)


# --- measurement ----------------------------------------------------------------------------------


def timed(make: Callable[[], Coroutine[Any, Any, Any]]) -> float:
    async def run() -> float:
        start = time.perf_counter()
        outcome = await make()
        elapsed = time.perf_counter() - start
        _check(outcome, "benchmark batch")
        return elapsed

    return asyncio.run(run())


def measure_latency(
    scenario: Scenario, repeat: int, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    calls = make_calls(scenario.tool, scenario.latencies, "seconds")
    ideal = max(scenario.latencies)
    total = sum(scenario.latencies)
    variants: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
        "toolvolley_parallel": lambda: Executor(TOOLBOX).run(calls),
        "toolvolley_serial": lambda: Executor(TOOLBOX, mode="serial").run(calls),
        "textbook_gather": lambda: textbook(calls),
    }
    if scenario.tool == "async_sleep":
        # The floor: the same sleeps gathered with no executor at all (no validation, no
        # timeouts, no results). No executor can beat it on this machine.
        async def floor() -> None:
            await asyncio.gather(*(asyncio.sleep(x) for x in scenario.latencies))

        variants["bare_gather_floor"] = floor
    out: dict[str, Any] = {
        "description": scenario.description,
        "calls": len(calls),
        "ideal_s": ideal,
        "sequential_s": total,
        "variants": {},
    }
    for name, make in variants.items():
        walls = [timed(make) for _ in range(repeat)]
        wall = statistics.median(walls)
        out["variants"][name] = {
            "wall_s": round(wall, 4),
            "efficiency": round(ideal / wall, 4),
            "speedup": round(total / wall, 3),
        }
        progress(f"{scenario.key} {name}")
    return out


def measure_overhead(
    n: int, repeat: int, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Microseconds per call for ``n`` no-op calls, and toolvolley's cost over a bare gather.

    One batch takes only milliseconds, so a shared machine's drift swamps single figures: each
    round runs the three variants back to back, and the ratio reported is the median of the
    rounds' own ratios (5 rounds per ``repeat``).
    """
    calls = make_calls("noop", list(range(n)), "i")
    executor = Executor(TOOLBOX, timeout=TIMEOUT)

    async def bare() -> None:
        await asyncio.gather(*(noop.func(i) for i in range(n)))

    variants: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
        "bare_gather": bare,
        "textbook_gather": lambda: textbook(calls),
        "toolvolley_parallel": lambda: executor.run(calls),
    }
    for make in variants.values():
        timed(make)  # warm up imports and caches
    walls: dict[str, list[float]] = {name: [] for name in variants}
    ratios: list[float] = []
    for _ in range(5 * repeat):
        for name, make in variants.items():
            walls[name].append(timed(make))
        ratios.append(walls["toolvolley_parallel"][-1] / walls["bare_gather"][-1])
    for name in variants:
        progress(f"D {name}")
    per_call = {name: statistics.median(w) / n * 1e6 for name, w in walls.items()}
    return {
        "description": f"{n} async no-op tools, validation and timeouts included",
        "calls": n,
        "rounds": len(ratios),
        "us_per_call": {k: round(v, 2) for k, v in per_call.items()},
        "toolvolley_over_bare_gather": round(statistics.median(ratios), 2),
    }


def run_executor_benchmark(
    *,
    repeat: int = 5,
    scale: float = 1.0,
    noops: int = 1000,
    only: str = "ABCDE",
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run the executor scenarios; returns a JSON-ready report."""
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "repeat": repeat,
        "scale": scale,
        "scenarios": {},
    }
    for scenario in scenarios(scale):
        if scenario.key in only:
            report["scenarios"][scenario.key] = measure_latency(scenario, repeat, progress)
    if "D" in only:
        report["scenarios"]["D"] = measure_overhead(noops, repeat, progress)
    report["scenarios"] = dict(sorted(report["scenarios"].items()))
    return report


# --- the sweep: 1 to 1,000 calls of three kinds of tool ---------------------------------------


@tool(run_in="process", timeout=TIMEOUT)
def cpu_work(rounds: int) -> int:
    """Stands for a CPU-bound tool: pure Python arithmetic, holding the GIL."""
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


SWEEP_TOOLBOX = Toolbox([async_sleep, sync_sleep, cpu_work])
SWEEP_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def _rounds_for(seconds: float) -> int:
    """How many rounds of cpu_work take about ``seconds`` here."""
    rounds = 20_000
    started = time.perf_counter()
    cpu_work.func(rounds)
    took = time.perf_counter() - started
    return max(1, int(rounds * seconds / max(took, 1e-6)))


async def _textbook_sweep(calls: list[ToolCall]) -> list[Any]:
    loop = asyncio.get_running_loop()

    async def one(call: ToolCall) -> Any:
        found = SWEEP_TOOLBOX.get(call.name)
        assert found is not None
        args = json.loads(call.arguments_text())
        if found.is_async:
            return await asyncio.wait_for(found.func(**args), TIMEOUT)
        return await loop.run_in_executor(None, functools.partial(found.func, **args))

    return await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)


class BenchmarkFailed(RuntimeError):
    """A measured batch had failing calls: its timing would mean nothing."""


def _check(outcome: Any, what: str) -> None:
    """Refuse figures from a batch whose calls did not all succeed."""
    failures = [
        r
        for r in outcome or ()
        if isinstance(r, BaseException) or (isinstance(r, ToolResult) and not r.ok)
    ]
    if failures:
        first = failures[0]
        detail = first.content if isinstance(first, ToolResult) else repr(first)
        raise BenchmarkFailed(f"{what}: {len(failures)} calls failed, e.g. {detail}")


def run_sweep(
    *,
    latency: float = 0.02,
    sizes: Sequence[int] = SWEEP_SIZES,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Speedup (calls x latency / wall) and efficiency (latency / wall) against batch size.

    Each kind of tool is measured in one event loop, warmed up first (worker threads and
    processes started), as in a long-running agent: the steady state, for every variant alike.
    """
    rounds = _rounds_for(latency)
    kinds = {
        "async": ("async_sleep", "seconds", latency),
        "sync": ("sync_sleep", "seconds", latency),
        "cpu": ("cpu_work", "rounds", rounds),
    }
    points: list[dict[str, Any]] = []

    async def sweep(kind: str, name: str, key: str, value: Any) -> None:
        parallel = Executor(SWEEP_TOOLBOX)
        serial = Executor(SWEEP_TOOLBOX, mode="serial")
        warm = make_calls(name, [value] * max(sizes), key)
        await parallel.run(warm)  # start the worker threads or processes once
        await _textbook_sweep(warm)
        for n in sizes:
            calls = make_calls(name, [value] * n, key)
            variants: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
                "toolvolley_parallel": functools.partial(parallel.run, calls),
                "toolvolley_serial": functools.partial(serial.run, calls),
                "textbook_gather": functools.partial(_textbook_sweep, calls),
            }
            for variant, make in variants.items():
                progress(f"sweep {kind} {n} {variant}")
                started = time.perf_counter()
                outcome = await make()
                wall = time.perf_counter() - started
                _check(outcome, f"sweep {kind} {n} {variant}")
                points.append(
                    {
                        "kind": kind,
                        "calls": n,
                        "variant": variant,
                        "wall_s": round(wall, 5),
                        "speedup": round(n * latency / wall, 4),
                        "efficiency": round(latency / wall, 4),
                    }
                )

    for kind, (name, key, value) in kinds.items():
        asyncio.run(sweep(kind, name, key, value))
    return {"latency_s": latency, "cpu_rounds": rounds, "points": points}
