"""Scale benchmark: many conversations at once, and tools on Ray, each against its own ideal.

Measured in one run, in this process:

* ``batch``: ``conversations`` conversations through :func:`~toolvolley.run_many` (what
  ``toolvolley batch`` runs), ``concurrency`` at a time, against the offline model in-process
  (streamed, as ``toolvolley batch`` does). Each conversation asks for ``calls`` cities; the model
  answers with ``calls`` parallel calls of a tool that sleeps ``latency`` seconds, then with a
  text. ``ideal_s`` is the number of waves (conversations over concurrency, rounded up) times
  one conversation's wall time measured alone just before (median of 3): what the batch would
  take if running conversations side by side cost nothing. ``ratio`` is wall over ideal.
* ``many``: the same with ``many_conversations`` at ``many_concurrency``: conversations a second
  and the process's peak resident memory (``getrusage`` high-water mark, so it includes all
  that ran before it), with ``cpu_ms_per_conversation`` to show what bounds the rate.
* ``ray``: ``ray_calls`` calls of a small sync tool on Ray, toolvolley's :class:`RayRunner`
  against raw Ray tasks doing the same work gathered with ``asyncio.gather`` (``await ref``),
  back to back for ``repeat`` rounds; per call microseconds are medians, ``ratio`` is the
  median of the rounds' ratios. Uses the Ray this process is connected to, or starts a local
  one on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio

from .._calls import ToolCall
from .._executor import Executor
from .._many import run_many
from .._tools import Tool

__all__ = ["run_scale_benchmark"]

_CITIES = [
    "Seoul",
    "Tokyo",
    "Paris",
    "Berlin",
    "Madrid",
    "Rome",
    "Lisbon",
    "Vienna",
    "Prague",
    "Oslo",
    "Dublin",
    "Cairo",
    "Lima",
    "Quito",
    "Delhi",
    "Dhaka",
    "Hanoi",
    "Manila",
    "Nairobi",
    "Accra",
    "Sydney",
    "Toronto",
    "Chicago",
    "Boston",
]


def run_scale_benchmark(
    *,
    conversations: int = 1000,
    concurrency: int = 100,
    calls: int = 3,
    many_conversations: int = 10_000,
    many_concurrency: int = 1000,
    latency: float = 0.5,
    token_rate: float = 50.0,
    first_token_s: float = 0.2,
    ray: bool = True,
    ray_calls: int = 200,
    repeat: int = 5,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The report described in the module docstring."""
    if not 1 <= calls <= len(_CITIES):
        raise ValueError(f"calls must be between 1 and {len(_CITIES)}")
    report: dict[str, Any] = {
        "calls_per_conversation": calls,
        "tool_latency_s": latency,
        "model": {"token_rate": token_rate, "first_token_s": first_token_s, "stream": True},
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    setup = (calls, latency, token_rate, first_token_s)
    report["batch"] = anyio.run(_batch, conversations, concurrency, *setup)
    progress("scale: batch")
    if many_conversations:
        report["many"] = anyio.run(_many, many_conversations, many_concurrency, *setup)
        progress("scale: many")
    if ray:
        report["ray"] = _ray_overhead(ray_calls, repeat)
        progress("scale: ray")
    return report


def _setup(calls: int, latency: float) -> tuple[Tool, str]:
    cities = _CITIES[:calls]

    async def lookup(city: str) -> str:
        await anyio.sleep(latency)
        return f"{city}: sunny"

    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": list(cities)}},
        "required": ["city"],
    }
    tool = Tool.from_schema("lookup", "Look a city up.", parameters, lookup, run_in="loop")
    return tool, "Look up " + ", ".join(cities) + "."


def _model(token_rate: float, first_token_s: float) -> Any:
    from ..providers import OpenAIChat
    from ..testing import OfflineModel

    return OpenAIChat.offline(OfflineModel(token_rate=token_rate, first_token_s=first_token_s))


