"""The Ray runner against a real local Ray instance (2 CPUs, loopback only), started once."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ray_support import SESSION, batch_on_ray, gate, new_gate, ray
from toolvolley import Executor, ToolCall, ToolError, tool
from toolvolley.ray import RayActorRunner, RayRunner, actor_state, limiter_name
from toolvolley.runners.ray import RayApi
from toolvolley.runners.ray._remote import TooLate


@pytest.fixture(scope="module", autouse=True)
def _local_ray() -> None:
    SESSION.local()


@pytest.fixture
def anyio_backend() -> str:
    """Ray's futures complete on Ray's own threads; asyncio and trio are both covered by the
    tests that name them, the rest run on asyncio (each Ray test costs worker processes)."""
    return "asyncio"


async def got(ref: Any) -> Any:
    """An ObjectRef's value, awaited on asyncio or trio (``await ref`` is asyncio only)."""
    return await RayApi.get().wait(ref, lambda: None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _until_dead(pid: int) -> None:
    with anyio.fail_after(20):
        while _alive(pid):  # noqa: ASYNC110 - a process's death has no event to await here
            await anyio.sleep(0.05)


@tool(run_in="ray")
def add(a: int, b: int) -> int:
    return a + b


@tool(run_in="ray")
def countdown(n: int) -> Iterator[int]:
    yield from range(n, 0, -1)  # a generator: consumed on the worker


@tool(run_in="ray")
async def async_pid(tag: str) -> str:
    await anyio.lowlevel.checkpoint()
    return f"{tag}:{os.getpid()}"


@tool(run_in="ray")
def refuse() -> int:
    raise ToolError("no such account")


@tool(run_in="ray", timeout=10)  # time for the body to start on a loaded machine
def hang(gate_name: str, marker: str) -> int:
    Path(marker).write_text(str(os.getpid()))
    ray.get(gate(gate_name).start.remote("hang"))
    time.sleep(3600)
    return 0


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_sync_async_and_lazy_tools_run_as_ray_tasks(anyio_backend: str) -> None:
    executor = Executor([add, countdown, async_pid, refuse])
    results = await executor.run(
        [
            ToolCall("a", "add", '{"a": 2, "b": 3}'),
            ToolCall("g", "countdown", '{"n": 3}'),
            ToolCall("s", "async_pid", '{"tag": "t"}'),
            ToolCall("e", "refuse", "{}"),
        ]
    )
    assert [r.status for r in results] == ["ok", "ok", "ok", "error"]
    assert results[0].content == "5"
    assert results[1].value == [3, 2, 1]
    tag, pid = results[2].value.split(":")
    assert tag == "t"
    assert int(pid) != os.getpid()  # it ran in a Ray worker, not here
    assert results[3].content == "no such account"  # a ToolError keeps its exact message


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_timeout_kills_the_ray_task(tmp_path: Path, anyio_backend: str) -> None:
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name)  # kept: a named actor lives as long as a handle to it
    marker = tmp_path / "pid"
    # The gate and a worker up first, so the timeout need not cover starting processes (which
    # took over 10 s on a loaded machine, and the timeout then stopped a body not yet started).
    assert await got(g.count.remote()) == 0
    assert [
        r.value for r in await Executor([add]).run([ToolCall("w", "add", {"a": 1, "b": 1})])
    ] == [2]
    results = await Executor([hang]).run(
        [ToolCall("h", "hang", f'{{"gate_name": "{name}", "marker": "{marker}"}}')]
    )
    assert results[0].status == "timeout", results[0].content
    assert await got(g.count.remote()) == 1  # it had started: the timeout stopped a running body
    await _until_dead(int(marker.read_text()))  # ray.cancel(force=True) killed the worker


