"""The tables ``toolvolley bench`` prints: one per benchmark that ran, from its JSON report."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["render"]


def render(console: Console, report: dict[str, Any]) -> None:
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
    journal = report.get("journal")
    if journal:
        _render_journal(console, journal)
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


def _render_journal(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="Journal off and on: batches of no-op calls, the seed exercise (medians)")
    backends = list(report["large_batch"]["ms_per_batch"])
    for column in ("batch", *backends):
        table.add_column(column)
    for key in ("large_batch", "small_batches"):
        row = report[key]
        table.add_row(
            f"{row['calls_per_batch']} calls",
            *(
                f"{row['ms_per_batch'][b]:.3f} ms ({row['us_per_call'][b]:.1f} µs/call)"
                for b in backends
            ),
        )
    seed = report.get("seed_exercise")
    if seed:
        table.add_row(
            "seed exercise",
            *(
                f"{seed['end_to_end_s'][b]:.3f} s ({seed['over_off'][b]:.4f}x off)"
                for b in backends
            ),
        )
    console.print(table)
