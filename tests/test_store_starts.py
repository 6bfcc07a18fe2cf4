"""Calls that start together are handed to their store together: one ``started`` for the calls
of a parallel batch submitted at once, before any body starts and without a wait of their own;
their timeouts count from it, a cancellation while it is under way starts none of them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Hashable, Sequence

import anyio
import anyio.lowlevel
import pytest

from toolvolley import Batch, Executor, Tool, ToolCall, ToolResult
from toolvolley.stores import BatchScope, StoreBatch

pytestmark = pytest.mark.every_runtime

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


class Recorder:
    """A store keeping every call; its ``started`` waits for ``release`` (if given) and logs
    each call of each ``started`` it was handed."""

    def __init__(
        self,
        release: anyio.Event | None = None,
        hold_s: float = 0.0,
        raises: BaseException | None = None,
    ) -> None:
        self.release = release
        self.hold_s = hold_s  # a record that takes this long to commit
        self.raises = raises  # a record that fails so
        self.starts: list[list[str]] = []
        self.log: list[str] = []
        self.entered = anyio.Event()

    async def open_batch(self, scope: BatchScope) -> StoreBatch:
        return _Batch(self)


class _Batch:
    def __init__(self, store: Recorder) -> None:
        self.store = store

    def key(self, tool: Tool, call: ToolCall) -> Hashable | None:
        return call.id

    def recorded(self, key: Hashable) -> Awaitable[ToolResult] | None:
        return None

    def running(self, key: Hashable, call: ToolCall) -> None:
        pass

    async def started(self, calls: Sequence[tuple[Hashable, ToolCall]]) -> None:
        store = self.store
        store.starts.append([call.id for _, call in calls])
        store.log.append("started " + " ".join(call.id for _, call in calls))
        store.entered.set()
        if store.release is not None:
            await store.release.wait()
        if store.hold_s:
            await anyio.sleep(store.hold_s)
        if store.raises is not None:
            raise store.raises
        store.log.append("committed " + " ".join(call.id for _, call in calls))

    async def finished(self, key: Hashable, result: ToolResult) -> None:
        pass

    async def close(self) -> None:
        pass


def weather(store: Recorder, **options: object) -> Tool:
    async def body(city: str) -> str:
        store.log.append(f"body {city}")
        await anyio.lowlevel.checkpoint()
        return f"sunny in {city}"

    return Tool.from_schema("weather", "Look up.", SCHEMA, body, **options)  # type: ignore[arg-type]


CITIES = ["Oslo", "Rome", "Lima", "Pune"]


def calls() -> list[ToolCall]:
    return [ToolCall(f"c{i}", "weather", {"city": city}) for i, city in enumerate(CITIES)]


@pytest.mark.anyio
async def test_calls_submitted_together_are_recorded_in_one_started_before_any_body() -> None:
    store = Recorder()
    results = await Executor([weather(store)], store=store).run(calls())
    assert [r.status for r in results] == ["ok"] * 4
    assert store.starts == [["c0", "c1", "c2", "c3"]]
    assert store.log[:2] == ["started c0 c1 c2 c3", "committed c0 c1 c2 c3"]
    assert sorted(store.log[2:]) == sorted(f"body {city}" for city in CITIES)


@pytest.mark.anyio
async def test_a_batch_whose_calls_started_together_is_freed_without_a_collection() -> None:
    # What starts its calls together must not hold the batch once it is closed: its results
    # (the tools' values) would then wait for a full collection.
    store = Recorder()
    executor = Executor([weather(store)], store=store)
    gc.disable()
    try:
        async with executor.batch() as batch:
            for call in calls():
                batch.submit(call)
        assert store.starts == [["c0", "c1", "c2", "c3"]]
        freed = weakref.ref(batch)
        del batch
        assert freed() is None
    finally:
        gc.enable()


@pytest.mark.anyio
async def test_calls_submitted_later_start_with_the_next_group() -> None:
    release = anyio.Event()
    store = Recorder(release)
    executor = Executor([weather(store)], store=store)
    async with executor.batch() as batch:
        batch.submit(calls()[0])
        batch.submit(calls()[1])
        await store.entered.wait()  # the first group's record is under way
        batch.submit(calls()[2])
        batch.submit(calls()[3])
        while len(store.starts) < 2:
            await anyio.lowlevel.checkpoint()
        assert not any(line.startswith("body") for line in store.log)
        release.set()
    assert store.starts == [["c0", "c1"], ["c2", "c3"]]
    assert [r.status for r in batch.results()] == ["ok"] * 4


@pytest.mark.anyio
async def test_calls_that_wait_for_a_limit_are_recorded_each_when_its_wait_ends() -> None:
    store = Recorder()
    results = await Executor([weather(store)], store=store, max_concurrency=1).run(calls())
    assert [r.status for r in results] == ["ok"] * 4
    assert sorted(store.starts) == [["c0"], ["c1"], ["c2"], ["c3"]]  # any order (trio's)
    for i, city in enumerate(CITIES):  # each body after its own record, one at a time
        assert store.log.index(f"committed c{i}") < store.log.index(f"body {city}")


@pytest.mark.anyio
async def test_a_call_whose_timeout_ran_out_while_its_start_was_recorded_times_out_unrun() -> None:
    """c0's timeout (0.01 s) runs out during a record that takes 0.2 s; c1 (no timeout) of the
    same group runs."""
    store = Recorder(hold_s=0.2)
    slow = Tool.from_schema("slow", "Look up.", SCHEMA, weather(store).func)
    executor = Executor([weather(store, timeout=0.01), slow], store=store)
    async with executor.batch() as batch:
        batch.submit(ToolCall("c0", "weather", {"city": "Oslo"}))
        batch.submit(ToolCall("c1", "slow", {"city": "Rome"}))
    first, second = batch.results()
    assert first.status == "timeout"
    assert first.content.startswith("Tool 'weather' did not start within its 0.01 s timeout")
    assert second.ok
    assert "body Oslo" not in store.log
    assert "body Rome" in store.log


@pytest.mark.anyio
async def test_a_record_that_hangs_ends_at_the_calls_longest_timeout_and_none_runs() -> None:
    store = Recorder(anyio.Event())  # never released
    executor = Executor([weather(store, timeout=0.05)], store=store)
    with anyio.fail_after(10):
        results = await executor.run(calls()[:2])
    assert [r.status for r in results] == ["timeout", "timeout"]
    assert not any(line.startswith("body") for line in store.log)


@pytest.mark.anyio
async def test_cancelled_while_the_start_is_recorded_no_body_starts() -> None:
    release = anyio.Event()
    store = Recorder(release)
    executor = Executor([weather(store)], store=store)
    with anyio.CancelScope() as scope:
        async with executor.batch() as batch:
            for call in calls():
                batch.submit(call)
            await store.entered.wait()
            scope.cancel()
    assert [r.status for r in batch.results()] == ["cancelled"] * 4
    release.set()
    await anyio.sleep(0.01)
    assert not any(line.startswith("body") for line in store.log)


async def submit_then_fail(executor: Executor, batches: list[Batch]) -> None:
    async with executor.batch() as batch:
        batches.append(batch)
        for call in calls():
            batch.submit(call)
        raise KeyError("the caller's own bug")


@pytest.mark.anyio
async def test_a_block_that_fails_right_after_submitting_records_and_starts_nothing() -> None:
    store = Recorder()
    batches: list[Batch] = []
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the KeyError, maybe in a group
        await submit_then_fail(Executor([weather(store)], store=store), batches)
    [error] = getattr(raised.value, "exceptions", [raised.value])
    assert isinstance(error, KeyError)
    assert [r.status for r in batches[0].results()] == ["cancelled"] * 4
    assert store.log == []  # not even a start recorded: on resume, none is in doubt
