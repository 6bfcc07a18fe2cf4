"""A sync LangChain tool whose ``ainvoke`` runs its ``invoke`` in toolvolley's worker threads.

Under ``ainvoke``, LangChain runs a sync tool with ``run_in_executor(None, ...)``: the event
loop's default pool, a few threads whatever the batch. The middleware hands the tool node this
stand-in instead, so the sync body runs in a :class:`~toolvolley.ThreadRunner` sized for the batch,
and a timeout abandons its thread (counted) instead of leaving a pool worker busy.
"""

from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from ..runners import CallContext
from ..runners.threads import ThreadRunner

__all__ = ["InThreads"]


@dataclass(frozen=True, slots=True)
class _Body:
    """What the thread runner needs of a tool (its ``ToolSpec``)."""

    name: str
    func: Any
    is_async: bool = False
    idempotent: bool = False


class InThreads(BaseTool):
    """``tool`` as the tool node sees it, with its sync body sent to ``runner``'s threads."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    _tool: BaseTool = PrivateAttr()
    _runner: ThreadRunner = PrivateAttr()

    @classmethod
    def wrap(cls, tool: BaseTool, runner: ThreadRunner) -> InThreads:
        stand_in = cls(
            name=tool.name,
            description=tool.description,
            args_schema=tool.args_schema,
            metadata=tool.metadata,
            tags=tool.tags,
            return_direct=tool.return_direct,
        )
        stand_in._tool = tool
        stand_in._runner = runner
        return stand_in

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the tool node calls invoke or ainvoke")

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._tool.invoke(input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        # The caller's context (LangChain's callbacks, LangGraph's config) goes with the body.
        context = contextvars.copy_context()

        def body() -> Any:
            return context.run(self._tool.invoke, input, config, **kwargs)

        return await self._runner.run(CallContext(_Body(self.name, body), {}, math.inf))
