"""The same batches through toolvolley, LangGraph's ToolNode, LangChain's create_agent, Pydantic
AI and the OpenAI Agents SDK, in one run, each framework with its defaults and a fake model that
asks for N tool calls; then each framework again with toolvolley's adapter, the one change a
user makes (``toolvolley.langgraph.ToolNode``, ``ToolvolleyMiddleware``, the ``Toolvolley``
capability, ``function_tools``).

    make peers                                  # sets up .venv-peers and runs this
    .venv-peers/bin/python benchmarks/peers/run.py --repeat 3 --json
    .venv-peers/bin/python benchmarks/peers/run.py --only mcp --mcp-calls 16 --mcp-latency 0.1

Reported: wall time for the latency scenarios (the model is instant, so it is the time to run
the tools and return), microseconds per call for 1,000 no-op calls, and whether one failing
call lost its siblings' results. Then the same 64 MCP calls through each framework's MCP client
(``mcp_peers.py``). These frameworks are not dependencies of toolvolley.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from mcp_peers import PACKAGES as MCP_PACKAGES  # a sibling: run.py is run as a script
from mcp_peers import mcp_markdown, run_mcp_peers

import toolvolley


@dataclass(frozen=True)
class Batch:
    name: str
    kind: str  # "async", "sync" or "noop"
    latencies: tuple[float, ...]
    fail: int | None = None  # index of a call that raises


def batches(scale: float) -> list[Batch]:
    a = tuple(x * scale for x in (1.0, 1.5, 2.0))
    return [
        Batch(f"A: 3 async tools of {', '.join(f'{x:g}' for x in a)} s", "async", a),
        Batch(f"C: 32 sync tools of {0.5 * scale:g} s", "sync", (0.5 * scale,) * 32),
        Batch(f"E: 200 async tools of {0.1 * scale:g} s", "async", (0.1 * scale,) * 200),
        Batch("D: 1,000 async no-op tools", "noop", (0.0,) * 1000),
        Batch("F: 3 async calls, the middle one raises", "async", (0.01,) * 3, fail=1),
    ]


class Boom(Exception):
    pass


async def async_work(seconds: float, fail: bool = False) -> str:
    await asyncio.sleep(seconds)
    if fail:
        raise Boom("this call fails")
    return f"slept {seconds}"


def sync_work(seconds: float, fail: bool = False) -> str:
    time.sleep(seconds)
    if fail:
        raise Boom("this call fails")
    return f"slept {seconds}"


async def noop_work(seconds: float, fail: bool = False) -> str:
    return "ok"


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "async": async_work,
    "sync": sync_work,
    "noop": noop_work,
}


def call_args(batch: Batch) -> list[dict[str, Any]]:
    return [{"seconds": s, "fail": i == batch.fail} for i, s in enumerate(batch.latencies)]


# --- one runner per framework: returns how many calls came back with a result -----------------


async def run_toolvolley(batch: Batch) -> int:
    tool = toolvolley.tool(name="work", timeout=60)(FUNCTIONS[batch.kind])
    calls = [toolvolley.ToolCall(f"c{i}", "work", a) for i, a in enumerate(call_args(batch))]
    results = await toolvolley.Executor([tool]).run(calls)
    return sum(r.ok for r in results)


def langchain_tool(batch: Batch) -> Any:
    from langchain_core.tools import StructuredTool

    fn = FUNCTIONS[batch.kind]
    if batch.kind == "sync":
        return StructuredTool.from_function(func=fn, name="work", description="work")
    return StructuredTool.from_function(coroutine=fn, name="work", description="work")


def langchain_calls(batch: Batch) -> list[dict[str, Any]]:
    return [
        {"name": "work", "args": a, "id": f"c{i}", "type": "tool_call"}
        for i, a in enumerate(call_args(batch))
    ]


def _ok_tool_messages(messages: list[Any]) -> int:
    return sum(
        type(m).__name__ == "ToolMessage" and getattr(m, "status", "success") == "success"
        for m in messages
    )


async def run_langgraph(batch: Batch, node: type | None = None) -> int:
    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    calls = langchain_calls(batch)
    graph = StateGraph(MessagesState)  # ToolNode runs inside a graph, as it is used
    graph.add_node("tools", (node or ToolNode)([langchain_tool(batch)]))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    app = graph.compile()
    out = await app.ainvoke({"messages": [AIMessage(content="", tool_calls=calls)]})
    return _ok_tool_messages(out["messages"])


async def run_langgraph_toolvolley(batch: Batch) -> int:
    from toolvolley.langgraph import ToolNode  # the one change: this import

    return await run_langgraph(batch, node=ToolNode)


async def run_create_agent(batch: Batch, middleware: tuple[Any, ...] = ()) -> int:
    """LangChain's ``create_agent``: each call of the model's message is a ``Send`` of its own
    to the agent's ToolNode."""
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage

    class ScriptedModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    message = AIMessage(content="", tool_calls=langchain_calls(batch))
    model = ScriptedModel(messages=iter([message, AIMessage(content="done")]))
    agent = create_agent(model, [langchain_tool(batch)], middleware=middleware)
    out = await agent.ainvoke({"messages": [HumanMessage("go")]})
    return _ok_tool_messages(out["messages"])


