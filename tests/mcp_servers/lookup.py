"""A one-tool MCP server for `toolvolley batch --mcp`: the offline model's free-text planner calls
the only tool once per city a prompt lists."""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: find the package
from mcp_servers._serve import serve

server = MCPServer("lookup", log_level="WARNING")


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: found by the MCP server"


if __name__ == "__main__":
    serve(server)
