"""toolvolley tools as a Pydantic AI toolset (``toolvolley.pydantic_ai.toolset``): the calls of
one model response run in one batch of the executor (:mod:`._volleys`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic_ai import RunContext, ToolDefinition
from pydantic_ai.exceptions import ModelRetry, ToolFailed
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool
from pydantic_core import SchemaValidator, core_schema

from .._calls import ToolCall, ToolResult
from .._errors import UserError
from .._executor import Executor
from .._options import check_count
from .._toolbox import Toolbox
from .._tools import Tool
from ._pydantic_ai import CONTROL, response_of
from ._volleys import Volleys

__all__ = ["ToolboxToolset", "toolset"]


_ANY_OBJECT = SchemaValidator(
    core_schema.dict_schema(
        keys_schema=core_schema.str_schema(), values_schema=core_schema.any_schema()
    )
)
"""Pydantic AI's own argument check, left open: the executor validates against the tool's
JSON Schema and answers ``invalid_arguments`` itself."""


class ToolboxToolset(AbstractToolset[Any]):
    """toolvolley tools as a Pydantic AI toolset; each call runs through ``executor``, whose
    options (``timeout``, ``max_concurrency``, ``mode``, ``side_effects``, threads ...) hold per
    model response. Make one with :func:`toolset`."""

    def __init__(self, executor: Executor, *, id: str | None = None, max_retries: int = 1) -> None:
        if not isinstance(executor, Executor):
            raise UserError(f"ToolboxToolset runs calls through an Executor, not {executor!r}.")
        check_count("max_retries", max_retries)
        self.executor = executor
        self._id = id
        self._volleys = Volleys(executor)
        toolbox = executor.toolbox
        self._tools: dict[str, ToolsetTool[Any]] = {
            wire: ToolsetTool(
                toolset=self,
                tool_def=ToolDefinition(
                    name=wire,
                    parameters_json_schema=dict(tool.parameters),
                    description=tool.description,
                    sequential=tool.sequential,
                ),
                max_retries=max_retries,
                args_validator=_ANY_OBJECT,
            )
            for wire, tool in zip(toolbox.wire_names, toolbox, strict=True)
        }

    def __repr__(self) -> str:
        return f"ToolboxToolset({self.executor!r})"

    @property
    def id(self) -> str | None:
        return self._id

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        return dict(self._tools)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        found = self.executor.toolbox.get(name)
        if found is None:
            raise ToolFailed(f"Unknown tool {name!r}.")
        call = ToolCall(ctx.tool_call_id or name, name, tool_args)
        result = await self._volleys.run(response_of(ctx), call)
        if result is None:  # the batch never ran it (it could not open)
            raise ToolFailed(f"Tool {name!r} was cancelled before it started.")
        return _answer(result)


def _answer(result: ToolResult) -> Any:
    """A result as Pydantic AI takes it: the value, or the exception that says what failed."""
    if result.status == "ok":
        return result.value
    if isinstance(result.error, CONTROL):  # the tool steers Pydantic AI: let it
        raise result.error
    if result.status == "invalid_arguments":  # Pydantic AI's way: ask the model to fix them
        raise ModelRetry(result.content)
    raise ToolFailed(result.content)


def toolset(
    tools: Toolbox | Iterable[Tool] | Executor, *, id: str | None = None, max_retries: int = 1
) -> ToolboxToolset:
    """toolvolley tools (or an :class:`Executor` with its options) as a Pydantic AI toolset::

        agent = Agent(model, toolsets=[toolset(Executor([get_weather], timeout=10))])

    Arguments are checked against each tool's JSON Schema by the executor; an invalid call is
    a ``ModelRetry`` (``max_retries`` per tool, Pydantic AI's default of 1), a failed or timed
    out one a ``ToolFailed`` the model reads.
    """
    executor = tools if isinstance(tools, Executor) else Executor(tools)
    return ToolboxToolset(executor, id=id, max_retries=max_retries)
