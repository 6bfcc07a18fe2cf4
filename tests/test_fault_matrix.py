"""The fault matrix, as one table: every way a call can fail x parallel/serial x where the body
runs (event loop, worker thread, worker process). For each: one result per call, in order, the
fault's status, siblings intact, and no body started after its call's result said it stopped.

Faults in the body (raise, hang, crash ...) come from tests/fault_tools.py; faults in the call
itself (bad JSON, schema violation, unknown tool, duplicate id) never reach a body.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

import fault_tools
from toolvolley import Executor, Mode, Tool, ToolCall, ToolResult, tool

Flavor = str  # "loop", "thread" or "process"
FLAVORS = ["loop", "thread", "process"]


@dataclass(frozen=True)
class Fault:
    status: str
    check: Callable[[ToolResult], bool] = lambda r: True
    flavors: tuple[Flavor, ...] = tuple(FLAVORS)


BODY_FAULTS: dict[str, Fault] = {
    "echo": Fault("ok", lambda r: r.content == f'{{"echo":"{r.call_id}"}}'),
    "boom": Fault("error", lambda r: f"ValueError: cannot handle {r.call_id}" in r.content),
    "refuse": Fault("error", lambda r: r.content.startswith("No data for")),
    "base": Fault("error", lambda r: "Custom" in r.content),
    "unprintable": Fault("error", lambda r: "Unprintable" in r.content),
    "hang": Fault("timeout", lambda r: "timeout" in r.content),
    "opaque": Fault("error", lambda r: r.name == "opaque"),
    "huge": Fault("ok", lambda r: len(r.content) == fault_tools.HUGE),
    "slow_lazy": Fault("timeout"),
    "crash": Fault(
        "error", lambda r: "WorkerLost: The worker process ended" in r.content, flavors=("process",)
    ),
}

CALL_FAULTS: dict[str, tuple[Callable[[str], ToolCall], str]] = {
    "bad_json": (lambda cid: ToolCall(cid, "echo", '{"text": '), "invalid_arguments"),
    "schema": (lambda cid: ToolCall(cid, "echo", {"text": 5}), "invalid_arguments"),
    "unknown_tool": (lambda cid: ToolCall(cid, "nope", {"text": cid}), "unknown_tool"),
    "duplicate_id": (lambda cid: ToolCall("a", "echo", {"text": cid}), "error"),
}


def _tools(flavor: Flavor) -> list[Tool]:
    bodies = fault_tools.ASYNC if flavor == "loop" else fault_tools.SYNC
    run_in = "process" if flavor == "process" else "thread"
    made = []
    for name, func in bodies.items():
        if name == "crash" and flavor != "process":
            continue  # os._exit in a thread would end the test run itself
        timeout = fault_tools.TIMEOUT if name in ("hang", "slow_lazy") else None
        made.append(tool(name=name, run_in=run_in, timeout=timeout)(func))
    return made


@pytest.fixture
def start_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "starts.log"
    monkeypatch.setenv("TOOLVOLLEY_FAULT_LOG", str(path))
    return path


def _starts(path: Path) -> dict[str, list[float]]:
    starts: dict[str, list[float]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            text, at = line.split("\t")
            starts.setdefault(text, []).append(float(at))
    return starts


def _check_no_late_start(results: list[ToolResult], calls: list[ToolCall], path: Path) -> None:
    """Each body started at most once, and never after its call stopped: a timed-out call's
    body only before its deadline, any other call's only before its result was written.
    A body logs the ``text`` argument of its call: unique within a batch."""
    starts = _starts(path)
    for r, call in zip(results, calls, strict=True):
        text = call.arguments.get("text") if isinstance(call.arguments, dict) else None
        times = starts.get(text, []) if isinstance(text, str) else []
        assert len(times) <= 1, f"{r.call_id} started {len(times)} times"
        if r.status in ("invalid_arguments", "unknown_tool") or call.id != text:
            assert times == [], f"{r.call_id} ({r.status}) ran"
        for at in times:
            limit = r.started_at + fault_tools.TIMEOUT if r.status == "timeout" else r.ended_at
            assert at < limit, f"{r.call_id} ({r.status}) started {at - limit:.4f} s too late"


def _batch_calls(faults: list[str]) -> list[ToolCall]:
    calls = [ToolCall("a", "echo", {"text": "a"})]
    for name in faults:
        if name in CALL_FAULTS:
            calls.append(CALL_FAULTS[name][0](name))
        else:
            calls.append(ToolCall(name, name, {"text": name}))
    calls.append(ToolCall("z", "echo", {"text": "z"}))
    return calls


def _expected(name: str) -> str:
    return CALL_FAULTS[name][1] if name in CALL_FAULTS else BODY_FAULTS[name].status


def _faults_for(flavor: Flavor) -> list[str]:
    body = [n for n, f in BODY_FAULTS.items() if n != "echo" and flavor in f.flavors]
    return body + list(CALL_FAULTS)


def _assert_batch(results: list[ToolResult], calls: list[ToolCall], faults: list[str]) -> None:
    assert [r.call_id for r in results] == [c.id for c in calls]  # one each, in call order
    assert [r.status for r in results] == ["ok", *map(_expected, faults), "ok"]
    assert results[0].content == '{"echo":"a"}'
    assert results[-1].content == '{"echo":"z"}'
    for name, result in zip(faults, results[1:-1], strict=True):
        if name in BODY_FAULTS:
            assert BODY_FAULTS[name].check(result), (name, result.content[:200])


# --- one fault at a time, between two healthy siblings -----------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["parallel", "serial"])
@pytest.mark.parametrize("flavor", ["loop", "thread"])
@pytest.mark.parametrize("fault", [*BODY_FAULTS, *CALL_FAULTS])
async def test_one_fault_between_siblings(
    flavor: Flavor, mode: Mode, fault: str, start_log: Path
) -> None:
    if fault in BODY_FAULTS and flavor not in BODY_FAULTS[fault].flavors:
        pytest.skip(f"{fault} only applies to {BODY_FAULTS[fault].flavors}")
    faults = [fault]
    calls = _batch_calls(faults)
    with anyio.fail_after(30):
        results = await Executor(_tools(flavor), mode=mode).run(calls)
    _assert_batch(results, calls, faults)
    _check_no_late_start(results, calls, start_log)


# --- every fault in one batch, on every runner --------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["parallel", "serial"])
@pytest.mark.parametrize("flavor", FLAVORS)
async def test_every_fault_in_one_batch(flavor: Flavor, mode: Mode, start_log: Path) -> None:
    faults = _faults_for(flavor)
    calls = _batch_calls(faults)
    with anyio.fail_after(60):
        results = await Executor(_tools(flavor), mode=mode).run(calls)
    _assert_batch(results, calls, faults)
    _check_no_late_start(results, calls, start_log)


# --- the batch cancelled while calls run and others wait -------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["parallel", "serial"])
@pytest.mark.parametrize("flavor", FLAVORS)
async def test_cancelled_batch_gives_every_call_a_result_and_starts_nothing_after(
    flavor: Flavor, mode: Mode, start_log: Path
) -> None:
    tools = {t.name: t.with_options(timeout=60) if t.name == "hang" else t for t in _tools(flavor)}
    executor = Executor(list(tools.values()), mode=mode, max_concurrency=2)
    calls = [ToolCall("a", "echo", {"text": "a"})]
    calls += [ToolCall(f"h{i}", "hang", {"text": f"h{i}"}) for i in range(4)]
    calls += [ToolCall("z", "echo", {"text": "z"})]
    batch = executor.batch()
    cancelled_at = 0.0
    with anyio.fail_after(60), anyio.CancelScope() as scope:
        async with batch:
            for call in calls:
                batch.submit(call)
            # trio starts tasks in any order: wait for whichever hang call got a place
            while not any(t.startswith("h") for t in _starts(start_log)):  # noqa: ASYNC110
                await anyio.sleep(0.01)
            cancelled_at = time.perf_counter()
            scope.cancel()
    results = batch.results()
    assert [r.call_id for r in results] == [c.id for c in calls]
    # No hang call can finish; the two quick ones may or may not have had their turn.
    assert [r.status for r in results[1:-1]] == ["cancelled"] * 4
    assert {results[0].status, results[-1].status} <= {"ok", "cancelled"}
    if mode == "serial":
        assert [results[0].status, results[-1].status] == ["ok", "cancelled"]
    starts = _starts(start_log)
    # Loop and thread bodies never start after the cancellation was asked for. A job already
    # handed to a worker process may begin there a moment later, before the worker is killed:
    # for processes the bound is the results themselves (written once every call stopped).
    bound = cancelled_at
    if flavor == "process":
        bound = min(r.ended_at for r in results if r.status == "cancelled")
    late = {text: at - bound for text, times in starts.items() for at in times}
    assert all(delta < 0 for delta in late.values()), late
