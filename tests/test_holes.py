"""Regression tests for the holes an attacker's pass found (issue 15). Each one reproduced its
hole on 97f165f: a call reported as stopped whose body started anyway, a program that could not
exit, a tool body running on the event loop, one tool's exception costing its siblings their
results, a broken exception or hook crashing the batch."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from toolvolley import ExecutionHooks, Executor, ToolCall, ToolResult, UserError, tool

pytestmark = pytest.mark.every_runtime

SHORT = 0.2  # a timeout the test waits out; order is forced by events, not by this value
STARTS = 1.0  # a timeout the test waits out, long enough for the body to start under load


def _calls(name: str, n: int) -> list[ToolCall]:
    return [ToolCall(f"c{i}", name, {"i": i}) for i in range(n)]


# --- 1. queued sync calls never start after their call timed out -----------------------------


@pytest.mark.anyio
async def test_queued_sync_calls_do_not_start_after_their_timeout() -> None:
    entered: list[tuple[int, float]] = []
    lock = threading.Lock()
    stop = threading.Event()

    @tool(timeout=SHORT)
    def block(i: int) -> str:
        with lock:
            entered.append((i, time.perf_counter()))
        stop.wait(10)
        return "x"

    try:
        with anyio.fail_after(20):
            results = await Executor([block], max_threads=4).run(_calls("block", 40))
    finally:
        stop.set()
    assert [r.status for r in results] == ["timeout"] * 40
    # A body may only start before its call's deadline (the call's start plus its timeout).
    late = [
        (i, at - results[i].started_at) for i, at in entered if at >= results[i].started_at + SHORT
    ]
    assert late == []
    # (How many start depends on how far apart the calls' deadlines are: under load a queued
    # call can still have time left when a thread frees up. Only late starts are wrong.)


@pytest.mark.anyio
async def test_a_cancelled_batch_starts_no_queued_sync_call() -> None:
    entered: list[int] = []
    running = threading.Event()
    stop = threading.Event()

    @tool
    def block(i: int) -> str:
        entered.append(i)
        running.set()
        stop.wait(10)
        return "x"

    batch = Executor([block], max_threads=1).batch()
    try:
        with anyio.fail_after(20), anyio.CancelScope() as scope:
            async with batch:
                for call in _calls("block", 5):
                    batch.submit(call)
                await anyio.to_thread.run_sync(running.wait, 10)
                scope.cancel()
        time.sleep(0.05)  # a queued body that wrongly starts would do so now
    finally:
        stop.set()
    assert [r.status for r in batch.results()] == ["cancelled"] * 5
    assert len(entered) == 1


# --- 2. a program can always exit after a sync call was abandoned ----------------------------

_NEVER_ENDING = """
import threading, sys
from toolvolley import Executor, ToolCall, tool

@tool(timeout=0.2)
def never() -> str:
    threading.Event().wait()
    return "never"

