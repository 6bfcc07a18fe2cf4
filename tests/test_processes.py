"""The worker processes of ``run_in="process"``: whatever stops a call, its worker is killed and
reaped, never left running or for the garbage collector."""

from __future__ import annotations

import gc
import importlib.abc
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from cpu_tools import fib
from toolvolley import Executor, ToolCall, ToolResult
from toolvolley.runners import WorkerLost

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def children() -> dict[int, str]:
    """This process's children and their states ("Z": exited, not reaped), but for the process
    guard, which lives as long as the program (one, started with the first worker)."""
    from toolvolley.runners import _guard as _process_guard

    guard = _process_guard._guard
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (guard is not None and int(entry.name) == guard.process.pid):
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
    assert "WorkerLost: The worker process did not start" in content
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

    from toolvolley.runners.processes import _TooLate, call_by_reference

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
                p
                for p in Path("/proc").iterdir()
                if p.name.isdigit() and _ppid(p) == parent.pid and _is_worker(p)
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


def test_what_a_tool_started_dies_with_a_killed_program(tmp_path: Path) -> None:
    """The program is killed (SIGKILL) while a tool's own child runs: the worker dies with the
    program, and the child with the worker (reparented to init, it once lived on)."""
    import signal
    import subprocess
    import time

    script, pid_file = tmp_path / "program.py", tmp_path / "sleep.pid"
    tests = Path(__file__).parent
    script.write_text(
        f"import sys; sys.path.insert(0, {str(tests)!r})\n"
        "import anyio\nfrom cpu_tools import start_a_sleep\n"
        "from toolvolley import Executor, ToolCall\n"
        "tool = start_a_sleep.with_options(timeout=60)\n"
        f"call = ToolCall('s', 'start_a_sleep', {{'pid_file': {str(pid_file)!r}}})\n"
        "anyio.run(Executor([tool]).run, [call])\n"
    )
    program = subprocess.Popen([sys.executable, str(script)])
    try:
        for _ in range(300):  # the tool has started its child (bounded: 30 s)
            if pid_file.exists() or program.poll() is not None:
                break
            time.sleep(0.1)
        sleep = int(pid_file.read_text())
    finally:
        program.send_signal(signal.SIGKILL)
        program.wait()
    for _ in range(100):  # then it goes (bounded: 10 s)
        if not Path(f"/proc/{sleep}").exists() or _state(sleep) == "Z":
            break
        time.sleep(0.1)
    else:
        os.kill(sleep, signal.SIGKILL)
        pytest.fail("the tool's child outlived the killed program")