@pytest.mark.anyio
async def test_cancelled_batch_gives_cancelled_and_kills_the_task(tmp_path: Path) -> None:
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name)
    marker = tmp_path / "pid"
    executor = Executor([hang.with_options(timeout=60)])
    batch = executor.batch()
    with anyio.CancelScope() as scope:
        async with batch:
            batch.submit(ToolCall("h", "hang", f'{{"gate_name": "{name}", "marker": "{marker}"}}'))
            await got(g.wait_started.remote(1))  # the body is running on a worker
            scope.cancel()
    results = batch.results()
    assert [r.status for r in results] == ["cancelled"]
    await _until_dead(int(marker.read_text()))


def _write(marker: str) -> str:
    Path(marker).write_text("ran")
    return "ran"


@pytest.mark.anyio
async def test_a_task_past_its_deadline_never_starts_its_body(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    r = RayApi.get()
    ref = r.body.options(max_retries=0).remote(_write, {"marker": str(marker)}, time.time() - 1)
    with pytest.raises(TooLate):
        await r.wait(ref, lambda: None)
    assert not marker.exists()
    ref = r.body.remote(_write, {"marker": str(marker)}, time.time() + 60)
    assert await r.wait(ref, lambda: None) == "ran"  # the same path runs it when in time


@pytest.mark.anyio
async def test_a_call_queued_past_its_timeout_never_starts(tmp_path: Path) -> None:
    """Both CPUs busy: the queued call times out and is cancelled before a worker frees."""
    started, release = tmp_path / "hog-started", tmp_path / "hog-release"

    @tool(run_in=RayRunner(num_cpus=2), timeout=60)
    def hog(started: str, release: str) -> str:
        Path(started).write_text("hog")
        deadline = time.monotonic() + 60
        # Polled, not ray.get(): a worker blocked in ray.get lends its CPUs back to Ray, and
        # the queued call could then run (it did, on a warm worker, in a loaded run).
        while not Path(release).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "done"

    @tool(run_in=RayRunner(num_cpus=1), timeout=0.3)
    def late(marker: str) -> str:
        Path(marker).write_text("ran")
        return "ran"

    marker = tmp_path / "late"
    executor = Executor([hog, late])
    async with anyio.create_task_group() as tg:

        async def release_after_late_timed_out() -> None:
            with anyio.fail_after(60):
                while not started.exists():  # noqa: ASYNC110 - a file written by a Ray worker
                    await anyio.sleep(0.01)
            late_result = await executor.run([ToolCall("l", "late", {"marker": str(marker)})])
            assert late_result[0].status == "timeout"
            release.touch()

        tg.start_soon(release_after_late_timed_out)
        results = await executor.run(
            [ToolCall("h", "hog", {"started": str(started), "release": str(release)})]
        )
    assert results[0].status == "ok"
    # The CPUs are free now: had the cancelled task been left queued, it would run before (or
    # with) a task of the same shape submitted after it.
    after = tmp_path / "after"
    patient = Executor([late.with_options(timeout=60)])
    assert (await patient.run([ToolCall("p", "late", f'{{"marker": "{after}"}}')]))[
        0
    ].value == "ran"
    assert not marker.exists()


@tool(run_in="ray")
def crash() -> int:
    os._exit(3)


@tool(run_in="ray", idempotent=True)
def crash_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("1")
        os._exit(3)
    return "second try"


@tool(run_in="ray")
def crash_once_unsafe(marker: str) -> str:
    path = Path(marker)
    path.write_text(path.read_text() + "x" if path.exists() else "x")
    os._exit(3)


@pytest.mark.anyio
async def test_a_lost_worker_is_an_error_naming_it_and_idempotent_tools_retry_once(
    tmp_path: Path,
) -> None:
    executor = Executor([crash, crash_once, crash_once_unsafe, add])
    once, unsafe = tmp_path / "once", tmp_path / "unsafe"
    results = await executor.run(
        [
            ToolCall("c", "crash", "{}"),
            ToolCall("i", "crash_once", f'{{"marker": "{once}"}}'),
            ToolCall("u", "crash_once_unsafe", f'{{"marker": "{unsafe}"}}'),
            ToolCall("a", "add", '{"a": 1, "b": 2}'),
        ]
    )
    assert [r.status for r in results] == ["error", "ok", "error", "ok"]
    assert "failed with WorkerLost: " in results[0].content
    assert "worker running 'crash' was lost" in results[0].content
    assert results[1].content == "second try"
    assert unsafe.read_text() == "x"  # not idempotent: it ran exactly once


@pytest.mark.anyio
async def test_cluster_wide_limit_is_shared_by_executors_and_frees_every_slot() -> None:
    tool_name = f"limited_{uuid.uuid4().hex[:8]}"
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name)

    def body(gate_name: str) -> str:
        ray.get(gate(gate_name).start.remote("x"))
        ray.get(gate(gate_name).wait_open.remote())
        return "ok"

    def limited(limit: int) -> Any:
        return tool(name=tool_name, run_in=RayRunner(num_cpus=0, max_concurrency_cluster=limit))(
            body
        )

    # Two executors, each with its own runner object: the limit lives in the named actor.
    first, second = Executor([limited(2)]), Executor([limited(2)])
    calls = [ToolCall(f"c{i}", tool_name, f'{{"gate_name": "{name}"}}') for i in range(3)]
    outcomes: list[list[str]] = []
    async with anyio.create_task_group() as tg:

        async def run(executor: Executor) -> None:
            outcomes.append([r.status for r in await executor.run(calls)])

        tg.start_soon(run, first)
        tg.start_soon(run, second)
        await got(g.wait_started.remote(2))
        limiter = ray.get_actor(limiter_name(tool_name), namespace="toolvolley")
        stats = await got(limiter.stats.remote())
        assert stats["held"] == 2  # 6 calls wanted to run; the cluster allows 2
        assert await got(g.count.remote()) == 2
        await got(g.release.remote())
    assert outcomes == [["ok"] * 3, ["ok"] * 3]
    stats = await got(limiter.stats.remote())
    assert stats == {"limit": 2, "held": 0, "peak": 2}

    # A call cancelled while it waits for a slot gives it back: nothing leaks.
    g2 = f"gate-{uuid.uuid4().hex}"
    gate2 = new_gate(g2)
    batch = first.batch()
    with anyio.CancelScope() as scope:
        async with batch:
            for i in range(4):
                batch.submit(ToolCall(f"w{i}", tool_name, f'{{"gate_name": "{g2}"}}'))
            await got(gate2.wait_started.remote(2))
            scope.cancel()
    assert [r.status for r in batch.results()] == ["cancelled"] * 4
    with anyio.fail_after(20):
        await got(limiter.wait_idle.remote())  # the releases are messages: until they land


