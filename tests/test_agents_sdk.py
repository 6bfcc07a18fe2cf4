"""toolvolley tools in the OpenAI Agents SDK: a real ``Agent`` run by ``Runner.run``, its model the
SDK's own scripted test model (``agents.testing.ScriptedModel``), which answers with several
function calls in one response."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import re
import sys
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from agents import Agent, FunctionTool, RunConfig, RunContextWrapper, Runner
from agents import Tool as AgentsTool
from agents.testing import ScriptedModel, assistant_message, function_call
from anyio.lowlevel import checkpoint

from conftest import ASYNCIO_BACKENDS
from mcp_servers.fixtures import COUNTING, PYTHON
from toolvolley import Executor, Retry, ToolCall, ToolError, UserError, tool
from toolvolley.agents import function_tools
from toolvolley.events import BatchStarted, CallFinished, TurnEvent
from toolvolley.integrations import _agents_sdk
from toolvolley.integrations._agents_sdk import _Invoke, _Run
from toolvolley.mcp import MCPServer


@pytest.fixture(params=ASYNCIO_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """The Agents SDK runs on asyncio only."""
    return request.param


@pytest.fixture(autouse=True, params=["alone", "batch"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test on both paths: each call in the SDK's own task (an executor that asks for
    nothing only a batch gives), and the calls of a response in one batch (one that does)."""
    if request.param == "batch":
        monkeypatch.setattr(_agents_sdk, "runs_alone", lambda executor: False)
    return str(request.param)


NO_TRACING = RunConfig(tracing_disabled=True)  # nothing leaves the machine


def scripted(*calls: tuple[str, dict[str, Any]], ids: str = "c") -> ScriptedModel:
    """One response with ``calls`` (ids c0, c1 ...), then a final answer."""
    return ScriptedModel(
        [
            [
                function_call(name, arguments, call_id=f"{ids}{i}")
                for i, (name, arguments) in enumerate(calls)
            ],
            [assistant_message("done")],
        ]
    )


def outputs(model: ScriptedModel) -> dict[str, str]:
    """What the model read back for each call id, from its second request."""
    request = model.calls[1].input
    assert isinstance(request, list)
    return {
        item["call_id"]: item["output"]
        for item in request
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    }


async def run(model: ScriptedModel, tools: Sequence[AgentsTool]) -> None:
    agent = Agent(name="assistant", model=model, tools=list(tools))
    with anyio.fail_after(30):
        result = await Runner.run(agent, "go", run_config=NO_TRACING)
    assert result.final_output == "done"
    model.assert_complete()


def open_responses(tools: Sequence[AgentsTool]) -> int:
    """Responses the tools still hold (their calls all answered: none)."""
    invoke = tools[0].on_invoke_tool if isinstance(tools[0], FunctionTool) else None
    assert isinstance(invoke, _Invoke)
    return invoke.responses


def responses_alive() -> int:
    """This adapter's response keys anywhere in the process: each keeps its run's usage and
    agent alive. (A tool's exception keeps its traceback's frames, the batch's among them, as
    long as someone holds it: tests with raising tools count only :func:`open_responses`.)"""
    gc.collect()
    return sum(isinstance(thing, _Run) for thing in gc.get_objects())


@pytest.mark.anyio
async def test_eight_calls_of_one_response_never_more_than_three_at_once() -> None:
    state = {"running": 0, "done": 0}
    gate = [anyio.Event()]

    @tool
    async def work(n: int) -> str:
        """Work on item n."""
        state["running"] += 1
        await gate[0].wait()
        state["running"] -= 1
        state["done"] += 1
        return f"item {n}"

    tools = function_tools([work], max_concurrency=3)
    model = scripted(*[("work", {"n": n}) for n in range(8)])
    seen: list[int] = []
    responses: list[int] = []  # while calls run: the one response they all belong to
    finished = anyio.Event()

    async def agent_run() -> None:
        await run(model, tools)
        finished.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(agent_run)
        while not finished.is_set():
            # Every call that can start has started (the SDK's tasks and the batch's are all
            # waiting): look, then let the running ones finish.
            await anyio.wait_all_tasks_blocked()
            seen.append(state["running"])
            if state["running"]:
                responses.append(open_responses(tools))
            gate[0], released = anyio.Event(), gate[0]
            released.set()
            await checkpoint()

    assert max(seen) == 3
    assert set(responses) == {1}
    assert state["done"] == 8
    assert outputs(model) == {f"c{n}": f"item {n}" for n in range(8)}
    assert open_responses(tools) == 0
    assert responses_alive() == 0


