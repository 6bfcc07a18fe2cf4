"""Progress reaches hooks and ``on_event``: from an MCP server's ``notifications/progress`` (over
stdio and streamable HTTP) and from a Python tool's ``report_progress()``.

Each progress event must name the call that reported it, come after that call started and
before it finished, and arrive in order (progress increasing).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from pydantic import Field

from mcp_servers.fixtures import SDK_TRIO_WARNINGS, module_fixtures
from toolvolley import ExecutionHooks, Executor, ToolCall, ToolResult, run_loop, tool
from toolvolley.events import CallFinished, CallProgress, CallStarted, TurnEvent, report_progress
from toolvolley.mcp import MCPServer
from toolvolley.providers import OpenAIChat
from toolvolley.testing import OfflineModel

pytestmark = [SDK_TRIO_WARNINGS, pytest.mark.anyio]

STEPS = 20


class Recorder(ExecutionHooks):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def call_started(self, call: ToolCall, at: float) -> None:
        self.events.append(("started", call.id))

    def call_progress(
        self, call: ToolCall, progress: float, total: float | None, message: str | None
    ) -> None:
        self.events.append(("progress", call.id, progress, total, message))

    def call_finished(self, result: ToolResult) -> None:
        self.events.append(("finished", result.call_id))


def check_progress(events: list[tuple[Any, ...]], call_id: str, steps: int) -> list[float]:
    """The call's progress events: all between its start and its end, increasing, each with
    the total and message the server sent for that step. Returns the progress values."""
    mine = [e for e in events if e[1] == call_id]
    assert mine[0] == ("started", call_id)
    assert mine[-1] == ("finished", call_id)
    progress = mine[1:-1]
    assert all(e[0] == "progress" for e in progress), mine
    values = [e[2] for e in progress]
    assert values == sorted(set(values)), values  # in order, none twice
    for _, _, value, total, message in progress:
        assert total == steps
        assert message == f"step {value:g}"
    return values


# One server per module, backend and transport (see mcp_servers.fixtures).
anyio_backend, counting_url, server = module_fixtures()


async def test_mcp_progress_reaches_hooks_in_order_naming_each_call(
    server: MCPServer, anyio_backend: str
) -> None:
    recorder = Recorder()
    executor = Executor(await server.tools(), timeout=30, hooks=[recorder])
    calls = [
        ToolCall("p1", "progress", json.dumps({"steps": STEPS})),
        ToolCall("echo", "echo", json.dumps({"text": "no progress here"})),
        ToolCall("p2", "progress", json.dumps({"steps": STEPS})),
    ]
    results = await executor.run(calls)
    assert [r.status for r in results] == ["ok"] * 3
    for call_id in ("p1", "p2"):
        values = check_progress(recorder.events, call_id, STEPS)
        assert values, f"no progress reached the hooks for {call_id}"
        assert set(values) <= set(range(1, STEPS + 1))
        if anyio_backend == "asyncio":
            # asyncio runs the SDK's callback tasks in the order they were spawned; trio may
            # swap two woken together, and the stale one of the pair is dropped.
            assert values == list(range(1, STEPS + 1))
    assert [e for e in recorder.events if e[1] == "echo"] == [
        ("started", "echo"),
        ("finished", "echo"),
    ]


async def test_mcp_without_hooks_runs_as_before(server: MCPServer) -> None:
    [result] = await Executor(await server.tools()).run(
        [ToolCall("p", "progress", json.dumps({"steps": 3}))]
    )
    assert (result.status, result.content) == ("ok", "done")


async def test_a_raising_progress_hook_is_kept_and_the_call_goes_on(server: MCPServer) -> None:
    class Raises(ExecutionHooks):
        def call_progress(self, *args: object) -> None:
            raise RuntimeError("hook bug")

    executor = Executor(await server.tools(), timeout=30)
    async with executor.batch(hooks=[Raises()]) as batch:
        batch.submit(ToolCall("p", "progress", json.dumps({"steps": 3})))
    [result] = batch.results()
    assert (result.status, result.content) == ("ok", "done")
    assert batch.hook_errors
    assert all(str(e) == "hook bug" for e in batch.hook_errors)


# --- report_progress() from Python tools ---------------------------------------------------------


@tool
async def crunch(task: Annotated[str, Field(examples=["alpha", "beta"])]) -> str:
    """Crunch a task in three steps."""
    for step in (1, 2, 3):
        report_progress(step, 3, f"step {step}")
    return f"{task} crunched"


@tool
def sync_crunch(task: str) -> str:
    """A sync tool: its thread is not the event loop's, so its progress goes nowhere."""
    report_progress(1, 1, "step 1")
    return task


def test_report_progress_outside_a_call_does_nothing() -> None:
    report_progress(1, 2, "nobody listens")


async def test_report_progress_reaches_hooks(anyio_backend: str) -> None:
    recorder = Recorder()
    executor = Executor([crunch, sync_crunch], hooks=[recorder])
    calls = [
        ToolCall("a", "crunch", '{"task": "alpha"}'),
        ToolCall("s", "sync_crunch", '{"task": "x"}'),
        ToolCall("b", "crunch", '{"task": "beta"}'),
    ]
    results = await executor.run(calls)
    assert [r.status for r in results] == ["ok"] * 3
    assert check_progress(recorder.events, "a", 3) == [1, 2, 3]
    assert check_progress(recorder.events, "b", 3) == [1, 2, 3]
    assert check_progress(recorder.events, "s", 1) == []


async def test_run_loop_relays_progress_as_events(anyio_backend: str) -> None:
    events: list[TurnEvent] = []
    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        outcome = await run_loop(
            model, "Crunch alpha and beta", [crunch], stream=False, on_event=events.append
        )
    assert outcome.tool_calls == 2
    shown: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, CallStarted):
            shown.append(("started", event.call.id))
        elif isinstance(event, CallProgress):
            shown.append(("progress", event.call.id, event.progress, event.total, event.message))
        elif isinstance(event, CallFinished):
            shown.append(("finished", event.result.call_id))
    ids = [e[1] for e in shown if e[0] == "started"]
    assert len(ids) == 2
    for call_id in ids:
        assert check_progress(shown, call_id, 3) == [1, 2, 3]
    stamps = [e.at for e in events if isinstance(e, CallProgress)]
    assert stamps == sorted(stamps)
