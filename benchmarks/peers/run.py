"""The same batches through toolvolley, LangGraph's ToolNode, the OpenAI Agents SDK and Pydantic
AI, in one run, each framework with its defaults and a fake model that asks for N tool calls.

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


async def run_langgraph(batch: Batch) -> int:
    from langchain_core.messages import AIMessage
    from langchain_core.tools import StructuredTool
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    fn = FUNCTIONS[batch.kind]
    tool = (
        StructuredTool.from_function(func=fn, name="work", description="work")
        if batch.kind == "sync"
        else StructuredTool.from_function(coroutine=fn, name="work", description="work")
    )
    calls = [
        {"name": "work", "args": a, "id": f"c{i}", "type": "tool_call"}
        for i, a in enumerate(call_args(batch))
    ]
    graph = StateGraph(MessagesState)  # ToolNode runs inside a graph, as it is used
    graph.add_node("tools", ToolNode([tool]))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    app = graph.compile()
    out = await app.ainvoke({"messages": [AIMessage(content="", tool_calls=calls)]})
    return sum(
        type(m).__name__ == "ToolMessage" and getattr(m, "status", "success") == "success"
        for m in out["messages"]
    )


async def run_openai_agents(batch: Batch) -> int:
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

    tool: FunctionTool = function_tool(FUNCTIONS[batch.kind], name_override="work")
    agent = Agent(name="bench", tools=[tool], model=FakeModel())
    result = await Runner.run(agent, "go", run_config=RunConfig(tracing_disabled=True))
    outputs = [i for i in result.new_items if type(i).__name__ == "ToolCallOutputItem"]
    return sum(_succeeded(getattr(o, "output", "")) for o in outputs)


def _succeeded(output: Any) -> bool:
    return str(output).startswith(("slept", "ok"))


async def run_pydantic_ai(batch: Batch) -> int:
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

    agent = Agent(FunctionModel(named), tools=[FUNCTIONS[batch.kind]], name="bench")
    result = await agent.run("go")
    return sum(
        _succeeded(p.content)
        for m in result.all_messages()
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart)
    )


RUNNERS: dict[str, Callable[[Batch], Awaitable[int]]] = {
    "toolvolley": run_toolvolley,
    "langgraph": run_langgraph,
    "openai-agents": run_openai_agents,
    "pydantic-ai": run_pydantic_ai,
}
PACKAGES = {
    "toolvolley": "toolvolley",
    "langgraph": "langgraph",
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
        row: dict[str, Any] = {"batch": batch.name, "calls": len(batch.latencies)}
        for name, runner in RUNNERS.items():
            print(f"  {batch.name}: {name}", file=sys.stderr)
            measure(runner, batch)  # warm up imports
            runs = [measure(runner, batch) for _ in range(args.repeat)]
            wall = statistics.median(w for w, _ in runs)
            row[name] = {
                "wall_s": round(wall, 4),
                "us_per_call": round(wall / len(batch.latencies) * 1e6, 2),
                "results": runs[-1][1],
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
    names = list(RUNNERS)
    head = "| batch | " + " | ".join(f"{n} {report['versions'][n]}" for n in names) + " |"
    lines = [head, "|" + " --- |" * (len(names) + 1)]
    for row in report["rows"]:
        cells = []
        for n in names:
            cell = row[n]
            if row["batch"].startswith("D") and cell["results"] == row["calls"]:
                cells.append(f"{cell['us_per_call']:.1f} µs/call")
            elif row["batch"].startswith("F"):
                got = cell["results"]
                cells.append(
                    f"{got} of {row['calls'] - 1} siblings kept"
                    if isinstance(got, int)
                    else f"{got}: all results lost"
                )
            elif cell["results"] != row["calls"]:
                cells.append(f"incomplete: {cell['results']}")  # a timing would mean nothing
            else:
                base = row["toolvolley"]["wall_s"]
                cells.append(f"{cell['wall_s']:.3f} s ({cell['wall_s'] / base:.2f}x)")
        lines.append(f"| {row['batch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    report = main()
    print(json.dumps(report, indent=2) if "--json" in sys.argv else markdown(report))
