"""create_agent with and without ToolvolleyMiddleware, on the batches of ``benchmarks/peers``.

    .venv/bin/python benchmarks/langchain_agent.py            # the README's table (median of 5)

One model message asks for every call of the batch (langchain_core's GenericFakeChatModel,
scripted); the agent runs them and the model answers "done". Wall time of ``ainvoke`` /
``invoke``, or microseconds per call for the no-op batch; F: what a raising call did to the turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from toolvolley.langchain import ToolvolleyMiddleware


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self


def sync_tool(seconds: float) -> BaseTool:
    def work(n: int) -> str:
        """Work."""
        time.sleep(seconds)
        return "ok"

    return StructuredTool.from_function(work)


def async_tool(seconds: float, fail: int | None = None) -> BaseTool:
    async def work(n: int) -> str:
        """Work."""
        if seconds:
            await asyncio.sleep(seconds)
        if n == fail:
            raise RuntimeError("Boom")
        return "ok"

    return StructuredTool.from_function(coroutine=work)


class PassThrough(AgentMiddleware):
    """What any tool-call middleware costs in create_agent (LangChain wraps each in a trace)."""

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return await handler(request)

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return handler(request)


MIDDLEWARE: dict[str, Callable[[], list[AgentMiddleware]]] = {
    "create_agent": list,
    "a pass-through middleware": lambda: [PassThrough()],
    "ToolvolleyMiddleware()": lambda: [ToolvolleyMiddleware()],
}


def agent(tool: BaseTool, calls: int, middleware: str) -> Any:
    message = AIMessage(
        content="",
        tool_calls=[
            {"id": f"c{i}", "name": tool.name, "args": {"n": i}, "type": "tool_call"}
            for i in range(calls)
        ],
    )
    model = ScriptedModel(messages=iter([message, AIMessage(content="done")]))
    return create_agent(model, [tool], middleware=MIDDLEWARE[middleware]())


async def timed(tool: BaseTool, calls: int, middleware: str, sync: bool) -> float:
    graph = agent(tool, calls, middleware)
    question = {"messages": [HumanMessage("go")]}
    start = time.perf_counter()
    if sync:
        await asyncio.to_thread(graph.invoke, question)
    else:
        await graph.ainvoke(question)
    return time.perf_counter() - start


async def raising(middleware: str) -> str:
    graph = agent(async_tool(0.05, fail=1), 3, middleware)
    try:
        output = await graph.ainvoke({"messages": [HumanMessage("go")]})
    except Exception as exc:
        return f"raised {exc}: all results lost"
    kept = [m for m in output["messages"] if isinstance(m, ToolMessage) and m.status == "success"]
    return f"{len(kept)} of 2 siblings kept"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON, not a Markdown table")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = args.repeat

    async def medians(tool: BaseTool, calls: int, sync: bool) -> list[float]:
        """One per variant, runs interleaved (the machine's load is shared)."""
        times: dict[str, list[float]] = {name: [] for name in MIDDLEWARE}
        for _ in range(repeat):
            for name in MIDDLEWARE:
                times[name].append(await timed(tool, calls, name, sync))
        return [statistics.median(t) for t in times.values()]

    rows: dict[str, list[str]] = {}
    for label, tool, calls, sync in [
        ("C: 32 sync tools of 0.5 s, ainvoke", sync_tool(0.5), 32, False),
        ("C: 32 sync tools of 0.5 s, invoke", sync_tool(0.5), 32, True),
        ("E: 200 async tools of 0.1 s, ainvoke", async_tool(0.1), 200, False),
    ]:
        rows[label] = [f"{t:.3f} s" for t in await medians(tool, calls, sync)]
    rows["D: 200 async no-op tools, ainvoke"] = [
        f"{t / 200 * 1e6:.0f} µs/call" for t in await medians(async_tool(0), 200, False)
    ]
    rows["F: 3 async calls, the middle one raises"] = [await raising(n) for n in MIDDLEWARE]
    if args.json:
        versions = {p: version(p) for p in ("langchain", "langgraph")}
        table = {label: dict(zip(MIDDLEWARE, cells, strict=True)) for label, cells in rows.items()}
        print(json.dumps({"versions": versions, "median_of": repeat, "rows": table}, indent=2))
        return
    print(f"langchain {version('langchain')}, langgraph {version('langgraph')}, median of {repeat}")
    print("| batch | " + " | ".join(MIDDLEWARE) + " |\n|" + " --- |" * (len(MIDDLEWARE) + 1))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    asyncio.run(main())
