"""Concurrency is checked by forcing order with events and counting calls in flight, not timing."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from helpers import InFlight
from toolvolley import ExecutionHooks, Executor, Tool, Toolbox, ToolCall, ToolResult, tool

pytestmark = pytest.mark.every_runtime

N_VALUES = [2, 8, 64]


def _calls(name: str, n: int) -> list[ToolCall]:
    return [ToolCall(f"c{i}", name, {"i": i}) for i in range(n)]


@pytest.mark.anyio
@pytest.mark.parametrize("n", N_VALUES)
async def test_async_calls_are_all_in_flight_together(n: int) -> None:
    flight = InFlight()
    everyone_started = anyio.Event()

    @tool
    async def wait_for_all(i: int) -> int:
        if flight.enter(str(i)) == n:
            everyone_started.set()
        await everyone_started.wait()  # only opens once all n calls are running at once
        flight.leave(str(i))
        return i

    with anyio.fail_after(10):
        results = await Executor([wait_for_all]).run(_calls("wait_for_all", n))
    assert [r.value for r in results] == list(range(n))
    assert flight.peak == n


@pytest.mark.anyio
@pytest.mark.parametrize("n", N_VALUES)
async def test_sync_calls_are_all_in_flight_together(n: int) -> None:
    flight = InFlight()
    barrier = threading.Barrier(n, timeout=30)  # breaks unless n threads wait on it at once

    @tool
    def wait_for_all(i: int) -> int:
        flight.enter(str(i))
        barrier.wait()
        flight.leave(str(i))
        return i

    results = await Executor([wait_for_all]).run(_calls("wait_for_all", n))
    assert [r.status for r in results] == ["ok"] * n
    assert flight.peak == n


@pytest.mark.anyio
async def test_sync_calls_beyond_anyios_default_thread_pool_overlap() -> None:
    n = 48  # anyio's default limiter would allow 40 at once; the executor sizes its own
    barrier = threading.Barrier(n, timeout=30)

    @tool
    def wait_for_all(i: int) -> int:
        barrier.wait()
        return i

    results = await Executor([wait_for_all]).run(_calls("wait_for_all", n))
    assert [r.status for r in results] == ["ok"] * n


def _limited_tool(flight: InFlight, limit: int, **options: Any) -> Tool:
    reached = anyio.Event()

    @tool(**options)
    async def limited(i: int) -> int:
        if flight.enter(str(i)) == limit:
            reached.set()
        await reached.wait()  # proves `limit` calls do run together
        await anyio.lowlevel.checkpoint()  # let others try to get in
        flight.leave(str(i))
        return i

    return limited


@pytest.mark.anyio
async def test_executor_max_concurrency_caps_calls_in_flight() -> None:
    flight = InFlight()
    limited = _limited_tool(flight, 3)
    with anyio.fail_after(10):
        results = await Executor([limited], max_concurrency=3).run(_calls("limited", 20))
    assert [r.value for r in results] == list(range(20))
    assert flight.peak == 3


@pytest.mark.anyio
async def test_tool_max_concurrency_caps_that_tool_only() -> None:
    flight = InFlight()
    limited = _limited_tool(flight, 2, max_concurrency=2)
    others_running = InFlight()
    gate = anyio.Event()

    @tool
    async def free(i: int) -> int:
        if others_running.enter(str(i)) == 5:
            gate.set()
        await gate.wait()
        return i

    calls = _calls("limited", 10) + [ToolCall(f"f{i}", "free", {"i": i}) for i in range(5)]
    with anyio.fail_after(10):
        results = await Executor([limited, free]).run(calls)
    assert all(r.ok for r in results)
    assert flight.peak == 2
    assert others_running.peak == 5


@pytest.mark.anyio
async def test_sync_thread_ceiling_caps_threads() -> None:
    limit, n = 2, 6
    flight = InFlight()
    changed = threading.Condition()
    release = threading.Event()

    @tool
    def work(i: int) -> int:
        with changed:
            flight.enter(str(i))
            changed.notify_all()
        release.wait(30)  # hold the thread, so every call the ceiling lets in is seen at once
        flight.leave(str(i))
        return i

    def more_than(count: int, within: float) -> bool:
        """Whether more than ``count`` calls are in their threads at once, within ``within`` s."""
        with changed:
            return changed.wait_for(lambda: flight.current > count, within)

    executor = Executor([work], max_threads=limit)
    results: list[ToolResult] = []

    async def run() -> None:
        results.extend(await executor.run(_calls("work", n)))

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                reached = await anyio.to_thread.run_sync(more_than, limit - 1, 5)
                assert reached, f"only {flight.current} of {limit} threads ran at once"
                # Every call task has now handed its work to a thread or is waiting for one;
                # give the threads handed work the time to enter. A thread past the ceiling
                # shows up at once and ends the wait early; the ceiling holding costs the grace.
                await anyio.wait_all_tasks_blocked()
                over = await anyio.to_thread.run_sync(more_than, limit, 0.25)
                assert not over, f"{flight.current} threads ran at once, above max_threads={limit}"
                release.set()
    finally:
        release.set()
    assert [r.value for r in results] == list(range(n))
    assert flight.peak == limit


@pytest.mark.anyio
async def test_sequential_tool_is_a_barrier() -> None:
    flight = InFlight()
    pair_started = anyio.Event()
    started: set[str] = set()

    def overlapping(name: str, partner: str) -> None:
        started.add(name)
        if partner in started:
            pair_started.set()

    @tool
    async def step(name: str) -> str:
        flight.enter(name)
        overlapping(name, {"a": "b", "b": "a", "c": "d", "d": "c"}[name])
        if name in "ab":
            await pair_started.wait()  # a and b must be in flight together
        flight.leave(name)
        return name

    @tool(sequential=True)
    async def commit() -> str:
        flight.enter("S")
        await anyio.lowlevel.checkpoint()
        flight.leave("S")
        return "S"

    calls = [
        ToolCall("1", "step", {"name": "a"}),
        ToolCall("2", "step", {"name": "b"}),
        ToolCall("3", "commit", {}),
        ToolCall("4", "step", {"name": "c"}),
        ToolCall("5", "step", {"name": "d"}),
    ]
    with anyio.fail_after(10):
        results = await Executor([step, commit]).run(calls)
    assert [r.value for r in results] == ["a", "b", "S", "c", "d"]
    order = flight.order()
    s_start, s_end = order.index("start:S"), order.index("end:S")
    assert max(order.index("end:a"), order.index("end:b")) < s_start
    assert s_end == s_start + 1  # it ran alone
    assert min(order.index("start:c"), order.index("start:d")) > s_end
    assert flight.peak == 2


@pytest.mark.anyio
@pytest.mark.parametrize("is_async", [True, False])
async def test_serial_mode_runs_one_at_a_time_in_order(is_async: bool) -> None:
    flight = InFlight()
    token = anyio.lowlevel.current_token()
    if is_async:

        @tool(name="step")
        async def step_async(i: int) -> int:
            flight.enter(str(i))
            await anyio.lowlevel.checkpoint()
            flight.leave(str(i))
            return i

        chosen = step_async
    else:

        @tool(name="step")
        def step_sync(i: int) -> int:
            flight.enter(str(i))
            # Hold the call until the event loop has nothing left to run: had the executor
            # started the next calls too, they would have started (`started_at`) by then.
            anyio.from_thread.run(anyio.wait_all_tasks_blocked, token=token)
            flight.leave(str(i))
            return i

        chosen = step_sync

    results = await Executor([chosen], mode="serial").run(_calls("step", 8))
    assert [r.value for r in results] == list(range(8))
    assert flight.peak == 1
    assert flight.order() == [f"{kind}:{i}" for i in range(8) for kind in ("start", "end")]
    assert all(a.ended_at <= b.started_at for a, b in itertools.pairwise(results))


# --- cancellation and deadlines -----------------------------------------------------------------


@pytest.mark.anyio
async def test_caller_cancellation_propagates_and_leaves_one_result_per_call() -> None:
    release = threading.Event()
    running = InFlight()
    both_running = anyio.Event()
    cleanup: list[str] = []

    @tool
    async def fast() -> str:
        return "done"

    @tool
    async def slow_async() -> str:
        try:
            if running.enter("async") == 2:
                both_running.set()
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cleanup.append("async tool saw the cancellation")
            raise
        return "never"

    @tool
    def slow_sync() -> str:
        if running.enter("sync") == 2:
            # events belong to the loop's thread; the token finds it on every backend
            anyio.from_thread.run_sync(both_running.set, token=token)
        release.wait(30)
        return "late"

    token = anyio.lowlevel.current_token()
    executor = Executor([fast, slow_async, slow_sync])
    batch = executor.batch()
    try:
        with anyio.fail_after(10), anyio.CancelScope() as scope:
            async with batch:
                batch.submit(ToolCall("1", "fast"))
                batch.submit(ToolCall("2", "slow_async"))
                batch.submit(ToolCall("3", "slow_sync"))
                await both_running.wait()
                scope.cancel()
        assert scope.cancelled_caught  # the cancellation reached the caller
        results = batch.results()
        assert [r.call_id for r in results] == ["1", "2", "3"]
        assert [r.status for r in results] == ["ok", "cancelled", "cancelled"]
        assert "cancelled before it finished" in results[1].content
        assert cleanup == ["async tool saw the cancellation"]
        assert executor.abandoned_threads == 1
    finally:
        release.set()


@pytest.mark.anyio
async def test_cancelling_run_is_not_swallowed() -> None:
    started = anyio.Event()

    @tool
    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    executor = Executor([forever])
    reached_after_run: list[bool] = []

    async def call_run() -> None:
        await executor.run([ToolCall("1", "forever")])
        reached_after_run.append(True)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call_run)
            await started.wait()
            tg.cancel_scope.cancel()
    assert reached_after_run == []


@pytest.mark.anyio
async def test_cancelled_sync_call_that_had_not_started_never_runs() -> None:
    ran: list[int] = []
    first_running = threading.Event()
    release = threading.Event()

    @tool
    def work(i: int) -> int:
        ran.append(i)
        first_running.set()
        release.wait(30)
        return i

    executor = Executor([work], max_threads=1)
    batch = executor.batch()
    try:
        with anyio.fail_after(10), anyio.CancelScope() as scope:
            async with batch:
                batch.submit(ToolCall("1", "work", {"i": 1}))
                batch.submit(ToolCall("2", "work", {"i": 2}))
                await anyio.to_thread.run_sync(first_running.wait, 10)
                scope.cancel()
        assert [r.status for r in batch.results()] == ["cancelled", "cancelled"]
    finally:
        release.set()
    assert len(ran) == 1  # whichever got the one thread ran; the other never started


@pytest.mark.anyio
async def test_batch_deadline_bounds_running_and_queued_calls() -> None:
    @tool
    async def quick() -> str:
        return "quick"

    @tool
    async def forever() -> str:
        await anyio.sleep_forever()
        return "never"

    executor = Executor([quick, forever], mode="serial", deadline=0.2)
    with anyio.fail_after(10):
        results = await executor.run(
            [ToolCall("1", "quick"), ToolCall("2", "forever"), ToolCall("3", "quick")]
        )
    assert [r.status for r in results] == ["ok", "timeout", "timeout"]
    assert "batch deadline of 0.2 s passed before tool 'forever' finished" in results[1].content
    assert "before tool 'quick' could start" in results[2].content


@pytest.mark.anyio
async def test_executor_timeout_applies_to_sync_tools() -> None:
    release = threading.Event()

    @tool
    def stuck() -> str:
        release.wait(30)
        return "late"

    executor = Executor([stuck], timeout=0.1)
    try:
        with anyio.fail_after(10):
            results = await executor.run([ToolCall("1", "stuck")])
        assert results[0].status == "timeout"
        assert "0.1 s timeout" in results[0].content
        assert executor.abandoned_threads == 1
    finally:
        release.set()


def test_results_before_the_batch_closes_is_an_error() -> None:
    from toolvolley import UserError

    async def main() -> None:
        async with Executor([]).batch() as batch:
            with pytest.raises(UserError, match="still running"):
                batch.results()
        with pytest.raises(UserError, match="inside"):
            batch.submit(ToolCall("1", "x"))

    anyio.run(main)


def test_batch_report_figures() -> None:
    @tool
    async def pause(seconds: float) -> float:
        await anyio.sleep(seconds)
        return seconds

    executor = Executor(Toolbox([pause]))

    async def main() -> None:
        async with executor.batch() as batch:
            for i, seconds in enumerate([0.05, 0.1, 0.15]):
                batch.submit(ToolCall(str(i), "pause", {"seconds": seconds}))
        report = batch.report()
        assert report.calls == 3
        assert report.ideal_s == pytest.approx(max(r.duration for r in batch.results()))
        assert report.sum_s == pytest.approx(sum(r.duration for r in batch.results()))
        assert report.speedup == pytest.approx(report.sum_s / report.wall_s)
        assert 0 < report.efficiency <= 1
        assert report.statuses == {"ok": 3}
        assert "3 calls in" in report.summary()

    anyio.run(main)


# --- CPU-bound tools in worker processes -------------------------------------------------------


@pytest.mark.anyio
async def test_process_tools_run_in_other_processes_and_timeouts_kill_them() -> None:
    import os

    from cpu_tools import fib, spin

    executor = Executor([fib, spin])
    with anyio.fail_after(60):
        results = await executor.run(
            [
                ToolCall("1", "fib", {"n": 30}),
                ToolCall("2", "spin"),
                ToolCall("3", "fib", {"n": 10}),
            ]
        )
    assert [r.status for r in results] == ["ok", "timeout", "ok"]
    assert results[0].value["value"] == 832040
    assert results[2].value["value"] == 55
    assert results[0].value["pid"] != os.getpid()
    assert executor.abandoned_threads == 0  # a killed process leaves nothing behind


@pytest.mark.anyio
async def test_outer_cancellation_is_not_mistaken_for_a_timeout() -> None:
    started = anyio.Event()

    @tool(timeout=30)
    async def slow() -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    batch = Executor([slow]).batch()
    with anyio.fail_after(10), anyio.CancelScope() as scope:
        async with batch:
            batch.submit(ToolCall("1", "slow"))
            await started.wait()
            scope.cancel()
    assert scope.cancelled_caught
    assert [r.status for r in batch.results()] == ["cancelled"]


@pytest.mark.anyio
async def test_a_tool_that_swallows_its_timeout_still_times_out() -> None:
    @tool(timeout=0.05)
    async def stubborn() -> str:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            pass  # a badly behaved tool: it ignores the cancellation and returns
        return "late"

    @tool
    async def after() -> str:
        await anyio.lowlevel.checkpoint()
        return "fine"

    with anyio.fail_after(10):
        results = await Executor([stubborn, after], mode="serial").run(
            [ToolCall("1", "stubborn"), ToolCall("2", "after")]
        )
    assert [r.status for r in results] == ["timeout", "ok"]


@pytest.mark.anyio
async def test_staggered_timeouts_each_end_their_own_call() -> None:
    """Many deadlines share one timer: each call still ends at its own, whatever finishes
    around it (calls that never suspend, calls that finish in time), never earlier, and without
    waiting for a later one: a call whose deadline is far off (pushed on the timer first) is
    only let go once every shorter deadline has ended its call."""

    timeouts = [0.25, 0.05, 0.15, 0.1, 0.2]
    timed_out: set[str] = set()
    shorter_deadlines_passed = anyio.Event()

    class Watch(ExecutionHooks):
        def call_finished(self, result: ToolResult) -> None:
            if result.status == "timeout":
                timed_out.add(result.call_id)
                if len(timed_out) == len(timeouts):
                    shorter_deadlines_passed.set()

    @tool(timeout=30)
    async def outlast() -> str:
        await shorter_deadlines_passed.wait()
        return "let go"

    @tool
    async def hang(i: int) -> int:
        await anyio.sleep_forever()
        return i

    @tool
    async def instant(i: int) -> int:
        return i  # never suspends

    @tool
    async def prompt(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        return i

    tools = [outlast, instant, prompt] + [
        hang.with_options(name=f"hang_{i}", timeout=t) for i, t in enumerate(timeouts)
    ]
    calls = [ToolCall("long", "outlast")]
    calls += [ToolCall(f"x{i}", "instant", {"i": i}) for i in range(50)]
    calls += [ToolCall(f"p{i}", "prompt", {"i": i}) for i in range(50)]
    calls += [ToolCall(f"h{i}", f"hang_{i}", {"i": i}) for i in range(len(timeouts))]
    with anyio.fail_after(10):
        results = await Executor(tools, hooks=[Watch()]).run(calls)
    assert (results[0].status, results[0].value) == ("ok", "let go")
    assert [r.status for r in results[1:101]] == ["ok"] * 100
    hung = results[101:]
    assert [r.status for r in hung] == ["timeout"] * len(timeouts)
    for result, timeout in zip(hung, timeouts, strict=True):
        assert result.duration >= timeout * 0.99  # never early (the loop clock may round)
        assert f"{timeout:g} s timeout" in result.content
