"""What the LangGraph node and the LangChain middleware read of a LangChain tool (needs only
``langchain-core``, which both extras bring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools.simple import Tool as SimpleTool

from .._errors import UserError

__all__ = ["declared_options", "has_async_body"]


def has_async_body(tool: BaseTool) -> bool:
    """Whether the tool has an async body of its own (else its ``ainvoke`` would only send the
    sync body to the event loop's default thread pool)."""
    if isinstance(tool, (StructuredTool, SimpleTool)):
        return tool.coroutine is not None
    return type(tool)._arun is not BaseTool._arun


def declared_options(name: str, tool: BaseTool | None, allowed: frozenset[str]) -> dict[str, Any]:
    """The toolvolley options a LangChain tool gives in ``metadata["toolvolley"]``: a dict with
    keys among ``allowed``, else a :class:`UserError` saying so."""
    options = ((tool.metadata or {}) if tool is not None else {}).get("toolvolley")
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not set(options) <= allowed:
        raise UserError(
            f"Tool {name!r}: metadata['toolvolley'] takes a dict with keys among "
            f"{', '.join(sorted(allowed))}; got {options!r}."
        )
    return dict(options)
