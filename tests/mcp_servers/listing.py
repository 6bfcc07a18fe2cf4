"""A server whose ``tools/list`` answer is odd, as chosen by ``$LISTING``:

- ``malformed``: next to the good ``echo``, tools no client can use: an empty name, a name listed
  twice, a ``pattern`` that is not a regular expression, ``properties`` that are a list, a ``$ref``
  to nowhere;
- ``garbage`` (stdio only): a response that is not JSON-RPC, then none;
- ``silent_relisting``: the first listing, then no answer to any other (``change`` asks for one);
- ``refused``: a JSON-RPC error, code -32000.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp.server import stdio as sdk_stdio
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: find the package
from mcp_servers._serve import serve

_OBJECT = {"type": "object", "properties": {}}
BAD_TOOLS: list[dict[str, Any]] = [
    {"name": "", "inputSchema": _OBJECT},
    {"name": "twice", "inputSchema": _OBJECT},  # the server has a tool of that name too
    {
        "name": "bad_pattern",
        "inputSchema": {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "(?P<unclosed"}},
        },
    },
    {
        "name": "listed_properties",
        "inputSchema": {
            "type": "object",
            "properties": {"where": {"type": "object", "properties": ["city"]}},
        },
    },
    {
        "name": "dangling_ref",
        "inputSchema": {
            "type": "object",
            "properties": {"where": {"$ref": "#/$defs/Nowhere"}},
        },
    },
]


listings = 0


async def odd_listing(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
    global listings
    if ctx.method != "tools/list":
        return await call_next(ctx)
    mode = os.environ.get("LISTING", "")
    listings += 1
    if mode == "silent_relisting" and listings > 1:
        await anyio.sleep_forever()
    if mode == "refused":
        raise MCPError(code=-32000, message="down for maintenance")
    if mode == "garbage":
        # A response no client can parse (its result is not an object), written to the wire
        # itself, since the SDK's server would not send it; then no answer at all.
        garbage = {"jsonrpc": "2.0", "id": ctx.request_id, "result": ["not", "an", "object"]}
        claim = sdk_stdio._claims.get(1)
        wire = claim.private_fd if claim is not None and claim.private_fd is not None else 1
        os.write(wire, json.dumps(garbage).encode() + b"\n")
        await anyio.sleep_forever()
    listing = await call_next(ctx)
    assert isinstance(listing, dict)
    tools = listing["tools"]
    if mode == "malformed":
        tools = [BAD_TOOLS[0], *tools, *BAD_TOOLS[1:]]
    return {"tools": tools}


server = MCPServer("listing", middleware=[odd_listing], log_level="WARNING")


@server.tool(structured_output=False)
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool(structured_output=False)
async def change(ctx: Context) -> str:
    """Tell the client the tool list changed."""
    await ctx.session.send_tool_list_changed()
    return "changed"


@server.tool(structured_output=False)
def twice() -> str:
    """Listed twice by the middleware."""
    return "twice"


if __name__ == "__main__":
    serve(server)
