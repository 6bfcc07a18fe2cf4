"""The ResultStore seam: what a batch asks a store, and when (``toolvolley.stores``)."""

from __future__ import annotations

from collections.abc import Awaitable, Hashable, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from toolvolley import Executor, Tool, ToolCall, ToolResult, UserError
from toolvolley.stores import BatchScope, MemoryStore, ResultStore, StoreBatch

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


class Journal:
    """A store that keeps every call by its id, as a journal of calls would, in memory: what it
    was asked, in order, and the results it has (given earlier ones replay)."""

    def __init__(self, results: dict[str, ToolResult] | None = None) -> None:
        self.results = dict(results or {})
        self.log: list[str] = []
        self.scopes: list[BatchScope] = []
        self.in_started = 0
        self.both_started = anyio.Event()
        self.fail_start: set[str] = set()

    async def open_batch(self, scope: BatchScope) -> StoreBatch:
        self.scopes.append(scope)
        self.log.append("open")
        return _JournalBatch(self)


class _JournalBatch:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def key(self, tool: Tool, call: ToolCall) -> Hashable | None:
        self.journal.log.append(f"key {call.id}")
        return None if call.name == "unkept" else call.id

    def recorded(self, key: Hashable) -> Awaitable[ToolResult] | None:
        assert isinstance(key, str)
        result = self.journal.results.get(key)
        if result is None:
            return None

        async def replay() -> ToolResult:
            if result.status == "unreadable":  # type: ignore[comparison-overlap]
                raise OSError("the journal's record is torn")
            return result

        return replay()

    def running(self, key: Hashable, call: ToolCall) -> None:
        self.journal.log.append(f"running {key}")

    async def started(self, calls: Sequence[tuple[Hashable, ToolCall]]) -> None:
        journal = self.journal
        keys = [key for key, _ in calls]
        journal.log.extend(f"started {key}" for key in keys)
        if journal.fail_start.intersection(keys):
            raise OSError("the journal's disk is full")
        journal.in_started += len(keys)
        if journal.in_started == 2:
            journal.both_started.set()
        with anyio.fail_after(5):  # one transaction for the calls that start together
            await journal.both_started.wait()
        journal.log.extend(f"committed {key}" for key in keys)

    async def finished(self, key: Hashable, result: ToolResult) -> None:
        assert isinstance(key, str)
        self.journal.log.append(f"finished {key} {result.status}")
        self.journal.results[key] = result

    async def close(self) -> None:
        self.journal.log.append("close")


def weather(runs: list[str], journal: Journal | None = None, name: str = "weather") -> Tool:
    async def body(city: str) -> str:
        if journal is not None:
            journal.log.append(f"body {city}")
        runs.append(city)
        await anyio.lowlevel.checkpoint()
        return f"sunny in {city}"

    return Tool.from_schema(name, "Look up.", SCHEMA, body)


@pytest.mark.anyio
async def test_a_store_records_each_call_started_before_its_body_and_its_result_after() -> None:
    journal = Journal()
    runs: list[str] = []
    calls = [
        ToolCall("c0", "weather", {"city": "Oslo"}),
        ToolCall("c1", "weather", {"city": "Rome"}),
    ]
    results = await Executor([weather(runs, journal)], store=journal).run(calls)
    assert [r.status for r in results] == ["ok", "ok"]
    log = journal.log
    assert log[:5] == ["open", "key c0", "running c0", "key c1", "running c1"]
    # Both calls' started records are awaited together (one transaction), before either body.
    assert log.index("committed c0") < log.index("body Oslo")
    assert log.index("committed c1") < log.index("body Rome")
    assert log.index("started c1") < log.index("committed c0")
    assert log.index("body Oslo") < log.index("finished c0 ok")
    assert log[-1] == "close"
    assert journal.scopes == [BatchScope(ordered=False)]


@pytest.mark.anyio
async def test_a_recorded_result_is_replayed_not_run() -> None:
    earlier = ToolResult("c0", "weather", "ok", "sunny in Oslo", "sunny in Oslo", attempts=2)
    journal = Journal({"c0": earlier})
    journal.both_started.set()
    runs: list[str] = []
    calls = [
        ToolCall("c0", "weather", {"city": "Oslo"}),
        ToolCall("c1", "weather", {"city": "Rome"}),
    ]
    results = await Executor([weather(runs, journal)], store=journal).run(calls)
    assert runs == ["Rome"]
    assert (results[0].call_id, results[0].content, results[0].attempts) == (
        "c0",
        "sunny in Oslo",
        2,
    )
    assert "running c0" not in journal.log
    assert "started c0" not in journal.log
    assert results[0].queued_at <= results[0].started_at <= results[0].ended_at


