"""MCP benchmark: toolvolley's executor over an MCP session against the MCP SDK by itself.

The server is ``toolvolley/bench/_mcp_server.py``, written with the SDK's server API: over
stdio each client starts its own process of it (stdio is one client per process), over
streamable HTTP both clients call one process under uvicorn. Measured in one run, median of
``repeat``, the two variants back to back (which goes first alternates):

* ``wall_s``: ``calls`` calls of a tool that sleeps ``latency`` seconds, as one toolvolley batch
  on :class:`~toolvolley.mcp.MCPServer`;
* ``bare_sdk_wall_s``: the same calls gathered on the SDK's own ``ClientSession``
  (``asyncio.gather`` of ``session.call_tool``), nothing else;
* ``ideal_s`` is ``latency`` (every call at once), ``efficiency`` ideal over wall, and
  ``ratio_to_bare`` wall over the bare SDK's.

``overhead_us_per_call``: what toolvolley adds to a call, in microseconds. ``mcp``: ``noops``
no-op MCP calls over stdio, toolvolley's wall time minus the bare SDK's, per call. ``python``:
``noops`` no-op Python tools, toolvolley's time minus a bare ``asyncio.gather``, per call (as
in scenario D of the executor benchmark).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio

from .._calls import ToolCall
from .._executor import Executor
from ._executor import measure_overhead

__all__ = ["run_mcp_benchmark"]

# Run by path: a stdio server gets a minimal environment, and needs nothing of toolvolley.
SERVER = [sys.executable, str(Path(__file__).with_name("_mcp_server.py"))]


def run_mcp_benchmark(
    *,
    repeat: int = 5,
    calls: int = 64,
    latency: float = 0.5,
    noops: int = 200,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The report described in the module docstring."""
    report: dict[str, Any] = {
        "calls": calls,
        "latency_s": latency,
        "repeat": repeat,
    }
    with _http_server() as url:
        report.update(
            anyio.run(_measure, repeat, calls, latency, noops, url, progress, backend="asyncio")
        )
    python = measure_overhead(noops, repeat)["us_per_call"]
    progress("python overhead")
    report["overhead_us_per_call"]["python"] = round(
        python["toolvolley_parallel"] - python["bare_gather"], 2
    )
    return report


async def _measure(
    repeat: int,
    calls: int,
    latency: float,
    noops: int,
    url: str,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client

    from ..mcp import MCPServer

    out: dict[str, Any] = {}
    for transport in ("stdio", "http"):
        if transport == "stdio":
            ours = MCPServer.stdio(SERVER[0], SERVER[1:])
            theirs: Any = stdio_client(StdioServerParameters(command=SERVER[0], args=SERVER[1:]))
        else:
            ours = MCPServer.http(url)
            theirs = streamable_http_client(url)
        async with ours, theirs as streams, ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            pair = _Pair(Executor(await ours.tools()), session)
            sleeps = {"seconds": latency}
            walls = await pair.walls("sleep", [sleeps] * calls, repeat, warm_up=True)
            wall, bare_wall = (statistics.median(w) for w in walls)
            out[transport] = {
                "wall_s": round(wall, 4),
                "ideal_s": latency,
                "efficiency": round(latency / wall, 3),
                "bare_sdk_wall_s": round(bare_wall, 4),
                "ratio_to_bare": round(wall / bare_wall, 4),
            }
            progress(f"mcp {transport}")
            if transport == "stdio":
                # One batch of no-ops takes milliseconds: many rounds, each pair back to back.
                ours_s, bare_s = await pair.walls("noop", [{"i": i} for i in range(noops)], 25)
                diffs = [(a - b) / noops * 1e6 for a, b in zip(ours_s, bare_s, strict=True)]
                out["overhead_us_per_call"] = {"mcp": round(statistics.median(diffs), 1)}
                progress("mcp overhead")
    return out


class _Pair:
    """The same calls through toolvolley and through the bare SDK session."""

    def __init__(self, executor: Executor, session: Any) -> None:
        self.executor = executor
        self.session = session

    async def walls(
        self, name: str, arguments: list[dict[str, Any]], rounds: int, *, warm_up: bool = False
    ) -> tuple[list[float], list[float]]:
        calls = [ToolCall(f"c{i}", name, json.dumps(a)) for i, a in enumerate(arguments)]

        async def ours() -> None:
            await self.executor.run(calls)

        async def bare() -> None:
            await asyncio.gather(*(self.session.call_tool(name, a) for a in arguments))

        if warm_up:  # connections, caches, the server's first calls
            await ours()
            await bare()
        ours_s: list[float] = []
        bare_s: list[float] = []
        for round_ in range(rounds):  # who goes first alternates: neither inherits the other's wake
            if round_ % 2:
                bare_s.append(await _timed(bare))
                ours_s.append(await _timed(ours))
            else:
                ours_s.append(await _timed(ours))
                bare_s.append(await _timed(bare))
        return ours_s, bare_s


async def _timed(make: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await make()
    return time.perf_counter() - started


@contextlib.contextmanager
def _http_server() -> Iterator[str]:
    """The server under uvicorn in a subprocess, on a socket bound here (so its URL is known
    and connections made before uvicorn is up wait in the backlog)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        fd = sock.fileno()
        process = subprocess.Popen([*SERVER, "http", str(fd)], pass_fds=[fd])
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
