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


def test_a_worker_that_answered_system_exit_is_not_handed_to_the_next_call() -> None:
    from cpu_tools import stop

    async def main() -> tuple[str, str]:
        executor = Executor([fib, stop])
        with pytest.raises(SystemExit):  # a tool's SystemExit is raised, as the README says
            await executor.run([ToolCall("c1", "stop", {"code": 3})])
        (after,) = await executor.run([ToolCall("c2", "fib", {"n": 3})])
        return after.status, after.content

    before = children()
    assert anyio.run(main)[0] == "ok"
    assert {pid: s for pid, s in children().items() if pid not in before and s == "Z"} == {}


def test_a_worker_that_prints_before_it_starts_is_broken_not_hung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sitecustomize.py").write_text('print("a banner at start-up")\n')
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")

    async def main() -> tuple[str, str]:
        with anyio.fail_after(30):
            (result,) = await Executor([fib]).run([ToolCall("c1", "fib", {"n": 3})])
        return result.status, result.content

    status, content = anyio.run(main)
    assert status == "error"
    assert "BrokenWorkerProcess: The worker process did not start" in content
    assert "a banner at start-up" in content


def test_on_trio_idle_workers_end_with_the_run_without_a_garbage_collection() -> None:
    async def one() -> int:
        (result,) = await Executor([fib]).run([ToolCall("c1", "fib", {"n": 3})])
        pid: int = result.value["pid"]
        return pid

    gc.disable()
    try:
        pid = anyio.run(one, backend="trio")
        assert pid not in children()
    finally:
        gc.enable()


def test_the_deadline_is_checked_again_after_a_slow_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from toolvolley._processes import _TooLate, call_by_reference

    (tmp_path / "slow_to_import.py").write_text(
        "import time\ntime.sleep(0.3)\n\ndef body():\n    raise AssertionError('started late')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(_TooLate):
        call_by_reference("slow_to_import", "body", {}, time.monotonic() + 0.1)


SCRIPT = """
import dataclasses, sys
import anyio
from toolvolley import Executor, ToolCall, tool

@dataclasses.dataclass
class Point:
    x: int

class Refused(Exception):
    pass

@tool(run_in="process")
def point(x: int) -> str:
    return repr(Point(x))

@tool(run_in="process")
def refuse() -> None:
    raise Refused("no")

async def main() -> None:
    calls = [ToolCall("a", "point", {"x": 3}), ToolCall("b", "refuse")]
    for r in await Executor([point, refuse]).run(calls):
        print(r.status, r.content)

if __name__ == "__main__":
    anyio.run(main)
"""


def test_tools_and_exceptions_of_a_users_script_cross_back(tmp_path: Path) -> None:
    import subprocess

    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ok Point(x=3)",
        "error Tool 'refuse' failed with Refused: no",
    ]


def test_a_busy_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """The parent is killed (SIGKILL: nothing of it runs) while its worker spins."""
    import signal
    import subprocess
    import time

    script = tmp_path / "parent.py"
    tests = Path(__file__).parent
    script.write_text(
        f"import sys; sys.path.insert(0, {str(tests)!r})\n"
        "import anyio\nfrom cpu_tools import spin\nfrom toolvolley import Executor, ToolCall\n"
        "anyio.run(Executor([spin.with_options(timeout=60)]).run, [ToolCall('s', 'spin')])\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        worker = None
        for _ in range(300):  # its worker appears (bounded: 30 s)
            workers = [
                p for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == parent.pid
            ]
            if workers:
                worker = int(workers[0].name)
                break
            time.sleep(0.1)
        assert worker is not None
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    for _ in range(300):  # then goes (bounded: 30 s); a worker left spinning fails here
        if not Path(f"/proc/{worker}").exists() or _state(worker) == "Z":
            break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its parent")


def _ppid(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
