"""What ``toolvolley bench`` runs and prints."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._calls import ToolResult
from .._errors import UserError, describe_exception
from .._executor import Executor
from ..bench import run_executor_benchmark, run_streaming_benchmark, run_sweep, streaming_scenarios
from ..bench._executor import TOOLBOX, make_calls, scenarios
from ..bench._plans import run_plans_benchmark
from ..bench._plans import steps as plan_steps
from ..bench._plot import sweep_svg
from ..observe._timeline import Timeline, save_timelines
from ..observe._trace import TraceSection, TraceTurn, write_trace
from .bench_tables import render
from .options import (
    check_at_least,
    check_extra,
    check_output,
    check_positive,
    check_seconds,
)

__all__ = ["run_bench_command"]

SCENARIOS = "ABCDE"  # the executor benchmark's (toolvolley.bench._executor.scenarios)


def _steps(only: str, streaming: bool, sizes: Sequence[int] | None, mcp: bool = False) -> int:
    latency = {"A": 4, "B": 3, "C": 3, "E": 4}  # async scenarios add the bare-gather floor
    total = sum(latency.get(k, 0) for k in only) + (3 if "D" in only else 0)
    total += len(streaming_scenarios()) if streaming else 0
    total += 4 if mcp else 0
    total += 3 * 3 * len(sizes) if sizes else 0
    return total


def run_bench_command(
    *,
    repeat: int,
    scale: float,
    only: str,
    streaming: bool,
    json_output: bool,
    plot: str | None,
    timeline: str | None,
    sweep_latency: float,
    max_calls: int,
    token_rate: float = 50.0,
    first_token_s: float = 0.2,
    mcp: bool = False,
    trace: str | None = None,
    scale_bench: bool = False,
    plans: bool = False,
    journal: bool = False,
) -> int:
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:  # every option that can fail is checked before the benchmark runs
        _check_options(
            repeat=repeat,
            scale=scale,
            only=only,
            sweep_latency=sweep_latency,
            max_calls=max_calls,
            token_rate=token_rate,
            first_token_s=first_token_s,
            outputs={"--plot": plot, "--timeline": timeline, "--trace": trace},
        )
        # each of these talks to the offline model through the OpenAI SDK
        for given, what in (
            (streaming, "the streaming benchmark (--no-streaming skips it)"),
            (plans, "--plans"),
            (scale_bench, "--scale-bench"),
        ):
            if given:
                check_extra(what, "openai", "cli")
        if mcp:
            check_extra("--mcp", "mcp", "mcp")
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    sizes = (
        [n for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if n <= max_calls] if plot else None
    )
    report: dict[str, Any] = {}
    early_turns: list[tuple[str, TraceTurn]] = []  # the streaming part's, for --trace
    broken: tuple[str, Exception] | None = None  # the part that failed; what ran before is kept
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # in a log, a bar's frames are noise
    ) as progress:
        total = _steps(only, streaming, sizes, mcp) + (3 if scale_bench else 0)
        total += plan_steps(()) if plans else 0
        total += 3 if journal else 0
        task = progress.add_task("benchmark", total=total)

        def step(name: str) -> None:
            progress.update(task, advance=1, description=name)

        parts = _parts(
            repeat=repeat,
            scale=scale,
            only=only,
            streaming=streaming,
            sizes=sizes,
            sweep_latency=sweep_latency,
            token_rate=token_rate,
            first_token_s=first_token_s,
            mcp=mcp,
            scale_bench=scale_bench,
            plans=plans,
            journal=journal,
            progress=step,
            record=lambda name, turn: early_turns.append((name, turn)),
        )
        for key, measure in parts:
            try:
                report[key] = measure()
            except Exception as exc:
                broken = (key, exc)
                break
    if json_output:
        out.print_json(json.dumps(report))
    else:
        render(out, report)
    if broken is not None:
        part, failure = broken
        err.print(
            f"[bold red]error:[/] the {part} benchmark failed: "
            f"{escape(' '.join(describe_exception(failure, limit=None).split()))}",
            soft_wrap=True,
        )
        return 1
    try:
        _write_files(
            err, report, early_turns, scale=scale, plot=plot, timeline=timeline, trace=trace
        )
    except OSError as exc:
        err.print(
            f"[bold red]error:[/] cannot write {escape(str(exc.filename))}: {exc.strerror}",
            soft_wrap=True,
        )
        return 1
    return 0


def _check_options(
    *,
    repeat: int,
    scale: float,
    only: str,
    sweep_latency: float,
    max_calls: int,
    token_rate: float,
    first_token_s: float,
    outputs: dict[str, str | None],
) -> None:
    check_at_least("--repeat", repeat)
    check_positive("--scale", scale)
    if unknown := sorted(set(only) - set(SCENARIOS)):
        raise UserError(
            f"--only takes scenario letters from {SCENARIOS} (or '' for none), "
            f"not {''.join(unknown)!r}."
        )
    check_positive("--sweep-latency", sweep_latency, "number of seconds")
    check_at_least("--max-calls", max_calls)
    check_positive("--token-rate", token_rate, "number of tokens a second")
    check_seconds("--first-token", first_token_s)
    suffixes = {"--plot": (".svg",), "--timeline": (".svg", ".html"), "--trace": (".json",)}
    for flag, path in outputs.items():
        check_output(flag, path, suffixes[flag])


def _parts(
    *,
    repeat: int,
    scale: float,
    only: str,
    streaming: bool,
    sizes: list[int] | None,
    sweep_latency: float,
    token_rate: float,
    first_token_s: float,
    mcp: bool,
    scale_bench: bool,
    plans: bool,
    progress: Callable[[str], None],
    journal: bool = False,
    record: Callable[[str, TraceTurn], None],
) -> list[tuple[str, Callable[[], Any]]]:
    """The benchmarks asked for, in the order they run: (report key, run it)."""
    parts: list[tuple[str, Callable[[], Any]]] = []
    small = min(scale, 1.0)
    if only:
        parts.append(
            (
                "executor",
                lambda: run_executor_benchmark(
                    repeat=repeat,
                    scale=scale,
                    noops=max(10, int(1000 * small)),
                    only=only,
                    progress=progress,
                ),
            )
        )
    if streaming:
        parts.append(
            (
                "streaming",
                lambda: run_streaming_benchmark(
                    repeat=max(1, min(repeat, 3)),
                    scale=scale,
                    token_rate=token_rate,
                    first_token_s=first_token_s,
                    progress=progress,
                    record=record,
                ),
            )
        )
    if sizes:
        parts.append(
            ("sweep", lambda: run_sweep(latency=sweep_latency, sizes=sizes, progress=progress))
        )
    if mcp:
        parts.append(("mcp", lambda: _mcp(repeat, scale, progress)))
    if scale_bench:
        parts.append(("scale", lambda: _scale(repeat, scale, progress)))
    if plans:
        parts.append(
            (
                "plans",
                lambda: run_plans_benchmark(
                    calls=max(20, int(1000 * small)),
                    median=0.05 * scale,
                    pairs=max(5, int(500 * small)),
                    plan_runs=max(1, min(repeat, 3)),
                    plan_latency=scale,
                    token_rate=token_rate,
                    first_token_s=first_token_s,
                    progress=progress,
                ),
            )
        )
    if journal:
        noops = max(10, int(1000 * small))
        parts.append(("journal", lambda: _journal(repeat, noops, scale, progress)))
    return parts


def _journal(repeat: int, noops: int, scale: float, progress: Callable[[str], None]) -> Any:
    from ..bench._journal import run_journal_benchmark

    return run_journal_benchmark(repeat=repeat, noops=noops, seed_scale=scale, progress=progress)


def _mcp(repeat: int, scale: float, progress: Callable[[str], None]) -> Any:
    from ..bench._mcp import run_mcp_benchmark  # needs the mcp extra, checked up front

    noops = max(10, int(200 * min(scale, 1.0)))
    return run_mcp_benchmark(repeat=repeat, latency=0.5 * scale, noops=noops, progress=progress)


def _scale(repeat: int, scale: float, progress: Callable[[str], None]) -> Any:
    from ..bench._scale import run_scale_benchmark
    from ..runners.ray import ray_available

    conversations = max(10, int(1000 * min(scale, 1.0)))
    concurrency = max(2, conversations // 10)
    return run_scale_benchmark(
        conversations=conversations,
        concurrency=concurrency,
        many_conversations=10 * conversations,
        many_concurrency=10 * concurrency,
        latency=0.5 * scale,
        ray=ray_available(),
        ray_calls=max(10, int(200 * min(scale, 1.0))),
        repeat=repeat,
        progress=progress,
    )


def _write_files(
    err: Console,
    report: dict[str, Any],
    early_turns: list[tuple[str, TraceTurn]],
    *,
    scale: float,
    plot: str | None,
    timeline: str | None,
    trace: str | None,
) -> None:
    """--plot, --timeline and --trace, after the report is printed (so a failed write loses no
    figure)."""
    if plot and "sweep" in report:
        Path(plot).write_text(sweep_svg(report["sweep"]), encoding="utf-8")
        err.print(f"chart written to {plot}")
    if timeline or trace:
        serial, parallel, description = _scenario_a(scale)
        if timeline:
            path = save_timelines(
                timeline,
                [
                    (f"{description}, serial", Timeline.from_results(serial)),
                    (f"{description}, parallel", Timeline.from_results(parallel)),
                ],
            )
            err.print(f"timeline written to {path}")
        if trace:
            sections = [
                TraceSection(f"{description}, serial", serial),
                TraceSection(f"{description}, parallel", parallel),
            ]
            sections += [
                TraceSection(f"streaming, early dispatch: {name}", turns=[turn])
                for name, turn in early_turns
            ]
            path = write_trace(trace, sections)
            err.print(f"trace written to {path}")


def _scenario_a(scale: float) -> tuple[list[ToolResult], list[ToolResult], str]:
    """Scenario A once each way, for the timeline and the trace."""
    scenario = scenarios(scale)[0]
    calls = make_calls(scenario.tool, scenario.latencies, "seconds")
    serial = anyio.run(Executor(TOOLBOX, mode="serial").run, calls)
    parallel = anyio.run(Executor(TOOLBOX).run, calls)
    return serial, parallel, scenario.description
