"""The journal's cost (``toolvolley.stores``): the seed exercise end to end (see
``_journal_seed``), scenario D (async no-op calls in one batch,
validation and timeouts included) with the journal off and on, and the same with small batches,
where the per-batch cost shows.

A journaled batch here is what a journaled turn does: the model response recorded (one commit),
the calls' starts group-committed (one commit for the calls that start together) and their
results committed when the batch ends. SQLite (WAL, ``synchronous=FULL``) in a temporary
directory; PostgreSQL too when given a connection string. Each timed run starts after a full
garbage collection (collections during it count): with a large heap (the seed exercise imports
httpx and the offline model) one full collection costs milliseconds, and without this it lands
on whichever variant happens to run when it falls due.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from .._calls import ToolCall
from .._executor import Executor
from .._model import ModelResponse
from ..demo import WeatherService
from ..stores import Conversation, Journal, PostgresJournal, SQLiteJournal
from ..testing._serving import serve_in_thread
from ._executor import TOOLBOX
from ._journal_seed import measure_seed

__all__ = ["run_journal_benchmark"]


def _calls(n: int) -> list[ToolCall]:
    return [ToolCall(f"c{i}", "noop", {"i": i}) for i in range(n)]


async def _batch(
    executor: Executor, calls: list[ToolCall], turn: int, c: Conversation | None
) -> None:
    store = None
    if c is not None:
        await c.record_response(turn, ModelResponse("", tuple(calls), ()))
        store = c.store(turn, executor.toolbox)
    async with executor.batch(store=store) as batch:
        for call in calls:
            batch.submit(call)
    assert all(r.ok for r in batch.results())


async def _measure(
    n: int, batches: int, repeat: int, journals: dict[str, Journal]
) -> dict[str, Any]:
    executor = Executor(TOOLBOX, timeout=60)
    calls = _calls(n)
    variants = ["off", *journals]
    walls: dict[str, list[float]] = {name: [] for name in variants}
    turn = 0
    run = uuid.uuid4().hex[:8]  # a journal kept from an earlier run must not replay this one
    for r in range(-1, repeat):  # round -1 warms up
        for variant in variants if r % 2 else variants[::-1]:  # alternating
            journal = journals.get(variant)
            c = None if journal is None else await journal.conversation(f"{run}-{r}-{n}-{turn}")
            # Each variant starts from the same heap: a full collection the previous variant's
            # garbage made due would otherwise land on whichever runs next.
            gc.collect()
            started = time.perf_counter()
            for _ in range(batches if r >= 0 else 1):
                turn += 1
                await _batch(executor, calls, turn, c)
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


def run_journal_benchmark(
    *,
    repeat: int = 5,
    noops: int = 1000,
    small: int = 4,
    postgres: str | None = None,
    seed_scale: float = 1.0,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Figures for the seed exercise (``seed_scale``: its times scaled, 1.0 is the demo's: a
    weather request takes 1 s, the model 0.2 s to its first token and 50 tokens a second), a
    batch of ``noops`` calls and batches of ``small`` calls, journal off, on SQLite, and on
    PostgreSQL (``postgres``: a connection string) if given."""
    service = WeatherService(latency_s=seed_scale, jitter_s=seed_scale / 4)
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(service) as weather_url:

        async def run() -> dict[str, Any]:
            journals: dict[str, Journal] = {"sqlite": SQLiteJournal(Path(tmp, "j.sqlite"))}
            if postgres:
                journals["postgres"] = PostgresJournal(postgres)
            try:
                seed = await measure_seed(
                    weather_url,
                    journals,
                    rounds=repeat,
                    token_rate=50 / seed_scale,
                    first_token_s=0.2 * seed_scale,
                )
                progress("journal: the seed exercise")
                large = await _measure(noops, 3, repeat, journals)
                progress("journal: one large batch")
                many = await _measure(small, 50, repeat, journals)
                progress("journal: small batches")
                return {"seed_exercise": seed, "large_batch": large, "small_batches": many}
            finally:
                for journal in journals.values():
                    await journal.aclose()

        return anyio.run(run)
