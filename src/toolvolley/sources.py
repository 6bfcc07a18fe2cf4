"""Tool sources: where a conversation's tools come from, listed again at each turn.

::

    from toolvolley import run_loop
    from toolvolley.mcp import MCPServer
    from toolvolley.sources import prefixed

    async with MCPServer.stdio("python", ["files.py"]) as files:
        result = await run_loop(model, "Tidy my notes", [prefixed(files, "fs_"), *local_tools])

A :class:`ToolSource` is an async context manager with ``list_tools()``; a
:class:`~toolvolley.Toolbox` and a :class:`toolvolley.mcp.MCPServer` are sources. What "entered"
means, when ``list_tools`` may be called and what a source whose server died does: see
``toolvolley/_sources.py``.
"""

from ._sources import Combined, ToolSource, combine, prefixed, renamed

__all__ = ["Combined", "ToolSource", "combine", "prefixed", "renamed"]
