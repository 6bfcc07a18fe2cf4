"""toolvolley inside Pydantic AI: a real ``Agent`` driven by Pydantic AI's own ``FunctionModel``,
which answers with several tool calls in one response, the way a model does.

Pydantic AI starts the calls of a response as asyncio tasks (``asyncio.create_task``), so these
tests run on asyncio (and uvloop), not trio. Order is forced with events, never with sleeps.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.capabilities import UseThreadExecutor
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset, WrapperToolset

from conftest import ASYNCIO_BACKENDS, Backend
from helpers import InFlight
from toolvolley import Executor, UserError, tool
from toolvolley.pydantic_ai import Toolvolley, ToolvolleyToolset, toolset


@pytest.fixture(params=ASYNCIO_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Backend:
    """Pydantic AI runs on asyncio only."""
    param: Backend = request.param
    return param


Call = tuple[str, dict[str, Any]]


def model(*responses: list[Call]) -> FunctionModel:
    """A model that answers with each list of calls in turn (one response each), then with
    the tool results it was sent, one line per result."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        turn = sum(isinstance(m, ModelResponse) for m in messages)
        if turn < len(responses):
            return ModelResponse(
                parts=[
                    ToolCallPart(name, args, tool_call_id=f"t{turn}c{i}")
                    for i, (name, args) in enumerate(responses[turn])
                ]
            )
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        lines = [
            f"{p.tool_call_id} {p.outcome}: {p.model_response_str()}"
            for p in last.parts
            if isinstance(p, ToolReturnPart)
        ]
        return ModelResponse(parts=[TextPart("\n".join(lines))])

    return FunctionModel(respond)


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


def answers(messages: list[ModelMessage]) -> list[tuple[str, str]]:
    """(outcome, text the model reads) of every tool answer. A retry is a ``ToolReturnPart``
    with outcome ``retried`` in newer Pydantic AI, a ``RetryPromptPart`` before."""
    found: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    found.append((part.outcome, part.model_response_str()))
                elif isinstance(part, RetryPromptPart) and part.tool_name is not None:
                    found.append(("retried", part.model_response()))
    return found


def calls(name: str, n: int) -> list[Call]:
    return [(name, {"i": i}) for i in range(n)]


class Arrivals(WrapperToolset[Any]):
    """Counts the calls that reach the toolset it wraps (Pydantic AI's own wrapper)."""

    def __init__(self, wrapped: Any, *, when: int, event: anyio.Event) -> None:
        super().__init__(wrapped)
        self.count = 0
        self.when = when
        self.event = event

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        self.count += 1
        if self.count == self.when:
            self.event.set()
        return await self.wrapped.call_tool(name, tool_args, ctx, tool)


def limited_tools(flight: InFlight, limit: int) -> FunctionToolset[Any]:
    reached = anyio.Event()
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def probe(i: int) -> int:
        """Hold a place until `limit` calls run together, then let others try to get in."""
        if flight.enter(str(i)) == limit:
            reached.set()
        await reached.wait()
        await anyio.lowlevel.checkpoint()
        flight.leave(str(i))
        return i

    return tools


# --- a per-response cap ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_toolvolley_all_eight_calls_run_at_once() -> None:
    """The behaviour the cap changes: Pydantic AI starts every call of a response at once."""
    flight = InFlight()
    agent = Agent(model(calls("probe", 8)), toolsets=[limited_tools(flight, 8)])
    with anyio.fail_after(10):
        await agent.run("go")
    assert flight.peak == 8


@pytest.mark.anyio
async def test_capability_caps_a_response_of_8_calls_at_3_in_flight() -> None:
    flight = InFlight()
    agent = Agent(
        model(calls("probe", 8)),
        toolsets=[limited_tools(flight, 3)],
        capabilities=[Toolvolley(max_concurrency=3)],
    )
    with anyio.fail_after(10):
        result = await agent.run("go")
    assert flight.peak == 3
    assert [p.content for p in returns(result.all_messages())] == list(range(8))


@pytest.mark.anyio
async def test_toolset_holds_the_cap_while_every_call_waits_at_it() -> None:
    flight = InFlight()
    everyone = anyio.Event()
    release = anyio.Event()
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def hold(i: int) -> int:
        """Hold a place until released."""
        flight.enter(str(i))
        await release.wait()
        flight.leave(str(i))
        return i

    capped = ToolvolleyToolset(tools, max_concurrency=3)
    agent = Agent(model(calls("hold", 8)), toolsets=[Arrivals(capped, when=8, event=everyone)])
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            tg.start_soon(agent.run, "go")
            await everyone.wait()  # all 8 calls of the response have reached the toolset
            await anyio.wait_all_tasks_blocked()
            assert flight.current == 3  # the other 5 wait at the cap
            release.set()
    assert flight.peak == 3
    assert capped._turns.responses == 0  # nothing is kept once the response is done


