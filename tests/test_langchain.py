"""toolvolley.langchain against the real create_agent: the calls of one model message share one
batch across LangGraph's per-call tasks, and LangChain tools run under toolvolley's executor.

The model is langchain_core's own GenericFakeChatModel, scripted with the messages it answers.
Order and overlap are forced with events; the only clock is the timeout under test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from langchain.agents import create_agent
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool
from langchain_core.tools import tool as lc_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, interrupt
from pydantic import BaseModel, ValidationError

from toolvolley import Executor, Hedge, Retry, ToolCall, UserError
from toolvolley.langchain import ToolvolleyMiddleware, tools_from_langchain


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # LangGraph runs on asyncio only


class ScriptedModel(GenericFakeChatModel):
    """GenericFakeChatModel answers from its script; create_agent binds tools to it first."""

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def calls_message(*calls: tuple[str, dict[str, Any]], prefix: str = "c") -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"id": f"{prefix}{i}", "name": name, "args": args, "type": "tool_call"}
            for i, (name, args) in enumerate(calls)
        ],
    )


def model(*messages: AIMessage) -> ScriptedModel:
    return ScriptedModel(messages=iter([*messages, AIMessage(content="done")]))


def tool_messages(output: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in output["messages"] if isinstance(m, ToolMessage)]


@pytest.mark.anyio
async def test_eight_calls_of_one_message_never_have_more_than_three_in_flight(
    anyio_backend: str,
) -> None:
    in_flight, peak = 0, 0
    started: list[int] = []
    gates = [anyio.Event() for _ in range(8)]
    new_start = anyio.Event()

    @lc_tool
    async def work(n: int) -> str:
        """Work on n."""
        nonlocal in_flight, peak, new_start
        in_flight += 1
        peak = max(peak, in_flight)
        started.append(n)
        new_start.set()
        await gates[n].wait()
        in_flight -= 1
        return f"done {n}"

    middleware = ToolvolleyMiddleware(max_concurrency=3)
    agent = create_agent(
        model(calls_message(*[("work", {"n": n}) for n in range(8)])),
        [work],
        middleware=[middleware],
    )
    output: dict[str, Any] = {}

    async def run() -> None:
        output.update(await agent.ainvoke({"messages": [HumanMessage("go")]}))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        for released in range(8):
            while len(started) < min(3 + released, 8):
                await new_start.wait()
                new_start = anyio.Event()
            await anyio.wait_all_tasks_blocked()  # a 4th call would have started by now
            assert in_flight == min(3, 8 - released)
            assert middleware.active_messages == 1
            gates[started[released]].set()

    assert peak == 3
    answers = tool_messages(output)
    assert [m.content for m in answers] == [f"done {n}" for n in range(8)]
    assert middleware.active_messages == 0


@pytest.mark.anyio
async def test_serial_runs_one_call_at_a_time_in_the_models_order(anyio_backend: str) -> None:
    log: list[str] = []

    @lc_tool
    async def step(name: str) -> str:
        """Do a step."""
        log.append(f"start {name}")
        for _ in range(5):  # give any other call every chance to start meanwhile
            await anyio.lowlevel.checkpoint()
        log.append(f"end {name}")
        return name

    agent = create_agent(
        model(calls_message(*[("step", {"name": x}) for x in "abcd"])),
        [step],
        middleware=[ToolvolleyMiddleware(mode="serial")],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    assert log == [f"{what} {x}" for x in "abcd" for what in ("start", "end")]
    assert [m.content for m in tool_messages(output)] == list("abcd")


@pytest.mark.anyio
@pytest.mark.parametrize("declared_by", ["middleware", "metadata"])
async def test_a_destructive_call_is_a_barrier_across_the_tasks(
    anyio_backend: str, declared_by: str
) -> None:
    log: list[str] = []

    @lc_tool
    async def read(name: str) -> str:
        """Read."""
        log.append(f"start {name}")
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        log.append(f"end {name}")
        return name

    async def delete_file(name: str) -> str:
        log.append(f"start {name}")
        log.append(f"end {name}")
        return name

    if declared_by == "metadata":  # as for toolvolley.langgraph.ToolNode
        metadata = {"toolvolley": {"destructive": True}}
        middleware = ToolvolleyMiddleware()
    else:
        metadata = {}
        middleware = ToolvolleyMiddleware(destructive=["delete"])
    delete = StructuredTool.from_function(
        coroutine=delete_file, name="delete", description="Delete.", metadata=metadata
    )
    agent = create_agent(
        model(
            calls_message(
                ("read", {"name": "r1"}),
                ("read", {"name": "r2"}),
                ("delete", {"name": "d"}),
                ("read", {"name": "r3"}),
            )
        ),
        [read, delete],
        middleware=[middleware],
    )
    await agent.ainvoke({"messages": [HumanMessage("go")]})
    d = log.index("start d")
    assert set(log[:d]) == {"start r1", "start r2", "end r1", "end r2"}
    assert log[d : d + 2] == ["start d", "end d"]


@pytest.mark.anyio
async def test_a_timeout_in_a_tools_metadata_holds_for_it_alone(anyio_backend: str) -> None:
    stuck = threading.Event()

    def wait(x: int) -> str:
        stuck.wait(30)
        return "late"

    hang = StructuredTool.from_function(
        wait, name="hang", description="Hang.", metadata={"toolvolley": {"timeout": 0.2}}
    )
    agent = create_agent(
        model(calls_message(("hang", {"x": 0}), ("fine", {"x": 1}))),
        [hang, fine],
        middleware=[ToolvolleyMiddleware()],
    )
    try:
        output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    finally:
        stuck.set()
    hung, ok = tool_messages(output)
    assert "did not finish within its 0.2 s timeout" in str(hung.content)
    assert (ok.content, ok.status) == ("fine 1", "success")


def test_tool_metadata_for_toolvolley_is_checked() -> None:
    bad = StructuredTool.from_function(
        lambda x: x, name="bad", description="Bad.", metadata={"toolvolley": {"speed": 9}}
    )
    agent = create_agent(
        model(calls_message(("bad", {"x": 1}))), [bad], middleware=[ToolvolleyMiddleware()]
    )
    with pytest.raises(UserError, match=r"metadata\['toolvolley'\] takes a dict"):
        agent.invoke({"messages": [HumanMessage("go")]})


@pytest.mark.anyio
async def test_a_hanging_sync_tool_times_out_while_its_siblings_finish(anyio_backend: str) -> None:
    stuck = threading.Event()

    @lc_tool
    def hang(x: int) -> str:
        """Never answers (until the test ends)."""
        stuck.wait(30)
        return "late"

    @lc_tool
    def quick(x: int) -> str:
        """Answers at once."""
        return f"quick {x}"

    middleware = ToolvolleyMiddleware(timeout=1)  # quick's too: long enough under load
    agent = create_agent(
        model(calls_message(("quick", {"x": 1}), ("hang", {"x": 0}), ("quick", {"x": 2}))),
        [hang, quick],
        middleware=[middleware],
    )
    try:
        output = await agent.ainvoke({"messages": [HumanMessage("go")]})
        assert middleware.abandoned_threads == 1  # toolvolley's thread, not the loop's pool
    finally:
        stuck.set()
    first, hung, last = tool_messages(output)
    assert (first.content, first.status) == ("quick 1", "success")
    assert (last.content, last.status) == ("quick 2", "success")
    assert hung.status == "error"
    assert hung.tool_call_id == "c1"
    assert "did not finish within its 1 s timeout" in str(hung.content)
    assert output["messages"][-1].content == "done"  # the model got its answers and went on
    assert middleware.active_messages == 0


@pytest.mark.anyio
async def test_sync_tools_under_ainvoke_all_run_at_once(anyio_backend: str) -> None:
    """40 sync calls meet at a barrier: more than any default thread pool of the event loop
    (at most 32 threads), where LangChain sends a sync tool under ainvoke."""
    barrier = threading.Barrier(40, timeout=30)

    @lc_tool
    def meet(n: int) -> str:
        """Wait for the others."""
        barrier.wait()
        return f"met {n}"

    agent = create_agent(
        model(calls_message(*[("meet", {"n": n}) for n in range(40)])),
        [meet],
        middleware=[ToolvolleyMiddleware()],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    assert [m.content for m in tool_messages(output)] == [f"met {n}" for n in range(40)]


def test_under_invoke_a_hanging_sync_tool_times_out_in_a_toolvolley_thread() -> None:
    stuck = threading.Event()
    threads: dict[str, str] = {}

    @lc_tool
    def hang(x: int) -> str:
        """Never answers (until the test ends)."""
        stuck.wait(30)
        return "late"

    @lc_tool
    def quick(x: int) -> str:
        """Answers at once."""
        threads[f"quick {x}"] = threading.current_thread().name
        return f"quick {x}"

    middleware = ToolvolleyMiddleware(timeout=1)  # quick's too: long enough under load
    agent = create_agent(
        model(calls_message(("quick", {"x": 1}), ("hang", {"x": 0}), ("quick", {"x": 2}))),
        [hang, quick],
        middleware=[middleware],
    )
    try:
        output = agent.invoke({"messages": [HumanMessage("go")]})
        assert middleware.abandoned_threads == 1
    finally:
        stuck.set()
    first, hung, last = tool_messages(output)
    assert [first.content, last.content] == ["quick 1", "quick 2"]
    assert hung.status == "error"
    assert "did not finish within its 1 s timeout" in str(hung.content)
    assert middleware.active_messages == 0


def test_under_invoke_max_concurrency_holds_across_langgraphs_threads() -> None:
    lock = threading.Lock()
    in_flight, peak = 0, 0
    crowded = threading.Event()

    @lc_tool
    def work(n: int) -> str:
        """Work on n."""
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight > 2:
                crowded.set()
        # Hold the place a while: LangGraph's threads have every chance to start a third call
        # (which ends the wait at once); the test never fails from waiting too little.
        crowded.wait(0.3)
        with lock:
            in_flight -= 1
        return f"done {n}"

    middleware = ToolvolleyMiddleware(max_concurrency=2)
    agent = create_agent(
        model(calls_message(*[("work", {"n": n}) for n in range(6)])),
        [work],
        middleware=[middleware],
    )
    output = agent.invoke({"messages": [HumanMessage("go")]})
    assert peak == 2
    assert [m.content for m in tool_messages(output)] == [f"done {n}" for n in range(6)]
    assert middleware.active_messages == 0


@pytest.mark.anyio
async def test_a_raising_tool_is_an_error_message_and_its_siblings_keep_theirs(
    anyio_backend: str,
) -> None:
    @lc_tool
    async def boom(x: int) -> str:
        """Fails."""
        raise ValueError("disk on fire")

    @lc_tool
    async def fine(x: int) -> str:
        """Works."""
        return f"fine {x}"

    agent = create_agent(
        model(calls_message(("fine", {"x": 1}), ("boom", {"x": 0}), ("fine", {"x": 2}))),
        [boom, fine],
        middleware=[ToolvolleyMiddleware()],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    first, failed, last = tool_messages(output)
    assert [first.content, last.content] == ["fine 1", "fine 2"]
    assert failed.status == "error"
    assert "ValueError: disk on fire" in str(failed.content)
    assert output["messages"][-1].content == "done"


@pytest.mark.anyio
async def test_without_the_middleware_the_same_raising_tool_ends_the_run(
    anyio_backend: str,
) -> None:
    """LangChain's own behaviour, which the middleware changes (see the README)."""

    @lc_tool
    async def boom(x: int) -> str:
        """Fails."""
        raise ValueError("disk on fire")

    agent = create_agent(model(calls_message(("boom", {"x": 0}))), [boom])
    with pytest.raises(ValueError, match="disk on fire"):
        await agent.ainvoke({"messages": [HumanMessage("go")]})


