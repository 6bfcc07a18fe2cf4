"""LangChain tools (``BaseTool``, ``StructuredTool``, ``@tool``) as toolvolley tools."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel

from .._errors import UserError
from .._tools import Tool

__all__ = ["has_async_body", "tools_from_langchain"]


def tools_from_langchain(tools: Iterable[BaseTool] | BaseTool) -> list[Tool]:
    """Toolvolley :class:`~toolvolley.Tool`\\ s that run LangChain tools under toolvolley's loop.

    The parameters' JSON Schema is the one LangChain sends the model (``tool_call_schema``), and a
    call's arguments are checked against it before the tool runs. An async tool (a
    ``coroutine``, or a subclass with its own ``_arun``) is awaited with ``ainvoke`` on the event
    loop; a sync one is run with ``invoke`` in toolvolley's worker threads, so a timeout holds
    for it. The model reads what ``invoke`` returns (a ``content_and_artifact`` tool: its content).
    Give a tool toolvolley's options with ``Tool.with_options``::

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
    schema = lc_tool.tool_call_schema
    parameters: dict[str, Any]
    if isinstance(schema, dict):
        parameters = dict(schema)
    elif issubclass(schema, BaseModel):
        parameters = schema.model_json_schema()
    else:  # a pydantic.v1 model
        parameters = schema.schema()
    parameters.pop("title", None)
    parameters.pop("description", None)  # the tool's description, already said once
    handler: Callable[..., Any]
    if has_async_body(lc_tool):

        async def handler(**kwargs: Any) -> Any:
            return await lc_tool.ainvoke(kwargs)

    else:

        def handler(**kwargs: Any) -> Any:
            return lc_tool.invoke(kwargs)

    return Tool.from_schema(lc_tool.name, lc_tool.description, parameters, handler)


def has_async_body(lc_tool: BaseTool) -> bool:
    """Whether the tool has an async body of its own (else its ``ainvoke`` would only send the
    sync body to the event loop's default thread pool)."""
    if isinstance(lc_tool, StructuredTool):
        return lc_tool.coroutine is not None
    return type(lc_tool)._arun is not BaseTool._arun
