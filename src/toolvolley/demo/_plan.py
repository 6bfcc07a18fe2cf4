"""The capitals exercise, flat against planned: "What's the weather in the capitals of France,
Japan and Peru?" with ``get_capital`` and ``get_weather``.

* **Flat**: the model asks for the three capitals, then (next turn) for the three weathers,
  then answers: three model turns.
* **Planned**: the system prompt carries :func:`toolvolley.references_prompt`, the executor has
  ``references=True``, and the model writes all six calls in one response, each weather call
  referring to its capital (``get_weather(city="$1.capital")``), then answers: two model turns.
  Each weather call starts the moment its own capital is known.

``toolvolley demo --plan`` runs both with the offline model and prints them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from .._calls import ToolCall, ToolResult
from .._events import TurnStats
from .._executor import Executor
from .._loop import LoopResult, run_loop
from .._optional import require
from .._references import references_prompt
from .._toolbox import Toolbox
from ..observe._timeline import Bar, Timeline
from ..testing import OfflineModel
from ._capital_tool import capital_tool
from ._weather_tool import weather_tool

__all__ = [
    "PLAN_PROMPT",
    "PlanReport",
    "PlanSettings",
    "plan_timeline",
    "render_plan",
    "run_plan_command",
    "run_plan_demo",
]

PLAN_PROMPT = "What's the weather in the capitals of France, Japan and Peru?"


@dataclass(frozen=True)
class PlanSettings:
    prompt: str = PLAN_PROMPT
    token_rate: float = 50.0
    first_token_s: float = 0.2
    capital_latency_s: float = 1.0  # the capital look-up stands for one remote request
    capital_jitter_s: float = 0.25
    tool_timeout_s: float = 30.0


@dataclass(frozen=True)
class Conversation:
    """One run of the exercise: its turns (each with the calls it made) and its answer."""

    turns: tuple[TurnStats, ...]
    end_to_end_s: float
    final_answer: str

    @property
    def model_turns(self) -> int:
        return len(self.turns)

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(c for t in self.turns for c in t.tool_calls)

    @property
    def results(self) -> tuple[ToolResult, ...]:
        return tuple(r for t in self.turns for r in t.results)

    def as_json(self) -> dict[str, Any]:
        origin = self.turns[0].started_at if self.turns else 0.0
        return {
            "model_turns": self.model_turns,
            "end_to_end_s": round(self.end_to_end_s, 4),
            "calls_per_turn": [t.calls for t in self.turns],
            "final_answer": self.final_answer,
            "calls": [
                {
                    "turn": index + 1,
                    "id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                    "status": result.status,
                    "content": result.content,
                    "started_s": round(result.started_at - origin, 4),
                    "ended_s": round(result.ended_at - origin, 4),
                }
                for index, turn in enumerate(self.turns)
                for call, result in zip(turn.tool_calls, turn.results, strict=True)
            ],
        }


@dataclass(frozen=True)
class PlanReport:
    prompt: str
    flat: Conversation = field(repr=False)
    planned: Conversation = field(repr=False)

    @property
    def speedup(self) -> float:
        planned = self.planned.end_to_end_s
        return self.flat.end_to_end_s / planned if planned > 0 else 1.0

    @property
    def failed(self) -> tuple[ToolResult, ...]:
        return tuple(r for r in (*self.flat.results, *self.planned.results) if not r.ok)

    def as_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "flat": self.flat.as_json(),
            "planned": self.planned.as_json(),
            "flat_s": round(self.flat.end_to_end_s, 4),
            "planned_s": round(self.planned.end_to_end_s, 4),
            "speedup": None if self.failed else round(self.speedup, 3),  # not on failures
        }


async def run_plan_demo(
    settings: PlanSettings,
    *,
    weather_url: str,
    geocoding_url: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> PlanReport:
    """Run the capitals exercise flat, then planned, with the offline model in-process and the
    weather service at ``weather_url``."""
    httpx: Any = require("httpx", "cli")
    async with httpx.AsyncClient(timeout=settings.tool_timeout_s) as http:
        toolbox = Toolbox(
            [
                capital_tool(
                    latency_s=settings.capital_latency_s, jitter_s=settings.capital_jitter_s
                ),
                weather_tool(
                    forecast_url=weather_url,
                    geocoding_url=geocoding_url or weather_url,
                    timeout=settings.tool_timeout_s,
                    http_client=http,
                ),
            ]
        )
        progress("Flat: the capitals, then the weathers, then the answer")
        flat = await _converse(settings, Executor(toolbox), system=None)
        progress("Planned: every call in one response, the weathers referring to the capitals")
        planned = await _converse(
            settings, Executor(toolbox, references=True), system=references_prompt()
        )
    return PlanReport(settings.prompt, flat, planned)


async def _converse(settings: PlanSettings, executor: Executor, system: str | None) -> Conversation:
    from ..providers import OpenAIChat

    engine = OfflineModel(token_rate=settings.token_rate, first_token_s=settings.first_token_s)
    async with OpenAIChat.offline(engine, system=system) as model:
        started = time.perf_counter()
        outcome: LoopResult = await run_loop(model, settings.prompt, executor, max_turns=8)
        elapsed = time.perf_counter() - started
    return Conversation(outcome.turns, elapsed, outcome.final_text)


def plan_timeline(conversation: Conversation) -> Timeline:
    """Every call of the conversation from its first request, under a bar for each model turn's
    writing, so the dependent calls show where they start."""
    labels = {c.id: f"{c.name}({_values(c.arguments)})" for c in conversation.calls}
    if not conversation.turns:
        return Timeline(())
    origin = conversation.turns[0].started_at
    bars: list[Bar] = []
    for index, turn in enumerate(conversation.turns):
        start = turn.started_at - origin
        bars.append(
            Bar(f"model turn {index + 1}", "ok", start, start, turn.model_ended_at - origin)
        )
        calls = Timeline.from_results(
            turn.results, labels=[labels[r.call_id] for r in turn.results], origin=origin
        )
        bars.extend(calls.bars)
    return Timeline(tuple(bars))


def _values(arguments: Any) -> str:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    except ValueError:
        return ""
    return ", ".join(str(v) for v in value.values()) if isinstance(value, dict) else ""


def render_plan(console: Any, report: PlanReport) -> None:
    """Print the report with rich: both conversations, the speedup and the planned timeline."""
    from rich.markup import escape

    console.print(
        "[bold]toolvolley demo --plan[/] · offline model (a deterministic planner, not an LLM) · "
        "references between calls"
    )
    console.print(f"[bold]Prompt:[/] {escape(report.prompt)}")
    for name, run in (("Flat", report.flat), ("Planned", report.planned)):
        console.print(
            f"\n[bold]{name}[/]: {run.model_turns} model turns, {run.end_to_end_s:.2f} s end to end"
        )
        for index, turn in enumerate(run.turns):
            calls = ", ".join(f"{c.name}({_shown(c.arguments)})" for c in turn.tool_calls)
            console.print(f"  turn {index + 1}: {escape(calls) if calls else 'the answer'}")
    console.print(
        f"\n[bold]Speedup {report.speedup:.2f}x[/] end to end "
        f"({report.flat.end_to_end_s:.2f} s flat / {report.planned.end_to_end_s:.2f} s planned)"
    )
    flat, planned = plan_timeline(report.flat), plan_timeline(report.planned)
    span = max(flat.span_s, planned.span_s, 1e-9)  # both drawn to the same scale
    console.print("\n[bold]Flat timeline[/]")
    console.print(escape(flat.render(width=40, span_s=span)))
    console.print("[bold]Planned timeline[/] (each weather call starts when its capital is known)")
    console.print(escape(planned.render(width=40, span_s=span)))
    console.print(f"\n[bold]Final answer (planned)[/]:\n{escape(report.planned.final_answer)}")


def _shown(arguments: Any) -> str:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    except ValueError:
        return str(arguments)
    if not isinstance(value, dict):
        return str(arguments)
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())


def run_plan_command(
    out: Any,
    err: Any,
    *,
    prompt: str,
    json_output: bool,
    weather: Callable[[], AbstractContextManager[str]],
    geocoding_url: str | None,
    token_rate: float,
    first_token: float,
    latency: float,
    jitter: float,
    fail: Callable[[BaseException], None],
    failed: Callable[[Sequence[ToolResult], int], None],
) -> int:
    """``toolvolley demo --plan``: run, print, and return the exit code (1 when anything
    failed). ``weather`` gives the weather service's URL for the run's duration; ``fail``
    prints an exception the run ended with (as the demo does, ``--debug`` included), and
    ``failed`` the calls that failed out of how many (the figures are then not printed)."""
    import functools

    import anyio

    from ._runner import DEFAULT_PROMPT

    settings = PlanSettings(
        prompt=PLAN_PROMPT if prompt == DEFAULT_PROMPT else prompt,
        token_rate=token_rate,
        first_token_s=first_token,
        capital_latency_s=latency,
        capital_jitter_s=jitter,
    )
    try:
        with weather() as url, err.status("Starting") as status:
            report = anyio.run(
                functools.partial(
                    run_plan_demo,
                    settings,
                    weather_url=url,
                    geocoding_url=geocoding_url or url,
                    progress=lambda step: status.update(f"{step} ..."),
                )
            )
    except Exception as exc:
        fail(exc)
        return 1
    if json_output:
        out.print_json(json.dumps(report.as_json()))
    elif not report.failed:
        render_plan(out, report)
    failed(report.failed, len(report.flat.results) + len(report.planned.results))
    return 1 if report.failed else 0
