"""LangChain tools (``BaseTool``, ``StructuredTool``, ``@tool``) as toolvolley tools."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from .._errors import UserError
from .._tools import Tool
from ._lc_tools import declared_options as _declared_options
from ._lc_tools import has_async_body

__all__ = ["declared_options", "has_async_body", "tools_from_langchain"]


def tools_from_langchain(tools: Iterable[BaseTool] | BaseTool) -> list[Tool]:
    """Toolvolley :class:`~toolvolley.Tool`\\ s that run LangChain tools under toolvolley's loop.

    The parameters' JSON Schema is the one LangChain sends the model (``convert_to_openai_tool``),
    and a call's arguments are checked against it before the tool runs. An async tool (a
    ``coroutine``, or a subclass with its own ``_arun``) is awaited with ``ainvoke`` on the event
    loop; a sync one is run with ``invoke`` in toolvolley's worker threads, so a timeout holds
    for it. The model reads what ``invoke`` returns (a ``content_and_artifact`` tool: its content).
    A tool's ``metadata["toolvolley"]`` gives its toolvolley options (``timeout``,
    ``destructive`` ...), as for ``toolvolley.langgraph.ToolNode``; or use ``Tool.with_options``::

        executor = Executor(tools_from_langchain([search, fetch_page]), timeout=10)

    A tool that needs LangGraph's injected state or runtime can run only inside a graph.
    """
    if isinstance(tools, BaseTool):
        raise UserError("tools_from_langchain takes a list of tools: pass [tool].")
    converted: list[Tool] = []
    for item in tools:
        if not isinstance(item, BaseTool):
            raise UserError(
                f"tools_from_langchain takes LangChain tools (BaseTool), not {item!r}; "
                "wrap a function with langchain_core.tools.tool first, or use toolvolley.tool."
            )
        converted.append(_convert(item))
    return converted


def _convert(lc_tool: BaseTool) -> Tool:
    parameters = convert_to_openai_tool(lc_tool)["function"]["parameters"]
    handler: Callable[..., Any]
    if has_async_body(lc_tool):

        async def handler(**kwargs: Any) -> Any:
            return await lc_tool.ainvoke(kwargs)

    else:

        def handler(**kwargs: Any) -> Any:
            return lc_tool.invoke(kwargs)

    options = declared_options(lc_tool.name, lc_tool)
    return Tool.from_schema(lc_tool.name, lc_tool.description, parameters, handler, **options)


def declared_options(name: str, tool: BaseTool | None) -> dict[str, Any]:
    """The options a LangChain tool gives toolvolley in ``metadata["toolvolley"]`` (as for
    ``toolvolley.langgraph.ToolNode``, with ``idempotent`` for the middleware's retries)."""
    return _declared_options(name, tool, _TOOL_OPTIONS)


_TOOL_OPTIONS = frozenset(
    {"timeout", "max_concurrency", "sequential", "read_only", "destructive", "idempotent"}
)