async def run_create_agent_passthrough(batch: Batch) -> int:
    """``create_agent`` with a tool-call middleware that only calls on: what any middleware costs
    (the fair baseline for ``ToolvolleyMiddleware``)."""
    from langchain.agents.middleware import AgentMiddleware

    class PassThrough(AgentMiddleware):
        def wrap_tool_call(self, request: Any, handler: Any) -> Any:
            return handler(request)

        async def awrap_tool_call(self, request: Any, handler: Any) -> Any:
            return await handler(request)

    return await run_create_agent(batch, middleware=(PassThrough(),))


async def run_create_agent_toolvolley(batch: Batch) -> int:
    from toolvolley.langchain import ToolvolleyMiddleware  # the one change: this middleware

    return await run_create_agent(batch, middleware=(ToolvolleyMiddleware(),))


async def run_openai_agents(batch: Batch, adapter: bool = False) -> int:
    from agents import (
        Agent,
        FunctionTool,
        Model,
        ModelResponse,
        RunConfig,
        Runner,
        Usage,
        function_tool,
    )
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    args = call_args(batch)

    class FakeModel(Model):
        async def get_response(self, *a: Any, **k: Any) -> ModelResponse:
            items = a[1] if len(a) > 1 else k.get("input")
            answered = isinstance(items, list) and any(
                isinstance(i, dict) and i.get("type") == "function_call_output" for i in items
            )
            if answered:
                text = ResponseOutputText(type="output_text", text="done", annotations=[])
                message = ResponseOutputMessage(
                    id="m", type="message", role="assistant", status="completed", content=[text]
                )
                return ModelResponse(output=[message], usage=Usage(), response_id=None)
            output = [
                ResponseFunctionToolCall(
                    id=f"fc{i}", call_id=f"c{i}", type="function_call", name="work",
                    arguments=json.dumps(a),
                )
                for i, a in enumerate(args)
            ]  # fmt: skip
            return ModelResponse(output=output, usage=Usage(), response_id=None)

        def stream_response(self, *a: Any, **k: Any) -> Any:
            raise NotImplementedError

    if adapter:
        from toolvolley.agents import function_tools

        tools = function_tools([toolvolley.tool(name="work")(FUNCTIONS[batch.kind])])
    else:
        tool: FunctionTool = function_tool(FUNCTIONS[batch.kind], name_override="work")
        tools = [tool]
    agent = Agent(name="bench", tools=tools, model=FakeModel())
    result = await Runner.run(agent, "go", run_config=RunConfig(tracing_disabled=True))
    outputs = [i for i in result.new_items if type(i).__name__ == "ToolCallOutputItem"]
    return sum(_succeeded(getattr(o, "output", "")) for o in outputs)


async def run_openai_agents_toolvolley(batch: Batch) -> int:
    return await run_openai_agents(batch, adapter=True)  # function_tools for @function_tool


def _succeeded(output: Any) -> bool:
    return str(output).startswith(("slept", "ok"))


