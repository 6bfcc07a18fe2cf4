"""Faults on the LangGraph ToolNode's task path under ``ainvoke`` (``_langgraph_tasks.py``)."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest
from langchain_core.messages import AIMessage, ToolCall
from langchain_core.tools import tool as lc_tool
from langgraph.graph import START, MessagesState, StateGraph

from toolvolley import ExecutionHooks, Executor
from toolvolley.langgraph import ToolNode

WAIT = 10.0


class Stop(BaseException):
    """A tool's BaseException that is no Exception (as ``KeyboardInterrupt`` is)."""


def _ai(*names: str) -> AIMessage:
    calls = [ToolCall(name=n, args={}, id=f"c{i}", type="tool_call") for i, n in enumerate(names)]
    return AIMessage("", tool_calls=calls)


def _graph(node: ToolNode) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    return builder.compile()


def _tools(log: list[str], returned: list[bool]) -> list[Any]:
    raised = anyio.Event()

    @lc_tool
    async def stop() -> str:
        """Raises a BaseException."""
        raised.set()
        raise Stop("stop")

    @lc_tool
    async def slow() -> str:
        """Goes on for many steps after stop has raised; notes if the node returned meanwhile."""
        with anyio.fail_after(WAIT):
            await raised.wait()
        for _ in range(1000):
            await anyio.lowlevel.checkpoint()
            if returned:
                log.append("slow ran after the node returned")
                break
        log.append("slow finished")
        return "done"

    return [stop, slow]


@pytest.mark.parametrize(
    "hooked",
    [
        pytest.param(True, id="batch"),
        pytest.param(False, id="tasks"),
    ],
)
def test_a_tool_raising_a_base_exception_leaves_no_sibling_running(hooked: bool) -> None:
    """The node raises what the tool raised only once every other call has finished, as the
    batch path does (``_run_jobs``): nothing of the message runs after the node has returned."""
    log: list[str] = []
    returned: list[bool] = []
    executor = Executor(hooks=[ExecutionHooks()] if hooked else [])
    graph = _graph(ToolNode(_tools(log, returned), executor=executor))

    async def main() -> None:
        try:
            await graph.ainvoke({"messages": [_ai("slow", "stop")]})
        except BaseException as exc:  # the Stop, maybe in a group
            log.append(f"raised {type(exc).__name__}")
        returned.append(True)
        for _ in range(2000):  # what still runs after the node returned
            await anyio.lowlevel.checkpoint()

    anyio.run(main)
    assert log == ["slow finished", "raised Stop"]
