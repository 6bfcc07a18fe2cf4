"""ToolvolleyMiddleware: toolvolley's scheduling for the calls of one model message in create_agent.

``create_agent`` sends each tool call of a model message to the tool node as a task of its own
(``Send("tools", [call])``), so ``wrap_tool_call`` sees one call at a time and no middleware of
LangChain's can hold a per-message limit, a serial order or a barrier. Here the calls of one
message (found by the AIMessage id in the state) meet in one :class:`~toolvolley.Batch`, a
*volley*:

* the first call to arrive opens the batch: under ``ainvoke`` its task hosts it, under
  ``invoke`` an event loop in a thread of its own does. Every call of the message submits itself
  to that batch and waits for its own result only;
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
import itertools
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import anyio
import anyio.from_thread
import anyio.lowlevel
import langgraph.errors
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from .._batch import Batch
from .._calls import ToolCall, ToolResult
from .._errors import UserError
from .._events import ExecutionHooks
from .._executor import Executor
from .._options import check_count, check_scheduling, check_seconds
from .._policies import Hedge, Retry
from .._scheduling import Mode, SideEffectsPolicy
from .._threads import ThreadRunner
from .._toolbox import Toolbox
from .._tools import Tool
from ._langchain_threads import InThreads
from ._langchain_tools import declared_options, has_async_body

__all__ = ["ToolvolleyMiddleware"]

# LangGraph before is_invalid_resume never marks a refused resume value.
_is_invalid_resume: Callable[[BaseException], bool] = getattr(
    langgraph.errors, "is_invalid_resume", lambda error: False
)

Outcome: TypeAlias = "ToolMessage | Command[Any]"

# A call's body is found by its volley's number and its id; the model's own arguments are
# LangChain's to check.
_BODY_SCHEMA = {
    "type": "object",
    "properties": {"volley": {"type": "integer"}, "call": {"type": "string"}},
    "required": ["volley", "call"],
}


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
        self._volleys: dict[tuple[bool, object], _Volley] = {}
        self._by_number: dict[int, _Volley] = {}
        self._numbers = itertools.count()
        # One executor for the async calls and one for invoke()'s, shared by their volleys (a
        # hedge learns latencies across messages). Their tools are made as calls bring them.
        self._executors: dict[bool, Executor] = {}
        self._tools: dict[tuple[bool, str, tuple[tuple[str, Any], ...]], Tool] = {}
        self._stand_ins: dict[int, tuple[BaseTool, BaseTool]] = {}
        self._messages = _Messages()

    @property
    def active_messages(self) -> int:
        """Model messages whose calls are running now (0 between turns)."""
        with self._lock:
            return len(self._volleys)

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
        runs_as = self._tool(False, request)
        tool = request.tool
        if tool is not None and not has_async_body(tool):
            request = request.override(tool=self._in_threads(tool))
        entry = _Entry(request, handler, None, _AsyncSignal(), runs_as)
        volley, host = self._join(request, threaded=False)
        if host:
            await self._host(volley, entry)
        else:
            await volley.opened.wait()
            if not volley.enter(entry):  # the host failed or was cancelled
                return await handler(request)
            await entry.signal.wait()
        return entry.answer()

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        if request.tool_call.get("id") is None:  # nothing to know it by: LangChain's own way
            return handler(request)
        context = contextvars.copy_context()
        entry = _Entry(request, handler, context, _ThreadSignal(), self._tool(True, request))
        volley, host = self._join(request, threaded=True)
        if host:
            # The volley's loop runs in a thread of its own, not in this LangGraph worker:
            # each worker waits for its own call only, as it does without the middleware.
            volley.thread = threading.Thread(
                target=anyio.run, args=(self._host, volley, None), name="toolvolley-volley"
            )
            volley.thread.start()
        volley.opened.wait_sync()
        if not self._enter_from_thread(volley, entry):  # the volley failed to open
            return handler(request)
        entry.signal.wait_sync()
        if volley.all_answered.is_set():  # the last call to be answered: the loop is ending
            volley.thread.join()
        return entry.answer()

    @staticmethod
    def _enter_from_thread(volley: _Volley, entry: _Entry) -> bool:
        if volley.token is None:
            return False
        try:
            return anyio.from_thread.run_sync(volley.enter, entry, token=volley.token)
        except RuntimeError:  # its loop has ended
            return False

    def _in_threads(self, tool: BaseTool) -> BaseTool:
        """The stand-in that runs ``tool``'s sync body in this middleware's threads."""
        known = self._stand_ins.get(id(tool))
        if known is None or known[0] is not tool:
            known = self._stand_ins[id(tool)] = (tool, InThreads.wrap(tool, self._threads))
        return known[1]

    # --- volleys ------------------------------------------------------------------------------

    def _join(self, request: ToolCallRequest, *, threaded: bool) -> tuple[_Volley, bool]:
        """The volley the call joins (a place in it reserved), or a new one it hosts."""
        with self._lock:  # under invoke, LangGraph's threads come here at once
            key = self._messages.of(request)
            volley = self._volleys.get((threaded, key))
            if volley is not None:
                volley.reserved += 1
                return volley, False
            volley = self._volleys[threaded, key] = _Volley(
                self, (threaded, key), next(self._numbers), threaded=threaded
            )
            self._by_number[volley.number] = volley
            volley.reserved = 1
            return volley, True

    def _executor(self, threaded: bool) -> Executor:
        with self._lock:
            executor = self._executors.get(threaded)
            if executor is None:
                executor = self._executors[threaded] = Executor(
                    _Toolbox(),
                    mode=self.mode,
                    timeout=self.timeout,
                    max_concurrency=self.max_concurrency,
                    side_effects=self.side_effects,
                    runners={"thread": self._threads},
                    retry=self.retry,
                    hedge=self.hedge,
                )
            return executor

    def _tool(self, threaded: bool, request: ToolCallRequest) -> Tool:
        """The toolvolley tool the call runs as: its name, and the options given for it here
        (tool names) and in its LangChain tool's ``metadata["toolvolley"]``."""
        name = request.tool_call["name"]
        options: dict[str, Any] = {
            "destructive": name in self.destructive,
            "read_only": name in self.read_only,
            "idempotent": name in self.idempotent,
        }
        options.update(declared_options(name, request.tool))
        key = (threaded, name, tuple(sorted(options.items())))
        with self._lock:
            tool = self._tools.get(key)
        if tool is None:
            tool = Tool.from_schema(
                name,
                f"{name} (run by ToolvolleyMiddleware)",
                _BODY_SCHEMA,
                self._body_sync if threaded else self._body_async,
                **options,
            )
            with self._lock:
                tool = self._tools.setdefault(key, tool)
        return tool

    async def _body_async(self, volley: int, call: str) -> str:
        return await self._by_number[volley].entries[call].run_async()

    def _body_sync(self, volley: int, call: str) -> str:
        return self._by_number[volley].entries[call].run_sync()

    async def _host(self, volley: _Volley, entry: _Entry | None) -> None:
        """Open the volley's batch, run the calls that join it, close it once all are answered."""
        try:
            volley.drained = anyio.Event()
            executor = self._executor(volley.threaded)
            volley.toolbox = executor.toolbox
            async with executor.batch(hooks=[volley]) as batch:
                volley.batch = batch
                if volley.threaded:
                    volley.token = anyio.lowlevel.current_token()
                volley.opened.set()
                if entry is not None:
                    volley.enter(entry)
                await volley.drained.wait()
        finally:
            volley.closed = True
            self._forget(volley)
            volley.all_answered.set()
            volley.opened.set()  # a call still waiting to join runs on its own
            for waiting in volley.entries.values():
                waiting.signal.set()  # answered, or cancelled with the batch

    def _forget(self, volley: _Volley) -> None:
        with self._lock:
            self._unlist(volley)

    def _unlist(self, volley: _Volley) -> None:
        """No call joins ``volley`` any more (under the lock)."""
        if self._volleys.get(volley.key) is volley:
            del self._volleys[volley.key]
        self._by_number.pop(volley.number, None)

    def answered(self, volley: _Volley) -> None:
        """Called on the volley's loop when a call has its result: close the volley if it was
        the last one, atomically with new calls joining it."""
        with self._lock:
            volley.finished += 1
            if volley.finished < volley.submitted or volley.reserved:
                return
            self._unlist(volley)
        volley.all_answered.set()
        assert volley.drained is not None
        volley.drained.set()


