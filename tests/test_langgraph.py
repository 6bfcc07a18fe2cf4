"""toolvolley.langgraph.ToolNode in real LangGraph graphs: caps, timeouts, siblings, Commands,
interrupts and callbacks. LangGraph's own ToolNode tests are run against it by
``benchmarks/langgraph_suite.py``.

Each test runs the graph both ways: ``invoke`` (every call in a toolvolley thread) and
``ainvoke`` (async tools on the loop, sync ones in toolvolley threads).
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib
import sys
import threading
from collections.abc import Iterator
from contextvars import copy_context
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from langchain_core.messages import AIMessage, AnyMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId
from langchain_core.tools import tool as lc_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from toolvolley import ExecutionHooks, Executor, ToolResult, UserError
from toolvolley.langgraph import ToolNode, ToolTimeoutError

WAIT = 10.0  # seconds a gated tool waits at most: only reached when the behaviour is wrong

HOW = pytest.mark.parametrize("how", ["invoke", "ainvoke"])


def _ai(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    tool_calls = [
        ToolCall(name=name, args=args, id=f"c{i}", type="tool_call")
        for i, (name, args) in enumerate(calls)
    ]
    return AIMessage("", tool_calls=tool_calls)


def _graph(node: ToolNode, state: type[Any] = MessagesState, checkpointer: Any = None) -> Any:
    builder = StateGraph(state)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    return builder.compile(checkpointer=checkpointer)


def _run(graph: Any, how: str, value: Any, config: Any = None) -> Any:
    if how == "invoke":
        return graph.invoke(value, config)
    return anyio.run(functools.partial(graph.ainvoke, value, config))


def _tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


@pytest.fixture
def never() -> Iterator[threading.Event]:
    """An event a hanging tool waits for; set when the test ends, so its thread ends too."""
    event = threading.Event()
    yield event
    event.set()


def _gated(limit: int, total: int) -> tuple[BaseTool, dict[str, int]]:
    """A sync tool each of whose calls waits until ``limit`` are in flight (or all ``total``
    have started): the peak is exactly ``limit`` iff calls overlap and no more run at once."""
    lock = threading.Condition()
    state = {"in_flight": 0, "peak": 0, "started": 0}

    @lc_tool
    def work(n: int) -> int:
        """Hold a slot until the cap is reached."""
        with lock:
            state["in_flight"] += 1
            state["started"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
            lock.notify_all()
            full = lock.wait_for(
                lambda: state["in_flight"] >= limit or state["started"] == total, WAIT
            )
            state["in_flight"] -= 1
        assert full, f"{limit} calls were never in flight at once"
        return n

    return work, state


@HOW
def test_max_concurrency_caps_the_sync_calls_of_one_message(how: str) -> None:
    work, state = _gated(3, 8)
    graph = _graph(ToolNode([work], max_concurrency=3))
    out = _run(graph, how, {"messages": [_ai(*[("work", {"n": i}) for i in range(8)])]})

    assert state["peak"] == 3
    assert [m.content for m in _tool_messages(out)] == [str(i) for i in range(8)]
    assert all(m.status == "success" for m in _tool_messages(out))


def test_a_runs_max_concurrency_caps_invoke_as_it_caps_langgraphs_pool() -> None:
    work, state = _gated(2, 6)
    graph = _graph(ToolNode([work]))
    value = {"messages": [_ai(*[("work", {"n": i}) for i in range(6)])]}
    graph.invoke(value, {"max_concurrency": 2})
    assert state["peak"] == 2


@HOW
def test_a_hanging_sync_tool_times_out_and_its_siblings_finish(
    how: str, never: threading.Event
) -> None:
    @lc_tool
    def hang() -> str:
        """Never returns on its own."""
        never.wait()
        return "too late"

    @lc_tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    graph = _graph(ToolNode([hang, echo], timeout=1))  # long enough for echo on a loaded machine
    out = _run(graph, how, {"messages": [_ai(("echo", {"text": "a"}), ("hang", {}))]})

    first, second = _tool_messages(out)
    assert (first.content, first.status) == ("a", "success")
    assert second.status == "error"
    assert second.tool_call_id == "c1"
    assert second.name == "hang"
    assert "did not finish within its 1 s timeout" in str(second.content)


@pytest.mark.parametrize(
    ("handle_tool_errors", "content"),
    [
        (True, "Error: ToolTimeoutError("),  # LangGraph's template, with the error's repr
        ("the tool took too long", "the tool took too long"),
        (lambda e: f"handled {type(e).__name__}", "handled ToolTimeoutError"),
    ],
)
def test_a_timeout_is_answered_as_handle_tool_errors_says(
    handle_tool_errors: Any, content: str, never: threading.Event
) -> None:
    @lc_tool
    def hang() -> str:
        """Never returns on its own."""
        never.wait()
        return "too late"

    node = ToolNode([hang], timeout=0.05, handle_tool_errors=handle_tool_errors)
    (message,) = _tool_messages(_graph(node).invoke({"messages": [_ai(("hang", {}))]}))
    assert message.status == "error"
    assert str(message.content).startswith(content)


@HOW
def test_a_timeout_raises_when_errors_are_not_handled(how: str, never: threading.Event) -> None:
    finished = threading.Event()

    @lc_tool
    def hang() -> str:
        """Never returns on its own."""
        never.wait()
        return "too late"

    @lc_tool
    def quick() -> str:
        """Returns at once."""
        finished.set()
        return "done"

    # the timeout is quick's too: long enough for its thread to answer on a loaded machine
    graph = _graph(ToolNode([hang, quick], timeout=1, handle_tool_errors=False))
    with pytest.raises(ToolTimeoutError) as raised:
        _run(graph, how, {"messages": [_ai(("hang", {}), ("quick", {}))]})
    assert raised.value.tool_name == "hang"
    assert raised.value.tool_call_id == "c0"
    assert finished.is_set()


@HOW
def test_a_raising_tool_lets_its_siblings_finish(how: str) -> None:
    """LangGraph's default re-raises a tool's own error; the sibling still running when it
    does is not abandoned: it finishes before the node raises."""
    raised = threading.Event()
    finished = threading.Event()

    @lc_tool
    def boom() -> str:
        """Fails."""
        raised.set()
        raise ValueError("boom")

    @lc_tool
    def slow() -> str:
        """Finishes after boom has raised."""
        assert raised.wait(WAIT)
        finished.set()
        return "done"

    graph = _graph(ToolNode([boom, slow]))
    with pytest.raises(ValueError, match="boom"):
        _run(graph, how, {"messages": [_ai(("slow", {}), ("boom", {}))]})
    assert finished.is_set()


@HOW
def test_a_raising_tool_answered_by_handle_tool_errors_keeps_its_siblings(how: str) -> None:
    raised = threading.Event()

    @lc_tool
    def boom() -> str:
        """Fails."""
        raised.set()
        raise ValueError("boom")

    @lc_tool
    def slow() -> str:
        """Finishes after boom has raised."""
        assert raised.wait(WAIT)
        return "done"

    graph = _graph(ToolNode([boom, slow], handle_tool_errors=True))
    out = _run(graph, how, {"messages": [_ai(("slow", {}), ("boom", {}))]})
    first, second = _tool_messages(out)
    assert (first.content, first.status) == ("done", "success")
    assert second.status == "error"
    assert "boom" in str(second.content)


class _State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    city: str


@HOW
def test_command_returns_update_the_graph_state(how: str) -> None:
    @lc_tool
    def move(city: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command[Any]:
        """Move to a city."""
        message = ToolMessage(f"moved to {city}", tool_call_id=tool_call_id)
        return Command(update={"city": city, "messages": [message]})

    @lc_tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    graph = _graph(ToolNode([move, echo]), state=_State)
    out = _run(
        graph,
        how,
        {"messages": [_ai(("move", {"city": "Paris"}), ("echo", {"text": "x"}))], "city": ""},
    )
    assert out["city"] == "Paris"
    assert [m.content for m in _tool_messages(out)] == ["moved to Paris", "x"]


@HOW
def test_an_interrupt_pauses_the_graph_and_resumes(how: str) -> None:
    runs: list[str] = []

    @lc_tool
    def approve(action: str) -> str:
        """Ask a human."""
        answer = interrupt(f"approve {action}?")
        return f"{action}: {answer}"

    @lc_tool
    def echo(text: str) -> str:
        """Echo."""
        runs.append(text)
        return text

    graph = _graph(ToolNode([approve, echo]), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": how}}
    message = _ai(("approve", {"action": "delete"}), ("echo", {"text": "x"}))
    paused = _run(graph, how, {"messages": [message]}, config)
    assert [i.value for i in paused["__interrupt__"]] == ["approve delete?"]
    assert runs == ["x"]  # the sibling ran to its end before the node stopped

    out = _run(graph, how, Command(resume="yes"), config)
    assert [m.content for m in _tool_messages(out)] == ["delete: yes", "x"]


def test_async_tools_run_on_the_loop_and_are_timed_out_there() -> None:
    started = anyio.Event()

    @lc_tool
    async def wait_forever() -> str:
        """Never returns."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    @lc_tool
    async def quick() -> str:
        """Returns once wait_forever has started."""
        await started.wait()
        return "done"

    graph = _graph(ToolNode([wait_forever, quick], timeout=1))  # quick's too: not a tight one
    out = _run(graph, "ainvoke", {"messages": [_ai(("wait_forever", {}), ("quick", {}))]})
    first, second = _tool_messages(out)
    assert first.status == "error"
    assert "timeout" in str(first.content)
    assert (second.content, second.status) == ("done", "success")