@pytest.mark.anyio
async def test_two_runs_at_once_each_have_their_own_batch() -> None:
    # Two calls per run, at most two at once per response: four at once only if each run's
    # response has a batch of its own.
    running = [0]
    all_four = anyio.Event()

    @tool
    async def work(n: int) -> str:
        """Work on item n."""
        running[0] += 1
        if running[0] == 4:
            all_four.set()
        await all_four.wait()
        return f"item {n}"

    tools = function_tools([work], max_concurrency=2)
    models = [scripted(("work", {"n": 0}), ("work", {"n": 1}), ids=ids) for ids in "ab"]
    async with anyio.create_task_group() as tg:
        for model in models:
            tg.start_soon(run, model, tools)
    assert [outputs(model) for model in models] == [
        {"a0": "item 0", "a1": "item 1"},
        {"b0": "item 0", "b1": "item 1"},
    ]
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_an_agent_used_as_a_tool_has_its_own_batch() -> None:
    # Serial mode: were the child agent's call in its parent's batch, it would wait for the
    # parent's call, which waits for it.
    child_started = anyio.Event()

    @tool
    async def work(who: str) -> str:
        """Work for who."""
        if who == "child":
            child_started.set()
        else:
            await child_started.wait()
        return f"worked for {who}"

    tools = function_tools([work], mode="serial")
    child = Agent(name="child", model=scripted(("work", {"who": "child"}), ids="k"), tools=tools)
    helper = child.as_tool("ask_child", "Ask the child agent.", run_config=NO_TRACING)
    parent = scripted(("work", {"who": "parent"}), ("ask_child", {"input": "help"}))
    await run(parent, [*tools, helper])
    assert outputs(parent) == {"c0": "worked for parent", "c1": "done"}
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_streamed_run_gets_each_calls_output() -> None:
    @tool
    async def echo(text: str) -> str:
        """Say it back."""
        return text

    tools = function_tools([echo], max_concurrency=2)
    model = scripted(*[("echo", {"text": word}) for word in ("a", "b", "c")])
    agent = Agent(name="assistant", model=model, tools=tools)
    streamed = Runner.run_streamed(agent, "go", run_config=NO_TRACING)
    with anyio.fail_after(30):
        names = [
            event.name
            async for event in streamed.stream_events()
            if event.type == "run_item_stream_event"
        ]
    assert names.count("tool_output") == 3
    assert streamed.final_output == "done"
    assert outputs(model) == {"c0": "a", "c1": "b", "c2": "c"}
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_cancelled_run_leaves_no_response_behind() -> None:
    running: list[int] = []
    cancelled: list[int] = []
    all_in = anyio.Event()

    @tool
    async def wait(n: int) -> str:
        """Waits until cancelled."""
        running.append(n)
        if len(running) == 3:
            all_in.set()
        try:
            await anyio.Event().wait()
        except anyio.get_cancelled_exc_class():
            cancelled.append(n)
            raise
        return "never"

    tools = function_tools([wait])
    model = scripted(*[("wait", {"n": n}) for n in range(3)])
    agent = Agent(name="assistant", model=model, tools=tools)

    async def agent_run() -> None:
        await Runner.run(agent, "go", run_config=NO_TRACING)

    async with anyio.create_task_group() as tg:
        tg.start_soon(agent_run)
        with anyio.fail_after(30):
            await all_in.wait()
        assert open_responses(tools) == 1
        tg.cancel_scope.cancel()
    assert sorted(cancelled) == [0, 1, 2]
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_hanging_sync_tool_times_out_and_its_siblings_answer() -> None:
    release = threading.Event()

    @tool
    def hang(city: str) -> str:
        """Never answers (until the test lets it go)."""
        release.wait(30)
        return city

    @tool
    def echo(text: str) -> str:
        """Say it back."""
        return text

    executor = Executor([hang, echo], timeout=1)  # echo's too: long enough under load
    tools = function_tools(executor)
    model = scripted(
        ("echo", {"text": "one"}), ("hang", {"city": "Oslo"}), ("echo", {"text": "two"})
    )
    try:
        await run(model, tools)
        read = outputs(model)
        assert read["c0"] == "one"
        assert read["c2"] == "two"
        assert "'hang' did not finish within its 1 s timeout" in read["c1"]
        assert executor.abandoned_threads == 1  # toolvolley's thread, left behind, not waited on
    finally:
        release.set()
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_hanging_async_tool_times_out_and_its_siblings_answer() -> None:
    stopped: list[str] = []

    @tool(timeout=0.5)
    async def hang(city: str) -> str:
        """Never answers."""
        try:
            await anyio.Event().wait()
        finally:
            stopped.append(city)
        return city

    @tool(timeout=1)
    async def stubborn(city: str) -> str:
        """Turns its cancellation into an error of its own."""
        try:
            await anyio.Event().wait()
        except anyio.get_cancelled_exc_class():
            raise RuntimeError("interrupted") from None
        return city

    @tool
    async def echo(text: str) -> str:
        """Say it back."""
        return text

    tools = function_tools([hang, stubborn, echo])
    model = scripted(
        ("hang", {"city": "Oslo"}), ("stubborn", {"city": "Rome"}), ("echo", {"text": "hi"})
    )
    await run(model, tools)
    read = outputs(model)
    assert "'hang' did not finish within its 0.5 s timeout" in read["c0"]
    assert "'stubborn' did not finish within its 1 s timeout" in read["c1"]
    assert read["c2"] == "hi"
    assert stopped == ["Oslo"]  # stopped at its timeout, not left running
    assert open_responses(tools) == 0


