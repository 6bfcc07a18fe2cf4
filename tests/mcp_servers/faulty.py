"""A server that fails in the ways real ones do: it crashes, hangs, ignores cancellation, writes
garbage to stdout, answers with malformed results or with JSON-RPC errors.

``crash`` and ``garbage`` wait until ``when_running`` ``wait`` handlers are running, so the calls
that must see the failure are in flight when it happens (no sleeps to line them up).
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp.server import stdio as sdk_stdio
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import ToolAnnotations
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: find the package
from mcp_servers._serve import serve

seen: collections.Counter[str] = collections.Counter()


async def mangle(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
    """Answer some calls with results that do not follow the protocol, or with a JSON-RPC error;
    count the calls that reach the server."""
    name = (ctx.params or {}).get("name") if ctx.method == "tools/call" else None
    if name is not None:
        seen[name] += 1
    if name == "rpc_error":
        arguments = (ctx.params or {}).get("arguments") or {}
        raise MCPError(code=arguments["code"], message=arguments["message"])
    if name == "malformed":
        return {"content": "this should be a list of content blocks", "isError": "no"}
    if name == "off_schema":
        return {"content": [], "structuredContent": {"city": 42}}
    return await call_next(ctx)


server = MCPServer("faulty", middleware=[mangle], log_level="WARNING")
waiting = 0
running: collections.Counter[str] = collections.Counter()


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def rpc_error(code: int, message: str) -> str:
    """Read-only; the middleware answers it with a JSON-RPC error ``code``, ``message``."""
    return "unreachable"


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def calls(name: str) -> str:
    """How many calls of the tool ``name`` reached this process."""
    return str(seen[name])


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def pid() -> str:
    """This process's id."""
    return str(os.getpid())


async def _until_running(count: int) -> None:
    while waiting < count:  # noqa: ASYNC110 - other requests' handlers move the count
        await anyio.sleep(0.01)


@server.tool(structured_output=False)
async def wait(seconds: float) -> str:
    """Sleep (a call with side effects: never sent twice)."""
    global waiting
    waiting += 1
    try:
        await anyio.sleep(seconds)
    finally:
        waiting -= 1
    return f"waited {seconds}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
async def peek(seconds: float) -> str:
    """Sleep (read-only: safe to send again after a reconnect)."""
    global waiting
    waiting += 1
    try:
        await anyio.sleep(seconds)
    finally:
        waiting -= 1
    return f"peeked {seconds}"


@server.tool()
async def crash(code: int, when_running: int) -> str:
    """Exit with ``code`` once ``when_running`` other calls are in flight."""
    await _until_running(when_running)
    print("boom: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(code)


@server.tool()
async def garbage(when_running: int) -> str:
    """Write a line that is not JSON-RPC to stdout, then never answer."""
    await _until_running(when_running)
    # This SDK diverts fd 1 to stderr so that stray prints cannot corrupt the protocol; servers
    # built otherwise (or a native library writing to fd 1) do corrupt it. Write to the wire itself.
    claim = sdk_stdio._claims.get(1)
    wire = claim.private_fd if claim is not None and claim.private_fd is not None else 1
    os.write(wire, b"Traceback (most recent call last): oops\n")
    await anyio.sleep_forever()
    return "unreachable"


@server.tool()
async def hang() -> str:
    """Block the server's event loop: it stops reading and answering anything."""
    time.sleep(3600)
    return "unreachable"


released: collections.defaultdict[str, anyio.Event] = collections.defaultdict(anyio.Event)


@server.tool(structured_output=False)
async def stubborn(group: str) -> str:
    """Ignore cancellation: run on until ``release`` lets ``group`` go, whatever the client
    says (released by a call, not after a sleep, so a slow client still finds it running)."""
    running[group] += 1
    try:
        with anyio.CancelScope(shield=True):
            await released[group].wait()
    finally:
        running[group] -= 1
    return "finished anyway"


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def stubborn_running(group: str) -> str:
    """How many ``stubborn`` handlers of ``group`` are still running."""
    return str(running[group])


@server.tool(structured_output=False)
async def release(group: str) -> str:
    """Let the ``stubborn`` handlers of ``group`` finish."""
    released[group].set()
    return "released"


@server.tool()
def malformed() -> str:
    """The middleware answers this one with a result that breaks the protocol."""
    return "unreachable"


class Forecast(BaseModel):
    city: str
    celsius: float


@server.tool()
def off_schema() -> Forecast:
    """Declares an output schema; the middleware answers with content that breaks it."""
    return Forecast(city="Paris", celsius=20.0)


if __name__ == "__main__":
    serve(server)
