"""What ``toolvolley demo`` prints: the report drawn with rich, or as JSON."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, cast

import anyio
from rich.console import Console
from rich.markup import escape

from .._calls import ToolResult
from .._errors import ModelError, UserError, describe_exception
from ..demo import DemoReport, DemoSettings, WeatherService, run_demo
from ..demo._runner import Provider
from ..observe._timeline import Bar, Timeline, save_timelines
from ..observe._trace import TraceSection, write_trace
from ..testing._serving import serve_in_thread
from .options import check_extra, check_output, check_positive, check_seconds

__all__ = ["run_demo_command"]

_KEYS = {
    "openai": "OPENAI_API_KEY",
    "responses": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}


def run_demo_command(
    *,
    prompt: str,
    serial: bool,
    json_output: bool,
    provider: str,
    base_url: str | None,
    model: str | None,
    weather_url: str | None,
    geocoding_url: str | None,
    latency: float,
    jitter: float,
    token_rate: float,
    first_token: float,
    extra_cities: tuple[str, ...],
    debug: bool,
    timeline: str | None = None,
    trace: str | None = None,
    plan: bool = False,
) -> int:
    """Run the demo and print it; returns the exit code (2 for a bad option, before any work;
    1 when anything failed)."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        _check_options(
            provider=provider,
            base_url=base_url,
            latency=latency,
            jitter=jitter,
            token_rate=token_rate,
            first_token=first_token,
            timeline=timeline,
            trace=trace,
        )
        if plan:
            given = {
                "--serial": serial,
                "--provider": provider != "offline",
                "--base-url": base_url,
                "--model": model,
                "--extra-city": extra_cities,
                "--timeline": timeline,
                "--trace": trace,
            }
            if refused := [flag for flag, value in given.items() if value]:
                raise UserError(
                    f"--plan does not take {', '.join(refused)}: the capitals exercise runs "
                    "the offline model and prints its own timeline."
                )
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    if plan:  # the capitals exercise, flat against planned (toolvolley.demo._plan)
        from ..demo._plan import run_plan_command

        return run_plan_command(
            out,
            err,
            prompt=prompt,
            json_output=json_output,
            weather=functools.partial(_weather, weather_url, latency, jitter),
            geocoding_url=geocoding_url,
            token_rate=token_rate,
            first_token=first_token,
            latency=latency,
            jitter=jitter,
            fail=functools.partial(_print_failure, err, debug=debug),
            failed=functools.partial(_print_failed, err),
        )
    try:
        settings = DemoSettings(
            prompt=prompt,
            serial=serial,
            provider=cast(Provider, provider),
            base_url=base_url,
            model=model,
            token_rate=token_rate,
            first_token_s=first_token,
            extra_cities=extra_cities,
        )
        with (
            _weather(weather_url, latency, jitter) as forecast_url,
            err.status("Starting") as status,
        ):
            report = anyio.run(
                functools.partial(
                    run_demo,
                    settings,
                    weather_url=forecast_url,
                    geocoding_url=geocoding_url or forecast_url,
                    progress=lambda step: status.update(f"{step} ..."),
                )
            )
    except Exception as exc:
        _print_failure(err, exc, debug=debug)
        return 1
    if json_output:
        out.print_json(json.dumps(report.as_json()))
    elif not report.failed:  # figures measured on failed calls would mislead
        _render(out, report, weather_url or "a local Open-Meteo-style service on loopback")
    try:
        if timeline:
            sequential, parallel = _timelines(report)
            first, second = _headings(report)
            saved = save_timelines(
                timeline,
                [
                    (f"{first}: {report.sequential_s:.2f} s", sequential),
                    (f"{second}: {report.parallel_s:.2f} s", parallel),
                ],
            )
            err.print(f"timeline written to {saved}")
        if trace:
            saved_trace = write_trace(trace, demo_trace(report))
            err.print(f"trace written to {saved_trace}")
    except OSError as exc:
        err.print(
            f"[bold red]error:[/] cannot write {escape(str(exc.filename))}: {exc.strerror}",
            soft_wrap=True,
        )
        return 1
    _print_failed(
        err, report.failed, len(report.sequential if report.mode == "serial" else report.parallel)
    )
    return 1 if report.failed else 0