class Counter:
    def __init__(self, start: int) -> None:
        self.total = start


@pytest.mark.anyio
async def test_a_stateful_tool_keeps_its_state_in_one_actor() -> None:
    name = f"counter-{uuid.uuid4().hex}"

    @tool(run_in=RayActorRunner(Counter, 10, name=name))
    def bump(by: int) -> list[int]:
        counter = actor_state(Counter)
        counter.total += by
        return [counter.total, os.getpid()]

    # Another executor, another runner object, same actor name: the same state.
    @tool(name="bump", run_in=RayActorRunner(Counter, 999, name=name))
    def bump_again(by: int) -> list[int]:
        counter = actor_state(Counter)
        counter.total += by
        return [counter.total, os.getpid()]

    first = await Executor([bump]).run([ToolCall(f"b{i}", "bump", '{"by": 1}') for i in range(3)])
    second = await Executor([bump_again]).run([ToolCall("x", "bump", '{"by": 100}')])
    totals = sorted(r.value[0] for r in first)
    assert totals == [11, 12, 13]  # one at a time, one state
    assert second[0].value[0] == 113
    assert len({r.value[1] for r in [*first, *second]}) == 1  # one actor process


@pytest.mark.anyio
async def test_an_actor_call_left_running_says_it_may_still_take_effect() -> None:
    """An actor's running method cannot be stopped: a cancelled (or timed-out) call abandons
    it, and its result tells the model, and ``may_still_take_effect``, that it may still take
    effect."""
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name)
    runner = RayActorRunner(Counter, 0)

    @tool(run_in=runner)
    def charge(card: str) -> str:
        ray.get(gate(name).start.remote(card))
        ray.get(gate(name).wait_open.remote())
        return card

    with anyio.CancelScope() as scope:
        async with Executor([charge]).batch() as batch:
            batch.submit(ToolCall("c", "charge", '{"card": "visa"}'))
            with anyio.fail_after(60):
                await got(g.wait_started.remote(1))  # the body is running
            scope.cancel()
    [result] = batch.results()
    assert result.status == "cancelled"
    assert result.may_still_take_effect
    assert result.content == (
        "The call to 'charge' was cancelled before it finished; its work could not be stopped "
        "and may still take effect. Check whether it did before calling it again."
    )
    assert runner.abandoned == 1
    await got(g.release.remote())
    with anyio.fail_after(20):
        while runner.abandoned:  # noqa: ASYNC110 - Ray's future completes on Ray's thread
            await anyio.sleep(0.05)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_the_first_call_connects_once_off_the_loop_and_its_siblings_keep_their_timeouts(
    monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    """``ray.init`` (seconds for a new local Ray) runs once for concurrent first calls, in a
    thread of its own that lives on (the kernel kills the Ray processes it starts when that
    thread ends), while the loop goes on: here the init waits until a sibling has timed out."""
    import threading

    from toolvolley import ExecutionHooks, ToolResult

    sibling_timed_out = threading.Event()
    inits: list[tuple[threading.Thread, bool]] = []
    up = False

    def init(**options: Any) -> None:
        nonlocal up
        inits.append((threading.current_thread(), sibling_timed_out.wait(10)))
        up = True

    monkeypatch.setattr(ray, "is_initialized", lambda: up)  # this session's Ray, "not yet"
    monkeypatch.setattr(ray, "init", init)

    class Watch(ExecutionHooks):
        def call_finished(self, result: ToolResult) -> None:
            if result.call_id == "s" and result.status == "timeout":
                sibling_timed_out.set()

    @tool(timeout=0.05)
    async def stuck() -> None:
        await anyio.sleep_forever()

    calls = [ToolCall(f"a{i}", "add", {"a": i, "b": 1}) for i in range(3)]
    results = await Executor([add, stuck], hooks=[Watch()]).run([*calls, ToolCall("s", "stuck")])
    assert [r.status for r in results] == ["ok", "ok", "ok", "timeout"]
    assert [r.value for r in results[:3]] == [1, 2, 3]
    ((thread, waited),) = inits  # once, for three calls
    assert waited  # the loop ran the sibling's timeout while Ray was starting
    assert thread is not threading.current_thread()
    assert thread.is_alive()  # not a pool thread that ends when idle


def test_run_in_ray_without_the_extra_fails_at_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when not installed

    def f() -> int:
        return 1

    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[ray\]'"):
        tool(run_in="ray")(f)
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[ray\]'"):
        tool(run_in=RayRunner())(f)
    assert "ray" not in Executor([tool(f)])._runners  # no "ray" runner without the extra


def test_importing_toolvolley_does_not_import_ray() -> None:
    import subprocess

    code = "import sys, toolvolley, toolvolley.ray; print('ray' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


def test_batch_on_ray_writes_every_id_once_records_failures_and_traces(tmp_path: Path) -> None:
    """``toolvolley batch --ray`` in-process (this session's Ray): the conversations run in Ray
    workers, the driver alone writes; a conversation that fails is a line of its own; the
    trace has one process per conversation with its model turns and calls."""
    import json

    from toolvolley.cli.batch import run_batch_command

    source, out, trace = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "t.json"
    lines = [{"id": f"c{i}", "prompt": "Weather in Seoul and Paris?"} for i in range(7)]
    lines.append({"id": "short", "prompt": "Weather in Tokyo?"})
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out.write_text(json.dumps({"id": "c0", "ok": True}) + "\n")  # done by an earlier run
    options = batch_on_ray(source, out)
    assert run_batch_command(**options, trace=str(trace)) == 0
    rows = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(x["id"] for x in lines)  # each id once
    for r in rows[1:]:
        assert r["ok"], r["error"]
        assert len(r["tool_calls"]) == (1 if r["id"] == "short" else 2)
    events = json.loads(trace.read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert names == {f"conversation {x['id']}" for x in lines[1:]}
    spans = [e for e in events if e["ph"] == "X"]
    assert sum(e["cat"] == "tool" for e in spans) == 6 * 2 + 1
    assert sum(e["cat"] == "model" for e in spans) == 7 * 2  # a turn asking, a turn answering
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans)
    # A conversation that fails on a worker is recorded, and the batch goes on.
    failing = tmp_path / "fail.jsonl"
    options.update(output=str(failing), max_turns=1)
    assert run_batch_command(**options) == 0
    rows = [json.loads(line) for line in failing.read_bytes().splitlines()]
    assert len(rows) == 8
    assert all(r["error"].startswith("MaxTurnsExceeded") for r in rows)


def test_batch_on_ray_with_tools_from_an_mcp_server(tmp_path: Path) -> None:
    """``toolvolley batch --ray --mcp``: each chunk of conversations opens the stdio server on
    its worker, and every call is answered by it."""
    import json

    from toolvolley.cli.batch import run_batch_command

    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # Beside the default weather tool: places it does not list, and its own tool's name.
    prompts = [
        "The forecast for Smallville, Gotham and Metropolis.",
        "A forecast for Springfield and Shelbyville.",
    ]
    source.write_text(
        "".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, p in enumerate(prompts * 3))
    )
    server = f"{sys.executable} {Path(__file__).parent / 'mcp_servers' / 'counting.py'}"
    code = run_batch_command(**batch_on_ray(source, out, concurrency=2, mcp=(server,)))
    assert code == 0
    rows = sorted(
        (json.loads(line) for line in out.read_bytes().splitlines()), key=lambda r: r["id"]
    )
    assert [r["id"] for r in rows] == list(range(6))
    assert all(r["ok"] for r in rows), [r["error"] for r in rows]
    calls = [[(c["name"], c["status"]) for c in r["tool_calls"]] for r in rows]
    assert calls == [[("forecast", "ok")] * 3, [("forecast", "ok")] * 2] * 3
    assert "city Gotham, celsius 21.5" in rows[0]["final_text"]