async def run_pydantic_ai(batch: Batch, capabilities: tuple[Any, ...] = ()) -> int:
    from pydantic_ai import Agent, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    args = call_args(batch)

    def model(messages: list[Any], info: Any) -> ModelResponse:
        last = messages[-1]
        if any(isinstance(p, ToolReturnPart) for p in getattr(last, "parts", [])):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(
            parts=[ToolCallPart("work", a, tool_call_id=f"c{i}") for i, a in enumerate(args)]
        )

    name = FUNCTIONS[batch.kind].__name__  # its tool is named after the function

    def named(messages: list[Any], info: Any) -> ModelResponse:
        response = model(messages, info)
        for part in response.parts:
            if isinstance(part, ToolCallPart):
                part.tool_name = name
        return response

    agent = Agent(
        FunctionModel(named),
        tools=[FUNCTIONS[batch.kind]],
        name="bench",
        capabilities=list(capabilities),
    )
    result = await agent.run("go")
    return sum(
        _succeeded(p.content)
        for m in result.all_messages()
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart)
    )


async def run_pydantic_ai_passthrough(batch: Batch) -> int:
    """An agent with a capability that wraps its tools in a toolset that only calls on: what
    any such capability costs (the fair baseline for ``Toolvolley()``)."""
    from pydantic_ai.capabilities import AbstractCapability
    from pydantic_ai.toolsets import AbstractToolset, WrapperToolset

    class PassThrough(AbstractCapability[Any]):
        @classmethod
        def get_serialization_name(cls) -> str | None:
            return None

        def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any]:
            return WrapperToolset(toolset)

    return await run_pydantic_ai(batch, capabilities=(PassThrough(),))


async def run_pydantic_ai_toolvolley(batch: Batch) -> int:
    from toolvolley.pydantic_ai import Toolvolley  # the one change: this capability

    return await run_pydantic_ai(batch, capabilities=(Toolvolley(),))


@dataclass(frozen=True)
class Runner:
    label: str  # the row's name in the table
    framework: str  # the PACKAGES key whose version the row shows
    run: Callable[[Batch], Awaitable[int]]
    baseline: str | None = None  # an adapter's row: the RUNNERS key of the framework's own


# Each framework with its own executor, then the same run with toolvolley's adapter.
RUNNERS: dict[str, Runner] = {
    "toolvolley": Runner("toolvolley `Executor`", "toolvolley", run_toolvolley),
    "langgraph": Runner("LangGraph `ToolNode`", "langgraph", run_langgraph),
    "langgraph+toolvolley": Runner(
        "LangGraph, `toolvolley.langgraph.ToolNode`",
        "langgraph",
        run_langgraph_toolvolley,
        baseline="langgraph",
    ),
    "create-agent": Runner("LangChain `create_agent`", "langchain", run_create_agent),
    "create-agent+passthrough": Runner(
        "LangChain `create_agent`, a pass-through middleware",
        "langchain",
        run_create_agent_passthrough,
    ),
    "create-agent+toolvolley": Runner(
        "LangChain `create_agent`, `ToolvolleyMiddleware()`",
        "langchain",
        run_create_agent_toolvolley,
        baseline="create-agent+passthrough",
    ),
    "pydantic-ai": Runner("Pydantic AI `Agent`", "pydantic-ai", run_pydantic_ai),
    "pydantic-ai+passthrough": Runner(
        "Pydantic AI, a pass-through capability", "pydantic-ai", run_pydantic_ai_passthrough
    ),
    "pydantic-ai+toolvolley": Runner(
        "Pydantic AI, `Toolvolley()` capability",
        "pydantic-ai",
        run_pydantic_ai_toolvolley,
        baseline="pydantic-ai+passthrough",
    ),
    "openai-agents": Runner("Agents SDK `@function_tool`", "openai-agents", run_openai_agents),
    "openai-agents+toolvolley": Runner(
        "Agents SDK, `function_tools()`",
        "openai-agents",
        run_openai_agents_toolvolley,
        baseline="openai-agents",
    ),
}
if importlib.util.find_spec("toolvolley.langchain") is None:  # on its own branch for now
    print("toolvolley.langchain is not importable: no ToolvolleyMiddleware row", file=sys.stderr)
    del RUNNERS["create-agent+toolvolley"]
PACKAGES = {
    "toolvolley": "toolvolley",
    "langgraph": "langgraph",
    "langchain": "langchain",
    "openai-agents": "openai-agents",
    "pydantic-ai": "pydantic-ai-slim",
}