def _print_failed(err: Console, failed: Sequence[ToolResult], calls: int) -> None:
    """A line per failed call (its result's first line), and that no speedup is reported."""
    for result in failed:
        first = (result.content.strip().splitlines() or [""])[0]
        err.print(
            f"[bold red]failed:[/] {result.call_id} {result.name}: {escape(first)}",
            soft_wrap=True,
        )
    if failed:
        err.print(f"{len(failed)} of {calls} calls failed: no speedup is reported.", soft_wrap=True)


def _check_options(
    *,
    provider: str,
    base_url: str | None,
    latency: float,
    jitter: float,
    token_rate: float,
    first_token: float,
    timeline: str | None,
    trace: str | None,
) -> None:
    """Every option that can be wrong, before the demo starts anything."""
    check_seconds("--latency", latency)
    check_seconds("--jitter", jitter, at_most=("--latency", latency))
    check_positive("--token-rate", token_rate, "number of tokens a second")
    check_seconds("--first-token", first_token)
    check_output("--timeline", timeline, (".svg", ".html"))
    check_output("--trace", trace, (".json",))
    if provider not in ("offline", "openai", "responses", "anthropic", "gemini", "bedrock"):
        raise UserError(
            "--provider must be offline, openai, responses, anthropic, gemini or bedrock, "
            f"not {provider!r}."
        )
    if provider == "offline" and base_url:
        raise UserError(
            "--base-url is for --provider openai, responses, anthropic, gemini or bedrock: the "
            "offline model runs in-process (point --provider openai at `toolvolley serve-model` "
            "to use HTTP)."
        )
    if provider == "anthropic":  # the other providers speak through the OpenAI SDK (cli extra)
        check_extra("--provider anthropic", "anthropic", "anthropic")
    if provider == "gemini":  # the offline model in Gemini's format, or a --base-url
        check_extra("--provider gemini", "google.genai", "gemini")
        return
    if provider == "bedrock":  # Converse, offline unless --base-url names an endpoint
        check_extra("--provider bedrock", "boto3", "bedrock")
        return
    if provider != "offline" and not base_url and not os.environ.get(_KEYS[provider]):
        raise UserError(f"--provider {provider} needs {_KEYS[provider]} set, or --base-url.")


@contextlib.contextmanager
def _weather(url: str | None, latency: float, jitter: float) -> Iterator[str]:
    if url:
        yield url
        return
    with serve_in_thread(WeatherService(latency_s=latency, jitter_s=jitter)) as local:
        yield local


def _print_failure(err: Console, exc: BaseException, *, debug: bool) -> None:
    """One line on stderr, or with ``--debug`` the whole chain (a ModelError, then the SDK's
    exception that caused it)."""
    if debug:
        err.out("".join(traceback.format_exception(exc)), highlight=False, end="")
    else:
        err.print(f"[bold red]error:[/] {escape(_describe(exc))}", soft_wrap=True)


def _describe(exc: BaseException) -> str:
    """One line: what failed and the exception that says why."""
    if isinstance(exc, ModelError):
        cause = exc.__cause__
        why = exc.message if cause is None else describe_exception(cause, limit=None)
        return " ".join(f"model call failed ({exc.provider}): {why}".split())
    if isinstance(exc, UserError):  # already says what to do
        return str(exc)
    name = type(exc).__name__
    if "Connection" in name or "Connect" in name:
        return f"could not reach the model or service ({name}: {exc})"
    return " ".join(describe_exception(exc, limit=None).split())


