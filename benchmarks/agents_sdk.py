"""The OpenAI Agents SDK running one model response's calls: its own ``function_tool`` against
``toolvolley.agents.function_tools``, the same agent and ``Runner.run``.

The model is the SDK's ``agents.testing.ScriptedModel`` (one response with every call, then a
text answer), so the figures are the tool calls and the run's overhead, no network. Prints one
JSON report, each figure the best of ``--repeat`` runs::

    python benchmarks/agents_sdk.py

* ``sync_32x0.5s``: 32 calls of a sync tool that blocks 0.5 s (the SDK runs sync tools on the
  event loop's default thread pool, ``min(32, cores + 4)`` threads).
* ``per_call_us``: 200 calls of an async tool that returns at once, microseconds per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from agents import Agent, RunConfig, Runner, function_tool
from agents import Tool as AgentsTool
from agents.testing import ScriptedModel, assistant_message, function_call

from toolvolley import tool
from toolvolley.agents import function_tools


def block(n: int) -> str:
    """Blocks for half a second."""
    time.sleep(0.5)
    return str(n)


async def instant(n: int) -> str:
    """Returns at once."""
    return str(n)


async def run_once(tools: list[AgentsTool], name: str, calls: int) -> float:
    response = [function_call(name, {"n": i}, call_id=f"c{i}") for i in range(calls)]
    model = ScriptedModel([response, [assistant_message("done")]])
    agent = Agent(name="bench", model=model, tools=tools)
    started = time.perf_counter()
    await Runner.run(agent, "go", run_config=RunConfig(tracing_disabled=True))
    return time.perf_counter() - started


def best(make: Callable[[], list[AgentsTool]], name: str, calls: int, repeat: int) -> float:
    return min(asyncio.run(run_once(make(), name, calls)) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sdk: dict[str, Callable[[], list[AgentsTool]]] = {
        "block": lambda: [function_tool(block)],
        "instant": lambda: [function_tool(instant)],
    }
    ours: dict[str, Callable[[], list[AgentsTool]]] = {
        "block": lambda: function_tools([tool(block)]),
        "instant": lambda: function_tools([tool(instant)]),
    }
    report: dict[str, Any] = {}
    empty = best(list, "none", 0, args.repeat)  # the run without calls
    for label, tools in (("agents_sdk", sdk), ("toolvolley", ours)):
        many = best(tools["instant"], "instant", 200, args.repeat)
        report[label] = {
            "sync_32x0.5s": round(best(tools["block"], "block", 32, args.repeat), 3),
            "per_call_us": round((many - empty) / 200 * 1e6, 1),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