def measure(runner: Callable[[Batch], Awaitable[int]], batch: Batch) -> tuple[float, int | str]:
    async def once() -> tuple[float, int | str]:
        started = time.perf_counter()
        try:
            ok = await runner(batch)
        except Exception as exc:  # a framework that lets one failure end the batch
            return time.perf_counter() - started, f"raised {type(exc).__name__}"
        return time.perf_counter() - started, ok

    return asyncio.run(once())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=("frameworks", "mcp"), help="one of the two tables")
    parser.add_argument("--mcp-calls", type=int, default=64)
    parser.add_argument("--mcp-latency", type=float, default=0.5)
    parser.add_argument("--no-mcp-fault", action="store_true", help="skip the MCP fault row")
    parser.add_argument("--mcp-fault-timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for batch in batches(args.scale) if args.only != "mcp" else []:
        print(f"  {batch.name}", file=sys.stderr)
        row: dict[str, Any] = {"batch": batch.name, "calls": len(batch.latencies)}
        for runner in RUNNERS.values():
            measure(runner.run, batch)  # warm up imports
        runs: dict[str, list[tuple[float, int | str]]] = {name: [] for name in RUNNERS}
        for _ in range(args.repeat):  # interleaved: a passing load falls on every runner alike
            for name, runner in RUNNERS.items():
                runs[name].append(measure(runner.run, batch))
        for name, measured in runs.items():
            wall = statistics.median(w for w, _ in measured)
            row[name] = {
                "wall_s": round(wall, 4),
                "us_per_call": round(wall / len(batch.latencies) * 1e6, 2),
                "results": measured[-1][1],
            }
        rows.append(row)
    mcp = None
    if args.only != "frameworks":
        mcp = run_mcp_peers(
            calls=args.mcp_calls,
            latency=args.mcp_latency,
            repeat=args.repeat,
            fault=not args.no_mcp_fault,
            fault_timeout=args.mcp_fault_timeout,
        )
    return {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "versions": {name: version(pkg) for name, pkg in {**PACKAGES, **MCP_PACKAGES}.items()},
        "repeat": args.repeat,
        "rows": rows,
        "mcp": mcp,
    }


def markdown(report: dict[str, Any]) -> str:
    tables = [frameworks_markdown(report)] if report["rows"] else []
    if report["mcp"]:
        tables.append(mcp_markdown(report["mcp"], report["versions"]))
    return "\n\n".join(tables)


def frameworks_markdown(report: dict[str, Any]) -> str:
    """One row per runner, one column per batch."""
    rows = report["rows"]
    lines = [
        "| | " + " | ".join(row["batch"] for row in rows) + " |",
        "|" + " --- |" * (len(rows) + 1),
    ]
    for name, runner in RUNNERS.items():
        label = f"{runner.label}, {runner.framework} {report['versions'][runner.framework]}"
        cells = [cell(row, name, runner.baseline) for row in rows]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell(row: dict[str, Any], name: str, baseline: str | None = None) -> str:
    """A runner's result for one batch; an adapter's also as a ratio to its framework's own
    row (``baseline``): what the adapter adds, the framework's own work per call aside."""
    got = row[name]
    own = row.get(baseline) if baseline is not None else None
    if own is not None and own["results"] != row["calls"]:
        own = None  # its framework lost results: no time to compare with
    if row["batch"].startswith("D") and got["results"] == row["calls"]:
        text = f"{got['us_per_call']:.1f} µs/call"
        return text if own is None else f"{text} ({got['wall_s'] / own['wall_s']:.2f}x own)"
    if row["batch"].startswith("F"):
        if isinstance(got["results"], int):
            return f"{got['results']} of {row['calls'] - 1} siblings kept"
        return f"{got['results']}: all results lost"
    if got["results"] != row["calls"]:
        return f"incomplete: {got['results']}"  # a timing would mean nothing
    text = f"{got['wall_s']:.3f} s ({got['wall_s'] / row['toolvolley']['wall_s']:.2f}x"
    if own is not None:
        text += f"; {got['wall_s'] / own['wall_s']:.2f}x own"
    return text + ")"


if __name__ == "__main__":
    report = main()
    print(json.dumps(report, indent=2) if "--json" in sys.argv else markdown(report))
