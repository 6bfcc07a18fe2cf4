"""ToolvolleyMiddleware: toolvolley's scheduling for the calls of one model message in create_agent.

``create_agent`` sends each tool call of a model message to the tool node as a task of its own
(``Send("tools", [call])``), so ``wrap_tool_call`` sees one call at a time and no middleware of
LangChain's can hold a per-message limit, a serial order or a barrier. Here the calls of one
message (found by the AIMessage id in the state) are scheduled together:

* under ``ainvoke`` each call runs in LangGraph's own task for it, as without the middleware,
  after taking its place in its message's schedule (:mod:`._response_turns`, as Pydantic AI's
  capability does): the message's ``max_concurrency``, serial order and barriers hold across
  those tasks. Its body is LangChain's ``handler(request)`` (injection, callbacks, ``Command``
  returns as LangChain does them), under the call's timeout (a cancel scope); a sync tool's own
  body runs in toolvolley's worker threads (``_langchain_threads.py``), so the timeout holds for
  it too; an ``idempotent`` tool's retries and hedges are the executor's own
  (:class:`~toolvolley.runners.policies.PolicyRunner`). Nothing of a call outlives its task:
  no second task, batch or waiter per call, so the objects a call keeps alive while it is
  suspended are LangGraph's and a few of ours (what garbage collection costs, see scenario D of
  ``benchmarks/peers/run.py``);
* under ``invoke`` each call comes from a LangGraph thread with no event loop: the calls of a
  message meet in one :class:`~toolvolley.Batch` (a *volley*, :mod:`._volleys`), run on an event
  loop in a thread of its own, each body in toolvolley's threads, each caller waiting for its own
  result. The batch closes once every call submitted to it has its result; a call of the same
  message arriving later (LangGraph had no thread free for it) opens the next volley: volleys of
  one message never overlap, so the limits and barriers hold across them.

Calls take their places in the order they arrive, which under ``ainvoke`` is the model's order
(LangGraph starts the tasks in that order); under ``invoke`` it is the order LangGraph's threads
reach the tool node.
"""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import anyio
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from .. import _wording as wording
from .._calls import ToolCall
from .._clock import now
from .._errors import UserError, describe_exception
from .._executor import Executor
from .._options import check_count, check_scheduling, check_seconds
from .._policies import Hedge, Retry
from .._scheduling import Mode, SideEffectsPolicy
from .._toolbox import Toolbox
from .._tools import Tool
from ..runners import CallContext
from ..runners.policies import PolicyRunner
from ..runners.threads import ThreadRunner
from ._langchain_calls import (
    CALL_ARGUMENTS,
    HANDLER,
    LangChainCall,
    for_langgraph,
    run_async,
    run_sync,
)
from ._langchain_messages import Messages
from ._langchain_threads import InThreads
from ._langchain_tools import declared_options, has_async_body
from ._response_turns import ResponseTurns
from ._volleys import Volleys

__all__ = ["ToolvolleyMiddleware"]


