"""The three-city weather exercise, measured: one response with several calls, run one after
another and then at once, all results back in one follow-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._calls import ToolCall, ToolResult
from .._errors import UserError
from .._events import CallStarted, TurnEvent, TurnStats
from .._executor import Executor
from .._loop import LoopResult, run_loop, run_turn
from .._model import NOT_RUN_SERIAL, Message, ModelAdapter
from .._optional import require
from .._report import BatchReport
from .._toolbox import Toolbox
from ..observe._trace import StreamRecorder, TraceTurn
from ..testing import OfflineModel
from ._weather_tool import weather_tool

__all__ = ["DEFAULT_PROMPT", "DemoReport", "DemoSettings", "Provider", "run_demo"]

DEFAULT_PROMPT = "What's the weather in Seoul, Tokyo and Paris?"
Provider = Literal["offline", "openai", "responses", "anthropic", "gemini", "bedrock"]


@dataclass(frozen=True)
class DemoSettings:
    prompt: str = DEFAULT_PROMPT
    serial: bool = False
    provider: Provider = "offline"
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    token_rate: float = 50.0
    first_token_s: float = 0.2
    extra_cities: tuple[str, ...] = ()
    tool_timeout_s: float = 30.0


@dataclass(frozen=True)
class DemoReport:
    prompt: str
    provider: str
    model: str
    mode: Literal["parallel", "serial"]
    tool_calls_in_first_response: int
    model_turns: int
    sequential_s: float
    parallel_s: float
    # the headline: the calls one after another over at once; under --serial, the conversation
    # with parallel tool calls off over the same conversation with them on, end to end
    speedup: float
    ideal_speedup: float  # what tools_speedup could reach had every call started at once
    end_to_end_s: float
    model_s: float
    final_answer: str
    # --serial only: the same conversation with parallel tool calls on, for comparison
    parallel_conversation_s: float | None = None
    parallel_conversation_turns: int | None = None
    # the first model turn, streamed, with its calls started as their arguments completed
    first_turn: TurnStats | None = field(repr=False, default=None)
    sequential: tuple[ToolResult, ...] = field(repr=False, default=())
    parallel: tuple[ToolResult, ...] = field(repr=False, default=())
    calls: tuple[ToolCall, ...] = field(repr=False, default=())  # in the order they were made
    # every model turn with its stream's times, for --trace: the conversation (the first turn
    # and its follow-ups; under --serial the serial one), and --serial's comparison conversation
    conversation_turns: tuple[TraceTurn, ...] = field(repr=False, default=())
    comparison_turns: tuple[TraceTurn, ...] = field(repr=False, default=())

    @property
    def started_while_streaming(self) -> int:
        """How many calls of the first turn started before the model finished writing."""
        if self.first_turn is None:
            return 0
        return sum(r.started_at < self.first_turn.model_ended_at for r in self.first_turn.results)

    @property
    def first_call_started_s(self) -> float | None:
        """When the first call started, in seconds from the first request."""
        if self.first_turn is None or not self.first_turn.results:
            return None
        return min(r.started_at for r in self.first_turn.results) - self.first_turn.started_at

    @property
    def tools_speedup(self) -> float:
        """The time in tools one after another over at once (the headline unless --serial)."""
        return self.sequential_s / self.parallel_s if self.parallel_s > 0 else 1.0

    @property
    def failed(self) -> tuple[ToolResult, ...]:
        made = self.sequential if self.mode == "serial" else self.parallel
        return tuple(r for r in made if not r.ok)

    def as_json(self) -> dict[str, Any]:
        if self.mode == "serial":  # the calls the serial conversation made, in its order
            pairs: list[tuple[ToolResult, ToolResult | None]] = list(
                zip(self.sequential, self.parallel, strict=False)
            )
            pairs += [(r, None) for r in self.sequential[len(pairs) :]]
            return self._json(
                [
                    {
                        "id": r.call_id,
                        "name": r.name,
                        "status": r.status,
                        "content": r.content,
                        "sequential_duration_s": round(r.duration, 4),
                        "parallel_duration_s": None if p is None else round(p.duration, 4),
                    }
                    for r, p in pairs
                ]
            )
        by_id = {r.call_id: r for r in self.sequential}
        return self._json(
            [
                {
                    "id": r.call_id,
                    "name": r.name,
                    "status": r.status,
                    "content": r.content,
                    "sequential_duration_s": round(by_id[r.call_id].duration, 4)
                    if r.call_id in by_id
                    else None,
                    "parallel_duration_s": round(r.duration, 4),
                }
                for r in self.parallel
            ]
        )

    def _json(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "provider": self.provider,
            "model": self.model,
            "mode": self.mode,
            "tool_calls_in_first_response": self.tool_calls_in_first_response,
            "model_turns": self.model_turns,
            "sequential_s": round(self.sequential_s, 4),
            "parallel_s": round(self.parallel_s, 4),
            # no figure measured on calls that failed
            "speedup": None if self.failed else round(self.speedup, 3),
            "tools_speedup": None if self.failed else round(self.tools_speedup, 3),
            "ideal_speedup": None if self.failed else round(self.ideal_speedup, 3),
            "end_to_end_s": round(self.end_to_end_s, 4),
            "model_s": round(self.model_s, 4),
            "final_answer": self.final_answer,
            "first_model_turn_s": None
            if self.first_turn is None
            else round(self.first_turn.model_s, 4),
            "first_call_started_s": None
            if self.first_call_started_s is None
            else round(self.first_call_started_s, 4),
            "calls_started_while_streaming": self.started_while_streaming,
            "parallel_conversation_s": None
            if self.parallel_conversation_s is None
            else round(self.parallel_conversation_s, 4),
            "parallel_conversation_turns": self.parallel_conversation_turns,
            "failed_calls": len(self.failed),
            "calls": calls,
        }


# The CLI's --provider words (a public option, kept) and the provider each names.
PROVIDER_NAMES = {
    "openai": "openai-chat",
    "responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",  # the offline model in Gemini's format, unless given a --base-url
    "bedrock": "bedrock",  # Converse: the offline model, or the endpoint --base-url names
}


def make_model(settings: DemoSettings) -> ModelAdapter:
    """The adapter the settings ask for: the offline model in-process unless told otherwise."""
    from ..providers import adapter

    spec = PROVIDER_NAMES.get(settings.provider, "openai-chat")
    if settings.model:
        spec = f"{spec}:{settings.model}"
    if settings.provider == "offline" or (
        settings.provider in ("gemini", "bedrock") and not settings.base_url
    ):
        engine = OfflineModel(
            token_rate=settings.token_rate,
            first_token_s=settings.first_token_s,
            aliases=(settings.model,) if settings.model else ("offline",),
        )
        return adapter(spec, offline=engine)
    if settings.provider == "bedrock":  # boto3 finds the AWS credentials and region itself
        return adapter(spec, base_url=settings.base_url)
    key = settings.api_key or ("not-needed" if settings.base_url else None)
    return adapter(spec, base_url=settings.base_url, api_key=key)


async def run_demo(
    settings: DemoSettings,
    *,
    weather_url: str,
    geocoding_url: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
    model: ModelAdapter | None = None,
) -> DemoReport:
    """Run the exercise against the weather service at ``weather_url``."""
    from ._cities import CITIES

    httpx: Any = require("httpx", "cli")
    cities = [c.name for c in CITIES] + list(settings.extra_cities)
    adapter = model or make_model(settings)
    model_name = getattr(adapter, "model", adapter.provider)
    # One HTTP client for every call, as real code would: connections are reused and its
    # set-up cost (an SSL context) is not counted against the first call.
    async with adapter, httpx.AsyncClient(timeout=settings.tool_timeout_s) as http:
        tool = weather_tool(
            forecast_url=weather_url,
            geocoding_url=geocoding_url or weather_url,
            cities=cities,
            timeout=settings.tool_timeout_s,
            http_client=http,
        )
        toolbox = Toolbox([tool])
        if settings.serial:
            return await _serial(settings, adapter, toolbox, model_name, progress)
        return await _parallel(settings, adapter, toolbox, model_name, progress)


async def _parallel(
    settings: DemoSettings,
    model: ModelAdapter,
    toolbox: Toolbox,
    model_name: str,
    progress: Callable[[str], None],
) -> DemoReport:
    progress("Asking the model; each call starts as soon as it has been written")
    transcript: list[Message] = [model.user_message(settings.prompt)]

    def watch(event: TurnEvent) -> None:
        if isinstance(event, CallStarted):
            progress(f"{event.call.name} started while the model is writing")

    recorder = StreamRecorder(then=watch)
    response, first = await run_turn(model, transcript, Executor(toolbox), on_event=recorder)
    calls = response.calls
    if not calls:
        raise UserError(f"The model answered without calling a tool: {response.text!r}")
    parallel = list(first.results)
    parallel_s = first.report.wall_s if first.report else 0.0
    progress(f"For comparison, running the {len(calls)} calls one after another")
    sequential, sequential_s = await _timed_run(Executor(toolbox, mode="serial"), calls)
    progress("Every result went back in one follow-up; waiting for the answer")
    rest = await run_loop(model, transcript, toolbox, max_turns=8, on_event=recorder)
    return DemoReport(
        prompt=settings.prompt,
        provider=settings.provider,
        model=model_name,
        mode="parallel",
        tool_calls_in_first_response=len(calls),
        model_turns=1 + rest.model_turns,
        sequential_s=sequential_s,
        parallel_s=parallel_s,
        speedup=sequential_s / parallel_s if parallel_s > 0 else 1.0,
        ideal_speedup=_ideal(sequential_s, parallel),
        end_to_end_s=first.wall_s + rest.wall_s,
        model_s=first.model_s + rest.model_s,
        final_answer=rest.final_text,
        first_turn=first,
        sequential=tuple(sequential),
        parallel=tuple(parallel),
        calls=tuple(calls),
        conversation_turns=tuple(recorder.turns),
    )


async def _serial(
    settings: DemoSettings,
    model: ModelAdapter,
    toolbox: Toolbox,
    model_name: str,
    progress: Callable[[str], None],
) -> DemoReport:
    progress("Running the conversation with parallel tool calls off (one call per model turn)")
    recorder, comparison = StreamRecorder(), StreamRecorder()
    started = time.perf_counter()
    outcome: LoopResult = await run_loop(
        model, settings.prompt, toolbox, parallel_tool_calls=False, max_turns=16, on_event=recorder
    )
    end_to_end = time.perf_counter() - started
    # (calls the adapter declined, not run: Gemini and Converse have no switch, see _serial)
    sequential = [r for turn in outcome.turns for r in turn.results if not _declined(r)]
    ran = {r.call_id for r in sequential}
    calls = [c for turn in outcome.turns for c in turn.tool_calls if c.id in ran]
    if not calls:
        raise UserError(f"The model answered without calling a tool: {outcome.final_text!r}")
    # The comparison is a conversation the demo really has: the same prompt with parallel tool
    # calls on. Its first turn's calls are the "at once" run.
    progress("For comparison, the same conversation with parallel tool calls on")
    started = time.perf_counter()
    with_parallel = await run_loop(
        model, settings.prompt, toolbox, max_turns=16, on_event=comparison
    )
    parallel_conversation_s = time.perf_counter() - started
    parallel = list(with_parallel.turns[0].results)
    parallel_s = with_parallel.turns[0].tools_s
    sequential_s = sum(t.tools_s for t in outcome.turns)
    return DemoReport(
        prompt=settings.prompt,
        provider=settings.provider,
        model=model_name,
        mode="serial",
        tool_calls_in_first_response=outcome.turns[0].calls,
        model_turns=outcome.model_turns,
        sequential_s=sequential_s,
        parallel_s=parallel_s,
        speedup=end_to_end / parallel_conversation_s,
        ideal_speedup=_ideal(sequential_s, parallel),
        end_to_end_s=end_to_end,
        model_s=outcome.model_s,
        final_answer=outcome.final_text,
        parallel_conversation_s=parallel_conversation_s,
        parallel_conversation_turns=with_parallel.model_turns,
        sequential=tuple(sequential),
        parallel=tuple(parallel),
        calls=(*calls, *with_parallel.turns[0].tool_calls),
        conversation_turns=tuple(recorder.turns),
        comparison_turns=tuple(comparison.turns),
    )


async def _timed_run(
    executor: Executor, calls: Sequence[ToolCall]
) -> tuple[list[ToolResult], float]:
    started = time.perf_counter()
    results = await executor.run(calls)
    return results, time.perf_counter() - started


def _ideal(sequential_s: float, parallel: Sequence[ToolResult]) -> float:
    """The one-after-another time over the longest call of the run at once: the speedup if
    every call had started at the same moment. The run's wall time is at least its longest
    call, so the measured speedup cannot exceed it."""
    longest = BatchReport.from_results(parallel).ideal_s
    return sequential_s / longest if longest > 0 else 1.0


def _declined(result: ToolResult) -> bool:
    return result.is_error and result.content == NOT_RUN_SERIAL
