"""The tools ``toolvolley batch`` gives its conversations: ``--tools MODULE:ATTR`` (or the
demo's weather tool, served on loopback) and the tools of each ``--mcp`` server, opened here or,
with ``--ray``, on each worker by the same rules."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import shlex
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._executor import Executor
from .._toolbox import Toolbox
from .batch_files import BatchInputError

__all__ = ["BatchTools", "batch_tools", "load_tools", "mcp_command"]


def load_tools(spec: str | None) -> tuple[Executor | Toolbox | list[Any] | None, str]:
    if spec is None:
        return None, "the demo's get_weather (a local Open-Meteo-style service on loopback)"
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise BatchInputError(f"--tools must be MODULE:ATTR, not {spec!r}")
    sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    finally:
        sys.path.pop(0)
    for part in attr.split("."):
        target = getattr(target, part)
    if isinstance(target, (Executor, Toolbox)):
        return target, spec
    if isinstance(target, (list, tuple)):
        return list(target), spec
    raise BatchInputError(
        f"--tools {spec} is a {type(target).__name__}, not a Toolbox, Executor or list of tools"
    )


@dataclass(frozen=True)
class BatchTools:
    """The batch's tools: here (``--tools`` loaded, ``--mcp`` opened in this process), or with
    --ray, how each worker builds them (by the same rules)."""

    here: Executor | Toolbox | list[Any] | None
    ray: str | None
    tools_spec: str | None
    cwd: str
    mcp: tuple[str, ...] = ()

    def on_worker(self, latency: float) -> Any:
        return functools.partial(_worker_tools, self.tools_spec, self.cwd, latency, self.mcp)


def _worker_tools(spec: str | None, cwd: str, latency: float, mcp: Sequence[str]) -> Any:
    """On a Ray worker, for one chunk of conversations: --tools imported there (the driver's
    directory on the path) and the --mcp servers opened there, as an async context manager."""
    tools = None
    if spec is not None:
        if cwd not in sys.path:
            sys.path.append(cwd)
        tools = load_tools(spec)[0]
    return batch_tools(tools, latency, mcp)


@contextlib.asynccontextmanager
async def batch_tools(
    tools: Executor | Toolbox | list[Any] | None, latency: float, mcp: Sequence[str] = ()
) -> AsyncIterator[Executor | Toolbox | list[Any]]:
    """The batch's tools: ``--tools`` (or the demo's weather tool), plus the tools of each
    ``--mcp`` server, open for the whole batch."""
    async with contextlib.AsyncExitStack() as stack:
        served: list[Any] = []
        for spec in mcp:
            served.extend(await (await stack.enter_async_context(_mcp_server(spec))).tools())
        if tools is None:
            tools = await stack.enter_async_context(_weather_tools(latency))
        if not served:
            yield tools
        elif isinstance(tools, Executor):
            raise BatchInputError("--mcp adds tools to a Toolbox or a list; --tools is an Executor")
        else:
            yield tools.with_tools(*served) if isinstance(tools, Toolbox) else [*tools, *served]


def _mcp_server(spec: str) -> Any:
    """``--mcp``: an http(s) URL (streamable HTTP), or a command line (stdio)."""
    from ..mcp import MCPServer

    command = mcp_command(spec)
    if command is None:
        return MCPServer.http(spec.strip())
    return MCPServer.stdio(command[0], command[1:])


def mcp_command(spec: str) -> list[str] | None:
    """The command line of a stdio ``--mcp`` server (``None`` for a URL), or why it is none."""
    if spec.strip().lower().startswith(("http://", "https://")):
        return None
    try:
        command = shlex.split(spec)
    except ValueError as exc:  # an unclosed quote
        raise BatchInputError(f"--mcp {spec!r} is not a command line: {exc}") from None
    if not command:
        raise BatchInputError("--mcp needs a URL or a command line")
    return command


@contextlib.asynccontextmanager
async def _weather_tools(latency: float) -> AsyncIterator[list[Any]]:
    import httpx

    from ..demo import WeatherService, weather_tool
    from ..testing._serving import serve_in_thread

    with serve_in_thread(WeatherService(latency_s=latency, jitter_s=latency / 4)) as url:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            yield [weather_tool(forecast_url=url, geocoding_url=url, http_client=http)]
