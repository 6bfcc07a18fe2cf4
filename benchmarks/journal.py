"""Journal benchmark: what recording a batch of calls costs (``toolvolley.stores``).

Scenario D of ``benchmarks/executor.py`` (``--noops`` async no-op calls in one batch,
validation and timeouts included) with the journal off and on (SQLite, WAL,
``synchronous=FULL``, a file in a temporary directory), and the same with small batches
(``--small`` calls), where the per-batch cost shows; with ``--postgres CONNINFO``, on PostgreSQL
too. A journaled turn records the model response (one commit), the calls' starts
(group-committed: one commit per batch) and their results (committed with the batch's end).
Prints one JSON report (medians of ``--repeat`` rounds)::

    python benchmarks/journal.py --json
    python benchmarks/journal.py --json --postgres "host=/tmp/pg port=5432 dbname=bench"
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from toolvolley import Executor, ToolCall
from toolvolley._model import ModelResponse
from toolvolley.bench._executor import TOOLBOX
from toolvolley.stores import Conversation, Journal, PostgresJournal, SQLiteJournal


def calls(n: int) -> list[ToolCall]:
    return [ToolCall(f"c{i}", "noop", {"i": i}) for i in range(n)]


async def batch(executor: Executor, batch_calls: list[ToolCall], turn: int, c: Any) -> None:
    """One batch; with a conversation ``c``: the response recorded first, then the calls."""
    store = None
    if c is not None:
        assert isinstance(c, Conversation)
        await c.record_response(turn, ModelResponse("", tuple(batch_calls), ()))
        store = c.store(turn, executor.toolbox)
    async with executor.batch(store=store) as b:
        for call in batch_calls:
            b.submit(call)
    assert all(r.ok for r in b.results())


async def measure(
    n: int, batches: int, repeat: int, journals: dict[str, Journal]
) -> dict[str, Any]:
    executor = Executor(TOOLBOX, timeout=60)
    batch_calls = calls(n)
    variants = ["off", *journals]
    walls: dict[str, list[float]] = {name: [] for name in variants}
    turn = 0
    for r in range(-1, repeat):  # round -1 warms up
        for variant in variants:
            journal = journals.get(variant)
            c = None if journal is None else await journal.conversation(f"r{r}-{n}-{turn}")
            started = time.perf_counter()
            for _ in range(batches if r >= 0 else 1):
                turn += 1
                await batch(executor, batch_calls, turn, c)
            if r >= 0:
                walls[variant].append((time.perf_counter() - started) / batches)
    median = {name: statistics.median(w) for name, w in walls.items()}
    off = median["off"]
    return {
        "calls_per_batch": n,
        "batches_per_round": batches,
        "rounds": repeat,
        "us_per_call": {k: round(v / n * 1e6, 2) for k, v in median.items()},
        "ms_per_batch": {k: round(v * 1e3, 3) for k, v in median.items()},
        "journal_cost_ms_per_batch": {k: round((v - off) * 1e3, 3) for k, v in median.items()},
        "over_off": {k: round(v / off, 2) for k, v in median.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per figure (median)")
    parser.add_argument("--noops", type=int, default=1000, help="calls in the large batch")
    parser.add_argument("--small", type=int, default=4, help="calls in a small batch")
    parser.add_argument("--postgres", help="a PostgreSQL conninfo: measure PostgresJournal too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:

        async def run() -> dict[str, Any]:
            journals: dict[str, Journal] = {"sqlite": SQLiteJournal(Path(tmp, "j.sqlite"))}
            if args.postgres:
                journals["postgres"] = PostgresJournal(args.postgres)
            try:
                return {
                    "D_large_batch": await measure(args.noops, 3, args.repeat, journals),
                    "small_batches": await measure(args.small, 50, args.repeat, journals),
                }
            finally:
                for journal in journals.values():
                    await journal.aclose()

        report = anyio.run(run)
    report["command"] = "python benchmarks/journal.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
