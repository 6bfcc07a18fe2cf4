"""``toolvolley batch``: many conversations from a JSONL file, each written as it ends.

The output file is the checkpoint:

* **One line, one write.** Each finished conversation is one JSON line written with a single
  ``os.write`` of the whole line on a file opened ``O_APPEND``. Once it returns, the line is the
  kernel's: killing the process (SIGKILL included) cannot lose or cut it. A line is only ever
  cut by the machine itself going down mid-write (or a full disk); on the next run a trailing
  line without its newline is truncated away and that conversation runs again. Lines are strict
  UTF-8 JSON, a lone surrogate written as its ``\\uXXXX`` escape.
* **fsync policy**: the file is fsynced at most once a second while running and once at the
  end, so a power loss can cost at most the last second of lines (they run again on resume).
* **Resume**: ids already in the output are skipped; re-running the same command finishes what
  is left. Every id appears exactly once in a complete output: ids are unique in the input, and
  one run at a time owns the output (a second is refused). The files are checked, and locked,
  by ``batch_files`` before any work starts.
* **Errors a user can cause** (a bad line, a locked or unusable file, the output failing
  mid-batch) are one line on stderr and exit 2; Ctrl-C says how many conversations the output
  holds, then stops (exit 130).
* **--ray**: the conversations run on a Ray cluster (``run_many(ray=...)``); each worker builds
  its own model client and tools (``--tools`` is imported there, with this directory on its
  path; the default weather tool starts its own local service; each ``--mcp`` server is opened
  by every chunk of conversations on its worker, so a stdio command must run on every node and
  a URL be reachable from each). Only this process writes the
  output, with the guarantees above. A conversation lost with its worker or node is written
  as failed, its error naming the loss, and is not run again.
* **--journal** (default ``OUTPUT.journal.sqlite``; ``postgresql://...``; ``--no-journal``):
  each conversation's model responses and tool calls are journaled under its id, so the resume
  of an unfinished conversation continues it instead of starting it over: no call runs twice
  (see ``toolvolley.stores.journal``). With ``--ray`` only with ``--journal``, which every
  worker writes to: a SQLite path for a Ray on this machine, ``postgresql://`` for a cluster.
* **--trace FILE.json**: the Chrome trace-event format, one process per conversation, its
  model turns on a ``model`` track and each tool call on a track of its own.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from .._executor import Executor
from .._many import Outcome, Prompt, run_many
from .._model import ModelAdapter
from ..stores import Journal, PostgresJournal, SQLiteJournal
from .batch_files import BatchInputError, Input, Output, read_done, same_file
from .batch_tools import BatchTools, batch_tools, load_tools, mcp_command
from .options import check_output

__all__ = ["read_done", "run_batch_command"]


@dataclass
class Totals:
    done: int = 0
    failed: int = 0
    calls: int = 0
    model_s: float = 0.0
    tools_s: float = 0.0
    sequential_s: float = 0.0  # model time + every call one after another

    def add(self, o: Outcome) -> None:
        self.done += 1
        self.failed += not o.ok
        self.calls += len(o.tool_calls)
        self.model_s += o.model_s
        self.tools_s += o.tools_s
        self.sequential_s += o.model_s + o.calls_sequential_s


class _Progress:
    """A rich bar on a terminal, a plain line every few seconds otherwise (on stderr)."""

    def __init__(self, total: int, interactive: bool) -> None:
        self.total = total
        self.started = time.perf_counter()
        self.last = 0.0
        self.bar: Any = None
        if interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.task = self.bar.add_task("batch", total=total, info="")

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, t: Totals) -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = t.done / elapsed
        info = f"failed {t.failed} · tool calls {t.calls} · {rate:.1f} conv/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=t.done, info=info)
        elif time.monotonic() - self.last >= 2.0 or t.done == self.total:
            self.last = time.monotonic()
            eta = (self.total - t.done) / rate if rate else float("inf")
            print(
                f"batch: {t.done}/{self.total} done · {info} · ETA {eta:.0f} s",
                file=sys.stderr,
                flush=True,
            )


def run_batch_command(
    *,
    input_path: str,
    output: str,
    tools_spec: str | None,
    concurrency: int,
    max_turns: int,
    provider: str,
    base_url: str | None,
    model: str | None,
    token_rate: float,
    first_token: float,
    latency: float,
    json_summary: bool,
    ray: str | None = None,
    trace: str | None = None,
    mcp: Sequence[str] = (),
    journal: str | None = None,
    no_journal: bool = False,
) -> int:
    """Run the batch; returns the exit code (0 even if conversations failed: they are
    recorded; 2 for an unusable input, output, option or server, said in one line on stderr)."""
    from .._errors import ToolvolleyError
    from ..demo import DemoSettings
    from ..demo._runner import make_model

    settings = DemoSettings(
        provider=provider,  # type: ignore[arg-type]
        base_url=base_url,
        model=model,
        token_rate=token_rate,
        first_token_s=first_token,
    )
    totals = Totals()
    try:
        check_output("--trace", trace, (".json",))  # its format is a Chrome trace
        for spec in mcp:
            mcp_command(spec)  # a bad one is refused here, not by each worker
        tools, tools_label = load_tools(tools_spec)
        if mcp and isinstance(tools, Executor):
            raise BatchInputError("--mcp adds tools to a Toolbox or a list; --tools is an Executor")
        if mcp:
            tools_label = f"{tools_label} and MCP {', '.join(mcp)}"
        if journal is not None and no_journal:
            raise BatchInputError("--journal and --no-journal: give one of them")
        if journal is None and not no_journal and ray is None:
            journal = f"{output}.journal.sqlite"
        if journal is not None and not _is_postgres(journal):
            journal = os.path.abspath(journal)  # the same file from a Ray worker's directory
        source = Input(input_path)  # every line checked before any work
        with Output(output, source) as out:
            if trace is not None and any(same_file(trace, f) for f in (source.path, out.path)):
                raise BatchInputError(f"--trace {trace} would overwrite the input or the output")
            already = len(source.ids) - source.pending(out.done)
            events: list[dict[str, Any]] | None = [] if trace is not None else None
            run = functools.partial(
                anyio.run,
                _run,
                source,
                out,
                totals,
                concurrency,
                max_turns,
                functools.partial(make_model, settings),
                latency,
                json_summary,
                BatchTools(tools, ray, tools_spec, os.getcwd(), tuple(mcp)),
                events,
                journal,
            )
            try:
                summary = run()
            except KeyboardInterrupt:
                print(
                    f"interrupted: {already + totals.done} of {len(source.ids)} conversations "
                    f"are in {output}; run the same command to resume",
                    file=sys.stderr,
                )
                raise
            finally:
                if trace is not None:  # what finished is traced even if the batch stopped
                    trace_doc = {"traceEvents": events, "displayTimeUnit": "ms"}
                    Path(trace).write_text(json.dumps(trace_doc), encoding="utf-8")
    # ToolvolleyError: a misuse (UserError), or an --mcp server that could not be started or
    # reached (MCPServerError); conversations that fail are lines of the output, not this.
    except Exception as exc:
        inner = _inner(exc)  # the output failing mid-batch comes through run_many's task group
        if not isinstance(
            inner, (BatchInputError, OSError, ImportError, AttributeError, ToolvolleyError)
        ):
            raise
        print(f"error: {inner}", file=sys.stderr)
        return 2
    if json_summary:
        print(json.dumps(summary))
    else:
        print(_render(summary, tools_label, input_path))
    return 0


def _inner(exc: Exception) -> Exception:
    """The one exception inside (nested) exception groups, else ``exc`` itself."""
    group: Sequence[object] = getattr(exc, "exceptions", ())
    while len(group) == 1 and isinstance(group[0], Exception):
        exc = group[0]
        group = getattr(exc, "exceptions", ())
    return exc


async def _run(
    source: Input,
    out: Output,
    totals: Totals,
    concurrency: int,
    max_turns: int,
    make: Callable[[], ModelAdapter],
    latency: float,
    quiet: bool,
    tools: BatchTools,
    events: list[dict[str, Any]] | None = None,
    journal: str | None = None,
) -> dict[str, Any]:
    pending = source.pending(out.done)
    started = time.perf_counter()
    interactive = sys.stderr.isatty() and not quiet
    zero = time.time()
    if pending:
        with _Progress(pending, interactive) as progress:

            def record(outcome: Outcome) -> None:
                out.write(outcome)
                totals.add(outcome)
                progress.update(totals)
                if events is not None:
                    events.extend(_trace_events(outcome, totals.done, zero))

            prompts = _aiter(source.prompts(out.done))
            if tools.ray is not None:
                await run_many(
                    make,
                    prompts,
                    tools.on_worker(latency),
                    concurrency=concurrency,
                    max_turns=max_turns,
                    on_result=record,
                    keep=False,
                    ray=tools.ray,
                    journal=None if journal is None else _journal_at(journal),
                )
            else:
                adapter: ModelAdapter = make()
                async with (
                    adapter,
                    batch_tools(tools.here, latency, tools.mcp) as toolset,
                    _journal(journal) as kept,
                ):
                    await run_many(
                        adapter,
                        prompts,
                        toolset,
                        concurrency=concurrency,
                        max_turns=max_turns,
                        on_result=record,
                        keep=False,
                        journal=kept,
                    )
    wall = time.perf_counter() - started
    return {
        "conversations": totals.done,
        "failed": totals.failed,
        "skipped_already_done": len(source.ids) - pending,
        "input_conversations": len(source.ids),
        "tool_calls": totals.calls,
        "wall_s": round(wall, 3),
        "conversations_per_s": round(totals.done / wall, 2) if wall else 0.0,
        "tool_calls_per_s": round(totals.calls / wall, 2) if wall else 0.0,
        "model_s": round(totals.model_s, 3),
        "tools_s": round(totals.tools_s, 3),
        "one_after_another_s": round(totals.sequential_s, 3),
        "concurrency": concurrency,
        "output": out.label,
    }


def _is_postgres(where: str) -> bool:
    return where.startswith(("postgresql://", "postgres://")) or "dbname=" in where


def _journal_at(where: str) -> Journal:
    """The journal ``--journal`` names: a PostgreSQL URL or conninfo, else a SQLite file."""
    return PostgresJournal(where) if _is_postgres(where) else SQLiteJournal(where)


@contextlib.asynccontextmanager
async def _journal(where: str | None) -> AsyncIterator[Journal | None]:
    if where is None:
        yield None
        return
    async with _journal_at(where) as journal:
        yield journal


def _trace_events(outcome: Outcome, pid: int, zero: float) -> list[dict[str, Any]]:
    """One process per conversation: the model on track 0, each call on a track of its own."""
    events: list[dict[str, Any]] = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": pid,
            "tid": 0,
            "args": {"name": f"conversation {outcome.id}"},
        },
        {"name": "thread_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "model"}},
    ]
    tids: dict[str, int] = {"model": 0}
    for track, label, start, end in outcome.spans:
        tid = tids.get(track)
        if tid is None:
            tid = tids[track] = len(tids)
            events.append(
                {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": track}}
            )
        events.append(
            {
                "name": label,
                "cat": "model" if tid == 0 else "tool",
                "ph": "X",
                "pid": pid,
                "tid": tid,
                "ts": round((start - zero) * 1e6, 1),
                "dur": max(0.0, round((end - start) * 1e6, 1)),
                "args": {"conversation": outcome.id, "ok": outcome.ok},
            }
        )
    return events


async def _aiter(items: Iterator[tuple[Any, Prompt]]) -> AsyncIterator[tuple[Any, Prompt]]:
    for item in items:
        yield item


def _render(s: dict[str, Any], tools_label: str, input_label: str) -> str:
    head = f"toolvolley batch · tools: {tools_label}"
    if not s["input_conversations"]:
        return f"{head}\nnothing to run: {input_label} has no conversations"
    if not s["conversations"]:
        return (
            f"{head}\nnothing left to run: {s['skipped_already_done']} of "
            f"{s['input_conversations']} conversations already in {s['output']}"
        )
    ratio = s["one_after_another_s"] / s["wall_s"] if s["wall_s"] else 0.0
    compared = f"{ratio:.1f}x slower than" if ratio >= 1 else f"{ratio:.2f}x the time of"
    return "\n".join(
        [
            head,
            f"{s['conversations']} conversations ({s['failed']} failed, "
            f"{s['skipped_already_done']} already done) in {s['wall_s']:.2f} s "
            f"at concurrency {s['concurrency']}",
            f"{s['conversations_per_s']:.1f} conversations/s · {s['tool_calls']} tool calls, "
            f"{s['tool_calls_per_s']:.1f}/s",
            f"time in the model {s['model_s']:.1f} s · in tools {s['tools_s']:.1f} s "
            "(summed over conversations)",
            f"one conversation and one call after another: {s['one_after_another_s']:.1f} s "
            f"({compared} this run)",
            f"written to {s['output']}",
        ]
    )