@pytest.mark.anyio
async def test_cap_is_per_response() -> None:
    """Two responses in one run: each has its own 2 places."""
    flight = InFlight()
    agent = Agent(
        model(calls("probe", 4), calls("probe", 4)),
        toolsets=[limited_tools(flight, 2)],
        capabilities=[Toolvolley(max_concurrency=2)],
    )
    with anyio.fail_after(10):
        result = await agent.run("go")
    assert flight.peak == 2
    assert len(returns(result.all_messages())) == 8


# --- timeouts, failures, barriers ------------------------------------------------------------


@pytest.mark.anyio
async def test_hanging_sync_tool_times_out_and_siblings_answer() -> None:
    unblock = threading.Event()
    entered = threading.Event()
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    def hang() -> str:
        """Block the thread until the test ends."""
        entered.set()
        unblock.wait(30)
        return "late"

    @tools.tool_plain
    def echo(i: int) -> int:
        """Return i."""
        return i

    capability = Toolvolley(timeout=1)  # the echoes' too, and hang must start: not tight
    agent = Agent(
        model([("echo", {"i": 1}), ("hang", {}), ("echo", {"i": 2})]),
        toolsets=[tools],
        capabilities=[capability],
    )
    try:
        with anyio.fail_after(10):
            result = await agent.run("go")
        assert entered.is_set()
        assert capability.abandoned_threads == 1  # the hung body still runs, counted
    finally:
        unblock.set()
    parts = returns(result.all_messages())
    assert [(p.tool_name, p.outcome) for p in parts] == [
        ("echo", "success"),
        ("hang", "failed"),
        ("echo", "success"),
    ]
    assert [parts[0].content, parts[2].content] == [1, 2]
    assert "did not finish within its 1 s timeout" in parts[1].model_response_str()
    # what the model reads
    assert 't0c1 failed: {"error":"Tool \'hang\' did not finish' in result.output


@pytest.mark.anyio
@pytest.mark.parametrize("seam", ["toolset", "capability", "capability-with-another-executor"])
async def test_sync_bodies_run_in_toolvolley_threads_and_their_errors_are_results(
    seam: str,
) -> None:
    threads: list[str] = []
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    def where(i: int) -> int:
        """Say which thread runs this."""
        threads.append(threading.current_thread().name)
        return i

    @tools.tool_plain
    def boom() -> str:
        """Fail in a thread."""
        raise KeyError("missing")

    calls = model([("where", {"i": 1}), ("boom", {}), ("where", {"i": 2})])
    # Pydantic AI's own UseThreadExecutor, inside ours: the run's other sync functions are its
    # to place, the tools' bodies still toolvolley's (where a timeout or cancellation abandons
    # them).
    other = ThreadPoolExecutor(1, thread_name_prefix="other")
    if seam == "toolset":
        agent = Agent(calls, toolsets=[ToolvolleyToolset(tools)])
    elif seam == "capability":  # its threads set for each sync call, as the toolset does
        agent = Agent(calls, toolsets=[tools], capabilities=[Toolvolley()])
    else:
        capabilities = [Toolvolley(), UseThreadExecutor(other)]
        agent = Agent(calls, toolsets=[tools], capabilities=capabilities)
    try:
        with anyio.fail_after(10):
            result = await agent.run("go")
    finally:
        other.shutdown()
    assert threads == ["toolvolley worker"] * 2
    assert [outcome for outcome, _ in answers(result.all_messages())] == [
        "success",
        "failed",
        "success",
    ]
    assert "Tool 'boom' failed with KeyError: 'missing'" in result.output


