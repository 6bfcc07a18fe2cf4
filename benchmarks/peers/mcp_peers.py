"""The same 64 MCP calls through toolvolley, the bare MCP SDK, the OpenAI Agents SDK's MCP
client and Pydantic AI's, over stdio and over streamable HTTP on 127.0.0.1.

The server is toolvolley's MCP benchmark server (``toolvolley/bench/_mcp_server.py``, written
with the MCP SDK's server API; its ``sleep`` tool awaits ``seconds``). Over stdio each client
starts its own process of it; over HTTP all four call one process under uvicorn. Each client is
opened once per transport and called as its framework calls it:

* toolvolley: ``toolvolley.mcp.MCPServer`` and one ``Executor.run`` of the 64 calls;
* mcp-sdk (the floor): one ``mcp.ClientSession``, ``asyncio.gather`` of ``session.call_tool``;
* openai-agents: ``agents.mcp.MCPServerStdio`` / ``MCPServerStreamableHttp``, ``call_tool``
  gathered, as the Agents SDK's runner runs parallel tool calls (``MCPUtil.invoke_mcp_tool``);
* pydantic-ai: ``pydantic_ai.mcp.MCPToolset`` (2.x replaced ``MCPServerStdio`` and
  ``MCPServerStreamableHTTP`` with it), ``direct_call_tool`` gathered, as its agent does.

Gathered calls use ``return_exceptions=True``: the frameworks' runners turn one call's
exception into that call's result, so one failure never hides the others on its own.

A client is first called twice with 8 calls (the first warms it up); if the second shows it
would need more than ``SLOW_S`` for the whole batch it is measured once instead of ``repeat``
times, and if more than ``BOUND_S`` it is not run at all and its time is extrapolated from the 8.

The fault row: a client opened with a 2 s request timeout gets 63 calls of 0.5 s and one call
that hangs (sleeps ``HANG_S``); kept is how many of the 63 came back with a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

import toolvolley
from toolvolley.bench._mcp import SERVER, _http_server  # the MCP benchmark's own server
from toolvolley.mcp import MCPServer

CLIENTS = ("toolvolley", "mcp-sdk", "openai-agents", "pydantic-ai")
PACKAGES = {
    "toolvolley": "toolvolley",
    "mcp-sdk": "mcp",
    "openai-agents": "openai-agents",
    "pydantic-ai": "pydantic-ai-slim",
}
TRANSPORTS = ("stdio", "http")
PROBE = 8  # calls in the first, warming batch that decides how often to measure
SLOW_S = 10.0  # a batch predicted to take longer is measured once
BOUND_S = 60.0  # a batch predicted to take longer is not run: extrapolated from PROBE calls
HANG_S = 30.0  # the hanging call of the fault row (bounded, so nothing waits forever)
# 2 s, not 1: on a shared 2-core machine 64 HTTP calls of 0.5 s took up to 1.05 s, so a 1 s
# timeout also cut healthy calls, and the row would not tell what the hanging call did.
FAULT_TIMEOUT_S = 2.0

# One batch: the arguments of each call, in; per call True (a result) or what it raised, out.
Batch = Callable[[list[dict[str, Any]]], Awaitable[list[bool | str]]]


def _outcome(value: Any) -> bool | str:
    if isinstance(value, BaseException):
        return type(value).__name__
    return not getattr(value, "is_error", False)


async def _gathered(call: Callable[[dict[str, Any]], Awaitable[Any]], args: list[dict[str, Any]]):
    done = await asyncio.gather(*(call(a) for a in args), return_exceptions=True)
    return [_outcome(d) for d in done]


# --- one opener per client: an async context yielding a Batch --------------------------------


@contextlib.asynccontextmanager
async def open_toolvolley(
    transport: str, url: str, request_timeout: float | None
) -> AsyncIterator[Batch]:
    server = MCPServer.stdio(SERVER[0], SERVER[1:]) if transport == "stdio" else MCPServer.http(url)
    async with server:
        executor = toolvolley.Executor(await server.tools(), timeout=request_timeout)

        async def batch(args: list[dict[str, Any]]) -> list[bool | str]:
            calls = [toolvolley.ToolCall(f"c{i}", "sleep", a) for i, a in enumerate(args)]
            return [r.ok or str(r.status) for r in await executor.run(calls)]

        yield batch


@contextlib.asynccontextmanager
async def open_mcp_sdk(
    transport: str, url: str, request_timeout: float | None
) -> AsyncIterator[Batch]:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    streams: Any = (
        stdio_client(StdioServerParameters(command=SERVER[0], args=SERVER[1:]))
        if transport == "stdio"
        else streamable_http_client(url)
    )
    async with streams as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(a: dict[str, Any]) -> Any:
            return await session.call_tool("sleep", a, read_timeout_seconds=request_timeout)

        yield lambda args: _gathered(call, args)


@contextlib.asynccontextmanager
async def open_openai_agents(
    transport: str, url: str, request_timeout: float | None
) -> AsyncIterator[Batch]:
    from agents.mcp import MCPServerStdio, MCPServerStreamableHttp

    # Its defaults (client_session_timeout_seconds=5) unless the fault row sets a timeout.
    options: dict[str, Any] = (
        {} if request_timeout is None else {"client_session_timeout_seconds": request_timeout}
    )
    server: Any = (
        MCPServerStdio(params={"command": SERVER[0], "args": SERVER[1:]}, **options)
        if transport == "stdio"
        else MCPServerStreamableHttp(params={"url": url}, **options)
    )
    async with server:
        await server.list_tools()  # the runner lists the tools before it calls them

        async def call(a: dict[str, Any]) -> Any:
            return await server.call_tool("sleep", a)

        yield lambda args: _gathered(call, args)


@contextlib.asynccontextmanager
async def open_pydantic_ai(
    transport: str, url: str, request_timeout: float | None
) -> AsyncIterator[Batch]:
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    # Its defaults (read_timeout=300) unless the fault row sets a timeout.
    options: dict[str, Any] = {} if request_timeout is None else {"read_timeout": request_timeout}
    # A stdio server as its own load_mcp_toolsets builds one; a URL as its docs show.
    client: Any = (
        StdioTransport(command=SERVER[0], args=SERVER[1:]) if transport == "stdio" else url
    )
    async with MCPToolset(client, **options) as toolset:
        await toolset.list_tools()

        async def call(a: dict[str, Any]) -> Any:
            return await toolset.direct_call_tool("sleep", a)

        yield lambda args: _gathered(call, args)


OPENERS = {
    "toolvolley": open_toolvolley,
    "mcp-sdk": open_mcp_sdk,
    "openai-agents": open_openai_agents,
    "pydantic-ai": open_pydantic_ai,
}


async def _timed(batch: Batch, args: list[dict[str, Any]]) -> tuple[float, list[bool | str]]:
    started = time.perf_counter()
    outcomes = await batch(args)
    return time.perf_counter() - started, outcomes


async def _measure_transport(
    transport: str,
    url: str,
    calls: int,
    latency: float,
    repeat: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    args = [{"seconds": latency}] * calls
    out: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        batches = {
            name: await stack.enter_async_context(OPENERS[name](transport, url, None))
            for name in CLIENTS
        }
        rounds: dict[str, int] = {}
        for name, batch in batches.items():
            for _ in range(2):  # the first warms up: connections, the server's first calls
                with anyio.fail_after(PROBE * latency * 2 + 30):
                    probe_s, _ = await _timed(batch, args[:PROBE])
            predicted = probe_s * calls / PROBE if probe_s > 2 * latency else probe_s
            out[name] = {"probe_s": round(probe_s, 4), "predicted_s": round(predicted, 2)}
            rounds[name] = 0 if predicted > BOUND_S else 1 if predicted > SLOW_S else repeat
            progress(f"mcp {transport}: {name} probe {probe_s:.2f} s")
        walls: dict[str, list[float]] = {name: [] for name in CLIENTS}
        outcomes: dict[str, list[bool | str]] = {}
        for round_ in range(repeat):  # who goes first rotates: nobody inherits another's wake
            order = CLIENTS[round_ % len(CLIENTS) :] + CLIENTS[: round_ % len(CLIENTS)]
            for name in order:
                if round_ >= rounds[name]:
                    continue
                with anyio.fail_after(BOUND_S * 1.5):
                    wall, outcomes[name] = await _timed(batches[name], args)
                walls[name].append(wall)
            progress(f"mcp {transport}: round {round_ + 1}")
        for name in CLIENTS:
            cell = out[name]
            cell["runs"] = len(walls[name])
            if walls[name]:
                wall = statistics.median(walls[name])
                cell["wall_s"] = round(wall, 4)
                cell["efficiency"] = round(latency / wall, 3)
                cell["results"] = sum(o is True for o in outcomes[name])
            else:
                cell["efficiency"] = round(latency / cell["predicted_s"], 3)
    return out


async def _fault(
    transport: str,
    url: str,
    calls: int,
    latency: float,
    fault_timeout: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    hung = calls // 2
    args = [{"seconds": HANG_S if i == hung else latency} for i in range(calls)]
    out: dict[str, Any] = {}
    for name in CLIENTS:
        async with OPENERS[name](transport, url, fault_timeout) as batch:
            with anyio.fail_after(HANG_S + BOUND_S):
                wall, outcomes = await _timed(batch, args)
        others = outcomes[:hung] + outcomes[hung + 1 :]
        out[name] = {
            "wall_s": round(wall, 3),
            "kept": sum(o is True for o in others),
            "of": calls - 1,
            "hung_call": outcomes[hung],
            "others_failed_with": sorted({o for o in others if o is not True}),
        }
        progress(f"mcp {transport} fault: {name} {wall:.2f} s")
    return out


def run_mcp_peers(
    *,
    calls: int = 64,
    latency: float = 0.5,
    repeat: int = 3,
    fault: bool = True,
    fault_timeout: float = FAULT_TIMEOUT_S,
    progress: Callable[[str], None] = lambda step: print(f"  {step}", file=sys.stderr),
) -> dict[str, Any]:
    """Each transport's figures and fault row; see the module docstring."""
    report: dict[str, Any] = {
        "calls": calls,
        "latency_s": latency,
        "repeat": repeat,
        "fault_timeout_s": fault_timeout,
    }
    with _http_server() as url:

        async def main() -> None:
            for transport in TRANSPORTS:
                report[transport] = await _measure_transport(
                    transport, url, calls, latency, repeat, progress
                )
                if fault:
                    report[f"{transport}_fault"] = await _fault(
                        transport, url, calls, latency, fault_timeout, progress
                    )

        asyncio.run(main())
    return report