# The interrupt leaves the event loop, which asyncio.run then closes under the SDK's open async
# generators: their cleanup (the SDK's, not ours) complains of context tokens.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_from_a_tool_stops_the_run_once_its_siblings_have_answers(
    kind: type[BaseException],
) -> None:
    finished: list[int] = []

    async def main() -> None:
        stopped = asyncio.Event()

        @tool
        async def stop() -> str:
            """Asks the program to stop."""
            stopped.set()
            raise kind()

        @tool
        async def slow(n: int) -> str:
            """Finishes after stop has raised."""
            await stopped.wait()
            for _ in range(3):
                await asyncio.sleep(0)
            finished.append(n)
            return "done"

        model = scripted(("slow", {"n": 0}), ("stop", {}), ("slow", {"n": 2}))
        agent = Agent(name="assistant", model=model, tools=function_tools([stop, slow]))
        await Runner.run(agent, "go", run_config=NO_TRACING)

    with pytest.raises(kind):
        asyncio.run(main())  # as the program would: the interrupt leaves the event loop
    gc.collect()  # the SDK's generators left behind are closed now, their complaints here
    assert sorted(finished) == [0, 2]  # ... once the other calls have their answers


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
def test_an_interrupt_from_a_first_call_that_never_suspends_waits_for_its_siblings() -> None:
    # The interrupting call is done before its siblings' tasks reach the tool: they are on
    # their way (the SDK started them together), so the interrupt still waits for them.
    finished: list[int] = []

    async def main() -> None:
        @tool
        async def stop() -> str:
            """Asks the program to stop, at once."""
            raise KeyboardInterrupt

        @tool
        async def slow(n: int) -> str:
            """Finishes a little later."""
            for _ in range(3):
                await asyncio.sleep(0)
            finished.append(n)
            return "done"

        model = scripted(("stop", {}), ("slow", {"n": 1}), ("slow", {"n": 2}))
        agent = Agent(name="assistant", model=model, tools=function_tools([stop, slow]))
        await Runner.run(agent, "go", run_config=NO_TRACING)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    gc.collect()
    assert sorted(finished) == [1, 2]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
def test_an_interrupt_a_tool_raises_at_its_timeout_still_stops_the_program() -> None:
    # The tool answers our timeout's cancellation with SystemExit: its call times out, and
    # the program still stops as it asked, on both paths.
    finished: list[str] = []

    async def main() -> None:
        @tool(timeout=0.2)
        async def stubborn() -> str:
            """Exits when it is cancelled."""
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                raise SystemExit(3) from None
            return "never"

        @tool
        async def echo(text: str) -> str:
            """Say it back."""
            await checkpoint()
            finished.append(text)
            return text

        model = scripted(("stubborn", {}), ("echo", {"text": "hi"}))
        agent = Agent(name="assistant", model=model, tools=function_tools([stubborn, echo]))
        await Runner.run(agent, "go", run_config=NO_TRACING)

    with pytest.raises(SystemExit):
        asyncio.run(main())
    gc.collect()
    assert finished == ["hi"]


@pytest.mark.anyio
async def test_an_idempotent_tool_is_retried_as_the_executor_says() -> None:
    tries: list[int] = []

    @tool(idempotent=True)
    async def flaky(n: int) -> str:
        """Fails once, then answers."""
        tries.append(n)
        if len(tries) == 1:
            raise ConnectionError("reset")
        return f"item {n}"

    executor = Executor([flaky], retry=Retry(attempts=2, backoff=0))
    model = scripted(("flaky", {"n": 1}))
    await run(model, function_tools(executor))
    assert outputs(model) == {"c0": "item 1"}
    assert tries == [1, 1]


