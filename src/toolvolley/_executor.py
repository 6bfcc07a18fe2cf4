"""The executor: every call of a batch runs at once (or one at a time), and each gets one result."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping, Sequence

from ._batch import Batch
from ._calls import ToolCall, ToolResult
from ._errors import UserError, type_name
from ._events import Observer
from ._observers import check_observers
from ._options import UNSET, Unset, check_count, check_flag, check_scheduling, check_seconds
from ._policies import Hedge, Retry
from ._runtime import run_new_loop, running_library
from ._scheduling import Mode, SideEffectsPolicy
from ._sdk_calls import is_one_call, to_call
from ._toolbox import Toolbox
from ._tools import Tool
from ._tracing import Tracing, resolve_tracer, span_observers
from .runners._base import LoopRunner, Runner
from .runners._registry import RunnerTable
from .stores import ResultStore
from .stores._base import check_store

__all__ = ["Executor"]


class Executor:
    """Runs a batch of tool calls and returns exactly one :class:`ToolResult` per call, in order.

    * ``mode``: ``"parallel"`` (default) or ``"serial"``: one call at a time, in order (the
      model still sends them together; ``parallel_tool_calls=False`` asks it for one at a time).
    * ``timeout``: seconds one call may run, sync or async (a tool's own ``timeout`` wins).
    * ``deadline``: seconds the whole batch may take; calls unfinished by then time out.
    * ``max_concurrency``: calls running at once in a batch (``None``: no limit).
    * ``side_effects``: how tools' side-effect flags schedule a parallel batch. ``"declared"``
      (default): a tool declared ``destructive`` waits for the calls before it, runs alone and
      holds the calls after it; the rest start at once. ``"strict"``: only ``read_only`` tools
      start at once, every other call is such a barrier. Flags declared on Python tools always
      count; an MCP server's hints only when the server is trusted (``trust_hints=True``).
    * ``max_threads``: ceiling on worker threads running this executor's sync calls at once
      (256; the default ``"thread"`` runner's, see :class:`ThreadRunner`: when ``runners``
      gives the ``"thread"`` runner, set it there).
    * ``runners``: where tools run, by the name a tool gives in ``run_in``; the built-in ones
      are ``"loop"`` (async tools), ``"thread"``, ``"process"`` and, with the ``ray`` extra,
      ``"ray"`` (a default :class:`RayRunner`), each made the first time a tool names it
      (:mod:`toolvolley.runners`). Give a :class:`Runner` here to replace one or add a name.
    * ``hooks``: observers told of each batch's events, when each call starts and finishes:
      functions that take an event, or :class:`ExecutionHooks` (one method per event).
    * ``references``: let an argument name an earlier call's result, ``"$1"`` or
      ``"$1.field"``; the call then runs once that result is in (see
      :func:`references_prompt`). Off by default, because ``"$1"`` may be a real value.
    * ``retry``, ``hedge``: a :class:`Retry` / :class:`Hedge` for every tool marked
      ``idempotent`` that has none of its own; other tools are never sent twice.
    * ``dedupe``: identical calls to an ``idempotent`` tool in one batch (same arguments) run
      once, and each gets the result under its own id (see ``stores/memory.py``: what ends that).
    * ``store``: a :class:`~toolvolley.stores.ResultStore` consulted for the calls it keeps,
      before they run and after (``dedupe=True`` is ``store=MemoryStore()``).
    * ``tracing``: OpenTelemetry spans, ``"auto"`` (when an SDK is configured), ``True``,
      ``False`` or a ``TracerProvider`` (see the ``otel`` extra).

    The settings are checked here and cannot be changed afterwards (an ``AttributeError``):
    make another executor for other settings. Without tools (``Executor(timeout=10)``) it holds
    settings for tools that come from a :class:`~toolvolley.sources.ToolSource`
    (``run_loop(..., executor=)``); :meth:`using` gives it other tools.

    Example::

        executor = Executor(Toolbox([get_weather]), timeout=10)
        results = await executor.run(calls)          # or executor.run_sync(calls)
    """

    __slots__ = (
        "_routes",
        "_runners",
        "deadline",
        "dedupe",
        "hedge",
        "hooks",
        "max_concurrency",
        "max_threads",
        "mode",
        "references",
        "retry",
        "side_effects",
        "store",
        "timeout",
        "toolbox",
        "tracing",
    )

    toolbox: Toolbox
    mode: Mode
    timeout: float | None
    deadline: float | None
    max_concurrency: int | None
    side_effects: SideEffectsPolicy
    max_threads: int | None
    """The default thread runner's ceiling; the given ``"thread"`` runner's if it is a
    :class:`ThreadRunner`, ``None`` if it is another kind of runner."""
    hooks: tuple[Observer, ...]
    tracing: Tracing
    references: bool
    dedupe: bool
    store: ResultStore | None
    retry: Retry | None
    hedge: Hedge | None
    _runners: RunnerTable
    _routes: dict[Tool, Runner | None]

    def __init__(
        self,
        toolbox: Toolbox | Iterable[Tool] = (),
        *,
        mode: Mode = "parallel",
        timeout: float | None = None,
        deadline: float | None = None,
        max_concurrency: int | None = None,
        side_effects: SideEffectsPolicy = "declared",
        max_threads: int | Unset = UNSET,
        hooks: Sequence[Observer] = (),
        tracing: Tracing = "auto",
        runners: Mapping[str, Runner] | None = None,
        references: bool = False,
        retry: Retry | None = None,
        hedge: Hedge | None = None,
        dedupe: bool = False,
        store: ResultStore | None = None,
    ) -> None:
        check_scheduling(mode, side_effects)
        check_seconds("timeout", timeout)
        check_seconds("deadline", deadline)
        check_count("max_concurrency", max_concurrency)
        check_flag("references", references)
        check_flag("dedupe", dedupe)
        check_store(store, dedupe)
        if retry is not None and not isinstance(retry, Retry):
            raise UserError(f"retry must be a Retry or None, not {retry!r}.")
        if hedge is not None and not isinstance(hedge, Hedge):
            raise UserError(f"hedge must be a Hedge or None, not {hedge!r}.")
        runners = runners or {}
        threads = runners.get("thread")
        if threads is not None and max_threads is not UNSET:
            raise UserError(
                "max_threads sets the default thread runner's threads, and runners gives the "
                f"'thread' runner ({threads!r}): drop max_threads, or pass "
                f"runners={{'thread': ThreadRunner(max_threads={max_threads!r})}}."
            )
        default_threads = 256 if max_threads is UNSET else max_threads
        check_count("max_threads", default_threads)
        table = RunnerTable(runners, default_threads)
        # the given "thread" runner's, if it is a ThreadRunner
        threads_max = default_threads if threads is None else _threads_of(threads)
        resolve_tracer(tracing)  # fail now, not mid-conversation, if the extra is missing
        # Frozen: set once here, never after (see __setattr__).
        init = object.__setattr__
        init(self, "toolbox", toolbox if isinstance(toolbox, Toolbox) else Toolbox(toolbox))
        init(self, "mode", mode)
        init(self, "timeout", timeout)
        init(self, "deadline", deadline)
        init(self, "max_concurrency", max_concurrency)
        init(self, "side_effects", side_effects)
        init(self, "max_threads", threads_max)
        init(self, "hooks", check_observers(hooks))
        init(self, "tracing", tracing)
        init(self, "references", references)
        init(self, "dedupe", dedupe)
        init(self, "store", store)
        init(self, "retry", retry)
        init(self, "hedge", hedge)
        init(self, "_runners", table)
        init(self, "_routes", {})
        for tool in self.toolbox:
            self.runner_for(tool)  # a tool naming a runner this executor lacks fails here

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"Executor settings cannot be changed after it is made (setting {name!r}): "
            "make a new Executor with the settings you want."
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(
            f"Executor settings cannot be removed (deleting {name!r}): make a new Executor."
        )

    def __repr__(self) -> str:
        return (
            f"Executor({self.toolbox!r}, mode={self.mode!r}, timeout={self.timeout!r}, "
            f"deadline={self.deadline!r}, max_concurrency={self.max_concurrency!r})"
        )

    @property
    def abandoned_threads(self) -> int:
        """Worker threads still running calls that timed out or were cancelled."""
        return sum(runner.abandoned for runner in self._runners)

    def runner_for(self, tool: Tool) -> Runner:
        """The runner ``tool``'s body runs on: the one it names, or this executor's runner of
        that name (``"loop"`` for async tools)."""
        where = tool.placement
        if isinstance(where, Runner):
            return where
        runner = self._runners.get(where)
        if runner is None:
            known = ", ".join(self._runners.names())
            raise UserError(
                f"Tool {tool.name!r} runs in {where!r}, but this executor has no runner "
                f"of that name (it has: {known}). Pass runners={{{where!r}: ...}}."
            )
        return runner

    def route(self, tool: Tool) -> Runner | None:
        """:meth:`runner_for`, remembered per tool; ``None`` for a coroutine function on the
        default event-loop runner, which the batch awaits directly (the per-call hot path)."""
        try:
            return self._routes[tool]
        except KeyError:
            runner = self.runner_for(tool)
            retry, hedge = tool.retry, tool.hedge
            if tool.idempotent:  # the executor's policies: for idempotent tools only
                retry = retry or self.retry
                hedge = hedge or self.hedge
            if retry is not None or hedge is not None:
                from .runners.policies import PolicyRunner

                route: Runner | None = PolicyRunner(runner, retry, hedge)
                self._routes[tool] = route
                return route
            direct = type(runner) is LoopRunner and inspect.iscoroutinefunction(tool.func)
            route = self._routes[tool] = None if direct else runner
            return route

    def using(self, tools: Toolbox | Iterable[Tool]) -> Executor:
        """This executor with other tools: the same settings, runners (and their threads) and
        hooks. Cheap: the loop makes one when a tool source's list changes between turns."""
        toolbox = tools if isinstance(tools, Toolbox) else Toolbox(tools)
        if toolbox is self.toolbox:
            return self
        view = object.__new__(Executor)
        for name in Executor.__slots__:
            object.__setattr__(view, name, getattr(self, name))
        object.__setattr__(view, "toolbox", toolbox)
        for tool in toolbox:
            view.runner_for(tool)  # as in __init__: a runner this executor lacks fails here
        return view

    def batch(self, *, hooks: Sequence[Observer] = (), store: ResultStore | None = None) -> Batch:
        """A batch to submit calls to one at a time, e.g. as a stream delivers them::

        async with executor.batch() as batch:
            batch.submit(call)
        results = batch.results()

        ``hooks`` are told of this batch's events, after the executor's own hooks. ``store``
        is this batch's instead of the executor's, or of its ``dedupe`` (e.g. a journal bound to
        one conversation).
        """
        check_store(store, False)
        store = store if store is not None else self.store
        spans = span_observers(self.tracing)
        return Batch(self, hooks=(*self.hooks, *hooks, *spans), store=store)

    async def run(self, calls: Iterable[object]) -> list[ToolResult]:
        """Run ``calls`` and return one result per call, in the order of ``calls``.

        A call is a :class:`ToolCall` or a provider SDK's own tool call as it comes: an item of
        an OpenAI ``message.tool_calls``, a ``function_call`` item of a Responses output, an
        Anthropic ``tool_use`` block, or the dict of one (``result_messages`` writes the
        answers back in the provider's format)::

            results = await executor.run(message.tool_calls)

        If the caller is cancelled, running tools are cancelled and the cancellation propagates;
        use :meth:`batch` to still read a result per call afterwards. Anything in ``calls`` that
        is not a tool call is a :class:`UserError` before any call starts.
        """
        calls = _checked(calls, "Executor.run()")
        async with self.batch() as batch:
            for call in calls:
                batch.submit(call)
        return batch.results()

    def run_sync(self, calls: Iterable[object]) -> list[ToolResult]:
        """:meth:`run` for code without an event loop (starts one with ``anyio.run``)."""
        running = running_library()
        if running:
            raise UserError(
                f"run_sync() was called inside a running {running} event loop; "
                "use 'await executor.run()' there."
            )
        return run_new_loop(self.run, _checked(calls, "Executor.run_sync()"))


def _threads_of(runner: Runner) -> int | None:
    """The threads of a given ``"thread"`` runner: a :class:`ThreadRunner`'s ceiling."""
    threads = sys.modules.get("toolvolley.runners.threads")  # not loaded: not a ThreadRunner
    if threads is not None and isinstance(runner, threads.ThreadRunner):
        return runner.max_threads  # type: ignore[no-any-return]
    return None


def _checked(calls: Iterable[object], where: str) -> list[ToolCall]:
    """``calls`` as a list of ToolCalls, checked before any of them starts (misuse found in the
    batch's task group would fail the calls already started with it)."""
    if is_one_call(calls):
        one = type_name(calls)
        raise UserError(f"{where} takes a list of tool calls; got one {one}: pass [call].")
    if (
        isinstance(calls, (str, bytes, Mapping))
        or not isinstance(calls, Iterable)
        or _is_model(calls)  # iterable, but over its fields
    ):
        got = type_name(calls)
        raise UserError(f"{where} takes a list of tool calls; got {got}.{_hint(calls)}")
    return [call if isinstance(call, ToolCall) else to_call(call, where) for call in calls]


def _is_model(value: object) -> bool:
    """Whether ``value`` is a pydantic model, e.g. an SDK's whole message or response."""
    return hasattr(type(value), "model_fields")


def _hint(calls: object) -> str:
    if calls is None:
        return " (An SDK's tool_calls is None when the model answered without calling a tool.)"
    if _is_model(calls):
        return (
            " Pass its tool calls: message.tool_calls (OpenAI Chat), the function_call items of "
            "response.output (Responses), the tool_use blocks of response.content (Anthropic)."
        )
    return ""