def _cell(cell: dict[str, Any], repeat: int) -> str:
    if "wall_s" not in cell:
        return (
            f"not run: {PROBE} calls took {cell['probe_s']:.2f} s, so ~{cell['predicted_s']:.0f} s"
        )
    runs = "" if cell["runs"] == repeat else f" ({cell['runs']} run)"
    return f"{cell['wall_s']:.3f} s, eff. {cell['efficiency']:.3f}{runs}"


def _fault_cell(cell: dict[str, Any]) -> str:
    failed = (
        f"; the others: {', '.join(cell['others_failed_with'])}"
        if cell["others_failed_with"]
        else ""
    )
    hung = "timed out" if cell["hung_call"] is not True else "answered (no timeout)"
    return f"{cell['kept']} of {cell['of']} kept, {cell['wall_s']:.1f} s ({hung}{failed})"


def mcp_markdown(report: dict[str, Any], versions: dict[str, str]) -> str:
    calls, latency = report["calls"], report["latency_s"]
    head = "| MCP transport | " + " | ".join(f"{n} {versions[n]}" for n in CLIENTS) + " |"
    lines = [head, "|" + " --- |" * (len(CLIENTS) + 1)]
    for transport in TRANSPORTS:
        label = "stdio" if transport == "stdio" else "streamable HTTP"
        row = report[transport]
        cells = [_cell(row[n], report["repeat"]) for n in CLIENTS]
        lines.append(f"| {label}: {calls} calls of {latency:g} s | " + " | ".join(cells) + " |")
        if f"{transport}_fault" in report:
            row = report[f"{transport}_fault"]
            cells = [_fault_cell(row[n]) for n in CLIENTS]
            lines.append(
                f"| {label}, F: one call hangs, {report['fault_timeout_s']:g} s timeout | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)
