"""Toolvolley tools in the OpenAI Agents SDK: ``pip install 'toolvolley[agents]'``.

::

    from agents import Agent, Runner
    from toolvolley.agents import function_tools

    agent = Agent(
        name="assistant",
        tools=function_tools([get_weather, get_time], timeout=10, max_concurrency=4),
    )
    result = await Runner.run(agent, "Weather and time in Paris?")

The calls of one model response run in one toolvolley batch: the limit, the timeouts (sync tools
too) and the barriers hold across the SDK's own per-call tasks. MCP servers come the same way:
``function_tools(await server.tools())`` with a :class:`toolvolley.mcp.MCPServer`.
"""

from ._optional import require

require("agents", "agents")  # the OpenAI Agents SDK (absolute import: not this module)

from .integrations._agents_sdk import function_tools  # noqa: E402

__all__ = ["function_tools"]

function_tools.__module__ = __name__  # where users import it from
