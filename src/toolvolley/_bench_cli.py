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
from rich.table import Table

from ._calls import ToolResult
from ._cli_options import (
    check_at_least,
    check_extra,
    check_output,
    check_positive,
    check_seconds,
)
from ._errors import UserError, describe_exception
from ._executor import Executor
from ._timeline import Timeline, save_timelines
from ._trace import TraceSection, TraceTurn, write_trace
from .bench import run_executor_benchmark, run_streaming_benchmark, run_sweep
from .bench._executor import TOOLBOX, make_calls, scenarios
from .bench._plans import run_plans_benchmark
from .bench._plans import steps as plan_steps
from .bench._plot import sweep_svg

__all__ = ["run_bench_command"]

SCENARIOS = "ABCDE"  # the executor benchmark's (toolvolley.bench._executor.scenarios)


def _steps(only: str, streaming: bool, sizes: Sequence[int] | None, mcp: bool = False) -> int:
    latency = {"A": 4, "B": 3, "C": 3, "E": 4}  # async scenarios add the bare-gather floor
    total = sum(latency.get(k, 0) for k in only) + (3 if "D" in only else 0)
    total += 9 if streaming else 0
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
        _render(out, report)
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
    return parts


def _mcp(repeat: int, scale: float, progress: Callable[[str], None]) -> Any:
    from .bench._mcp import run_mcp_benchmark  # needs the mcp extra, checked up front

    noops = max(10, int(200 * min(scale, 1.0)))
    return run_mcp_benchmark(repeat=repeat, latency=0.5 * scale, noops=noops, progress=progress)


def _scale(repeat: int, scale: float, progress: Callable[[str], None]) -> Any:
    from .bench._scale import run_scale_benchmark
    from .runners.ray import ray_available

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