def _ppid(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _is_worker(entry: Path) -> bool:
    try:
        return b"toolvolley.runners.processes._worker" in (entry / "cmdline").read_bytes()
    except OSError:
        return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_tool_that_forks_and_returns_twice_does_not_shift_the_answers() -> None:
    from cpu_tools import fork_and_return

    async def main() -> list[Any]:
        executor = Executor([fork_and_return, fib])
        values = []
        for n in (3, 4, 5):
            (forked,) = await executor.run([ToolCall("f", "fork_and_return", {"x": n})])
            (after,) = await executor.run([ToolCall("c", "fib", {"n": n})])
            values += [forked.value, after.value["value"]]
        return values

    assert anyio.run(main) == [3, 2, 4, 3, 5, 5]


def test_a_worker_that_dies_leaving_a_child_is_broken_at_once_and_the_child_killed(
    tmp_path: Path,
) -> None:
    import time

    from cpu_tools import die_leaving_a_child

    pid_file = tmp_path / "child.pid"

    async def main() -> ToolResult:
        tool_ = die_leaving_a_child.with_options(timeout=30)
        (result,) = await Executor([tool_]).run(
            [ToolCall("c", "die_leaving_a_child", {"pid_file": str(pid_file)})]
        )
        return result

    result = anyio.run(main)
    status, content = result.status, result.content
    assert status == "error"  # not a timeout: the child did not keep the worker's pipe open
    assert "WorkerLost: The worker process ended (exit code 3)" in content
    assert isinstance(result.error, WorkerLost)  # the one error of every runner
    child = int(pid_file.read_text())
    for _ in range(100):  # killed with the worker's group (bounded wait: 10 s)
        if not Path(f"/proc/{child}").exists() or _state(child) == "Z":
            break
        time.sleep(0.1)
    else:
        os.kill(child, 9)
        pytest.fail("the worker's child outlived it")


def test_a_path_added_after_a_worker_started_is_the_workers_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from toolvolley import tool

    (tmp_path / "late_tools.py").write_text("def triple(x: int) -> int:\n    return 3 * x\n")

    async def main() -> list[str]:
        executor = Executor([fib])
        (warm,) = await executor.run([ToolCall("w", "fib", {"n": 3})])  # a worker, started
        monkeypatch.syspath_prepend(str(tmp_path))
        late = tool(run_in="process")(importlib.import_module("late_tools").triple)
        (result,) = await Executor([late]).run([ToolCall("t", "triple", {"x": 2})])
        return [warm.status, result.status, result.content]

    assert anyio.run(main) == ["ok", "ok", "6"]


def test_arguments_that_cannot_be_pickled_fail_before_a_worker_is_taken() -> None:
    from toolvolley.runners import CallContext
    from toolvolley.runners.processes import ProcessRunner

    async def main() -> None:
        with pytest.raises(TypeError, match="cannot be sent to the worker process"):
            await ProcessRunner().run(CallContext(fib, {"n": lambda: 3}, float("inf")))

    before = children()
    anyio.run(main)
    assert set(children()) <= set(before)  # no worker was started for it


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_pool_closes_as_its_run_ends_even_if_results_keep_the_loop(backend: str) -> None:
    """A failed call's result holds an exception, whose traceback holds the loop's frames: the
    pool must not wait for the loop to be garbage."""
    from cpu_tools import stop

    async def main() -> list[ToolResult]:
        executor = Executor([fib, stop])
        results = await executor.run([ToolCall("c", "fib", {"n": 3})])
        results += await executor.run([ToolCall("e", "fib", {"n": "x"})])
        return results

    gc.disable()
    try:
        before = children()
        kept = anyio.run(main, backend=backend)
        assert kept[0].status == "ok"
        assert {p for p in children() if p not in before} == set()
    finally:
        gc.enable()


def test_a_closed_pool_takes_no_worker_back() -> None:
    from toolvolley.runners.processes._pool import _Pool

    pool = _Pool()
    worker = pool._checkout()
    pool.close()
    pool._checkin(worker)  # a call that ended while its run was shutting down
    assert pool.idle == []
    assert worker.process.poll() is not None


@pytest.mark.parametrize(
    ("program", "said"),
    [
        (
            "from toolvolley import tool\n"
            "@tool(run_in='process')\n"
            "def f(x: int) -> int:\n"
            "    return x\n",
            "`python -c`, a REPL or a notebook has none",
        ),
    ],
)
def test_a_process_tool_in_python_c_is_refused_when_defined(program: str, said: str) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert said in done.stderr


def test_an_unguarded_script_is_told_to_guard_its_top_level(tmp_path: Path) -> None:
    import subprocess

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import os\nfrom toolvolley import Executor, ToolCall, tool\n\n"
        "@tool(run_in='process')\ndef pid() -> int:\n    return os.getpid()\n\n"
        "(r,) = Executor([pid]).run_sync([ToolCall('a', 'pid')])\nprint(r.status, r.content)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")  # the script's own call ran in a worker
    assert "Put that code under `if __name__ == '__main__':`" in done.stderr