@pytest.mark.anyio
async def test_an_executor_with_hooks_runs_a_responses_calls_in_one_batch() -> None:
    events: list[str] = []

    @tool
    async def echo(text: str) -> str:
        """Say it back."""
        return text

    def hook(event: TurnEvent) -> None:
        if isinstance(event, BatchStarted):
            events.append("batch")
        elif isinstance(event, CallFinished):
            events.append(event.result.call_id)

    tools = function_tools(Executor([echo], hooks=(hook,)))
    model = scripted(*[("echo", {"text": w}) for w in "abc"])
    await run(model, tools)
    assert outputs(model) == {"c0": "a", "c1": "b", "c2": "c"}
    assert events[0] == "batch"  # one batch for the response's three calls, told of each
    assert sorted(events[1:]) == ["c0", "c1", "c2"]
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_raising_tool_is_answered_and_its_siblings_are_kept() -> None:
    @tool
    def boom(city: str) -> str:
        """Fails."""
        raise ValueError(f"secret detail about {city}")

    @tool
    def refuse(city: str) -> str:
        """Fails with a message for the model."""
        raise ToolError(f"No data for {city}; ask for another city.")

    @tool
    def echo(text: str) -> str:
        """Say it back."""
        return text

    calls = [("boom", {"city": "Oslo"}), ("refuse", {"city": "Rome"}), ("echo", {"text": "hi"})]
    calls.append(("echo", {"txt": "no such argument"}))

    model = scripted(*calls)
    await run(model, function_tools([boom, refuse, echo]))
    read = outputs(model)
    # The SDK's default: the exception itself is not shown to the model.
    assert read["c0"] == "An error occurred while running the tool. Please try again."
    assert read["c1"] == "No data for Rome; ask for another city."
    assert read["c2"] == "hi"
    assert "text" in read["c3"]  # toolvolley's own words on the invalid arguments

    def show(ctx: RunContextWrapper[Any], error: Exception) -> str:
        return f"{type(error).__name__}: {error}"

    model = scripted(*calls)
    tools = function_tools([boom, refuse, echo], failure_error_function=show)
    await run(model, tools)
    assert outputs(model)["c0"] == "ValueError: secret detail about Oslo"
    assert outputs(model)["c2"] == "hi"
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_sync_tools_value_and_error_are_not_kept_by_its_idle_thread() -> None:
    # A worker thread waits up to 10 s for its next call: it must not hold its last one
    # meanwhile (the value; the error, whose traceback holds the run's usage and agent).
    kept: list[weakref.ref[object]] = []

    class Large:
        pass

    @tool
    def fetch(n: int) -> str:
        """Returns a value that is no JSON (kept in the result, not in the thread)."""
        value = Large()
        kept.append(weakref.ref(value))
        return value  # type: ignore[return-value]

    @tool
    def boom(n: int) -> str:
        """Fails."""
        raise ValueError("broken")

    model = scripted(("fetch", {"n": 1}), ("boom", {"n": 2}))
    tools = function_tools([fetch, boom])
    await run(model, tools)
    del model, tools
    for _ in range(100):  # a thread lets go before it waits for more work: at once, not in 10 s
        if not responses_alive() and kept[0]() is None:
            break
        await anyio.sleep(0.01)  # no event to wait for: the worker threads' own state
    else:
        pytest.fail("the worker threads still hold their last calls")


class _Stray(BaseException):
    """A ``BaseException`` that neither asks the program to stop nor is a cancellation."""


