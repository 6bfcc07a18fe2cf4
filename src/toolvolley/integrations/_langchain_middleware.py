"""ToolvolleyMiddleware: toolvolley's scheduling for the calls of one model message in create_agent.

``create_agent`` sends each tool call of a model message to the tool node as a task of its own
(``Send("tools", [call])``), so ``wrap_tool_call`` sees one call at a time and no middleware of
LangChain's can hold a per-message limit, a serial order or a barrier. Here the calls of one
message (found by the AIMessage id in the state) meet in one :class:`~toolvolley.Batch`, a
*volley*:

* the first call to arrive opens the batch: under ``ainvoke`` its task hosts it, under
  ``invoke`` an event loop in a thread of its own does. Every call of the message submits itself
  to that batch and waits for its own result only (:mod:`._volleys`, shared with the other
  adapters);
* the call's body is LangChain's ``handler(request)`` (injection, callbacks, ``Command``
  returns as LangChain does them), run where the executor runs a body: on the event loop under
  ``ainvoke`` (a sync tool's own body in toolvolley's worker threads, see ``_threaded.py``), in
  those threads under ``invoke``; so a timeout holds for sync tools;
* the batch closes once every call submitted to it has its result, and the volley is forgotten
  then. A call of the same message arriving later (LangGraph had no worker free for it) opens
  the next volley: volleys of one message never overlap, so the limits and barriers hold across
  them, and nothing ever waits for a call that has not arrived.

Calls are submitted in the order they arrive, which under ``ainvoke`` is the model's order
(LangGraph starts the tasks in that order); under ``invoke`` it is the order LangGraph's
threads reach the tool node.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from .._calls import ToolCall
from .._errors import UserError
from .._executor import Executor
from .._options import check_count, check_scheduling, check_seconds
from .._policies import Hedge, Retry
from .._scheduling import Mode, SideEffectsPolicy
from .._toolbox import Toolbox
from .._tools import Tool
from ..runners.threads import ThreadRunner
from ._langchain_calls import CALL_ARGUMENTS, LangChainCall, run_async, run_sync
from ._langchain_messages import Messages
from ._langchain_threads import InThreads
from ._langchain_tools import declared_options, has_async_body
from ._volleys import Volleys

__all__ = ["ToolvolleyMiddleware"]


class ToolvolleyMiddleware(AgentMiddleware):
    """Runs the tool calls of each model message of ``create_agent`` as one toolvolley batch.

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
        # One executor for the async calls and one for invoke()'s, each with its volleys (a
        # hedge learns latencies across messages). Their tools are made as calls bring them.
        self._toolboxes = {threaded: _Toolbox() for threaded in (False, True)}
        self._volleys = {
            threaded: Volleys(
                Executor(
                    toolbox,
                    mode=mode,
                    timeout=timeout,
                    max_concurrency=max_concurrency,
                    side_effects=side_effects,
                    runners={"thread": self._threads},
                    retry=retry,
                    hedge=hedge,
                )
            )
            for threaded, toolbox in self._toolboxes.items()
        }
        self._tools: dict[tuple[bool, str, tuple[tuple[str, Any], ...]], str] = {}
        self._stand_ins: dict[int, tuple[BaseTool, BaseTool]] = {}
        self._messages = Messages()

    @property
    def active_messages(self) -> int:
        """Model messages whose calls are running now (0 between turns)."""
        return sum(len(volleys) for volleys in self._volleys.values())

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
        key = self._tool(False, request)
        tool = request.tool
        if tool is not None and not has_async_body(tool):
            request = request.override(tool=self._in_threads(tool))
        call = LangChainCall(request, handler, None)
        message = self._messages.of(request)
        result = await self._volleys[False].run(
            message, ToolCall(call.call_id, key, {"call": call})
        )
        if result is None:  # its volley never opened (its host failed or was cancelled)
            return await handler(request)
        return call.answer(result)

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        if request.tool_call.get("id") is None:  # nothing to know it by: LangChain's own way
            return handler(request)
        call = LangChainCall(request, handler, contextvars.copy_context())
        key = self._tool(True, request)
        volley = self._messages.of(request)
        result = self._volleys[True].run_sync(volley, ToolCall(call.call_id, key, {"call": call}))
        if result is None:  # its volley's loop never ran it
            return handler(request)
        return call.answer(result)

    def _in_threads(self, tool: BaseTool) -> BaseTool:
        """The stand-in that runs ``tool``'s sync body in this middleware's threads."""
        known = self._stand_ins.get(id(tool))
        if known is None or known[0] is not tool:
            known = self._stand_ins[id(tool)] = (tool, InThreads.wrap(tool, self._threads))
        return known[1]

    def _tool(self, threaded: bool, request: ToolCallRequest) -> str:
        """The name in the executor's toolbox of the toolvolley tool the call runs as: its
        name, and the options given for it here (tool names) and in its LangChain tool's
        ``metadata["toolvolley"]``."""
        name = request.tool_call["name"]
        options: dict[str, Any] = {
            "destructive": name in self.destructive,
            "read_only": name in self.read_only,
            "idempotent": name in self.idempotent,
        }
        options.update(declared_options(name, request.tool))
        cache = (threaded, name, tuple(sorted(options.items())))
        with self._lock:
            key = self._tools.get(cache)
            if key is None:
                made = Tool(
                    name=name,
                    description=f"{name} (run by ToolvolleyMiddleware)",
                    func=run_sync if threaded else run_async,
                    is_async=not threaded,
                    arguments=CALL_ARGUMENTS,
                ).with_options(**options)
                key = self._tools[cache] = f"{name}#{len(self._tools)}"
                self._toolboxes[threaded].made[key] = made
            return key


class _Toolbox(Toolbox):
    """The middleware's tools, found by the key a call is submitted under: LangChain's tools
    (and what their metadata says) only become known as their calls come."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[str, Tool] = {}

    def get(self, name: str) -> Tool | None:
        return self.made.get(name)