def test_bench_scale_bench_reports_the_ray_ratio() -> None:
    from typer.testing import CliRunner

    from toolvolley.cli.app import app

    args = ["bench", "--only", "", "--no-streaming", "--scale-bench", "--repeat", "1"]
    result = CliRunner().invoke(app, [*args, "--scale", "0.01", "--json"])
    assert result.exit_code == 0, result.output
    import json

    scale = json.loads(result.stdout)["scale"]
    assert scale["batch"]["conversations"] == 10
    assert scale["batch"]["failed"] == 0
    assert scale["many"]["conversations"] == 100
    ray_ = scale["ray"]
    assert ray_["calls"] == 10
    assert ray_["toolvolley_us_per_call"] > 0
    assert ray_["raw_ray_us_per_call"] > 0


def _in_session(sid: int) -> list[tuple[int, str]]:
    """The live processes of session ``sid`` (Linux /proc): pid and command."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append((int(entry.name), command.strip()))
    return found


class _Program:
    """A program in a session of its own, its output in files (a process left behind may hold
    pipes open forever); whatever is left of its session is killed when the test ends."""

    def __init__(self, command: list[str], tmp_path: Path) -> None:
        import subprocess

        self.out, self.err = tmp_path / "stdout", tmp_path / "stderr"
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a Ray of its own
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                command, start_new_session=True, env=env, stdout=out, stderr=err
            )

    def first_line(self) -> str:
        for _ in range(1200):  # bounded: 120 s (a new local Ray takes seconds)
            text = self.out.read_text()
            if "\n" in text or self.process.poll() is not None:
                return text.partition("\n")[0]
            time.sleep(0.1)
        raise AssertionError("the program said nothing")

    def left(self) -> list[tuple[int, str]]:
        """What still runs in its session once it has exited, after a bounded wait for Ray's
        shutdown to end it; killed, so that a failing test leaves nothing either."""
        sid = self.process.pid
        left = _in_session(sid)
        for _ in range(100):  # bounded: 10 s
            if not left:
                break
            time.sleep(0.1)
            left = _in_session(sid)
        for pid, _command in _in_session(sid):
            os.kill(pid, signal.SIGKILL)
        return left

    def __enter__(self) -> _Program:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.kill()
        self.process.wait()
        self.left()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_batch_ray_auto_leaves_no_ray_process_behind(tmp_path: Path) -> None:
    """``toolvolley batch --ray auto`` in a program of its own, which starts (and must stop) a
    local Ray of its own: once it has exited, nothing of its session runs (Ray's dashboard and
    runtime-env agents, 175 MB, were left when the Ray was started from a passing thread)."""
    import json

    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "prompt": "Weather in Oslo?"}) + "\n" for i in range(3))
    )
    fast = ["--token-rate", "20000", "--first-token", "0", "--latency", "0.01", "--json"]
    command = [sys.executable, "-m", "toolvolley", "batch", str(source), "-o", str(out)]
    with _Program([*command, "--ray", "auto", *fast], tmp_path) as program:
        assert program.process.wait(timeout=100) == 0, program.err.read_text()
        assert json.loads(program.out.read_text())["conversations"] == 3
        assert program.left() == []


SIGTERMED = """
import anyio
from toolvolley import Executor, ToolCall, tool

