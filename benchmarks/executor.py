"""Executor benchmark: toolvolley parallel and serial against the textbook gather code.

Prints one JSON report, every figure measured in this run (median of ``--repeat`` runs)::

    python benchmarks/executor.py                 # the full run, about 6 minutes
    python benchmarks/executor.py --scale 0.1     # every latency ten times shorter

Scenarios (latencies before ``--scale``):
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
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from toolvolley import Executor, Toolbox, ToolCall, tool

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
        await make()
        return time.perf_counter() - start

    return asyncio.run(run())


def measure_latency(scenario: Scenario, repeat: int) -> dict[str, Any]:
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
        print(f"  {scenario.key} {name:<20} {wall:8.3f} s", file=sys.stderr)
    return out


def measure_overhead(n: int, repeat: int) -> dict[str, Any]:
    calls = make_calls("noop", list(range(n)), "i")
    executor = Executor(TOOLBOX, timeout=TIMEOUT)

    async def bare() -> None:
        await asyncio.gather(*(noop.func(i) for i in range(n)))

    variants: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
        "bare_gather": bare,
        "textbook_gather": lambda: textbook(calls),
        "toolvolley_parallel": lambda: executor.run(calls),
    }
    per_call: dict[str, float] = {}
    for name, make in variants.items():
        timed(make)  # warm up imports and caches
        walls = [timed(make) for _ in range(repeat)]
        per_call[name] = statistics.median(walls) / n * 1e6
        print(f"  D {name:<20} {per_call[name]:8.2f} us/call", file=sys.stderr)
    return {
        "description": f"{n} async no-op tools, validation and timeouts included",
        "calls": n,
        "us_per_call": {k: round(v, 2) for k, v in per_call.items()},
        "toolvolley_over_bare_gather": round(
            per_call["toolvolley_parallel"] / per_call["bare_gather"], 2
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every latency")
    parser.add_argument("--noops", type=int, default=1000, help="calls in scenario D")
    parser.add_argument("--only", default="ABCDE", help="scenario letters to run")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "command": "python benchmarks/executor.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "repeat": args.repeat,
        "scenarios": {},
    }
    for scenario in scenarios(args.scale):
        if scenario.key in args.only:
            report["scenarios"][scenario.key] = measure_latency(scenario, args.repeat)
    if "D" in args.only:
        report["scenarios"]["D"] = measure_overhead(args.noops, args.repeat)
    report["scenarios"] = dict(sorted(report["scenarios"].items()))
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