def test_serial_mode_runs_the_calls_one_at_a_time_in_order() -> None:
    lock = threading.Lock()
    log: list[str] = []
    in_flight = [0]

    @lc_tool
    def step(name: str) -> str:
        """A step."""
        with lock:
            in_flight[0] += 1
            assert in_flight[0] == 1
            log.append(name)
        with lock:
            in_flight[0] -= 1
        return name

    graph = _graph(ToolNode([step], mode="serial"))
    graph.invoke({"messages": [_ai(*[("step", {"name": n}) for n in "abcde"])]})
    assert log == list("abcde")


@HOW
def test_a_destructive_tool_is_a_barrier(how: str) -> None:
    """``metadata={"toolvolley": {"destructive": True}}``: the read before it finishes first,
    and the read after it does not start until it has finished."""
    log: list[str] = []
    lock = threading.Lock()

    @lc_tool
    def read(key: str) -> str:
        """Read."""
        with lock:
            log.append(f"read {key}")
        return key

    @lc_tool
    def wipe() -> str:
        """Wipe everything."""
        with lock:
            log.append("wipe")
        return "wiped"

    wipe.metadata = {"toolvolley": {"destructive": True}}
    graph = _graph(ToolNode([read, wipe]))
    _run(
        graph,
        how,
        {"messages": [_ai(("read", {"key": "a"}), ("wipe", {}), ("read", {"key": "b"}))]},
    )
    assert log == ["read a", "wipe", "read b"]