async def _batch(
    n: int, concurrency: int, calls: int, latency: float, token_rate: float, first_token_s: float
) -> dict[str, Any]:
    tool, prompt = _setup(calls, latency)
    executor = Executor([tool])
    async with _model(token_rate, first_token_s) as model:
        solo: list[float] = []
        for _ in range(4):  # the first warms the SDK up and is not counted
            (outcome,) = await run_many(model, [prompt], executor, concurrency=1)
            if not outcome.ok or len(outcome.tool_calls) != calls:
                raise RuntimeError(f"the benchmark conversation went wrong: {outcome.error}")
            solo.append(outcome.wall_s)
        one = statistics.median(solo[1:])
        failed = 0

        def count(o: Any) -> None:
            nonlocal failed
            failed += not o.ok

        started = time.perf_counter()
        await run_many(
            model, [prompt] * n, executor, concurrency=concurrency, keep=False, on_result=count
        )
        wall = time.perf_counter() - started
    ideal = math.ceil(n / concurrency) * one
    return {
        "conversations": n,
        "concurrency": concurrency,
        "failed": failed,
        "one_conversation_s": round(one, 4),
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "ratio": round(wall / ideal, 3),
        "conversations_per_s": round(n / wall, 1),
    }


async def _many(
    n: int, concurrency: int, calls: int, latency: float, token_rate: float, first_token_s: float
) -> dict[str, Any]:
    tool, prompt = _setup(calls, latency)
    executor = Executor([tool])
    before = _peak_rss_mb()
    failed = 0

    def count(o: Any) -> None:
        nonlocal failed
        failed += not o.ok

    def prompts() -> Any:  # lazily: run_many reads them as workers free up
        for i in range(n):
            yield i, prompt

    async with _model(token_rate, first_token_s) as model:
        cpu, started = time.process_time(), time.perf_counter()
        await run_many(
            model, prompts(), executor, concurrency=concurrency, keep=False, on_result=count
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "conversations": n,
        "concurrency": concurrency,
        "failed": failed,
        "wall_s": round(wall, 3),
        "conversations_per_s": round(n / wall, 1),
        "cpu_ms_per_conversation": round(cpu / n * 1000, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_rss_mb_before": round(before, 1),
    }


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux


def _add(a: int, b: int) -> int:
    return a + b


def _ray_overhead(n: int, repeat: int) -> dict[str, Any]:
    from .._tools import tool
    from ..runners.ray import RayApi, RayRunner, connect_ray

    ray = RayApi.get()
    connect_ray(ray, "auto")  # the Ray already connected, or a local one on 127.0.0.1
    add = tool(name="add", run_in=RayRunner())(_add)
    executor = Executor([add])
    raw = ray.ray.remote(_add).options(max_retries=0)
    calls = [ToolCall(f"c{i}", "add", f'{{"a": {i}, "b": 1}}') for i in range(n)]

    async def toolvolley() -> None:
        results = await executor.run(calls)
        assert all(r.status == "ok" for r in results), results[0].content

    async def bare() -> None:
        await asyncio.gather(*(raw.remote(i, 1) for i in range(n)))

    def timed(variant: Callable[[], Any]) -> float:
        started = time.perf_counter()
        asyncio.run(variant())
        return time.perf_counter() - started

    for variant in (bare, toolvolley, bare, toolvolley):  # workers started, functions shipped
        timed(variant)
    walls: dict[str, list[float]] = {"toolvolley": [], "raw": []}
    ratios: list[float] = []
    for round_ in range(repeat):
        order = [("toolvolley", toolvolley), ("raw", bare)]
        for name, variant in order if round_ % 2 else order[::-1]:
            walls[name].append(timed(variant))
        ratios.append(walls["toolvolley"][-1] / walls["raw"][-1])
    return {
        "calls": n,
        "rounds": repeat,
        "toolvolley_us_per_call": round(statistics.median(walls["toolvolley"]) / n * 1e6, 1),
        "raw_ray_us_per_call": round(statistics.median(walls["raw"]) / n * 1e6, 1),
        "ratio": round(statistics.median(ratios), 3),
    }