class _AsyncSignal:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    def wait_sync(self) -> None:
        raise AssertionError("an async call is waited for on its loop")


class _ThreadSignal:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        raise AssertionError("a call under invoke() is waited for in its thread")

    def wait_sync(self) -> None:
        self._event.wait()


Signal: TypeAlias = "_AsyncSignal | _ThreadSignal"


@dataclass(eq=False)
class _Entry:
    """One call of the message: what runs it, and what comes back."""

    request: ToolCallRequest
    handler: Callable[[ToolCallRequest], Any]
    context: contextvars.Context | None  # under invoke: the calling thread's context
    signal: Signal
    tool: Tool  # what toolvolley runs it as
    result: ToolResult | None = None
    outcome: Outcome | Exception | None = None

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
            if not _for_langgraph(exc):
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
            if not _for_langgraph(exc):
                raise
            self.keep(exc)
            return "interrupted"
        self.keep(outcome)
        return _text(outcome)

    def answer(self) -> ToolMessage | Command[Any]:
        outcome, result = self.outcome, self.result
        if isinstance(outcome, Exception):
            raise outcome  # an interrupt, or a refused resume value: LangGraph's to handle
        if outcome is not None and result is not None and result.status == "ok":
            return outcome
        call = self.request.tool_call
        content = (
            result.content
            if result is not None
            else f"The call to {call['name']!r} was cancelled before it finished."
        )
        return ToolMessage(
            content=content, tool_call_id=self.call_id, name=call["name"], status="error"
        )


