"""Pydantic AI: ``pip install 'toolvolley[pydantic-ai]'``.

toolvolley's guarantees for an agent's tool calls, one line in the agent::

    from toolvolley.pydantic_ai import Toolvolley

    agent = Agent(model, tools=[...], capabilities=[Toolvolley(timeout=30, max_concurrency=8)])

or for one toolset, ``ToolvolleyToolset(toolset, timeout=30)``. And toolvolley tools as a
Pydantic AI toolset: ``Agent(model, toolsets=[toolset([get_weather])])``.

Pydantic AI starts every call of a model response as a task of its own and hands it to the
toolset on its own; the calls of one response (keyed by the run and its step) share one
schedule here, so the cap, serial mode and barriers hold across those tasks. Pydantic AI runs on
asyncio only (it starts its tool tasks with ``asyncio.create_task``), and so does this module.
"""

from ._optional import require

require("pydantic_ai", "pydantic-ai")

from .integrations._pydantic_ai import Toolvolley, ToolvolleyToolset  # noqa: E402
from .integrations._pydantic_ai_toolset import ToolboxToolset, toolset  # noqa: E402

__all__ = ["ToolboxToolset", "Toolvolley", "ToolvolleyToolset", "toolset"]

for _name in __all__:
    globals()[_name].__module__ = __name__  # where users import it from
