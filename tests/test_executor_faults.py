"""The fault matrix: whatever goes wrong with one call, every call gets exactly one result,
in call order, with the right status, and its siblings are unaffected."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

from toolvolley import (
    ExecutionHooks,
    Executor,
    Mode,
    Tool,
    Toolbox,
    ToolCall,
    ToolError,
    ToolResult,
    tool,
)
from toolvolley.runners import ThreadRunner

pytestmark = pytest.mark.every_runtime

TIMEOUT = 0.2


class Forecast(BaseModel):
    city: str
    temp_c: float


@dataclass
class Siblings:
    """Whether ``echo`` calls wait, while in flight, until a call of the batch has failed:
    then a fault can only leave them alone if it really does, not because they were done."""

    hold: bool = False
    fault_seen: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> None:
        if self.hold and not self.fault_seen.wait(10):
            raise AssertionError("no call of the batch failed while this one was in flight")


class SeeFaults(ExecutionHooks):
    def __init__(self, siblings: Siblings) -> None:
        self.siblings = siblings

    def call_finished(self, result: ToolResult) -> None:
        if not result.ok:
            self.siblings.fault_seen.set()


@dataclass
class Flavor:
    name: str
    toolbox: Toolbox
    release: threading.Event
    siblings: Siblings


def _make_tools(is_async: bool, release: threading.Event, siblings: Siblings) -> list[Tool]:
    if is_async:

        @tool(name="echo")
        async def echo_async(text: str) -> dict[str, str]:
            await anyio.lowlevel.checkpoint()
            if siblings.hold:
                await anyio.to_thread.run_sync(siblings.wait)
            return {"echo": text}

        @tool(name="boom")
        async def boom_async(text: str) -> str:
            raise ValueError(f"cannot handle {text}")

        @tool(name="hang", timeout=TIMEOUT)
        async def hang_async(text: str) -> str:
            await anyio.sleep_forever()
            return text

        @tool(name="refuse")
        async def refuse_async(text: str) -> str:
            raise ToolError(f"No data for {text}; ask the user for another city.")

        @tool(name="opaque")
        async def opaque_async(text: str) -> object:
            return object()

        return [echo_async, boom_async, hang_async, refuse_async, opaque_async]

    @tool(name="echo")
    def echo(text: str) -> dict[str, str]:
        siblings.wait()
        return {"echo": text}

    @tool(name="boom")
    def boom(text: str) -> str:
        raise ValueError(f"cannot handle {text}")

    @tool(name="hang", timeout=TIMEOUT)
    def hang(text: str) -> str:
        release.wait(30)  # a sync tool that hangs until the test lets it go
        return text

    @tool(name="refuse")
    def refuse(text: str) -> str:
        raise ToolError(f"No data for {text}; ask the user for another city.")

    @tool(name="opaque")
    def opaque(text: str) -> object:
        return object()

    return [echo, boom, hang, refuse, opaque]


@pytest.fixture(params=["async", "sync"])
def flavor(request: pytest.FixtureRequest) -> Iterator[Flavor]:
    release, siblings = threading.Event(), Siblings()
    tools = _make_tools(request.param == "async", release, siblings)
    yield Flavor(request.param, Toolbox(tools), release, siblings)
    release.set()


FAULTS: dict[str, tuple[ToolCall, str, list[str]]] = {
    "raises": (
        ToolCall("bad", "boom", '{"text": "b"}'),
        "error",
        ["'boom' failed with ValueError: cannot handle b"],
    ),
    "tool_error": (
        ToolCall("bad", "refuse", '{"text": "Atlantis"}'),
        "error",
        ["No data for Atlantis; ask the user for another city."],
    ),
    "hangs_past_timeout": (
        ToolCall("bad", "hang", '{"text": "h"}'),
        "timeout",
        ["'hang' did not finish within its 0.2 s timeout"],
    ),
    "invalid_json": (
        ToolCall("bad", "echo", '{"text": "unterminated'),
        "invalid_arguments",
        ["not valid JSON"],
    ),
    "schema_violation": (
        ToolCall("bad", "echo", '{"text": 42}'),
        "invalid_arguments",
        ["text: Input should be a valid string", "text (string, required)"],
    ),
    "unknown_tool": (
        ToolCall("bad", "teleport", "{}"),
        "unknown_tool",
        ["Unknown tool 'teleport'", "echo, boom, hang, refuse, opaque"],
    ),
    "unserialisable_return": (
        ToolCall("bad", "opaque", '{"text": "o"}'),
        "error",
        ["cannot be written as JSON"],
    ),
    "duplicate_id": (
        ToolCall("first", "echo", '{"text": "dup"}'),
        "error",
        ["Duplicate tool call id 'first'"],
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["parallel", "serial"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_one_fault_leaves_siblings_alone(flavor: Flavor, mode: Mode, fault: str) -> None:
    bad, status, fragments = FAULTS[fault]
    calls = [
        ToolCall("first", "echo", '{"text": "one"}'),
        bad,
        ToolCall("last", "echo", {"text": "two"}),
    ]
    # In parallel, the siblings are still running when the fault happens; in serial mode the
    # first has finished before it and the last starts after it.
    flavor.siblings.hold = mode == "parallel"
    executor = Executor(flavor.toolbox, mode=mode, hooks=[SeeFaults(flavor.siblings)])
    with anyio.fail_after(10):
        results = await executor.run(calls)

    assert [r.call_id for r in results] == [c.id for c in calls]
    assert [r.status for r in results] == ["ok", status, "ok"]
    assert results[0].content == '{"echo":"one"}'
    assert results[2].content == '{"echo":"two"}'
    assert results[0].value == {"echo": "one"}
    for fragment in fragments:
        assert fragment in results[1].content
    assert results[1].is_error
    if fault == "hangs_past_timeout" and flavor.name == "sync":
        assert executor.abandoned_threads == 1
        flavor.release.set()
        with anyio.fail_after(10):
            while executor.abandoned_threads:  # noqa: ASYNC110 - a counter other threads update
                await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_error_results_keep_the_exception_and_times(flavor: Flavor) -> None:
    calls = [ToolCall("a", "boom", '{"text": "x"}'), ToolCall("b", "echo", '{"text": "y"}')]
    results: list[ToolResult] = await Executor(flavor.toolbox).run(calls)
    assert isinstance(results[0].error, ValueError)
    for result in results:
        assert result.queued_at <= result.started_at <= result.ended_at


def test_run_sync_outside_an_event_loop(flavor: Flavor) -> None:
    results = Executor(flavor.toolbox).run_sync([ToolCall("a", "echo", '{"text": "x"}')])
    assert results[0].content == '{"echo":"x"}'


@pytest.mark.anyio
async def test_run_sync_inside_an_event_loop_is_refused(flavor: Flavor) -> None:
    from toolvolley import UserError

    with pytest.raises(UserError, match=r"await executor\.run"):
        Executor(flavor.toolbox).run_sync([])


@pytest.mark.anyio
async def test_values_become_content() -> None:
    @tool
    async def model_value() -> Forecast:
        return Forecast(city="Oslo", temp_c=-3.5)

    @tool
    async def text_value() -> str:
        return "plain text"

    @tool
    async def none_value() -> None:
        return None

    results = await Executor([model_value, text_value, none_value]).run(
        [
            ToolCall(str(i), n, "{}")
            for i, n in enumerate(["model_value", "text_value", "none_value"])
        ]
    )
    assert [r.content for r in results] == ['{"city":"Oslo","temp_c":-3.5}', "plain text", "null"]


def test_executor_settings_are_validated() -> None:
    from toolvolley import UserError

    bad: list[dict[str, Any]] = [
        {"mode": "eager"},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"deadline": -1},
        {"max_concurrency": 0},
        {"max_threads": True},
    ]
    for settings in bad:
        with pytest.raises(UserError):
            Executor([], **settings)


@tool
def _echo(text: str) -> str:
    return text


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("timeout", True),
        ("mode", "sideways"),
        ("deadline", 1.0),
        ("max_concurrency", 1),
        ("max_threads", 1),
        ("side_effects", "strict"),
        ("hooks", ()),
        ("references", True),
        ("dedupe", True),
        ("retry", None),
        ("tracing", False),
        ("toolbox", Toolbox([])),
        ("unknown", 1),
    ],
)
def test_executor_settings_cannot_change_after_construction(setting: str, value: object) -> None:
    executor = Executor([_echo], timeout=5)
    before = getattr(executor, setting, None)
    with pytest.raises(AttributeError, match="new Executor"):
        setattr(executor, setting, value)
    with pytest.raises(AttributeError):
        delattr(executor, setting)
    assert getattr(executor, setting, None) == before
    assert executor.run_sync([ToolCall("1", "_echo", '{"text": "hi"}')])[0].content == "hi"


def test_max_threads_beside_a_thread_runner_says_which_to_drop() -> None:
    from toolvolley import UserError

    with pytest.raises(UserError, match=r"max_threads.*ThreadRunner\(max_threads=8\)"):
        Executor([], max_threads=8, runners={"thread": ThreadRunner(4)})
    executor = Executor([], runners={"thread": ThreadRunner(4)})
    assert executor.max_threads == 4
    assert Executor([]).max_threads == 256
    assert Executor([], max_threads=3).max_threads == 3


def test_results_built_on_the_fast_path_are_ordinary_results() -> None:
    from dataclasses import FrozenInstanceError, fields

    from toolvolley._calls import new_result

    values = ("c1", "t", "ok", "{}", {"a": 1}, None, 1.0, 2.0, 3.5, 2, ("ConnectionError",), True)
    fast = new_result(*values)  # type: ignore[arg-type]
    slow = ToolResult(*values)  # type: ignore[arg-type]
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert [getattr(fast, f.name) for f in fields(ToolResult)] == list(values)
    with pytest.raises(FrozenInstanceError):
        fast.content = "changed"  # type: ignore[misc]


class _BrokenArguments:
    """An argument check that fails in a way it did not plan for (its own bug)."""

    json_schema: dict[str, Any] = {"type": "object", "properties": {}}  # noqa: RUF012

    def validate(self, raw: object) -> dict[str, Any]:
        raise RuntimeError("the check itself broke")


def test_an_argument_check_that_breaks_is_that_call_s_result() -> None:
    broken = Tool(
        name="broken", description="", func=lambda: 1, is_async=False, arguments=_BrokenArguments()
    )

    @tool
    def fine() -> int:
        return 2

    results = Executor(Toolbox([broken, fine])).run_sync(
        [ToolCall("1", "broken", "{}"), ToolCall("2", "fine", "{}")]
    )
    assert [(r.call_id, r.status) for r in results] == [("1", "error"), ("2", "ok")]
    assert "RuntimeError: the check itself broke" in results[0].content
    assert isinstance(results[0].error, RuntimeError)


def test_names_and_ids_the_model_made_up_are_shown_short() -> None:
    @tool
    def fine() -> int:
        return 2

    long = "x" * 100_000
    results = Executor(Toolbox([fine])).run_sync(
        [ToolCall(long, "fine"), ToolCall(long, "fine"), ToolCall("3", long)]
    )
    assert [r.status for r in results] == ["ok", "error", "unknown_tool"]
    assert results[1].content.startswith("Duplicate tool call id 'xxx")
    assert results[2].content.startswith("Unknown tool 'xxx")
    assert "Available tools: fine." in results[2].content
    assert all(len(r.content) < 500 for r in results)


def test_a_worker_thread_that_cannot_start_fails_its_call_and_leaves_no_hole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The system refuses a thread (``can't start new thread``): that call is WorkerLost, and the
    pool does not count the thread that never started, so the next call still gets one."""
    from toolvolley.runners import WorkerLost

    @tool
    def one() -> int:
        return 1

    start = threading.Thread.start
    refused: list[str] = []

    def start_or_refuse(self: threading.Thread) -> None:
        if self.name == "toolvolley worker" and not refused:
            refused.append(self.name)
            raise RuntimeError("can't start new thread")
        start(self)

    monkeypatch.setattr(threading.Thread, "start", start_or_refuse)
    executor = Executor([one], runners={"thread": ThreadRunner(max_threads=1)}, timeout=10)
    (first,) = executor.run_sync([ToolCall("a", "one", {})])
    assert first.status == "error"
    assert isinstance(first.error, WorkerLost)
    assert isinstance(first.error.__cause__, RuntimeError)
    assert "WorkerLost: no worker thread could be started" in first.content
    (second,) = executor.run_sync([ToolCall("b", "one", {})])
    assert (second.status, second.value) == ("ok", 1)
