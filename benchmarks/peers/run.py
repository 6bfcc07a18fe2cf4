"""The same batches through toolvolley, LangGraph's ToolNode, LangChain's create_agent, Pydantic
AI and the OpenAI Agents SDK, in one run, each framework with its defaults and a fake model that
asks for N tool calls; then each framework again with toolvolley's adapter, the one change a
user makes (``toolvolley.langgraph.ToolNode``, ``ToolvolleyMiddleware``, the ``Toolvolley``
capability, ``function_tools``).

    make peers                                  # sets up .venv-peers and runs this
    .venv-peers/bin/python benchmarks/peers/run.py --repeat 3 --json
    .venv-peers/bin/python benchmarks/peers/run.py --only mcp --mcp-calls 16 --mcp-latency 0.1

Reported: wall time for the latency scenarios (the model is instant, so it is the time to run
the tools and return), microseconds per call for 1,000 no-op calls (D), and whether one failing
call lost its siblings' results. Then the same 64 MCP calls through each framework's MCP client
(``mcp_peers.py``). These frameworks are not dependencies of toolvolley.

How D is measured, so that its rows compare like with like:

* **The same garbage-collector state for every row.** With LangChain loaded the process holds
  about 300,000 tracked objects, so a full collection takes 100-250 ms: one falling in a row's
  turn adds that much to its 1,000 calls. Whether one falls depends on the collector's counters
  when the run starts (what earlier runs left) and on how many objects the run keeps alive. Each
  timed run therefore starts right after ``gc.collect()``: every row starts from the same
  counters, and a full collection happens in a run only if that run's own objects call for one.
  The collector stays on during the run (the real cost: a runner that keeps more objects alive
  per call pays for collections a leaner one does not); the time it took (``gc.callbacks``) and
  the number of full collections are reported beside the run's wall time.
* **Both with and without collections.** A full collection comes once the objects that survived
  younger ones since the last exceed a quarter of those that survived it, so the number a run
  makes is a step of the objects it keeps alive: a runner just past a step pays one more full
  collection (100-250 ms) than one just short of it, and rows near a step (``create_agent``'s)
  can differ by one between rounds. An adapter's cell therefore gives two ratios to its
  framework's own row: wall time (collections included: what a user waits for in such a run) and
  CPU time minus collection time (the work itself, which no step moves). The number of objects a
  call keeps alive is what decides collections over many runs.
* **Rows alternate.** Every round runs every row; odd rounds in the reverse order, so a load
  passing on the machine falls on each row alike. Each cell is the median of the rounds
  (``--d-repeat``, 5 by default; ``--repeat`` for the latency scenarios).
* **CPU time beside wall time** (``time.process_time``, every thread of the process): on a
  shared machine wall time also counts what other processes took; CPU time does not.

``--batches D`` and ``--runners`` run a part of the table, e.g. the D rows of one framework::

    .venv-peers/bin/python benchmarks/peers/run.py --only frameworks --batches D \
        --runners langgraph,langgraph+toolvolley --d-repeat 9
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
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


async def run_pydantic_ai(
    batch: Batch, capabilities: tuple[Any, ...] = (), wrap: Callable[[Any], Any] | None = None
) -> int:
    """``wrap``: what to make of the agent's toolset (its one function), given as its only one."""
    from pydantic_ai import Agent, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.toolsets import FunctionToolset

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

    function = FUNCTIONS[batch.kind]
    agent = Agent(
        FunctionModel(named),
        tools=[function] if wrap is None else [],
        toolsets=[] if wrap is None else [wrap(FunctionToolset([function]))],
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


async def run_pydantic_ai_toolset(batch: Batch) -> int:
    """The agent's tools as a toolset wrapped in ``ToolvolleyToolset``: no capability, so
    none of Pydantic AI's per-call capability dispatch."""
    from toolvolley.pydantic_ai import ToolvolleyToolset

    return await run_pydantic_ai(batch, wrap=ToolvolleyToolset)


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
    "pydantic-ai+toolset": Runner(
        "Pydantic AI, `ToolvolleyToolset` (no capability)",
        "pydantic-ai",
        run_pydantic_ai_toolset,
        baseline="pydantic-ai",
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


@dataclass(frozen=True)
class Measured:
    """One timed run: its wall and CPU seconds, the garbage collector's share of them, and how
    many calls came back with a result (or what the runner raised)."""

    wall: float
    cpu: float
    gc: float  # seconds spent in garbage collection during the run
    full_collections: int
    results: int | str


class _Collections:
    """Time spent in garbage collection and full collections made, while counting."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def reset(self) -> None:
        self.seconds = 0.0
        self.full = 0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2


COLLECTIONS = _Collections()


def measure(runner: Callable[[Batch], Awaitable[int]], batch: Batch) -> Measured:
    """One timed run of ``runner``, from the same garbage-collector state as every other."""

    async def once() -> int | str:
        try:
            return await runner(batch)
        except Exception as exc:  # a framework that lets one failure end the batch
            return f"raised {type(exc).__name__}"

    gc.collect()  # every run starts with the collector's counters at zero
    COLLECTIONS.reset()
    cpu = time.process_time()
    started = time.perf_counter()
    results = asyncio.run(once())
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return Measured(wall, cpu, COLLECTIONS.seconds, COLLECTIONS.full, results)


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
    parser.add_argument(
        "--d-repeat", type=int, default=5, help="rounds of the no-op batch D (it is short)"
    )
    parser.add_argument("--batches", default="ACEDF", help="which batches, by letter: 'D'")
    parser.add_argument(
        "--runners", help="which rows, by name, comma-separated: " + ",".join(RUNNERS)
    )
    args = parser.parse_args(argv)
    runners = RUNNERS
    if args.runners:
        unknown = set(args.runners.split(",")) - set(RUNNERS)
        if unknown:
            parser.error(f"no runner {', '.join(sorted(unknown))}; known: {', '.join(RUNNERS)}")
        runners = {name: RUNNERS[name] for name in args.runners.split(",")}
    rows: list[dict[str, Any]] = []
    chosen = [b for b in batches(args.scale) if b.name[0] in args.batches.upper()]
    for batch in chosen if args.only != "mcp" else []:
        print(f"  {batch.name}", file=sys.stderr)
        row: dict[str, Any] = {"batch": batch.name, "calls": len(batch.latencies)}
        for runner in runners.values():
            measure(runner.run, batch)  # warm up imports
        runs: dict[str, list[Measured]] = {name: [] for name in runners}
        repeat = args.d_repeat if batch.kind == "noop" else args.repeat
        order = list(runners)
        for round_ in range(repeat):  # alternated: a passing load falls on every runner alike
            for name in order if round_ % 2 == 0 else reversed(order):
                runs[name].append(measure(runners[name].run, batch))
        for name, measured in runs.items():
            wall = statistics.median(m.wall for m in measured)
            cpu = statistics.median(m.cpu for m in measured)
            row[name] = {
                "wall_s": round(wall, 4),
                "cpu_s": round(cpu, 4),
                "us_per_call": round(wall / len(batch.latencies) * 1e6, 2),
                "cpu_us_per_call": round(cpu / len(batch.latencies) * 1e6, 2),
                "gc_s": round(statistics.median(m.gc for m in measured), 4),
                "full_collections": [m.full_collections for m in measured],
                "walls_s": [round(m.wall, 4) for m in measured],
                "results": measured[-1].results,
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
        "d_repeat": args.d_repeat,
        "runners": list(runners),
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
    for name in report["runners"]:
        runner = RUNNERS[name]
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
        full = sorted(set(got["full_collections"]))
        fulls = f"{full[0]}" if len(full) == 1 else f"{full[0]}-{full[-1]}"
        text = (
            f"{got['us_per_call']:.0f} µs/call, CPU {got['cpu_us_per_call']:.0f} "
            f"(GC {got['gc_s'] / row['calls'] * 1e6:.0f}, {fulls} full)"
        )
        if own is None:
            return text
        work, own_work = got["cpu_s"] - got["gc_s"], own["cpu_s"] - own["gc_s"]
        return (
            f"{text} ({got['wall_s'] / own['wall_s']:.2f}x own; {work / own_work:.2f}x without GC)"
        )
    if row["batch"].startswith("F"):
        if isinstance(got["results"], int):
            return f"{got['results']} of {row['calls'] - 1} siblings kept"
        return f"{got['results']}: all results lost"
    if got["results"] != row["calls"]:
        return f"incomplete: {got['results']}"  # a timing would mean nothing
    ratios = []
    if "toolvolley" in row:  # not with --runners leaving it out
        ratios.append(f"{got['wall_s'] / row['toolvolley']['wall_s']:.2f}x")
    if own is not None:
        ratios.append(f"{got['wall_s'] / own['wall_s']:.2f}x own")
    return f"{got['wall_s']:.3f} s" + (f" ({'; '.join(ratios)})" if ratios else "")


if __name__ == "__main__":
    report = main()
    print(json.dumps(report, indent=2) if "--json" in sys.argv else markdown(report))
