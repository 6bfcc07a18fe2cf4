"""The worker processes of ``run_in="process"``: whatever stops a call, its worker is killed and
reaped, never left running or for the garbage collector."""

from __future__ import annotations

import gc
import os
import sys
import warnings
from pathlib import Path

import anyio
import pytest

from cpu_tools import fib
from toolvolley import Executor, ToolCall

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def children() -> dict[int, str]:
    """This process's children and their states ("Z": exited, not reaped)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid():
            found[int(entry.name)] = state
    return found


def run_on_a_fresh_loop(backend: str, timeout: float) -> str:
    """One call on a new event loop (so no worker is idle yet): its status."""

    async def main() -> str:
        (result,) = await Executor([fib.with_options(timeout=timeout)]).run(
            [ToolCall("c1", "fib", {"n": 3})]
        )
        return result.status

    return anyio.run(main, backend=backend)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_call_stopped_while_its_worker_starts_leaves_no_process(backend: str) -> None:
    """No interpreter starts in a millisecond: the timeout always lands while the new worker
    is starting, the moment anyio's own pool (to_process) left the worker running and its
    Popen to the garbage collector ("subprocess N is still running")."""
    before = children()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_on_a_fresh_loop(backend, timeout=0.001) == "timeout"
        new = {pid: state for pid, state in children().items() if pid not in before}
        gc.collect()
    assert new == {}
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_cancellation_at_any_moment_of_an_exchange_leaves_no_process(backend: str) -> None:
    """Timeouts from nothing to past the worker's start, so they land while it starts, while it
    loads, and while it runs the body: each call is a timeout or done, and no worker it started
    is left (dead or alive) or left to the garbage collector."""
    before = children()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        statuses = {
            run_on_a_fresh_loop(backend, timeout=t)
            for t in (0.0001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4)
        }
        gc.collect()  # the loops are gone: their pools reap the idle workers
        new = {pid: state for pid, state in children().items() if pid not in before}
    assert statuses <= {"timeout", "ok"}
    assert new == {}
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_worker_serves_its_loop_and_is_reaped_when_the_loop_is_gone(backend: str) -> None:
    async def two_batches() -> set[int]:
        executor = Executor([fib])
        pids = set()
        for n in (3, 4):
            (result,) = await executor.run([ToolCall("c1", "fib", {"n": n})])
            pids.add(result.value["pid"])
        return pids

    pids = anyio.run(two_batches, backend=backend)
    assert len(pids) == 1  # the idle worker answered the second batch too
    gc.collect()
    assert not pids & set(children())
