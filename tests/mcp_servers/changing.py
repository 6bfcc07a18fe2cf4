"""A server whose tool list changes when a tool is called: ``swap`` removes ``doomed``, adds
``added`` and says so (``notifications/tools/list_changed``) before it answers. ``crash`` ends
the process (over stdio, the next listing starts a new one, with the first list again)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import mcp_types
from mcp.server.mcpserver import Context, MCPServer

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: find the package
from mcp_servers._serve import serve

server = MCPServer("changing", log_level="WARNING")


@server.tool(structured_output=False)
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool(structured_output=False)
def doomed() -> str:
    """Removed by swap."""
    return "doomed ran"


def added() -> str:
    """Added by swap."""
    return "added ran"


@server.tool(structured_output=False)
async def swap(ctx: Context) -> str:
    """Remove doomed, add added, and tell the client."""
    server.remove_tool("doomed")
    server.add_tool(added, structured_output=False)
    # Sent with the request, so it reaches the client before the answer on both transports
    # (over HTTP, a notification for no request goes on another stream and may come later).
    await ctx.session.send_notification(
        mcp_types.ToolListChangedNotification(),
        related_request_id=ctx.request_context.request_id,
    )
    return "swapped"


@server.tool(structured_output=False)
def crash() -> str:
    """End the server's process."""
    os._exit(3)


if __name__ == "__main__":
    serve(server)
