"""The MCP server the MCP benchmark calls, written with the MCP SDK's own server API.

``python _mcp_server.py stdio``, or ``... http FD`` to serve streamable HTTP
under uvicorn on a listening socket the benchmark passed down.
"""

from __future__ import annotations

import sys

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("bench", log_level="WARNING")


@server.tool(structured_output=False)
async def sleep(seconds: float) -> str:
    """Sleep, standing for a tool with latency."""
    await anyio.sleep(seconds)
    return "slept"


@server.tool(structured_output=False)
def noop(i: int) -> str:
    """Answer at once."""
    return "ok"


def main(argv: list[str]) -> None:
    if argv[:1] == ["http"]:
        import uvicorn

        config = uvicorn.Config(
            server.streamable_http_app(), fd=int(argv[1]), log_level="warning", lifespan="on"
        )
        uvicorn.Server(config).run()
    else:
        server.run("stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
