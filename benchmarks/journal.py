"""Journal benchmark: what recording a batch of calls costs (``toolvolley.stores``).

Scenario D of ``benchmarks/executor.py`` (``--noops`` async no-op calls in one batch,
validation and timeouts included) with the journal off and on (SQLite, WAL,
``synchronous=FULL``, a file in a temporary directory), and the same with small batches
(``--small`` calls), where the per-batch cost shows. A journaled turn records the model response
(one commit), the calls' starts (group-committed: one commit per batch) and their results
(group-committed as they arrive). Prints one JSON report (medians of ``--repeat`` rounds)::

    python benchmarks/journal.py --json
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
from toolvolley.stores import Conversation, SQLiteJournal


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


async def measure(n: int, batches: int, repeat: int, directory: Path) -> dict[str, Any]:
    executor = Executor(TOOLBOX, timeout=60)
    batch_calls = calls(n)
    walls: dict[str, list[float]] = {"off": [], "sqlite": []}
    journal = SQLiteJournal(directory / f"journal-{n}.sqlite")
    turn = 0
    async with journal:
        for variant in ("off", "sqlite"):  # warm up
            c = await journal.conversation(f"warm-{n}") if variant == "sqlite" else None
            await batch(executor, batch_calls, 0, c)
        for r in range(repeat):
            for variant in ("off", "sqlite"):
                c = await journal.conversation(f"r{r}-{n}") if variant == "sqlite" else None
                started = time.perf_counter()
                for _ in range(batches):
                    turn += 1
                    await batch(executor, batch_calls, turn, c)
                walls[variant].append((time.perf_counter() - started) / batches)
    off, on = statistics.median(walls["off"]), statistics.median(walls["sqlite"])
    return {
        "calls_per_batch": n,
        "batches_per_round": batches,
        "rounds": repeat,
        "us_per_call": {"off": round(off / n * 1e6, 2), "sqlite": round(on / n * 1e6, 2)},
        "ms_per_batch": {"off": round(off * 1e3, 3), "sqlite": round(on * 1e3, 3)},
        "journal_cost_ms_per_batch": round((on - off) * 1e3, 3),
        "sqlite_over_off": round(on / off, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per figure (median)")
    parser.add_argument("--noops", type=int, default=1000, help="calls in the large batch")
    parser.add_argument("--small", type=int, default=4, help="calls in a small batch")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)

        async def run() -> dict[str, Any]:
            return {
                "D_large_batch": await measure(args.noops, 3, args.repeat, directory),
                "small_batches": await measure(args.small, 50, args.repeat, directory),
            }

        report = anyio.run(run)
    report["command"] = "python benchmarks/journal.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