def test_tool_calls_stream_their_callbacks() -> None:
    """LangChain callbacks reach the run: astream_events sees each tool start and end, sync
    tools (in toolvolley threads) included."""

    @lc_tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    @lc_tool
    async def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    graph = _graph(ToolNode([echo, shout]))

    async def events() -> list[tuple[str, str]]:
        message = _ai(("echo", {"text": "a"}), ("shout", {"text": "b"}))
        return [
            (event["event"], event["name"])
            async for event in graph.astream_events({"messages": [message]}, version="v2")
            if event["event"] in ("on_tool_start", "on_tool_end")
        ]

    seen = anyio.run(events)
    assert sorted(seen) == sorted(
        [
            ("on_tool_start", "echo"),
            ("on_tool_end", "echo"),
            ("on_tool_start", "shout"),
            ("on_tool_end", "shout"),
        ]
    )


@HOW
def test_tool_call_streaming_reaches_the_stream(how: str) -> None:
    """LangGraph's ``tools`` stream mode: each call's start, its output deltas (written from the
    tool body, in a toolvolley thread) and its end."""

    @lc_tool
    def count(n: int, runtime: ToolRuntime) -> str:
        """Count to n, streaming each number."""
        for i in range(n):
            runtime.emit_output_delta(i)
        return "done"

    graph = _graph(ToolNode([count]))
    value = {"messages": [_ai(("count", {"n": 2}), ("count", {"n": 1}))]}
    if how == "invoke":
        chunks = list(graph.stream(value, stream_mode="tools"))
    else:

        async def collect() -> list[Any]:
            return [chunk async for chunk in graph.astream(value, stream_mode="tools")]

        chunks = anyio.run(collect)
    seen = [(c["tool_call_id"], c["event"], c.get("delta")) for c in chunks]
    for call_id, deltas in (("c0", [0, 1]), ("c1", [0])):
        assert [(e, d) for i, e, d in seen if i == call_id] == [
            ("tool-started", None),
            *[("tool-output-delta", d) for d in deltas],
            ("tool-finished", None),
        ]


@pytest.mark.parametrize("where", ["in a worker thread", "on the event loop"])
def test_invoke_from_async_code(where: str) -> None:
    """``invoke`` from a thread that carries an async caller's context (anyio and sniffio say
    asyncio runs there, but no loop does), or blocking a running loop: the node still runs its
    own loop."""

    @lc_tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    graph = _graph(ToolNode([echo]))
    value = {"messages": [_ai(("echo", {"text": "a"}))]}

    async def main() -> Any:
        if where == "on the event loop":
            return graph.invoke(value)
        # As LangGraph's own pool runs a task of a graph invoked from async code.
        context = copy_context()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(context.run, graph.invoke, value).result()

    (message,) = _tool_messages(anyio.run(main))
    assert (message.content, message.status) == ("a", "success")


