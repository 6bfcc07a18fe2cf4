"""Faults in calls whose starts a store records together (``Batch._start_together``) and in the
journal's group commit: a store that raises or hangs, timeouts, cancellations."""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
import anyio.lowlevel
import pytest

from test_store_starts import Recorder
from test_store_starts import weather as store_weather
from toolvolley import Executor, Tool, ToolCall
from toolvolley.events import CallFinished, TurnEvent
from toolvolley.stores._records import Record
from toolvolley.stores.journal import Journal

pytestmark = pytest.mark.every_runtime

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


class StoreDown(BaseException):
    """A store's own failure that is not an Exception (as a driver may raise)."""


def calls(n: int = 3) -> list[ToolCall]:
    return [ToolCall(f"c{i}", "weather", {"city": f"city{i}"}) for i in range(n)]


@pytest.mark.anyio
async def test_a_store_whose_started_raises_a_base_exception_ends_its_calls_with_errors() -> None:
    """What ``started`` raises ends its calls with an ``error`` result (stores/_base.py), as it
    did when each call awaited its own ``started`` (the call's ``except BaseException``)."""
    store = Recorder(raises=StoreDown("disk gone"))
    outcome: list[str]
    try:
        with anyio.fail_after(10):
            results = await Executor([store_weather(store)], store=store).run(calls())
        outcome = [r.status for r in results]
    except BaseException as exc:  # the StoreDown, in a group: what the run raised
        outcome = [f"raised {type(exc).__name__}"]
    assert outcome == ["error"] * 3
    assert not any(line.startswith("body") for line in store.log)


class SlowJournal(Journal):
    """A journal whose commit is an awaited network round trip (as PostgreSQL's): the rows are
    in only once ``_write`` returns."""

    def __init__(self, commit_s: float) -> None:
        super().__init__()
        self.commit_s = commit_s
        self.rows: list[tuple[str, str, str]] = []

    async def _load(self, conversation: str) -> list[Record]:
        return []

    async def _write(self, records: Sequence[Record]) -> None:
        await anyio.sleep(self.commit_s)
        self.rows.extend((r.conversation, r.call_id, r.kind) for r in records)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_start_joined_to_a_commit_whose_leader_timed_out_is_durable_before_its_body() -> (
    None
):
    """Two conversations share one journal; their calls' starts are committed together (one
    group, led by the first batch's start task). The first call's timeout runs out during the
    commit: its leader is cancelled (asyncio's own task.cancel(), which anyio's shield does not
    hold off), the commit is abandoned, yet the group is marked done without an error, so the
    second conversation's call runs with no durable record that it started: after a crash it
    would run again. It must run only once its start is durable, or fail unrun."""
    journal = SlowJournal(commit_s=0.3)
    seen: list[list[tuple[str, str, str]]] = []

    async def body(city: str) -> str:
        seen.append(list(journal.rows))  # what is durable when the body starts
        return city

    quick = Tool.from_schema("quick", "Look up.", SCHEMA, body, timeout=0.05)
    slow = Tool.from_schema("slow", "Look up.", SCHEMA, body)
    executor = Executor([quick, slow])
    one = await journal.conversation("one")
    two = await journal.conversation("two")
    with anyio.fail_after(10):
        async with (
            executor.batch(store=one.store(0, executor.toolbox)) as a,
            executor.batch(store=two.store(0, executor.toolbox)) as b,
        ):
            a.submit(ToolCall("a0", "quick", {"city": "Oslo"}))
            b.submit(ToolCall("b0", "slow", {"city": "Rome"}))
    assert a.results()[0].status == "timeout"
    # b0 runs only once its start is durable (or, its record lost, it fails unrun)
    assert all(("two", "b0", "started") in rows for rows in seen)
    assert b.results()[0].status == ("ok" if seen else "error")