@tool(run_in="ray")
def add(a: int, b: int) -> int:
    return a + b

async def main() -> None:
    (result,) = await Executor([add]).run([ToolCall("a", "add", {"a": 1, "b": 2})])
    print(result.status, result.content, flush=True)
    await anyio.sleep_forever()

if __name__ == "__main__":
    anyio.run(main)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_program_whose_first_ray_call_started_ray_leaves_nothing_when_killed(
    tmp_path: Path, signum: int
) -> None:
    """The local Ray a program's first call started dies with the program. SIGTERM (a
    container's stop) exits it (``ray.init`` cannot set that up from toolvolley's Ray thread:
    the main thread that handed it the start does), so Ray's shutdown runs; killed outright,
    the raylet dies with the program and Ray's agents hang: the process guard kills them."""
    script = tmp_path / "program.py"
    script.write_text(SIGTERMED)
    with _Program([sys.executable, str(script)], tmp_path) as program:
        assert program.first_line() == "ok 3", program.err.read_text()
        program.process.send_signal(signum)
        # SIGTERM: sys.exit(SIGTERM), as Ray's own handler; not -SIGTERM, killed outright
        expected = signal.SIGTERM if signum == signal.SIGTERM else -signal.SIGKILL
        assert program.process.wait(timeout=60) == expected
        assert "SIGTERM handler is not set" not in program.err.read_text()
        assert program.left() == []


def test_batch_on_ray_journals_from_every_worker(tmp_path: Path) -> None:
    """``toolvolley batch --ray --journal PATH``: the workers write each conversation's model
    responses and calls to the one journal (a SQLite file: a Ray on this machine), so a rerun
    of an unfinished conversation would continue it."""
    import json

    from toolvolley.cli.batch import run_batch_command
    from toolvolley.stores import SQLiteJournal

    source, out, journal = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "j.sqlite"
    lines = [{"id": f"c{i}", "prompt": "Weather in Seoul and Paris?"} for i in range(4)]
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert run_batch_command(**batch_on_ray(source, out, journal=str(journal))) == 0

    async def recorded() -> list[tuple[int, int]]:
        async with SQLiteJournal(journal) as kept:
            found = []
            for line in lines:
                c = await kept.conversation(json.dumps(line["id"]))
                found.append((c.turns, sum(map(len, c._results.values()))))
            return found

    assert anyio.run(recorded) == [(2, 2)] * 4  # two model turns, two results each