@pytest.mark.anyio
async def test_a_tool_raising_a_base_exception_of_its_own_is_answered_as_a_batch_does() -> None:
    # Neither an interrupt nor the framework cancelling the call: an error like any other, its
    # siblings kept, in the batch's words (the SDK's failure function is for Exceptions).
    @tool
    async def stray(kind: str) -> str:
        """Raises a BaseException of its own."""
        if kind == "cancelled":
            raise asyncio.CancelledError("gave up")  # e.g. a library's inner task was cancelled
        raise (GeneratorExit if kind == "generator" else _Stray)("odd")

    @tool
    def stray_sync(kind: str) -> str:
        """Raises a BaseException of its own, in a thread."""
        raise _Stray("odd")

    @tool
    async def echo(text: str) -> str:
        """Say it back."""
        await checkpoint()
        return text

    model = scripted(
        ("stray", {"kind": "cancelled"}),
        ("stray", {"kind": "generator"}),
        ("stray", {"kind": "stray"}),
        ("stray_sync", {"kind": "stray"}),
        ("echo", {"text": "hi"}),
    )
    tools = function_tools([stray, stray_sync, echo])
    await run(model, tools)
    assert outputs(model) == {
        "c0": "Tool 'stray' failed with CancelledError: gave up",
        "c1": "Tool 'stray' failed with GeneratorExit: odd",
        "c2": "Tool 'stray' failed with _Stray: odd",
        "c3": "Tool 'stray_sync' failed with _Stray: odd",
        "c4": "hi",
    }
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_without_a_failure_function_a_raising_tool_fails_the_run() -> None:
    @tool
    def boom(city: str) -> str:
        """Fails."""
        raise ValueError("broken")

    tools = function_tools([boom], failure_error_function=None)
    agent = Agent(name="assistant", model=scripted(("boom", {"city": "Oslo"})), tools=tools)
    with pytest.raises(Exception, match="broken"):
        await Runner.run(agent, "go", run_config=NO_TRACING)
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_serial_mode_runs_the_calls_one_at_a_time_in_the_models_order() -> None:
    order: list[str] = []

    @tool
    async def step(name: str) -> str:
        """One step."""
        order.append(f"+{name}")
        await checkpoint()  # a chance for any other call to start, were it allowed to
        order.append(f"-{name}")
        return name

    model = scripted(*[("step", {"name": n}) for n in "abcd"])
    tools = function_tools([step], mode="serial")
    await run(model, tools)
    assert order == ["+a", "-a", "+b", "-b", "+c", "-c", "+d", "-d"]
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_a_tracer_provider_set_mid_response_leaves_serial_mode_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # tracing="auto": the first call runs untraced; the provider its body sets must not send
    # its siblings to a batch of their own, beside it.
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    order: list[str] = []

    @tool
    async def step(name: str) -> str:
        """One step."""
        if name == "a":
            monkeypatch.setattr(trace, "get_tracer_provider", TracerProvider)
        order.append(f"+{name}")
        await anyio.wait_all_tasks_blocked()  # every call that may start has started
        order.append(f"-{name}")
        return name

    model = scripted(*[("step", {"name": n}) for n in "abc"])
    tools = function_tools([step], mode="serial")
    await run(model, tools)
    assert order == ["+a", "-a", "+b", "-b", "+c", "-c"]
    assert open_responses(tools) == 0


@pytest.mark.anyio
async def test_an_mcp_servers_tools_run_as_agents_sdk_tools_in_one_batch() -> None:
    # Three read-only `look`s that each wait until three have run at once, a destructive `wipe`
    # after them (a barrier: it starts once the looks are done, alone) and a failing call.
    group = "agents-sdk"
    calls = [("look", {"group": group, "until": 3, "tag": f"l{i}"}) for i in range(3)]
    calls += [("wipe", {"group": group, "until": 1, "tag": "w"}), ("fail", {"message": "nope"})]
    async with MCPServer.stdio(PYTHON, [COUNTING], trust_hints=True) as server:
        tools = function_tools(await server.tools(), timeout=20)
        model = scripted(*calls)
        await run(model, tools)
        read = outputs(model)
        assert [read[f"c{i}"] for i in range(3)] == ["looked"] * 3
        assert read["c3"] == "0 running before"
        assert read["c4"] == "Error executing tool fail: nope"  # the server's words
        stats = json.loads(await _call(server, "stats", group))
    assert stats["most"] == 3
    assert open_responses(tools) == 0


async def _call(server: MCPServer, name: str, group: str) -> str:
    results = await Executor(await server.tools()).run([ToolCall("s", name, {"group": group})])
    return results[0].content


def test_the_tools_carry_the_toolvolley_tools_definitions() -> None:
    @tool
    def forecast(city: str, days: int = 3) -> str:
        """The forecast for a city."""
        return city

    @tool
    def now(city: str) -> str:
        """The time in a city."""
        return city

    made = function_tools([forecast, now])
    assert all(isinstance(t, FunctionTool) for t in made)
    first, second = (t for t in made if isinstance(t, FunctionTool))
    assert (first.name, first.description) == ("forecast", "The forecast for a city.")
    assert first.params_json_schema == forecast.parameters
    # An optional parameter: strict mode would make it required, so the tool is not strict.
    assert first.strict_json_schema is False
    assert second.strict_json_schema is True


def test_options_go_to_the_executor_when_one_is_given() -> None:
    @tool
    def now(city: str) -> str:
        """The time in a city."""
        return city

    with pytest.raises(UserError, match="give mode, timeout"):
        function_tools(Executor([now]), timeout=3)


def test_without_the_sdk_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "agents", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "toolvolley.agents", raising=False)
    with pytest.raises(ImportError, match=re.escape("pip install 'toolvolley[agents]'")):
        importlib.import_module("toolvolley.agents")