def _render(console: Console, report: DemoReport, weather: str) -> None:
    who = (
        "offline model (a deterministic planner, not an LLM)"
        if report.provider == "offline"
        else f"{report.provider} model {report.model}"
    )
    console.print(f"[bold]toolvolley demo[/] · {who} · weather from {weather}")
    console.print(f"[bold]Prompt:[/] {escape(report.prompt)}")
    n = report.tool_calls_in_first_response
    calls = ", ".join(f"{c.name}({_args(c.arguments)})" for c in report.calls[:n])
    mark = "[green]✓[/]" if n > 1 else "[yellow]•[/]"
    console.print(f"{mark} {n} tool_call{'s' if n != 1 else ''} in one response: {escape(calls)}")
    if report.mode == "serial":
        console.print(f"  parallel tool calls off: {report.model_turns} model turns, one call each")
    elif report.first_turn is not None and report.first_call_started_s is not None:
        console.print(
            f"  streamed: the first call started {report.first_call_started_s:.2f} s in; "
            f"{report.started_while_streaming} of {n} started before the model finished "
            f"writing ({report.first_turn.model_s:.2f} s)"
        )
    sequential, parallel = _timelines(report)
    span = max(sequential.span_s, parallel.span_s, 1e-9)  # both drawn to the same scale
    first, second = _headings(report)
    console.print()
    console.print(f"[bold]{first}[/]  {report.sequential_s:.2f} s")
    console.print(escape(sequential.render(width=36, span_s=span)))
    console.print(f"[bold]{second}[/]  {report.parallel_s:.2f} s")
    console.print(escape(parallel.render(width=36, span_s=span)))
    if report.mode == "serial" and report.parallel_conversation_s is not None:
        console.print(
            f"\n[bold]Speedup {report.speedup:.2f}x[/] end to end: "
            f"{report.end_to_end_s:.2f} s in {report.model_turns} model turns with parallel tool "
            f"calls off, {report.parallel_conversation_s:.2f} s in "
            f"{report.parallel_conversation_turns} with them on (the tools alone "
            f"{report.tools_speedup:.2f}x, ideal {report.ideal_speedup:.2f}x)"
        )
    else:
        console.print(
            f"\n[bold]Speedup {report.speedup:.2f}x[/] (ideal {report.ideal_speedup:.2f}x: "
            "the time one after another over the longest call at once)"
        )
    console.print(
        f"\n[bold]Final answer[/] ({report.model_turns} model turns, "
        f"{report.end_to_end_s:.2f} s end to end, {report.model_s:.2f} s of it in the model):"
    )
    console.print(escape(report.final_answer))


def _headings(report: DemoReport) -> tuple[str, str]:
    """What each timeline shows: in --serial mode, the tool time of the serial conversation
    (one call per model turn) and of the parallel comparison conversation's first turn."""
    if report.mode == "serial":
        return (
            "Parallel tool calls off, one call per model turn (tool time)",
            "Parallel tool calls on, the comparison conversation's first turn",
        )
    return "One after another", "All at once, as written" if report.first_turn else "All at once"


def _timelines(report: DemoReport) -> tuple[Timeline, Timeline]:
    """The calls one after another, and at once as written (under the model's stream)."""
    labels = {c.id: f"{c.name}({_values(c.arguments)})" for c in report.calls}
    sequential = Timeline.from_results(
        report.sequential, labels=[labels[r.call_id] for r in report.sequential]
    )
    parallel = Timeline.from_results(
        report.parallel,
        labels=[labels[r.call_id] for r in report.parallel],
        origin=report.first_turn.started_at if report.first_turn else None,
    )
    if report.first_turn is not None:  # the model's stream as a bar above its calls
        turn = report.first_turn
        writing = Bar("model writing", "ok", 0.0, 0.0, turn.model_ended_at - turn.started_at)
        parallel = Timeline((writing, *parallel.bars))
    return sequential, parallel


def _parsed(arguments: Any) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _args(arguments: Any) -> str:
    return ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in _parsed(arguments).items()
    )


def _values(arguments: Any) -> str:
    return ", ".join(str(v) for v in _parsed(arguments).values())


def demo_trace(report: DemoReport) -> list[TraceSection]:
    """The demo's runs and conversations, one process each."""
    if report.mode == "serial":
        return [
            TraceSection(
                "parallel tool calls off: the conversation, one call per model turn",
                turns=report.conversation_turns,
            ),
            TraceSection(
                "parallel tool calls on: the comparison conversation",
                turns=report.comparison_turns,
            ),
        ]
    return [
        TraceSection("one after another", report.sequential, calls=report.calls),
        TraceSection("all at once, as written: the conversation", turns=report.conversation_turns),
    ]
