"""Run a server from argv: ``stdio``, or ``http FD`` to serve streamable HTTP under uvicorn on a
listening socket the test passed down (so the port is known before the process starts)."""

from __future__ import annotations

import sys
from typing import Any

from mcp.server.mcpserver import MCPServer


def serve(server: MCPServer[Any], wrap: Any = None) -> None:
    if sys.argv[1:2] == ["http"]:
        import uvicorn

        app = server.streamable_http_app()
        config = uvicorn.Config(
            wrap(app) if wrap else app, fd=int(sys.argv[2]), log_level="warning", lifespan="on"
        )
        uvicorn.Server(config).run()
    else:
        server.run("stdio")
