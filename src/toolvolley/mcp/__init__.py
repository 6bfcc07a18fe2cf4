"""Tools from MCP servers: ``pip install 'toolvolley[mcp]'``.

::

    from toolvolley import Executor, run_loop
    from toolvolley.mcp import MCPServer

    async with MCPServer.stdio("python", ["server.py"]) as server:
        executor = Executor(await server.tools(), timeout=10)
        results = await executor.run(calls)
        # or a conversation, listing the server's tools again at each turn
        outcome = await run_loop(model, prompt, server, executor=Executor(timeout=10))
"""

from .._optional import require

require("mcp", "mcp")

from ._server import MCPServer, MCPServerError  # noqa: E402

__all__ = ["MCPServer", "MCPServerError"]
