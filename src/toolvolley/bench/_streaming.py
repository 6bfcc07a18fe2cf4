"""Streaming benchmark: early dispatch against executing after the stream, and the lower bound.

The offline model streams at a fixed token rate; each scenario's calls have given latencies
(slowest first, slowest last, or all equal). Measured in one run, median of ``repeat``:

* ``early_dispatch_s``: the turn with each call started as soon as its arguments are complete;
* ``after_stream_s``: the same turn with the calls started only once the stream has ended;
* ``lower_bound_s``: max(stream end, max over calls of arguments complete + tool time), from
  the early-dispatch runs' own timestamps: no schedule can end the turn sooner.

``early_never_slower`` compares the two medians within 1%, the noise between separate runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from pydantic import Field

from .._executor import Executor
from .._loop import run_turn
from .._model import ModelAdapter, collect
from .._tools import Tool, tool
from ..observe._trace import StreamRecorder, TraceTurn
from ..testing import OfflineModel

__all__ = ["StreamingScenario", "run_streaming_benchmark", "streaming_scenarios"]

TASKS = [f"task{i}" for i in range(1, 9)]


@dataclass(frozen=True)
class StreamingScenario:
    name: str
    latencies: tuple[float, ...]  # one per call, in the order the model writes them
    provider: str = "openai-chat"  # the wire format the offline model streams it in


def streaming_scenarios(scale: float = 1.0) -> list[StreamingScenario]:
    scenarios = []
    for n in (3, 5, 8):
        slow, fast = 1.0 * scale, 0.3 * scale
        scenarios += [
            StreamingScenario(f"{n} calls, slowest first", (slow,) + (fast,) * (n - 1)),
            StreamingScenario(f"{n} calls, slowest last", (fast,) * (n - 1) + (slow,)),
            StreamingScenario(f"{n} calls, equal", (0.5 * scale,) * n),
        ]
    slowest_first = (1.0 * scale,) + (0.3 * scale,) * 2
    # Gemini: each call whole in a chunk of its own, ready when the chunk arrives; Converse
    # (boto3, the binary event stream): each call a content block, ready at its contentBlockStop
    scenarios.append(StreamingScenario("3 calls, slowest first, Gemini", slowest_first, "gemini"))
    scenarios.append(
        StreamingScenario("3 calls, slowest first, Converse", slowest_first, "bedrock")
    )
    return scenarios


def _work_tool(latencies: Sequence[float]) -> Tool:
    by_task = dict(zip(TASKS, latencies, strict=False))

    @tool
    async def work(task: Annotated[str, Field(examples=TASKS)]) -> str:
        """Do one task (it takes as long as the scenario says)."""
        await anyio.sleep(by_task[task])
        return f"{task} done"

    return work


async def _early(
    model: ModelAdapter, executor: Executor, prompt: str
) -> tuple[float, float, TraceTurn]:
    """One early-dispatch turn: (turn latency, lower bound, the turn with its stream's times)."""
    recorder = StreamRecorder()
    _, stats = await run_turn(model, [model.user_message(prompt)], executor, on_event=recorder)
    (turn,) = recorder.turns
    ready = turn.ready_at
    bound = max([stats.model_ended_at] + [ready[r.call_id] + r.duration for r in stats.results])
    return stats.wall_s, bound - stats.started_at, turn


async def _after(model: ModelAdapter, executor: Executor, prompt: str) -> float:
    """The same turn, with the calls started only after the stream has ended."""
    started = time.perf_counter()
    response = await collect(model.stream([model.user_message(prompt)], executor.toolbox))
    await executor.run(response.calls)
    return time.perf_counter() - started


async def _measure(
    scenario: StreamingScenario, repeat: int, token_rate: float, first_token_s: float
) -> tuple[dict[str, Any], TraceTurn]:
    from ..providers import adapter

    n = len(scenario.latencies)
    prompt = "Please do " + ", ".join(TASKS[:n]) + "."
    executor = Executor([_work_tool(scenario.latencies)])
    engine = OfflineModel(token_rate=token_rate, first_token_s=first_token_s)
    early: list[float] = []
    bounds: list[float] = []
    after: list[float] = []
    async with adapter(scenario.provider, offline=engine) as model:
        await _after(model, executor, prompt)  # warm up the SDK's first-use costs
        for _ in range(repeat):  # interleaved, so drift on a shared machine hits both alike
            wall, bound, turn = await _early(model, executor, prompt)
            early.append(wall)
            bounds.append(bound)
            after.append(await _after(model, executor, prompt))
    e, a, b = statistics.median(early), statistics.median(after), statistics.median(bounds)
    row = {
        "scenario": scenario.name,
        "calls": n,
        "latencies_s": list(scenario.latencies),
        "early_dispatch_s": round(e, 4),
        "after_stream_s": round(a, 4),
        "lower_bound_s": round(b, 4),
        "early_over_bound": round(e / b, 4),
        "saved_s": round(a - e, 4),
    }
    return row, turn


def run_streaming_benchmark(
    *,
    repeat: int = 3,
    scale: float = 1.0,
    token_rate: float = 50.0,
    first_token_s: float = 0.2,
    progress: Callable[[str], None] = lambda _: None,
    record: Callable[[str, TraceTurn], None] = lambda *_: None,
) -> dict[str, Any]:
    """Run every streaming scenario; returns a JSON-ready report. ``record`` is given each
    scenario's name and its last early-dispatch turn (for ``bench --trace``)."""
    rows = []
    for scenario in streaming_scenarios(scale):
        progress(scenario.name)
        row, turn = anyio.run(_measure, scenario, repeat, token_rate, first_token_s)
        rows.append(row)
        record(scenario.name, turn)
    return {
        "model": f"offline, {token_rate:g} tokens/s, {first_token_s:g} s to first token",
        "repeat": repeat,
        "scenarios": rows,
        "worst_early_over_bound": max(r["early_over_bound"] for r in rows),
        # within 1%: the two are measured in separate runs on a shared machine
        "early_never_slower": all(
            r["early_dispatch_s"] <= r["after_stream_s"] * 1.01 for r in rows
        ),
    }
