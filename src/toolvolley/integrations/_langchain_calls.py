"""One tool call of a model message as :class:`ToolvolleyMiddleware` runs it: LangChain's
``handler(request)`` as the call's body, and the answer LangGraph gets back."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeAlias

import langgraph.errors
from langchain_core.messages import ToolMessage
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from .._calls import ToolResult
from ..runners import CallContext, Runner
from ._in_process import InProcessArguments

__all__ = ["CALL_ARGUMENTS", "HANDLER", "LangChainCall", "for_langgraph", "run_async", "run_sync"]

# LangGraph before is_invalid_resume never marks a refused resume value.
_is_invalid_resume: Callable[[BaseException], bool] = getattr(
    langgraph.errors, "is_invalid_resume", lambda error: False
)

Outcome: TypeAlias = "ToolMessage | Command[Any]"


class LangChainCall:
    """One call of the message: what runs it, and what comes back."""

    __slots__ = ("context", "handler", "outcome", "request")

    def __init__(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Any],
        context: contextvars.Context | None,  # under invoke: the calling thread's context
    ) -> None:
        self.request = request
        self.handler = handler
        self.context = context
        self.outcome: Outcome | Exception | None = None

    @property
    def call_id(self) -> str:
        return str(self.request.tool_call["id"])

    def keep(self, outcome: Outcome | Exception) -> None:
        if self.outcome is None:  # with a hedge, the first copy to answer
            self.outcome = outcome

    async def run_async(self) -> str:
        """The call's body under ``ainvoke``: LangChain's handler, on the event loop."""
        try:
            outcome = await self.handler(self.request)
        except Exception as exc:
            if not for_langgraph(exc):
                raise  # the call's failure: toolvolley makes it the call's result
            self.keep(exc)
            return "interrupted"
        self.keep(outcome)
        return _text(outcome)

    def run_sync(self) -> str:
        """The call's body under ``invoke``: LangChain's handler, in a toolvolley thread, in
        the context of the LangGraph thread that made the call."""
        assert self.context is not None
        try:
            outcome = self.context.copy().run(self.handler, self.request)
        except Exception as exc:
            if not for_langgraph(exc):
                raise
            self.keep(exc)
            return "interrupted"
        self.keep(outcome)
        return _text(outcome)

    def answer(self, result: ToolResult) -> ToolMessage | Command[Any]:
        outcome = self.outcome
        if isinstance(outcome, Exception):
            raise outcome  # an interrupt, or a refused resume value: LangGraph's to handle
        if outcome is not None and result.status == "ok":
            return outcome
        call = self.request.tool_call
        return ToolMessage(
            content=result.content, tool_call_id=self.call_id, name=call["name"], status="error"
        )


async def run_async(call: Any) -> str:  # a LangChainCall (Any: no JSON Schema for it)
    """The body of the toolvolley tool a call runs as, under ``ainvoke``."""
    return str(await call.run_async())


def run_sync(call: Any) -> str:
    """The body of the toolvolley tool a call runs as, under ``invoke``."""
    return str(call.run_sync())


class _Handler(Runner):
    """Where a retried or hedged call runs under ``ainvoke``: LangChain's handler, in the
    call's own task (``call.arguments["call"]`` is its :class:`LangChainCall`)."""

    name = "langchain"

    async def run(self, call: CallContext) -> Any:
        return await call.arguments["call"].run_async()


HANDLER = _Handler()
"""The inner runner of the middleware's retries and hedges (a ``PolicyRunner`` around it)."""

CALL_ARGUMENTS = InProcessArguments("call")
"""The arguments of those tools: ``{"call": <LangChainCall>}`` (the model's own arguments are
LangChain's to check)."""


def for_langgraph(exc: Exception) -> bool:
    """LangGraph's control flow, not a tool's failure: an interrupt (``GraphBubbleUp``), or a
    resume value an interrupt refused (raised so the interrupt can be answered again)."""
    return isinstance(exc, GraphBubbleUp) or _is_invalid_resume(exc)


def _text(outcome: Outcome) -> str:
    """What toolvolley's own result shows of a LangChain outcome (hooks, traces)."""
    if isinstance(outcome, ToolMessage):
        return outcome.text
    return "Command"