@pytest.mark.anyio
async def test_raising_tool_is_a_failed_result_and_siblings_finish() -> None:
    raised = anyio.Event()
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def boom() -> str:
        """Fail."""
        raised.set()
        raise RuntimeError("disk on fire")

    @tools.tool_plain
    async def after_boom(i: int) -> int:
        """Answer only once boom has raised: still running when it does."""
        await raised.wait()
        await anyio.lowlevel.checkpoint()
        return i

    agent = Agent(
        model([("after_boom", {"i": 1}), ("boom", {}), ("after_boom", {"i": 2})]),
        toolsets=[tools],
        capabilities=[Toolvolley()],
    )
    with anyio.fail_after(10):
        result = await agent.run("go")
    parts = returns(result.all_messages())
    assert [(p.tool_name, p.outcome) for p in parts] == [
        ("after_boom", "success"),
        ("boom", "failed"),
        ("after_boom", "success"),
    ]
    assert 't0c1 failed: {"error":"Tool \'boom\' failed with RuntimeError: disk on fire' in (
        result.output
    )


@pytest.mark.anyio
async def test_without_toolvolley_a_raising_tool_fails_the_run() -> None:
    """The behaviour the wrapper changes."""
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def boom() -> str:
        """Fail."""
        raise RuntimeError("disk on fire")

    agent = Agent(model([("boom", {})]), toolsets=[tools])
    with anyio.fail_after(10), pytest.raises(RuntimeError, match="disk on fire"):
        await agent.run("go")


@pytest.mark.anyio
async def test_model_retry_still_reaches_pydantic_ai() -> None:
    tries: list[int] = []
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def flaky(i: int) -> int:
        """Ask for a retry the first time."""
        tries.append(i)
        if len(tries) == 1:
            raise ModelRetry("try again with i=7")
        return i

    agent = Agent(
        model([("flaky", {"i": 1})], [("flaky", {"i": 7})]),
        toolsets=[ToolvolleyToolset(tools)],
    )
    with anyio.fail_after(10):
        result = await agent.run("go")
    assert tries == [1, 7]
    [(retried, text), (success, _)] = answers(result.all_messages())
    assert (retried, success) == ("retried", "success")
    assert "try again with i=7" in text


@pytest.mark.anyio
async def test_destructive_tool_is_a_barrier() -> None:
    flight = InFlight()
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def read(name: str) -> str:
        """Read."""
        flight.enter(name)
        await anyio.lowlevel.checkpoint()
        flight.leave(name)
        return name

    @tools.tool_plain(metadata={"destructive": True})
    async def write(name: str) -> str:
        """Write."""
        flight.enter(name)
        await anyio.lowlevel.checkpoint()
        flight.leave(name)
        return name

    response = [
        ("read", {"name": "a"}),
        ("read", {"name": "b"}),
        ("write", {"name": "w"}),
        ("read", {"name": "c"}),
    ]
    agent = Agent(model(response), toolsets=[tools], capabilities=[Toolvolley()])
    with anyio.fail_after(10):
        await agent.run("go")
    order = flight.order()
    assert order.index("start:w") > max(order.index("end:a"), order.index("end:b"))
    assert order.index("start:c") > order.index("end:w")
    assert order[:2] == ["start:a", "start:b"]  # reads before the barrier overlap


@pytest.mark.anyio
async def test_serial_mode_runs_one_call_at_a_time_in_the_models_order() -> None:
    flight = InFlight()
    agent = Agent(
        model(calls("probe", 4)),
        toolsets=[limited_tools(flight, 1)],
        capabilities=[Toolvolley(mode="serial")],
    )
    with anyio.fail_after(10):
        await agent.run("go")
    assert flight.peak == 1
    assert flight.order() == [f"{kind}:{i}" for i in range(4) for kind in ("start", "end")]


def test_options_are_checked_when_built() -> None:
    tools: FunctionToolset[Any] = FunctionToolset()
    bad: list[Callable[[], object]] = [
        lambda: ToolvolleyToolset(tools, mode="fast"),  # type: ignore[arg-type]
        lambda: ToolvolleyToolset(tools, max_concurrency=0),
        lambda: Toolvolley(timeout=True),
        lambda: Toolvolley(side_effects="none"),  # type: ignore[arg-type]
        lambda: toolset("get_weather"),  # type: ignore[arg-type]
    ]
    for build in bad:
        with pytest.raises(UserError):
            build()


# --- toolvolley tools as a Pydantic AI toolset -----------------------------------------------