def test_a_loop_closed_without_cancelling_its_tasks_still_takes_its_workers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``run_until_complete`` then ``close``: nothing cancels the pool's closing task, which
    goes with the loop's timers, quietly, and takes the idle workers with it."""
    import asyncio

    async def one() -> int:
        (result,) = await Executor([fib]).run([ToolCall("c", "fib", {"n": 3})])
        pid: int = result.value["pid"]
        return pid

    loop = asyncio.new_event_loop()
    try:
        pid = loop.run_until_complete(one())
        assert pid in children()  # idle in the pool while the loop lives
    finally:
        loop.close()
    del loop
    gc.collect()
    assert pid not in children()
    assert not [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]


def test_a_process_tool_can_be_defined_while_main_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """anyio's own worker deletes ``__main__`` while it loads the parent's script: a module that
    script imports may define process tools then (it raised KeyError)."""
    from toolvolley import tool

    monkeypatch.delitem(sys.modules, "__main__")
    made = tool(run_in="process")(fib.func)
    assert made.name == "fib"


def test_without_the_own_pool_calls_go_to_anyios_as_on_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Windows has no process groups nor pipes an event loop can watch: anyio's to_process."""
    from cpu_tools import spin
    from toolvolley.runners import processes

    monkeypatch.setattr(processes, "OWN_POOL", False)

    async def main() -> list[str]:
        executor = Executor([fib, spin.with_options(timeout=0.5)])
        results = await executor.run([ToolCall("a", "fib", {"n": 5}), ToolCall("b", "spin")])
        assert results[0].value["pid"] != os.getpid()
        return [r.status for r in results]

    assert anyio.run(main) == ["ok", "timeout"]


class _BlockedImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A finder and loader for one module name whose body waits for ``release``: a thread that
    imports it sits half way, its empty module already in ``sys.modules``."""

    def __init__(self, name: str) -> None:
        import threading

        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname == self.name else None

    def exec_module(self, module: ModuleType) -> None:
        self.entered.set()
        self.release.wait(60)
        raise ImportError(f"{self.name} was only pretending")


def test_another_thread_importing_trio_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """While another thread imports trio, ``sys.modules["trio"]`` holds a module whose body has
    not run (no ``lowlevel``): which loop runs is asked of the running loop, never read from
    there. The call is answered, the loop's workers are reaped as its run ends, and
    ``run_sync`` works."""
    import contextlib
    import threading

    async def main() -> list[str]:
        executor = Executor([fib])
        results = await executor.run([ToolCall("c1", "fib", {"n": 3})])
        results += await executor.run([ToolCall("c2", "fib", {"n": 4})])  # an idle worker's
        return [f"{r.status} {r.content}" for r in results]

    blocked = _BlockedImport("trio")
    monkeypatch.delitem(sys.modules, "trio", raising=False)
    monkeypatch.setattr(sys, "meta_path", [blocked, *sys.meta_path])

    def import_trio() -> None:
        with contextlib.suppress(ImportError):  # the pretend module fails once released
            __import__("trio")

    importer = threading.Thread(target=import_trio)
    importer.start()
    gc.disable()  # the pool must close with its run, not with its loop's garbage
    try:
        assert blocked.entered.wait(30)
        assert not hasattr(sys.modules["trio"], "lowlevel")  # half imported, as it is then
        before = children()
        statuses = anyio.run(main)
        (answer,) = Executor([fib]).run_sync([ToolCall("s", "fib", {"n": 3})])
        left = {p for p in children() if p not in before}
    finally:
        gc.enable()
        blocked.release.set()
        importer.join(30)
    assert [s[:2] for s in statuses] == ["ok", "ok"], statuses
    assert answer.status == "ok", answer.content
    assert left == set()


@pytest.mark.skipif((os.cpu_count() or 2) < 2, reason="two workers busy at once")
def test_the_guard_kills_every_workers_group_when_the_program_ends_and_is_replaced_if_killed(
    tmp_path: Path,
) -> None:
    """The guard: killed from outside, it is reaped (no zombie) and the next worker brings a
    new one, told of the idle worker too; when its pipe ends (the program is gone, as far as it
    can tell) it kills every worker's group."""
    import signal

    from cpu_tools import meet
    from toolvolley.runners import _guard as _process_guard

    async def main() -> tuple[int, set[int]]:
        executor = Executor([fib, meet])
        (first,) = await executor.run([ToolCall("a", "fib", {"n": 3})])
        killed = _process_guard._guard
        assert killed is not None
        os.kill(killed.process.pid, signal.SIGKILL)
        # Two calls at once: the idle worker and a new one, whose start finds the guard dead
        # (each waits for the other, so they run at once whatever the machine's load)
        both = await executor.run(
            [
                ToolCall(f"b{i}", "meet", {"directory": str(tmp_path), "who": f"b{i}", "n": 2})
                for i in range(2)
            ]
        )
        workers = {r.value["pid"] for r in both}
        assert first.value["pid"] in workers
        assert len(workers) == 2
        guard = _process_guard._guard
        assert guard is not None
        assert guard.process.pid != killed.process.pid
        with _process_guard._lock:  # the program's end, as the guard sees it
            os.close(guard.write)
            _process_guard._guard = None
        guard.process.wait(30)
        for _ in range(100):  # SIGKILLed by the guard: zombies until the pool reaps them
            if all(_state(pid) == "Z" for pid in workers):
                break
            await anyio.sleep(0.1)
        assert {_state(pid) for pid in workers} == {"Z"}
        return killed.process.pid, workers

    killed, workers = anyio.run(main)
    assert _state(killed) == "gone"  # reaped as it was replaced
    gc.collect()
    assert not workers & set(children())