@pytest.mark.anyio
async def test_a_record_the_store_cannot_read_is_an_error_result_not_a_run() -> None:
    torn = ToolResult("c0", "weather", "unreadable", "")  # type: ignore[arg-type]
    journal = Journal({"c0": torn})
    runs: list[str] = []
    calls = [ToolCall("c0", "weather", {"city": "Oslo"})]
    results = await Executor([weather(runs, journal)], store=journal).run(calls)
    assert runs == []
    assert (results[0].status, results[0].content) == (
        "error",
        "Tool 'weather' failed with OSError: the journal's record is torn",
    )


@pytest.mark.anyio
async def test_a_call_the_store_does_not_keep_runs_without_it() -> None:
    journal = Journal()
    runs: list[str] = []
    calls = [ToolCall("c0", "unkept", {"city": "Oslo"})]
    results = await Executor([weather(runs, journal, "unkept")], store=journal).run(calls)
    assert results[0].ok
    assert runs == ["Oslo"]
    assert journal.log == ["open", "key c0", "body Oslo", "close"]


@pytest.mark.anyio
async def test_a_call_whose_start_cannot_be_recorded_is_not_run() -> None:
    """The calls submitted together are recorded together: when their record fails, none of
    them runs; a call submitted later is recorded (and run) on its own."""
    journal = Journal()
    journal.fail_start.add("c0")
    journal.both_started.set()
    runs: list[str] = []
    executor = Executor([weather(runs, journal)], store=journal)
    async with executor.batch() as batch:
        batch.submit(ToolCall("c0", "weather", {"city": "Oslo"}))
        batch.submit(ToolCall("c1", "weather", {"city": "Rome"}))
        while "started c1" not in journal.log:
            await anyio.lowlevel.checkpoint()
        batch.submit(ToolCall("c2", "weather", {"city": "Lima"}))
    results = batch.results()
    assert runs == ["Lima"]
    full = "Tool 'weather' failed with OSError: the journal's disk is full"
    assert [(r.status, r.content) for r in results[:2]] == [("error", full)] * 2
    assert results[2].ok


@pytest.mark.anyio
async def test_memory_store_is_what_dedupe_does_and_each_batch_starts_empty() -> None:
    runs: list[str] = []
    tool = Tool.from_schema("weather", "Look up.", SCHEMA, weather(runs).func, idempotent=True)
    executor = Executor([tool], store=MemoryStore())
    calls = [ToolCall(f"c{i}", "weather", {"city": "Oslo"}) for i in range(3)]
    results = await executor.run(calls)
    assert runs == ["Oslo"]
    assert [r.call_id for r in results] == ["c0", "c1", "c2"]
    await executor.run(calls)
    assert runs == ["Oslo", "Oslo"]
    assert isinstance(MemoryStore(), ResultStore)


@pytest.mark.anyio
async def test_a_batch_can_have_its_own_store() -> None:
    """As a journal bound to one conversation would be given to that conversation's batches."""
    journal = Journal()
    journal.both_started.set()
    runs: list[str] = []
    executor = Executor([weather(runs, journal)], dedupe=True)
    async with executor.batch(store=journal) as batch:
        batch.submit(ToolCall("c0", "weather", {"city": "Oslo"}))
    assert batch.results()[0].ok
    assert journal.log[:3] == ["open", "key c0", "running c0"]
    assert journal.log[-2:] == ["finished c0 ok", "close"]
    with pytest.raises(UserError, match="store must be a ResultStore"):
        executor.batch(store="journal.db")  # type: ignore[arg-type]


def test_store_options_are_checked() -> None:
    with pytest.raises(UserError, match="store must be a ResultStore"):
        Executor([], store=object())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="pass one of them"):
        Executor([], store=MemoryStore(), dedupe=True)
    assert Executor([], store=None).store is None


def test_the_stores_package_exports_the_seam() -> None:
    import toolvolley.stores as stores

    names: Any = stores.__all__
    seam = ["BatchScope", "MemoryStore", "ResultStore", "StoreBatch"]
    journal = ["Conversation", "Journal", "NOT_DONE", "Reconciled", "UNKNOWN"]
    assert sorted(names) == sorted([*seam, *journal, "PostgresJournal", "SQLiteJournal"])
    assert all(hasattr(stores, name) for name in names)
