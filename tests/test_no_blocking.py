"""The executor never blocks the event loop: a batch of async, thread and process tools, with a
timeout and a schema error, runs under blockbuster, which fails any blocking call made on the
loop (as anyio's and Pydantic AI's suites do). asyncio only: blockbuster watches asyncio loops."""

from __future__ import annotations

import time

import anyio
from blockbuster import blockbuster_ctx

import fault_tools
from cpu_tools import fib, spin
from toolvolley import Executor, ToolCall, tool


@tool
async def wait(x: int) -> int:
    await anyio.sleep(0.01)
    return x


@tool
def sleep_in_a_thread(x: int) -> int:
    time.sleep(0.01)  # a sync tool may block: it runs in a worker thread
    return x


crash = tool(run_in="process")(fault_tools.crash)  # the worker exits mid-call
EXECUTOR = Executor([wait, sleep_in_a_thread, fib, spin.with_options(timeout=0.3), crash])
CALLS = [
    ToolCall("1", "wait", {"x": 1}),
    ToolCall("2", "sleep_in_a_thread", {"x": 2}),
    ToolCall("3", "fib", {"n": 5}),
    ToolCall("4", "spin"),
    ToolCall("5", "wait", '{"x": "not a number"}'),
    ToolCall("6", "crash", {"text": "6"}),
]


def test_a_batch_makes_no_blocking_call_on_the_loop() -> None:
    async def main() -> list[str]:
        with blockbuster_ctx() as blockbuster:
            # Starting a worker process forks in the loop's thread, as asyncio's own
            # subprocesses do, and Popen reads its exec-error pipe there: once per worker.
            blockbuster.functions["os.read"].can_block_in("subprocess.py", "_execute_child")
            for _ in range(2):  # new workers, then idle ones
                results = await EXECUTOR.run(CALLS)
        return [r.status for r in results]

    assert anyio.run(main) == ["ok", "ok", "ok", "timeout", "invalid_arguments", "error"]