def test_a_worker_whose_guard_cannot_start_is_killed_and_the_call_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No guard (out of processes, say): the new worker is not kept unguarded; the call is an
    error naming why, nothing is left, and the next worker starts a guard as usual."""
    from toolvolley.runners import _guard as _process_guard

    def no_guard(groups: bytes) -> None:
        raise OSError("no more processes")

    async def main() -> list[str]:
        executor = Executor([fib])
        with monkeypatch.context() as patch:
            patch.setattr(_process_guard, "_guard", None)
            patch.setattr(_process_guard, "_Guard", no_guard)
            (failed,) = await executor.run([ToolCall("a", "fib", {"n": 3})])
            assert _process_guard._groups == set()
        (after,) = await executor.run([ToolCall("b", "fib", {"n": 3})])
        return [failed.status, failed.content, after.status]

    before = children()
    status, content, after = anyio.run(main)
    assert (status, after) == ("error", "ok")
    assert "no more processes" in content
    assert {p: s for p, s in children().items() if p not in before} == {}


def test_trio_as_a_guest_of_asyncio_is_taken_for_trio() -> None:
    """trio's guest mode runs trio inside a running asyncio loop: the same thread has both, and
    the library that runs the task is trio's (asyncio's loop was taken for it, and the batch
    failed: "TaskGroup cannot determine the parent task"). Thread, process and async calls,
    a timeout among them, and the workers reaped with the trio run."""
    import asyncio

    import trio

    from toolvolley import tool

    @tool(timeout=0.05)
    async def stuck() -> None:
        await trio.sleep_forever()

    @tool
    def in_a_thread(x: int) -> int:
        return x

    async def trio_main() -> list[str]:
        executor = Executor([fib, in_a_thread, stuck])
        calls = [ToolCall("a", "fib", {"n": 5}), ToolCall("b", "in_a_thread", {"x": 2})]
        results = await executor.run([*calls, ToolCall("c", "stuck")])
        return [r.status for r in results]

    async def host() -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        trio.lowlevel.start_guest_run(
            trio_main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done.set_result,
            host_uses_signal_set_wakeup_fd=True,
        )
        return (await done).unwrap()

    before = children()
    assert asyncio.run(host()) == ["ok", "ok", "timeout"]
    assert {p for p in children() if p not in before} == set()