def test_async_calls_are_capped_serialised_and_barred_on_the_loop() -> None:
    """A message of async calls under ``ainvoke`` (each call in a task of its own, no batch):
    ``max_concurrency``, ``mode="serial"`` and a destructive barrier hold as in a batch."""
    in_flight = {"now": 0, "peak": 0}
    full = anyio.Event()
    log: list[str] = []

    @lc_tool
    async def work(n: int) -> int:
        """Hold a place until three are in flight (or all have started)."""
        in_flight["now"] += 1
        in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        log.append(f"start {n}")
        if in_flight["now"] >= 3 or len(log) == 8:
            full.set()
        with anyio.fail_after(WAIT):
            await full.wait()
        await anyio.lowlevel.checkpoint()  # the others may start meanwhile, if nothing holds them
        in_flight["now"] -= 1
        log.append(f"end {n}")
        return n

    capped = _graph(ToolNode([work], max_concurrency=3))
    out = _run(capped, "ainvoke", {"messages": [_ai(*[("work", {"n": i}) for i in range(8)])]})
    assert in_flight["peak"] == 3
    assert [m.content for m in _tool_messages(out)] == [str(i) for i in range(8)]

    log.clear()
    full.set()
    in_flight["peak"] = 0
    serial = _graph(ToolNode([work], mode="serial"))
    _run(serial, "ainvoke", {"messages": [_ai(*[("work", {"n": i}) for i in range(3)])]})
    assert log == ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]

    @lc_tool
    async def wipe() -> str:
        """Wipe everything."""
        log.append("wipe")
        await anyio.lowlevel.checkpoint()
        log.append("wiped")
        return "wiped"

    log.clear()
    wipe.metadata = {"toolvolley": {"destructive": True}}
    barred = _graph(ToolNode([work, wipe]))
    calls = [("work", {"n": 0}), ("work", {"n": 1}), ("wipe", {}), ("work", {"n": 2})]
    _run(barred, "ainvoke", {"messages": [_ai(*calls)]})
    assert log[4:] == ["wipe", "wiped", "start 2", "end 2"]
    assert set(log[:4]) == {"start 0", "start 1", "end 0", "end 1"}


def test_an_async_tool_that_raises_lets_its_async_siblings_finish() -> None:
    raised = anyio.Event()
    finished: list[str] = []

    @lc_tool
    async def boom() -> str:
        """Fails."""
        raised.set()
        raise ValueError("boom")

    @lc_tool
    async def slow() -> str:
        """Finishes after boom has raised."""
        with anyio.fail_after(WAIT):
            await raised.wait()
        await anyio.lowlevel.checkpoint()
        finished.append("slow")
        return "done"

    graph = _graph(ToolNode([boom, slow]))
    with pytest.raises(ValueError, match="boom"):
        _run(graph, "ainvoke", {"messages": [_ai(("slow", {}), ("boom", {}))]})
    assert finished == ["slow"]
    handled = _graph(ToolNode([boom, slow], handle_tool_errors=True))
    out = _run(handled, "ainvoke", {"messages": [_ai(("slow", {}), ("boom", {}))]})
    assert [m.status for m in _tool_messages(out)] == ["success", "error"]


def test_an_executors_hooks_see_every_async_call() -> None:
    seen: list[str] = []

    class Hooks(ExecutionHooks):
        def call_finished(self, result: ToolResult) -> None:
            seen.append(result.call_id)

    @lc_tool
    async def echo(text: str) -> str:
        """Echo."""
        return text

    graph = _graph(ToolNode([echo], executor=Executor([], hooks=[Hooks()])))
    out = _run(
        graph, "ainvoke", {"messages": [_ai(("echo", {"text": "a"}), ("echo", {"text": "b"}))]}
    )
    assert [m.content for m in _tool_messages(out)] == ["a", "b"]
    assert sorted(seen) == ["c0", "c1"]


def test_the_executor_option_and_its_conflicts() -> None:
    tools: list[BaseTool] = []
    executor = Executor([], max_concurrency=2)
    assert ToolNode(tools, executor=executor).executor is executor
    with pytest.raises(UserError, match="Executor passed as executor="):
        ToolNode(tools, executor=executor, timeout=3)
    with pytest.raises(UserError, match="executor must be a toolvolley Executor"):
        ToolNode(tools, executor="fast")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="max_concurrency"):
        ToolNode(tools, max_concurrency=0)


def test_bad_per_tool_options_are_a_user_error() -> None:
    @lc_tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    echo.metadata = {"toolvolley": {"retries": 3}}
    with pytest.raises(UserError, match=r"metadata\['toolvolley'\]"):
        ToolNode([echo])


def test_without_langgraph_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "toolvolley.langgraph")
    monkeypatch.setitem(sys.modules, "langgraph.prebuilt", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[langgraph\]'"):
        importlib.import_module("toolvolley.langgraph")
