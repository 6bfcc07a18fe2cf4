"""LangGraph's ToolNode against toolvolley's drop-in, on the batches of ``make peers``.

::

    python benchmarks/langgraph_node.py            # median of 3, about 30 s

Each node runs inside a one-node graph, as it is used, with its defaults, on batches C (32 sync
tools of 0.5 s), E (200 async tools of 0.1 s) and D (1,000 async no-op tools), through
``ainvoke`` and (C) ``invoke``. Wall time for C and E, microseconds per call for D.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from importlib.metadata import version
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode as LangGraphToolNode

from toolvolley.langgraph import ToolNode


async def _sleep(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "ok"


def _block(seconds: float) -> str:
    time.sleep(seconds)
    return "ok"


def _graph(node_class: type[LangGraphToolNode], kind: str) -> Any:
    if kind == "sync":
        tool = StructuredTool.from_function(func=_block, name="work", description="work")
    else:
        tool = StructuredTool.from_function(coroutine=_sleep, name="work", description="work")
    graph = StateGraph(MessagesState)
    graph.add_node("tools", node_class([tool]))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    return graph.compile()


def _message(latencies: list[float]) -> dict[str, Any]:
    calls = [
        {"name": "work", "args": {"seconds": s}, "id": f"c{i}", "type": "tool_call"}
        for i, s in enumerate(latencies)
    ]
    return {"messages": [AIMessage(content="", tool_calls=calls)]}


def _time(
    node_class: type[LangGraphToolNode], kind: str, latencies: list[float], how: str
) -> float:
    graph = _graph(node_class, kind)
    value = _message(latencies)
    start = time.perf_counter()
    out = graph.invoke(value) if how == "invoke" else asyncio.run(graph.ainvoke(value))
    elapsed = time.perf_counter() - start
    answered = [m for m in out["messages"] if isinstance(m, ToolMessage) and m.status == "success"]
    assert len(answered) == len(latencies)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON, not a Markdown table")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [
        ("C: 32 sync tools of 0.5 s, invoke", "sync", [0.5] * 32, "invoke", "s"),
        ("C: 32 sync tools of 0.5 s, ainvoke", "sync", [0.5] * 32, "ainvoke", "s"),
        ("E: 200 async tools of 0.1 s, ainvoke", "async", [0.1] * 200, "ainvoke", "s"),
        ("D: 1,000 async no-op tools, ainvoke", "async", [0.0] * 1000, "ainvoke", "us"),
    ]
    report: dict[str, dict[str, float]] = {}
    if not args.json:
        print(
            f"| batch | langgraph {version('langgraph')} ToolNode | "
            f"toolvolley.langgraph.ToolNode |\n| --- | --- | --- |"
        )
    for label, kind, latencies, how, unit in rows:
        cells = []
        figures = report[label] = {}
        for key, node_class in (("langgraph", LangGraphToolNode), ("toolvolley", ToolNode)):
            runs = [_time(node_class, kind, latencies, how) for _ in range(args.repeat)]
            median = statistics.median(runs)
            if unit == "us":
                figures[f"{key}_us_per_call"] = round(median / len(latencies) * 1e6, 1)
                cells.append(f"{median / len(latencies) * 1e6:.1f} µs/call")
            else:
                figures[f"{key}_s"] = round(median, 3)
                cells.append(f"{median:.3f} s")
        if not args.json:
            print(f"| {label} | {cells[0]} | {cells[1]} |")
    if args.json:
        print(json.dumps({"langgraph": version("langgraph"), "rows": report}, indent=2))


if __name__ == "__main__":
    main()
