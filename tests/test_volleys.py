"""The adapters' shared per-response scheduler (integrations/_volleys.py): the calls of one
model response, made from tasks or threads of their own, meet in one batch."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

import anyio
import pytest

from conftest import ASYNCIO_BACKENDS
from toolvolley import ExecutionHooks, Executor, ToolCall, tool
from toolvolley.integrations._volleys import Volleys

CALLER: ContextVar[str] = ContextVar("caller", default="nobody")


@pytest.fixture(params=ASYNCIO_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param  # on asyncio a task starts in a copy of the context it is started from


@pytest.mark.anyio
async def test_calls_of_one_response_share_a_batch_each_in_its_callers_context() -> None:
    seen: dict[int, str] = {}
    started = anyio.Event()
    release = anyio.Event()
    batches: list[object] = []

    @tool
    async def who(n: int) -> str:
        """Tell whose context the body runs in."""
        seen[n] = CALLER.get()
        if len(seen) == 3:
            started.set()
        await release.wait()
        return f"call {n}"

    class Batches(ExecutionHooks):
        def batch_started(self, batch: object) -> None:
            batches.append(batch)

    volleys = Volleys(Executor([who], hooks=[Batches()]))
    answers: dict[int, str] = {}

    async def caller(n: int) -> None:
        CALLER.set(f"caller {n}")
        result = await volleys.run("response", ToolCall(f"c{n}", "who", {"n": n}))
        assert result is not None
        answers[n] = result.content

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(caller, n)
        await started.wait()
        assert len(volleys) == 1  # one response in flight
        release.set()
    assert seen == {n: f"caller {n}" for n in range(3)}  # not the first caller's, which hosts
    assert answers == {n: f"call {n}" for n in range(3)}
    assert len(batches) == 1
    assert len(volleys) == 0  # nothing is kept once every call has its result


def test_calls_from_threads_share_a_batch_on_a_loop_of_its_own() -> None:
    arrived = threading.Barrier(4)
    running = {"now": 0, "peak": 0}
    lock = threading.Lock()

    @tool
    def work(n: int) -> str:
        """Sync work."""
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        arrived.wait(timeout=10)  # all four at once, or the cap did not hold
        with lock:
            running["now"] -= 1
        return f"done {n}"

    volleys = Volleys(Executor([work], max_concurrency=4))
    answers: dict[int, str | None] = {}

    def caller(n: int) -> None:
        result = volleys.run_sync("response", ToolCall(f"c{n}", "work", {"n": n}))
        answers[n] = None if result is None else result.content

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert answers == {n: f"done {n}" for n in range(4)}
    assert running["peak"] == 4
    assert len(volleys) == 0