@pytest.mark.anyio
async def test_toolvolley_tools_run_through_the_executor() -> None:
    flight = InFlight()
    reached = anyio.Event()
    unblock = threading.Event()

    @tool
    async def probe(i: int) -> int:
        """Hold a place until 3 calls run together."""
        if flight.enter(str(i)) == 3:
            reached.set()
        await reached.wait()
        await anyio.lowlevel.checkpoint()
        flight.leave(str(i))
        return i

    @tool
    def hang() -> str:
        """Block the thread until the test ends."""
        unblock.wait(30)
        return "late"

    @tool
    def boom(n: int) -> str:
        """Fail."""
        raise ValueError(f"bad n {n}")

    executor = Executor([probe, hang, boom], max_concurrency=3, timeout=1)  # probes' too
    response = [*calls("probe", 8), ("hang", {}), ("boom", {"n": 3})]
    agent = Agent(model(response), toolsets=[toolset(executor)])
    try:
        with anyio.fail_after(10):
            result = await agent.run("go")
    finally:
        unblock.set()
    assert flight.peak == 3
    parts = returns(result.all_messages())
    assert [p.content for p in parts[:8]] == list(range(8))
    assert [p.outcome for p in parts] == ["success"] * 8 + ["failed", "failed"]
    assert "did not finish within its 1 s timeout" in parts[8].model_response_str()
    assert "Tool 'boom' failed with ValueError: bad n 3" in parts[9].model_response_str()


@pytest.mark.anyio
async def test_toolvolley_tool_schema_and_argument_check() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: The first.
            b: The second.
        """
        return a + b

    seen: list[Any] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(info.function_tools)
        turn = sum(isinstance(m, ModelResponse) for m in messages)
        if turn == 0:
            return ModelResponse(parts=[ToolCallPart("add", {"a": 1, "b": "x"}, tool_call_id="c1")])
        if turn == 1:
            return ModelResponse(parts=[ToolCallPart("add", {"a": 1, "b": 2}, tool_call_id="c2")])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(respond), toolsets=[toolset([add])])
    with anyio.fail_after(10):
        result = await agent.run("go")
    [definition] = seen[0]
    assert definition.name == "add"
    assert definition.description == add.description
    assert definition.parameters_json_schema == add.parameters
    [(retried, text), (success, _)] = answers(result.all_messages())
    assert (retried, success) == ("retried", "success")  # toolvolley's check, then the call
    assert "Invalid arguments: b: " in text
    assert returns(result.all_messages())[-1].content == 3


@pytest.mark.anyio
async def test_model_retry_from_a_toolvolley_tool_reaches_pydantic_ai() -> None:
    tries: list[int] = []

    @tool
    async def flaky(i: int) -> int:
        """Ask for a retry the first time."""
        tries.append(i)
        if len(tries) == 1:
            raise ModelRetry("try again with i=7")
        return i

    agent = Agent(model([("flaky", {"i": 1})], [("flaky", {"i": 7})]), toolsets=[toolset([flaky])])
    with anyio.fail_after(10):
        result = await agent.run("go")
    assert [outcome for outcome, _ in answers(result.all_messages())] == ["retried", "success"]


# --- the extra -------------------------------------------------------------------------------


def test_missing_pydantic_ai_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m.split(".")[0] == "pydantic_ai"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.delitem(sys.modules, "toolvolley.pydantic_ai")
    monkeypatch.setitem(sys.modules, "pydantic_ai", None)  # makes `import pydantic_ai` fail
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[pydantic-ai\]'"):
        importlib.import_module("toolvolley.pydantic_ai")


@pytest.mark.anyio
@pytest.mark.parametrize("seam", ["toolset", "capability"])
async def test_only_a_coroutine_tool_goes_without_toolvolleys_threads(
    seam: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the toolset tells of each tool it runs: a coroutine function needs no thread
    # executor (and skips setting one, per call), a sync one does, also seen through the
    # combined toolset a capability wraps.
    from toolvolley.integrations import _pydantic_ai

    told: dict[str, bool] = {}
    tell = _pydantic_ai._awaited_on_the_loop

    def recording(tool: Any) -> bool:
        told[tool.tool_def.name] = tell(tool)
        return told[tool.tool_def.name]

    monkeypatch.setattr(_pydantic_ai, "_awaited_on_the_loop", recording)
    tools: FunctionToolset[Any] = FunctionToolset()

    @tools.tool_plain
    async def fetch(i: int) -> int:
        """Return i, on the loop."""
        return i

    @tools.tool_plain
    def compute(i: int) -> int:
        """Return i, in a thread."""
        return i

    calls = model([("fetch", {"i": 1}), ("compute", {"i": 2})])
    if seam == "toolset":
        agent = Agent(calls, toolsets=[ToolvolleyToolset(tools)])
    else:
        agent = Agent(calls, toolsets=[tools], capabilities=[Toolvolley()])
    with anyio.fail_after(10):
        await agent.run("go")
    assert told == {"fetch": True, "compute": False}