class ToolvolleyMiddleware(AgentMiddleware):
    """Schedules the tool calls of each model message of ``create_agent`` together, across the
    tasks (or threads) LangGraph runs them in.

    ::

        agent = create_agent(model, tools, middleware=[ToolvolleyMiddleware(max_concurrency=3)])

    Options as the :class:`~toolvolley.Executor`'s, for the calls of one model message:

    * ``timeout``: seconds one call may run, sync tools included (their thread is abandoned).
    * ``max_concurrency``: calls of the message in flight at once.
    * ``mode``: ``"parallel"`` or ``"serial"`` (one at a time, in the order they arrive).
    * ``side_effects`` with ``destructive`` / ``read_only`` (tool names): a destructive call
      waits for the calls before it, runs alone and holds the ones after it; under ``"strict"``
      every tool not named ``read_only`` does.
    * ``idempotent`` (tool names) with ``retry`` / ``hedge``: only those tools are sent again.
    * ``max_threads``: worker threads for sync tools.

    A call that fails, times out or is cancelled gets a ``ToolMessage`` with ``status="error"``
    saying so; its siblings keep their results. Interrupts (``GraphBubbleUp``) and resume values
    an interrupt refused propagate, as in LangChain.
    """

    def __init__(
        self,
        *,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        mode: Mode = "parallel",
        side_effects: SideEffectsPolicy = "declared",
        destructive: Collection[str] = (),
        read_only: Collection[str] = (),
        idempotent: Collection[str] = (),
        retry: Retry | None = None,
        hedge: Hedge | None = None,
        max_threads: int = 256,
    ) -> None:
        check_scheduling(mode, side_effects)
        check_seconds("timeout", timeout)
        check_count("max_concurrency", max_concurrency)
        if retry is not None and not isinstance(retry, Retry):
            raise UserError(f"retry must be a Retry or None, not {retry!r}.")
        if hedge is not None and not isinstance(hedge, Hedge):
            raise UserError(f"hedge must be a Hedge or None, not {hedge!r}.")
        names = {"destructive": destructive, "read_only": read_only, "idempotent": idempotent}
        for label, value in names.items():
            if isinstance(value, str) or not all(isinstance(n, str) for n in value):
                raise UserError(f"{label} takes a collection of tool names, not {value!r}.")
        if set(destructive) & set(read_only):
            both = ", ".join(sorted(set(destructive) & set(read_only)))
            raise UserError(f"A tool cannot be both destructive and read_only: {both}.")
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.mode: Mode = mode
        self.side_effects: SideEffectsPolicy = side_effects
        self.destructive = frozenset(destructive)
        self.read_only = frozenset(read_only)
        self.idempotent = frozenset(idempotent)
        self.retry = retry
        self.hedge = hedge
        self._threads = ThreadRunner(max_threads)
        self._lock = threading.Lock()
        # ainvoke: each message's schedule, its calls in LangGraph's tasks; the tools as the
        # scheduler sees them, with their options, made once per LangChain tool.
        self._turns = ResponseTurns(
            serial=mode == "serial", max_concurrency=max_concurrency, side_effects=side_effects
        )
        # By name: one entry per tool name however many agents (and tool objects) come.
        self._made: dict[str, tuple[BaseTool | None, Tool, PolicyRunner | None]] = {}
        # A hedge learns a tool's latencies across messages and agents.
        self._policies: dict[tuple[str, Retry | None, Hedge | None], PolicyRunner] = {}
        # invoke(): one executor with its volleys (a hedge learns latencies across messages).
        # Its tools are made as calls bring them.
        self._toolbox = _Toolbox()
        self._volleys = Volleys(
            Executor(
                self._toolbox,
                mode=mode,
                timeout=timeout,
                max_concurrency=max_concurrency,
                side_effects=side_effects,
                runners={"thread": self._threads},
                retry=retry,
                hedge=hedge,
            )
        )
        self._tools: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}
        self._stand_ins: dict[str, tuple[BaseTool, BaseTool]] = {}
        self._messages = Messages()

    @property
    def active_messages(self) -> int:
        """Model messages whose calls are running now (0 between turns)."""
        return len(self._turns) + len(self._volleys)

    @property
    def abandoned_threads(self) -> int:
        """Worker threads still running sync calls that timed out."""
        return self._threads.abandoned

    # --- the two entry points ----------------------------------------------------------------

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        if request.tool_call.get("id") is None:  # nothing to know it by: LangChain's own way
            return await handler(request)
        tool = request.tool
        made, policies = self._made_tool(request)
        if tool is not None and not has_async_body(tool):
            request = request.override(tool=self._in_threads(tool))
        place = self._turns.enter(self._messages.of(request), made)
        try:
            if place.waits:
                await place.wait()
            timeout = made.timeout if made.timeout is not None else self.timeout
            if timeout is None and policies is None:  # the common case: one frame less
                try:
                    return await handler(request)
                except Exception as exc:
                    if for_langgraph(exc):
                        raise
                    return _failed(request, wording.tool_failed(made.name, describe_exception(exc)))
            return await self._run(made, policies, timeout, request, handler)
        finally:
            place.leave()

    async def _run(
        self,
        made: Tool,
        policies: PolicyRunner | None,
        seconds: float | None,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """A call with a timeout, or retried / hedged: ``handler(request)`` under both."""
        call = LangChainCall(request, handler, None)
        deadline = math.inf if seconds is None else now() + seconds
        failure: Exception | None = None
        with anyio.CancelScope(
            deadline=math.inf if seconds is None else anyio.current_time() + seconds
        ) as scope:
            try:
                if policies is not None:
                    await policies.run(CallContext(made, {"call": call}, deadline))
                else:
                    await call.run_async()
            except Exception as exc:
                failure = exc
        if scope.cancel_called:  # our deadline, whatever the tool made of it
            assert seconds is not None
            return _failed(request, wording.timed_out(made.name, seconds))
        outcome = call.outcome
        if isinstance(outcome, Exception):
            raise outcome  # an interrupt, or a refused resume value: LangGraph's to handle
        if failure is not None or outcome is None:
            described = describe_exception(failure) if failure is not None else "no answer"
            return _failed(request, wording.tool_failed(made.name, described))
        return outcome

    def _made_tool(self, request: ToolCallRequest) -> tuple[Tool, PolicyRunner | None]:
        """The call's tool as the scheduler sees it, with its options (this middleware's and
        its LangChain tool's ``metadata["toolvolley"]``), and the retries and hedges of an
        idempotent one. Made once per LangChain tool."""
        name = request.tool_call["name"]
        tool = request.tool
        known = self._made.get(name)
        if known is None or known[0] is not tool:
            made = self._with_options(name, tool, run_async, is_async=True)
            retry = made.retry or self.retry if made.idempotent else None
            hedge = made.hedge or self.hedge if made.idempotent else None
            policies = None
            if retry is not None or hedge is not None:
                policies = self._policies.get((name, retry, hedge))
                if policies is None:
                    policies = PolicyRunner(HANDLER, retry, hedge)
                    self._policies[(name, retry, hedge)] = policies
            known = self._made[name] = (tool, made, policies)
        return known[1], known[2]

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        if request.tool_call.get("id") is None:  # nothing to know it by: LangChain's own way
            return handler(request)
        call = LangChainCall(request, handler, contextvars.copy_context())
        key = self._tool(request)
        volley = self._messages.of(request)
        result = self._volleys.run_sync(volley, ToolCall(call.call_id, key, {"call": call}))
        if result is None:  # its volley's loop never ran it
            return handler(request)
        return call.answer(result)

    def _in_threads(self, tool: BaseTool) -> BaseTool:
        """The stand-in that runs ``tool``'s sync body in this middleware's threads."""
        known = self._stand_ins.get(tool.name)
        if known is None or known[0] is not tool:
            known = self._stand_ins[tool.name] = (tool, InThreads.wrap(tool, self._threads))
        return known[1]

    def _tool(self, request: ToolCallRequest) -> str:
        """The name in the ``invoke`` executor's toolbox of the toolvolley tool the call runs
        as: its name, and the options given for it here (tool names) and in its LangChain
        tool's ``metadata["toolvolley"]``."""
        name = request.tool_call["name"]
        options = self._options(name, request.tool)
        cache = (name, tuple(sorted(options.items())))
        with self._lock:
            key = self._tools.get(cache)
            if key is None:
                key = self._tools[cache] = f"{name}#{len(self._tools)}"
                self._toolbox.made[key] = self._with_options(name, request.tool, run_sync)
            return key

    def _options(self, name: str, tool: BaseTool | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "destructive": name in self.destructive,
            "read_only": name in self.read_only,
            "idempotent": name in self.idempotent,
        }
        options.update(declared_options(name, tool))
        return options

    def _with_options(
        self, name: str, tool: BaseTool | None, body: Callable[..., Any], is_async: bool = False
    ) -> Tool:
        return Tool(
            name=name,
            description=f"{name} (run by ToolvolleyMiddleware)",
            func=body,
            is_async=is_async,
            arguments=CALL_ARGUMENTS,
        ).with_options(**self._options(name, tool))


def _failed(request: ToolCallRequest, message: str) -> ToolMessage:
    """The answer to a call that failed, timed out or never ran."""
    call = request.tool_call
    return ToolMessage(
        content=message, tool_call_id=str(call["id"]), name=call["name"], status="error"
    )


class _Toolbox(Toolbox):
    """The middleware's tools, found by the key a call is submitted under: LangChain's tools
    (and what their metadata says) only become known as their calls come."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[str, Tool] = {}

    def get(self, name: str) -> Tool | None:
        return self.made.get(name)