{run}
print(results[0].status, flush=True)
"""

_RUNS = {
    "run_sync": "results = Executor([never]).run_sync([ToolCall('1', 'never')])",
    "asyncio.run": (
        "import asyncio\nresults = asyncio.run(Executor([never]).run([ToolCall('1', 'never')]))"
    ),
    "trio": (
        "import trio\n"
        "async def main():\n"
        "    return await Executor([never]).run([ToolCall('1', 'never')])\n"
        "results = trio.run(main)"
    ),
}


@pytest.mark.parametrize("how", sorted(_RUNS))
def test_program_exits_after_a_sync_call_is_abandoned(how: str) -> None:
    script = _NEVER_ENDING.format(run=_RUNS[how])
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "timeout"


# --- 3. lazy results are consumed where the tool ran, inside its timeout ---------------------


@pytest.mark.anyio
async def test_a_generator_result_runs_in_the_worker_thread_inside_the_timeout() -> None:
    release = threading.Event()
    threads: list[threading.Thread] = []

    @tool(timeout=STARTS)
    def numbers() -> Iterator[int]:
        threads.append(threading.current_thread())
        yield 1
        release.wait(10)  # the rest of the work: past the timeout
        yield 2

    try:
        with anyio.fail_after(20):
            (result,) = await Executor([numbers]).run([ToolCall("1", "numbers")])
    finally:
        release.set()
    assert result.status == "timeout"
    assert threads
    assert threads[0] is not threading.main_thread()


@pytest.mark.anyio
async def test_iterator_results_become_lists() -> None:
    @tool
    def squares(n: int) -> Any:
        return map(str, range(n))

    @tool
    def words() -> Iterator[str]:
        yield from ("a", "b")

    @tool
    async def agen(n: int) -> Any:
        for i in range(n):
            await anyio.lowlevel.checkpoint()
            yield i

    results = await Executor([squares, words, agen]).run(
        [
            ToolCall("1", "squares", {"n": 4}),
            ToolCall("2", "words"),
            ToolCall("3", "agen", {"n": 3}),
        ]
    )
    assert [r.content for r in results] == ['["0","1","2","3"]', '["a","b"]', "[0,1,2]"]


# --- 7. any exception a tool raises is that call's error -------------------------------------


class Custom(BaseException):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize("is_async", [True, False], ids=["async", "thread"])
async def test_a_base_exception_is_one_calls_error(is_async: bool) -> None:
    if is_async:

        @tool(name="bad")
        async def bad_async() -> str:
            raise Custom("odd")

        bad = bad_async
    else:

        @tool(name="bad")
        def bad_sync() -> str:
            raise Custom("odd")

        bad = bad_sync

    @tool
    async def fine() -> str:
        await anyio.lowlevel.checkpoint()
        return "fine"

    results = await Executor([bad, fine]).run(
        [ToolCall("1", "fine"), ToolCall("2", "bad"), ToolCall("3", "fine")]
    )
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert "Custom: odd" in results[1].content


@pytest.mark.anyio
@pytest.mark.parametrize("is_async", [True, False], ids=["async", "thread"])
@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit])
async def test_interrupt_from_a_tool_keeps_every_result_then_reraises(
    is_async: bool, kind: type[BaseException]
) -> None:
    gate = threading.Event()

    if is_async:

        @tool(name="stop")
        async def stop_async() -> str:
            raise kind()

        stop = stop_async
    else:

        @tool(name="stop")
        def stop_sync() -> str:
            raise kind()

        stop = stop_sync

    @tool
    async def slow() -> str:
        await anyio.to_thread.run_sync(gate.wait, 10)
        return "done"

    batch = Executor([stop, slow]).batch()

    async def run_batch() -> None:
        async with batch:
            batch.submit(ToolCall("1", "slow"))
            batch.submit(ToolCall("2", "stop"))
            gate.set()  # the sibling finishes only after the interrupt was raised

    with anyio.fail_after(20), pytest.raises(kind):
        await run_batch()
    results = batch.results()
    assert [r.status for r in results] == ["ok", "error"]
    assert kind.__name__ in results[1].content


# --- 8. broken exceptions and raising hooks --------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.anyio
async def test_an_exception_that_cannot_be_printed_still_gives_a_message() -> None:
    @tool
    async def broken() -> str:
        raise Unprintable

    @tool
    async def fine() -> str:
        return "fine"

    results = await Executor([broken, fine]).run([ToolCall("1", "broken"), ToolCall("2", "fine")])
    assert [r.status for r in results] == ["error", "ok"]
    assert "Unprintable" in results[0].content


class Raising(ExecutionHooks):
    def __init__(self) -> None:
        self.finished: list[str] = []
        self.started: list[str] = []

    def batch_started(self, batch: Any) -> None:
        raise RuntimeError("hook bug at batch start")

    def call_started(self, call: ToolCall, at: float) -> None:
        self.started.append(call.id)
        raise RuntimeError("hook bug at call start")

    def call_finished(self, result: ToolResult) -> None:
        self.finished.append(result.call_id)
        raise RuntimeError("hook bug at call end")

    def batch_finished(self, batch: Any) -> None:
        raise RuntimeError("hook bug at batch end")


@pytest.mark.anyio
async def test_a_raising_hook_changes_no_result_and_runs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @tool
    async def fine(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        return i

    hooks = Raising()
    caplog.set_level(logging.ERROR, logger="toolvolley")
    batch = Executor([fine], hooks=[hooks]).batch()
    async with batch:
        for call in _calls("fine", 3):
            batch.submit(call)
    assert [r.status for r in batch.results()] == ["ok"] * 3
    assert [r.content for r in batch.results()] == ["0", "1", "2"]
    assert sorted(hooks.started) == sorted(hooks.finished) == ["c0", "c1", "c2"]
    assert len(batch.hook_errors) == 3 + 3 + 2
    assert "hook bug at call end" in caplog.text


# --- a second attacker's pass over the redesigned executor --------------------------------


@pytest.mark.anyio
async def test_a_batch_cancelled_right_after_submit_starts_no_sync_body() -> None:
    entered: list[int] = []

    @tool
    def work(i: int) -> int:
        entered.append(i)
        return i

    executor = Executor([work], max_threads=16)
    await executor.run(_calls("work", 16))  # idle workers, ready to take jobs at once
    entered.clear()
    batch = executor.batch()
    with anyio.CancelScope() as scope:
        async with batch:
            for call in _calls("work", 16):
                batch.submit(call)
            scope.cancel()
    assert [r.status for r in batch.results()] == ["cancelled"] * 16
    assert entered == []


@pytest.mark.anyio
async def test_an_interrupt_from_a_tool_is_raised_even_if_the_batch_is_cancelled() -> None:
    @tool
    def interrupt() -> int:
        raise KeyboardInterrupt

    @tool
    async def slow() -> int:
        await anyio.sleep_forever()
        return 1

    batch = Executor([interrupt, slow]).batch()

    async def run_batch() -> None:
        with anyio.CancelScope() as scope:
            async with batch:
                batch.submit(ToolCall("a", "interrupt"))
                batch.submit(ToolCall("b", "slow"))
                while not batch._slots[0].result:
                    await anyio.lowlevel.checkpoint()
                scope.cancel()

    with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
        await run_batch()
    assert [r.status for r in batch.results()] == ["error", "cancelled"]


def _numbers() -> Iterator[int]:
    yield 1
    raise ValueError("the second number is missing")


@pytest.mark.anyio
@pytest.mark.parametrize("is_async", [False, True], ids=["thread", "async"])
async def test_a_failing_generator_nested_in_a_result_is_an_error_not_an_empty_list(
    is_async: bool,
) -> None:
    if is_async:

        @tool(name="nested")
        async def nested_async() -> dict[str, Any]:
            return {"items": _numbers()}

        nested = nested_async
    else:

        @tool(name="nested")
        def nested_sync() -> dict[str, Any]:
            return {"items": _numbers()}

        nested = nested_sync

    (result,) = await Executor([nested]).run([ToolCall("1", "nested")])
    assert result.status == "error"
    assert "[]" not in result.content


@pytest.mark.anyio
async def test_a_nested_generator_of_a_sync_tool_runs_in_its_thread_inside_the_timeout() -> None:
    release = threading.Event()
    threads: list[threading.Thread] = []

    def slow() -> Iterator[int]:
        threads.append(threading.current_thread())
        yield 1
        release.wait(10)
        yield 2

    @tool(timeout=STARTS)
    def nested() -> dict[str, Any]:
        return {"items": slow()}

    try:
        with anyio.fail_after(20):
            (result,) = await Executor([nested]).run([ToolCall("1", "nested")])
    finally:
        release.set()
    assert result.status == "timeout"
    assert threads[0] is not threading.main_thread()


@pytest.mark.anyio
async def test_async_generators_handed_back_by_any_tool_are_collected() -> None:
    async def agen() -> Any:
        for i in range(3):
            await anyio.lowlevel.checkpoint()
            yield i

    @tool
    def sync_gives_agen() -> Any:
        return agen()

    @tool
    async def async_gives_agen() -> Any:
        return agen()

    @tool
    def sync_gives_coroutine() -> Any:
        async def coro() -> list[int]:
            return [7]

        return coro()

    results = await Executor([sync_gives_agen, async_gives_agen, sync_gives_coroutine]).run(
        [
            ToolCall("1", "sync_gives_agen"),
            ToolCall("2", "async_gives_agen"),
            ToolCall("3", "sync_gives_coroutine"),
        ]
    )
    assert [r.content for r in results] == ["[0,1,2]", "[0,1,2]", "[7]"]


@pytest.mark.anyio
@pytest.mark.parametrize("is_async", [False, True], ids=["thread", "async"])
async def test_a_tool_raising_cancelled_error_itself_is_an_error(is_async: bool) -> None:
    import asyncio

    if is_async:

        @tool(name="odd")
        async def odd_async() -> str:
            raise asyncio.CancelledError

        odd = odd_async
    else:

        @tool(name="odd")
        def odd_sync() -> str:
            raise asyncio.CancelledError

        odd = odd_sync

    (result,) = await Executor([odd]).run([ToolCall("1", "odd")])
    assert result.status == "error"
    assert "CancelledError" in result.content


class Stop(BaseException):
    pass


class RaisingBase(ExecutionHooks):
    def __init__(self) -> None:
        self.finished: list[str] = []

    def batch_started(self, batch: Any) -> None:
        raise Stop("hook at batch start")

    def call_started(self, call: ToolCall, at: float) -> None:
        raise Stop("hook at call start")

    def call_finished(self, result: ToolResult) -> None:
        self.finished.append(result.call_id)
        raise Stop("hook at call end")


@pytest.mark.anyio
async def test_a_hook_raising_a_base_exception_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @tool
    async def fine(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        return i

    hooks = RaisingBase()
    caplog.set_level(logging.ERROR, logger="toolvolley")
    batch = Executor([fine], hooks=[hooks]).batch()
    async with batch:
        for call in _calls("fine", 2):
            batch.submit(call)
    assert [r.status for r in batch.results()] == ["ok", "ok"]
    assert sorted(hooks.finished) == ["c0", "c1"]
    assert len(batch.hook_errors) == 1 + 2 + 2


@pytest.mark.anyio
async def test_submit_from_another_thread_is_refused() -> None:
    @tool
    async def fine() -> str:
        return "fine"

    batch = Executor([fine]).batch()
    async with batch:
        with pytest.raises(UserError, match="another thread"):
            await anyio.to_thread.run_sync(batch.submit, ToolCall("1", "fine"))
    assert batch.results() == []