class GatedJournal(Journal):
    """A journal whose commits wait for ``gate`` (once ``hold`` is set): a slow disk or server."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = anyio.Event()
        self.writing = anyio.Event()
        self.rows: list[tuple[str, str, str]] = []

    async def _load(self, conversation: str) -> list[Record]:
        return []

    async def _write(self, records: Sequence[Record]) -> None:
        self.writing.set()
        await self.gate.wait()
        self.rows.extend((r.conversation, r.call_id, r.kind) for r in records)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_batch_cancelled_while_its_starts_wait_behind_a_commit_leaves_journal_usable() -> (
    None
):
    """Conversation one's starts are being committed (slowly); conversation two's batch is
    cancelled while its start task waits for that commit to end. Once the first commit ends,
    conversation one's batch finishes, and a third batch on the journal runs."""
    journal = GatedJournal()

    async def body(city: str) -> str:
        return city

    executor = Executor([Tool.from_schema("look", "Look up.", SCHEMA, body)])
    one = await journal.conversation("one")
    two = await journal.conversation("two")
    three = await journal.conversation("three")

    async def first() -> None:
        async with executor.batch(store=one.store(0, executor.toolbox)) as a:
            a.submit(ToolCall("a0", "look", {"city": "Oslo"}))

    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await journal.writing.wait()  # conversation one's starts are being committed
            with anyio.CancelScope() as scope:
                async with executor.batch(store=two.store(0, executor.toolbox)) as b:
                    b.submit(ToolCall("b0", "look", {"city": "Rome"}))
                    await anyio.wait_all_tasks_blocked()  # b0's start waits behind it
                    scope.cancel()
            journal.gate.set()
        async with executor.batch(store=three.store(0, executor.toolbox)) as c:
            c.submit(ToolCall("c0", "look", {"city": "Lima"}))
    assert b.results()[0].status == "cancelled"
    assert c.results()[0].ok
    assert ("three", "c0", "started") in journal.rows


@pytest.mark.anyio
@pytest.mark.parametrize("dedupe", [False, True])
async def test_a_call_s_timeout_is_not_spent_on_its_siblings_bodies(dedupe: bool) -> None:
    """100 distinct calls of an idempotent tool whose body takes 2 ms of the loop without
    suspending (a quick computation), each with a 50 ms timeout: each call's own run is well
    within it, so each is answered, with a store (``dedupe=True``: every call is kept by the
    MemoryStore, none identical) as without."""
    ran: list[str] = []

    async def compute(city: str) -> str:
        until = time.perf_counter() + 0.002
        while time.perf_counter() < until:  # the loop's time, not a suspension
            pass
        ran.append(city)
        return city

    tool = Tool.from_schema("compute", "Compute.", SCHEMA, compute, timeout=0.05, idempotent=True)
    work = [ToolCall(f"c{i}", "compute", {"city": f"city{i}"}) for i in range(100)]
    results = await Executor([tool], dedupe=dedupe).run(work)
    late = [r.call_id for r in results if r.status != "ok"]
    assert late == []
    assert len(ran) == 100


@pytest.mark.anyio
async def test_a_call_times_out_on_time_while_its_start_record_hangs() -> None:
    """c0 (timeout 0.05 s) and c1 (no timeout) are submitted together; the store's record of
    their starts hangs. c0 is answered (timed out, unrun) at its timeout, not when the store
    comes back (as when each call awaited its own record, under its own timeout)."""
    release = anyio.Event()
    store = Recorder(release)
    finished = anyio.Event()

    def on_event(event: TurnEvent) -> None:
        if isinstance(event, CallFinished) and event.result.call_id == "c0":
            finished.set()

    slow = Tool.from_schema("slow", "Look up.", SCHEMA, store_weather(store).func)
    executor = Executor([store_weather(store, timeout=0.05), slow], store=store, hooks=[on_event])
    answered = False
    async with executor.batch() as batch:
        batch.submit(ToolCall("c0", "weather", {"city": "Oslo"}))
        batch.submit(ToolCall("c1", "slow", {"city": "Rome"}))
        with anyio.move_on_after(1):  # 20 times c0's timeout: only reached when it is ignored
            await finished.wait()
            answered = True
        release.set()
    assert answered
    first, second = batch.results()
    assert first.status == "timeout"
    assert second.ok
    assert "body Oslo" not in store.log