@pytest.mark.anyio
async def test_the_state_of_a_message_is_gone_once_its_calls_are_answered(
    anyio_backend: str,
) -> None:
    seen: list[int] = []
    middleware = ToolvolleyMiddleware(max_concurrency=2)

    @lc_tool
    async def look(n: int) -> str:
        """Look."""
        seen.append(middleware.active_messages)
        return str(n)

    agent = create_agent(
        model(
            calls_message(("look", {"n": 1}), ("look", {"n": 2}), prefix="first"),
            calls_message(("look", {"n": 3}), ("look", {"n": 4}), prefix="second"),
        ),
        [look],
        middleware=[middleware],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    assert [m.content for m in tool_messages(output)] == ["1", "2", "3", "4"]
    assert seen == [1, 1, 1, 1]  # one message at a time, the first one's state gone
    assert middleware.active_messages == 0


@lc_tool
async def ask(question: str) -> str:
    """Ask the human."""
    return f"the human said {interrupt(question)}"


@lc_tool
def ask_sync(question: str) -> str:
    """Ask the human."""
    return f"the human said {interrupt(question)}"


@lc_tool
async def fine(x: int) -> str:
    """Works."""
    return f"fine {x}"


@lc_tool
def fine_sync(x: int) -> str:
    """Works."""
    return f"fine {x}"


@pytest.mark.anyio
async def test_an_interrupt_in_a_tool_reaches_langgraph_and_the_call_resumes(
    anyio_backend: str,
) -> None:
    middleware = ToolvolleyMiddleware(max_concurrency=2)
    agent = create_agent(
        model(calls_message(("fine", {"x": 1}), ("ask", {"question": "ok?"}), ("fine", {"x": 2}))),
        [ask, fine],
        middleware=[middleware],
        checkpointer=InMemorySaver(),
    )
    config: RunnableConfig = {"configurable": {"thread_id": "1"}}
    paused = await agent.ainvoke({"messages": [HumanMessage("go")]}, config)
    assert [i.value for i in paused["__interrupt__"]] == ["ok?"]
    assert middleware.active_messages == 0
    output = await agent.ainvoke(Command(resume="yes"), config)
    assert [m.content for m in tool_messages(output)] == ["fine 1", "the human said yes", "fine 2"]
    assert middleware.active_messages == 0


def test_under_invoke_an_interrupt_in_a_sync_tool_reaches_langgraph() -> None:
    middleware = ToolvolleyMiddleware(timeout=10)
    agent = create_agent(
        model(calls_message(("ask_sync", {"question": "ok?"}), ("fine_sync", {"x": 2}))),
        [ask_sync, fine_sync],
        middleware=[middleware],
        checkpointer=InMemorySaver(),
    )
    config: RunnableConfig = {"configurable": {"thread_id": "1"}}
    paused = agent.invoke({"messages": [HumanMessage("go")]}, config)
    assert [i.value for i in paused["__interrupt__"]] == ["ok?"]
    output = agent.invoke(Command(resume="yes"), config)
    assert [m.content for m in tool_messages(output)] == ["the human said yes", "fine 2"]
    assert middleware.active_messages == 0


class Decision(BaseModel):
    approved: bool


@lc_tool
async def confirm(action: str) -> str:
    """Ask the human before acting."""
    decision = interrupt(action, response_schema=Decision)
    return f"{action}: approved={decision.approved}"


@pytest.mark.anyio
async def test_a_resume_value_the_interrupt_refuses_fails_the_resume_and_can_be_answered_again(
    anyio_backend: str,
) -> None:
    """As in LangChain: not the call's error result, which would end the interrupt."""
    agent = create_agent(
        model(calls_message(("confirm", {"action": "delete"}), ("fine", {"x": 2}))),
        [confirm, fine],
        middleware=[ToolvolleyMiddleware()],
        checkpointer=InMemorySaver(),
    )
    config: RunnableConfig = {"configurable": {"thread_id": "1"}}
    paused = await agent.ainvoke({"messages": [HumanMessage("go")]}, config)
    assert [i.value for i in paused["__interrupt__"]] == ["delete"]
    with pytest.raises(ValidationError):
        await agent.ainvoke(Command(resume={"approved": "perhaps"}), config)
    output = await agent.ainvoke(Command(resume={"approved": True}), config)
    assert [m.content for m in tool_messages(output)] == ["delete: approved=True", "fine 2"]


@pytest.mark.anyio
async def test_a_command_a_tool_returns_goes_to_langgraph_as_it_is(anyio_backend: str) -> None:
    @lc_tool
    async def remember(note: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command[Any]:
        """Remember a note."""
        message = ToolMessage(content=f"noted {note}", tool_call_id=tool_call_id)
        return Command(update={"messages": [message]})

    agent = create_agent(
        model(calls_message(("remember", {"note": "a"}), ("fine", {"x": 2}))),
        [remember, fine],
        middleware=[ToolvolleyMiddleware()],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    assert [m.content for m in tool_messages(output)] == ["noted a", "fine 2"]


@pytest.mark.anyio
async def test_retry_sends_again_only_the_tools_named_idempotent(anyio_backend: str) -> None:
    tries = {"lookup": 0, "charge": 0}

    async def flaky(name: str) -> str:
        tries[name] += 1
        if tries[name] == 1:
            raise ConnectionError("connection reset")
        return f"{name} ok"

    @lc_tool
    async def lookup(x: int) -> str:
        """Read a record."""
        return await flaky("lookup")

    @lc_tool
    async def charge(x: int) -> str:
        """Charge a card."""
        return await flaky("charge")

    agent = create_agent(
        model(calls_message(("lookup", {"x": 1}), ("charge", {"x": 2}))),
        [lookup, charge],
        middleware=[
            ToolvolleyMiddleware(idempotent=["lookup"], retry=Retry(attempts=2, backoff=0))
        ],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    looked, charged = tool_messages(output)
    assert (looked.content, looked.status) == ("lookup ok", "success")
    assert charged.status == "error"
    assert "ConnectionError: connection reset" in str(charged.content)
    assert tries == {"lookup": 2, "charge": 1}


@pytest.mark.anyio
async def test_two_runs_with_the_same_message_and_call_ids_do_not_share_a_batch(
    anyio_backend: str,
) -> None:
    """Message ids are not unique everywhere (a fake model's, a replayed conversation's): the
    calls of one message are the ones of the same LangGraph superstep."""
    started = 0
    all_in = anyio.Event()

    @lc_tool
    async def meet(n: int) -> str:
        """Wait for the other run's calls."""
        nonlocal started
        started += 1
        if started == 4:
            all_in.set()
        await all_in.wait()
        return f"met {n}"

    middleware = ToolvolleyMiddleware(max_concurrency=2)
    message = calls_message(("meet", {"n": 1}), ("meet", {"n": 2}))
    message.id = "same-id"
    outputs: list[dict[str, Any]] = []

    async def run() -> None:
        agent = create_agent(model(message.model_copy()), [meet], middleware=[middleware])
        outputs.append(await agent.ainvoke({"messages": [HumanMessage("go")]}))

    with anyio.fail_after(20):  # sharing one batch, each run's calls would wait for the other's
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            tg.start_soon(run)
    for output in outputs:
        assert [m.content for m in tool_messages(output)] == ["met 1", "met 2"]
    assert middleware.active_messages == 0


@pytest.mark.anyio
async def test_a_hedge_answers_a_stuck_idempotent_call(anyio_backend: str) -> None:
    copies = 0

    @lc_tool
    async def lookup(x: int) -> str:
        """Read a record."""
        nonlocal copies
        copies += 1
        if copies == 1:
            await anyio.sleep_forever()  # the first copy is stuck; the hedge answers
        return f"record {x}"

    agent = create_agent(
        model(calls_message(("lookup", {"x": 1}))),
        [lookup],
        middleware=[
            ToolvolleyMiddleware(idempotent=["lookup"], hedge=Hedge(after=0.05, max_share=1))
        ],
    )
    output = await agent.ainvoke({"messages": [HumanMessage("go")]})
    [answer] = tool_messages(output)
    assert (answer.content, answer.status) == ("record 1", "success")
    assert copies == 2


@pytest.mark.anyio
async def test_one_middleware_for_many_agents_keeps_one_entry_per_tool_name(
    anyio_backend: str,
) -> None:
    """A server that makes an agent (and its tools) per request with one middleware: what the
    middleware remembers of a tool does not grow with the requests, nor keeps old tools alive."""
    middleware = ToolvolleyMiddleware(timeout=5)
    for request in range(5):

        def echo(x: int, request: int = request) -> str:
            return f"{request}: {x}"

        tool = StructuredTool.from_function(echo, name="echo", description="Echo.")
        agent = create_agent(
            model(calls_message(("echo", {"x": 1}))), [tool], middleware=[middleware]
        )
        [answer] = tool_messages(await agent.ainvoke({"messages": [HumanMessage("go")]}))
        assert answer.content == f"{request}: 1"
    assert len(middleware._made) == 1
    assert len(middleware._stand_ins) == 1


def test_options_are_checked_when_the_middleware_is_made() -> None:
    with pytest.raises(UserError, match="max_concurrency"):
        ToolvolleyMiddleware(max_concurrency=0)
    with pytest.raises(UserError, match="mode"):
        ToolvolleyMiddleware(mode="fast")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="collection of tool names"):
        ToolvolleyMiddleware(destructive="delete")
    with pytest.raises(UserError, match="both destructive and read_only"):
        ToolvolleyMiddleware(destructive=["x"], read_only=["x"])


# --- LangChain tools as a toolvolley tool source ----------------------------------------------


class Shout(BaseTool):
    name: str = "shout"
    description: str = "Shout a word."

    def _run(self, word: str) -> str:
        return word.upper() + "!"


@pytest.mark.anyio
async def test_langchain_tools_run_under_toolvolleys_executor(anyio_backend: str) -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    async def echo(text: str) -> str:
        """Echo the text."""
        return text

    tools = tools_from_langchain(
        [
            StructuredTool.from_function(add),
            StructuredTool.from_function(coroutine=echo),
            Shout(),
        ]
    )
    assert [(t.name, t.is_async) for t in tools] == [
        ("add", False),
        ("echo", True),
        ("shout", False),
    ]
    assert tools[0].description == "Add two numbers."
    assert tools[0].parameters["required"] == ["a", "b"]
    [slow] = tools_from_langchain(
        [StructuredTool.from_function(add, metadata={"toolvolley": {"timeout": 5.0}})]
    )
    assert slow.timeout == 5.0
    results = await Executor(tools).run(
        [
            ToolCall("1", "add", '{"a": 2, "b": 3}'),
            ToolCall("2", "echo", '{"text": "hi"}'),
            ToolCall("3", "shout", '{"word": "hey"}'),
            ToolCall("4", "add", '{"a": "two"}'),
        ]
    )
    assert [(r.status, r.content) for r in results[:3]] == [
        ("ok", "5"),
        ("ok", "hi"),
        ("ok", "HEY!"),
    ]
    assert results[3].status == "invalid_arguments"


@pytest.mark.anyio
async def test_a_sync_langchain_tool_times_out_in_a_toolvolley_thread(anyio_backend: str) -> None:
    stuck = threading.Event()

    @lc_tool
    def hang(x: int) -> str:
        """Never answers (until the test ends)."""
        stuck.wait(30)
        return "late"

    executor = Executor(tools_from_langchain([hang]), timeout=0.2)
    try:
        [result] = await executor.run([ToolCall("1", "hang", '{"x": 1}')])
        assert result.status == "timeout"
        assert executor.abandoned_threads == 1
    finally:
        stuck.set()


def test_tools_from_langchain_takes_a_list_of_langchain_tools() -> None:
    @lc_tool
    def ping() -> str:
        """Ping."""
        return "pong"

    with pytest.raises(UserError, match=r"pass \[tool\]"):
        tools_from_langchain(ping)
    with pytest.raises(UserError, match="LangChain tools"):
        tools_from_langchain([print])  # type: ignore[list-item]


def test_the_module_exports_its_names() -> None:
    import toolvolley.langchain

    assert sorted(toolvolley.langchain.__all__) == ["ToolvolleyMiddleware", "tools_from_langchain"]
    for name in toolvolley.langchain.__all__:
        module = getattr(toolvolley.langchain, name).__module__
        assert module.startswith("toolvolley.langchain")


def test_missing_langchain_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    prefixes = ("langchain.", "toolvolley.langchain")
    for module in [m for m in sys.modules if m == "langchain" or m.startswith(prefixes)]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "langchain", None)  # makes `import langchain` fail
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[langchain\]'"):
        importlib.import_module("toolvolley.langchain")