@dataclass(eq=False)
class _Volley(ExecutionHooks):
    """The calls of one model message running in one batch (see the module docstring)."""

    owner: ToolvolleyMiddleware
    key: tuple[bool, object]
    number: int
    threaded: bool
    opened: Signal = field(init=False)
    entries: dict[str, _Entry] = field(default_factory=dict)
    batch: Batch | None = None
    toolbox: Toolbox = field(init=False)  # the executor's, where the batch finds its tools
    token: anyio.lowlevel.EventLoopToken | None = None
    drained: anyio.Event | None = None
    reserved: int = 0  # calls that joined and are yet to be submitted
    submitted: int = 0
    finished: int = 0
    closed: bool = False
    all_answered: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread = field(init=False)  # under invoke: where the loop runs

    def __post_init__(self) -> None:
        self.opened = _ThreadSignal() if self.threaded else _AsyncSignal()

    def enter(self, entry: _Entry) -> bool:
        """Submit ``entry``'s call (on the volley's loop); False if the volley has closed."""
        if self.closed or self.batch is None:
            return False
        with self.owner._lock:
            self.reserved -= 1
            self.submitted += 1
        self.entries[entry.call_id] = entry
        arguments = {"volley": self.number, "call": entry.call_id}
        self.batch.submit(_toolbox_call(self.toolbox, entry, arguments))
        return True

    def call_finished(self, result: ToolResult) -> None:
        entry = self.entries.get(result.call_id)
        self.owner.answered(self)  # first: the call answered last sees the volley end
        if entry is not None and entry.result is None:
            entry.result = result
            entry.signal.set()


class _Toolbox(Toolbox):
    """The middleware's tools, found by the key a call is submitted under: LangChain's tools
    (and what their metadata says) only become known as their calls come."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[str, Tool] = {}

    def get(self, name: str) -> Tool | None:
        return self.made.get(name)


def _toolbox_call(toolbox: Toolbox, entry: _Entry, arguments: dict[str, Any]) -> ToolCall:
    """The call as the volley's batch runs it: under a key of its tool in the toolbox."""
    assert isinstance(toolbox, _Toolbox)
    tool = entry.tool
    key = f"{tool.name}#{id(tool)}"  # tools are kept (the middleware's cache): ids stay theirs
    toolbox.made.setdefault(key, tool)
    return ToolCall(entry.call_id, key, arguments)


def _for_langgraph(exc: Exception) -> bool:
    """LangGraph's control flow, not a tool's failure: an interrupt (``GraphBubbleUp``), or a
    resume value an interrupt refused (raised so the interrupt can be answered again)."""
    return isinstance(exc, GraphBubbleUp) or _is_invalid_resume(exc)


def _text(outcome: Outcome) -> str:
    """What toolvolley's own result shows of a LangChain outcome (hooks, traces)."""
    if isinstance(outcome, ToolMessage):
        return outcome.text
    return "Command"


class _Messages:
    """The call ids of recent model messages: each of a message's calls finds its
    message without going through all its calls (the tasks of one superstep share the state's
    message objects). Only the last few are kept."""

    __slots__ = ("_seen", "_size")

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._seen: OrderedDict[int, tuple[AIMessage, frozenset[str]]] = OrderedDict()

    def calls(self, message: AIMessage) -> frozenset[str]:
        seen = self._seen.get(id(message))
        if seen is None or seen[0] is not message:
            ids = frozenset(str(c["id"]) for c in message.tool_calls)
            seen = self._seen[id(message)] = (message, ids)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return seen[1]

    def of(self, request: ToolCallRequest) -> object:
        """The key of the model message that made this call.

        The key is the message's id (or its calls' ids) within the LangGraph superstep the call
        runs in: ids repeat across conversations (a fake model's, a replayed one's), supersteps
        do not.
        """
        call = request.tool_call
        config = getattr(request.runtime, "config", None) or {}
        superstep = config.get("configurable", {}).get("checkpoint_map")
        step = tuple(sorted(superstep.items())) if isinstance(superstep, dict) else None
        state = request.state
        messages = state.get("messages", ()) if isinstance(state, dict) else ()
        for message in reversed(messages):
            if isinstance(message, AIMessage) and message.tool_calls:
                ids = self.calls(message)
                if call["id"] in ids:
                    return step, message.id or tuple(sorted(ids))
        return step, "call", call["id"]