def _render(console: Console, report: dict[str, Any]) -> None:
    executor = report.get("executor")
    if executor:
        table = Table(title=f"Executor (median of {executor['repeat']})")
        for column in (
            "scenario",
            "toolvolley parallel",
            "toolvolley serial",
            "textbook gather",
            "bare gather (floor)",
        ):
            table.add_column(column)
        for key, row in executor["scenarios"].items():
            if key == "D":
                us = row["us_per_call"]
                table.add_row(
                    f"D: {row['description']}",
                    f"{us['toolvolley_parallel']:.1f} µs/call",
                    "",
                    f"{us['textbook_gather']:.1f} µs/call",
                    f"{us['bare_gather']:.1f} µs/call",
                )
                continue
            cells = []
            for name in (
                "toolvolley_parallel",
                "toolvolley_serial",
                "textbook_gather",
                "bare_gather_floor",
            ):
                v = row["variants"].get(name)
                cells.append(f"{v['wall_s']:.3f} s  eff {v['efficiency']:.3f}" if v else "")
            table.add_row(f"{key}: {row['description']}", *cells)
        console.print(table)
    streaming = report.get("streaming")
    if streaming:
        table = Table(title=f"Streaming ({streaming['model']})")
        for column in ("scenario", "early dispatch", "after the stream", "lower bound", "saved"):
            table.add_column(column)
        for row in streaming["scenarios"]:
            table.add_row(
                row["scenario"],
                f"{row['early_dispatch_s']:.3f} s",
                f"{row['after_stream_s']:.3f} s",
                f"{row['lower_bound_s']:.3f} s",
                f"{row['saved_s']:.3f} s",
            )
        console.print(table)
        console.print(
            f"early dispatch within {100 * (streaming['worst_early_over_bound'] - 1):.2f}% of "
            f"the lower bound; never slower than after the stream: "
            f"{'yes' if streaming['early_never_slower'] else 'NO'}"
        )
    mcp = report.get("mcp")
    if mcp:
        table = Table(title=f"MCP: {mcp['calls']} calls of {mcp['latency_s']:g} s, one server")
        for column in ("transport", "toolvolley", "bare SDK", "ratio", "efficiency"):
            table.add_column(column)
        for transport in ("stdio", "http"):
            row = mcp[transport]
            table.add_row(
                transport,
                f"{row['wall_s']:.3f} s",
                f"{row['bare_sdk_wall_s']:.3f} s",
                f"{row['ratio_to_bare']:.3f}",
                f"{row['efficiency']:.3f}",
            )
        console.print(table)
        overhead = mcp["overhead_us_per_call"]
        console.print(
            f"toolvolley's cost per call: {overhead['mcp']:.0f} µs over the bare SDK (MCP), "
            f"{overhead['python']:.1f} µs over a bare gather (Python tools)"
        )
    scale = report.get("scale")
    if scale:
        b, m = scale["batch"], scale.get("many")
        console.print(
            f"Scale: {b['conversations']} conversations x {scale['calls_per_conversation']} "
            f"calls at concurrency {b['concurrency']}: {b['wall_s']:.2f} s, ideal "
            f"{b['ideal_s']:.2f} s, ratio {b['ratio']:.3f}"
        )
        if m:
            console.print(
                f"{m['conversations']} at concurrency {m['concurrency']}: "
                f"{m['conversations_per_s']:.1f} conversations/s, "
                f"peak RSS {m['peak_rss_mb']:.0f} MB"
            )
        if "ray" in scale:
            r = scale["ray"]
            console.print(
                f"Ray: {r['toolvolley_us_per_call']:.0f} µs/call against raw Ray tasks "
                f"{r['raw_ray_us_per_call']:.0f} µs/call, ratio {r['ratio']:.3f}"
            )
    plans = report.get("plans")
    if plans:
        _render_plans(console, plans)
    sweep = report.get("sweep")
    if sweep:
        largest = max(p["calls"] for p in sweep["points"])
        table = Table(title=f"Sweep: {largest} calls of {sweep['latency_s'] * 1000:g} ms")
        for column in ("tools", "toolvolley parallel", "toolvolley serial", "textbook gather"):
            table.add_column(column)
        for kind in ("async", "sync", "cpu"):
            cells = [
                f"{p['wall_s']:.3f} s  speedup {p['speedup']:.1f}"
                for variant in ("toolvolley_parallel", "toolvolley_serial", "textbook_gather")
                for p in sweep["points"]
                if p["kind"] == kind and p["calls"] == largest and p["variant"] == variant
            ]
            table.add_row(kind, *cells)
        console.print(table)


def _render_plans(console: Console, report: dict[str, Any]) -> None:
    table = Table(
        title="Hedging: p99 without and with Hedge(percentile=95, max_share=0.05, window=calls)"
    )
    for column in ("latency", "plain p99", "hedged p99", "ratio", "best possible", "extra calls"):
        table.add_column(column)
    for key, label in (
        ("hedging", "lognormal, sigma 0.99"),
        ("hedging_stragglers", "2% stragglers"),
    ):
        h = report[key]
        table.add_row(
            label,
            f"{h['p99_plain_s']:.3f} s",
            f"{h['p99_hedged_s']:.3f} s",
            f"{h['p99_ratio']:.2f}x",
            f"{h['p99_ratio_bound']:.2f}x",
            f"{100 * h['extra_calls_share']:.1f}%",
        )
    console.print(table)
    r, refs, p = report["retries"], report["references"], report["plans"]
    console.print(
        f"Retries (30% failing, at most {r['max_retries']}): success "
        f"{r['success_share_without_retries']:.3f} -> {r['success_share']:.3f}; references: "
        f"ready to start p99 {refs['ready_to_start_p99_ms']:.3f} ms"
    )
    console.print(
        f"Capitals task: flat {p['flat_s']:.2f} s ({p['flat_turns']} turns), planned "
        f"{p['planned_s']:.2f} s ({p['planned_turns']} turns): {p['speedup']:.2f}x"
    )
