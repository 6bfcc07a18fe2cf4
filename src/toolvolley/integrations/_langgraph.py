"""LangGraph's ``ToolNode`` with the calls of one message run by a toolvolley executor.

The node is LangGraph's own (a subclass): parsing the input, injecting state, store and runtime,
``wrap_tool_call`` / ``awrap_tool_call``, ``handle_tool_errors``, ``Command`` outputs and how
the outputs are combined all stay LangGraph's code. Only the fan-out changes: where LangGraph
maps ``_run_one`` over a thread pool (``invoke``) or gathers ``_arun_one`` (``ainvoke``), a
toolvolley batch runs each call's ``_run_one`` / ``_arun_one`` (``_langgraph_jobs.py``), so the
executor decides when each starts (``max_concurrency``, ``mode``, side-effect barriers), stops
it at its ``timeout`` (sync tools too: they run in the executor's threads) and lets every call
finish when one raises. Under ``ainvoke``, a message whose calls all run on the loop, with no
hooks, tracing or deadline to serve, gets the same from the executor's scheduler and a cancel
scope per call, each call in a task of its own as LangGraph gathers them
(``_langgraph_tasks.py``): a batch's bookkeeping per call is what made garbage collection
dear.

Each call runs in a copy of the caller's context, as in LangGraph's own pool, so ``get_config``,
``interrupt`` and LangGraph's tool-call streaming see the run they belong to.
"""

from __future__ import annotations

import concurrent.futures
import functools
from collections.abc import Awaitable, Callable, Sequence
from contextvars import copy_context
from typing import Any

import anyio
from langchain_core.messages import AnyMessage, ToolMessage
from langchain_core.messages import ToolCall as LangChainToolCall
from langchain_core.runnables.config import RunnableConfig, get_config_list
from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import AsyncToolCallWrapper, ToolCallWrapper, ToolRuntime
from langgraph.prebuilt.tool_node import ToolNode as LangGraphToolNode
from langgraph.runtime import Runtime
from pydantic import BaseModel

from .._batch import Batch
from .._calls import ToolCall
from .._compat import (
    langgraph_default_error_handler,
    langgraph_error_content,
    langgraph_handled_types,
)
from .._errors import ToolvolleyError, UserError, type_name
from .._executor import Executor
from .._runtime import run_new_loop, running_library
from .._scheduling import Mode, SideEffectsPolicy
from .._toolbox import Toolbox
from .._tracing import span_observers, traced
from ._langgraph_jobs import Job, Output, Settings, in_thread, node_tool, on_loop
from ._langgraph_tasks import Raised, TimedOut, run_in_tasks
from ._lc_tools import has_async_body

__all__ = ["ToolNode", "ToolTimeoutError"]

ErrorHandling = bool | str | Callable[..., str] | type[Exception] | tuple[type[Exception], ...]

# Calls to a name the node has no tool for still run: a wrapper may answer them.
_UNREGISTERED = "<unregistered tool>"
_DEFAULT_HANDLER = langgraph_default_error_handler()  # ToolNode's own default


class ToolTimeoutError(ToolvolleyError, TimeoutError):
    """A tool call ran past its ``timeout`` and was stopped.

    :class:`ToolNode` answers it with a ``ToolMessage`` (``status="error"``) as LangGraph
    answers an error under ``handle_tool_errors``; with ``handle_tool_errors=False``, or a
    handler that does not take it, the node raises it once the other calls have finished.
    """

    def __init__(self, message: str, *, tool_name: str, tool_call_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id


class ToolNode(LangGraphToolNode):
    """``langgraph.prebuilt.ToolNode`` whose calls run on a toolvolley :class:`Executor`.

    Everything LangGraph's node takes, it takes, with the same defaults; and:

    * ``timeout``: seconds one call may run (its ``wrap_tool_call`` included), sync tools too;
      a call past it is answered with an error ``ToolMessage`` (see :class:`ToolTimeoutError`).
    * ``max_concurrency``: calls of one message running at once (``None``: no limit; under
      ``invoke`` a run's ``config["max_concurrency"]`` caps them too, as it caps LangGraph's).
    * ``mode``: ``"parallel"`` (default) or ``"serial"``: one at a time, in the model's order.
    * ``side_effects``: ``"declared"`` (default): a tool with ``metadata={"toolvolley":
      {"destructive": True}}`` runs alone, after the calls before it and before those after it;
      ``"strict"``: every call not marked ``read_only`` does.
    * ``executor``: an :class:`Executor` whose settings, threads, hooks and tracing to use,
      instead of the four options above (its own tools are not used).

    A LangChain tool can set its own ``timeout``, ``max_concurrency``, ``sequential``,
    ``read_only`` or ``destructive`` in ``metadata={"toolvolley": {...}}``. Example::

        from toolvolley.langgraph import ToolNode   # was: from langgraph.prebuilt import ToolNode

        node = ToolNode([search, fetch_page], timeout=30, max_concurrency=4)
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: ErrorHandling = _DEFAULT_HANDLER,
        messages_key: str = "messages",
        wrap_tool_call: ToolCallWrapper | None = None,
        awrap_tool_call: AsyncToolCallWrapper | None = None,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        mode: Mode = "parallel",
        side_effects: SideEffectsPolicy = "declared",
        executor: Executor | None = None,
    ) -> None:
        super().__init__(
            tools,
            name=name,
            tags=tags,
            handle_tool_errors=handle_tool_errors,
            messages_key=messages_key,
            wrap_tool_call=wrap_tool_call,
            awrap_tool_call=awrap_tool_call,
        )
        if executor is None:
            executor = Executor(
                [],
                timeout=timeout,
                max_concurrency=max_concurrency,
                mode=mode,
                side_effects=side_effects,
            )
        elif not isinstance(executor, Executor):
            raise UserError(f"executor must be a toolvolley Executor, not {type_name(executor)}.")
        elif (timeout, max_concurrency, mode, side_effects) != (None, None, "parallel", "declared"):
            raise UserError(
                "Give timeout, max_concurrency, mode and side_effects to the Executor passed as "
                "executor=, not to the ToolNode as well."
            )
        self.executor = executor
        tools_by_name = self.tools_by_name
        # invoke(): every call runs _run_one in a thread. ainvoke(): on the loop (_arun_one),
        # except calls that would only block it: a sync-only tool, or a sync wrapper alone.
        self._sync_tools = Toolbox(
            [node_tool(name, tool, in_thread) for name, tool in tools_by_name.items()]
            + [node_tool(_UNREGISTERED, None, in_thread)]
        )
        self._thread_in_async = {
            name: self._runsin_thread(tool) for name, tool in tools_by_name.items()
        }
        self._thread_in_async[_UNREGISTERED] = self._runsin_thread(None)
        self._async_tools = Toolbox(
            [
                node_tool(name, tools_by_name.get(name), in_thread if thread else on_loop)
                for name, thread in self._thread_in_async.items()
            ]
        )

    def _runsin_thread(self, tool: BaseTool | None) -> bool:
        """Whether ``ainvoke`` runs this tool's calls in a thread: LangGraph would run them
        synchronously anyway (no async wrapper, and a sync wrapper or a sync-only tool)."""
        if self._awrap_tool_call is not None:
            return False
        return self._wrap_tool_call is not None or (tool is not None and not has_async_body(tool))

    # --- the seam: LangGraph's fan-out, replaced ------------------------------------------------

    def _func(
        self,
        input: list[AnyMessage] | dict[str, Any] | BaseModel,
        config: RunnableConfig,
        runtime: Runtime,  # LangGraph injects the runtime by this name
    ) -> Any:
        tool_calls, input_type = self._parse_input(input)
        runtimes = self._runtimes(input, config, runtime, tool_calls)
        jobs = [
            Job(self, call, input_type, rt, copy_context())
            for call, rt in zip(tool_calls, runtimes, strict=True)
        ]
        limit = _min_limit(self.executor.max_concurrency, config.get("max_concurrency"))
        settings = Settings(self.executor, self._sync_tools, limit)
        outputs = _run_blocking(functools.partial(self._run_jobs, jobs, settings))
        return self._combine_tool_outputs(outputs, input_type)

    async def _afunc(
        self,
        input: list[AnyMessage] | dict[str, Any] | BaseModel,
        config: RunnableConfig,
        runtime: Runtime,
    ) -> Any:
        tool_calls, input_type = self._parse_input(input)
        runtimes = self._runtimes(input, config, runtime, tool_calls)
        threaded = self._thread_in_async
        names = [self._tool_name(call) for call in tool_calls]
        executor = self.executor
        if (
            not any(threaded[name] for name in names)
            and not executor.hooks
            and executor.deadline is None
            and not traced(executor.tracing)
        ):  # nothing a batch would add: each call in a task of its own, as LangGraph's node
            tools = self._async_tools
            given = await run_in_tasks(
                self._arun_one,
                tool_calls,
                [tools.get(name) for name in names],  # type: ignore[misc]
                input_type,
                runtimes,
                serial=executor.mode == "serial",
                max_concurrency=executor.max_concurrency,
                side_effects=executor.side_effects,
                seconds=executor.timeout,
            )
            return self._combine_tool_outputs(self._outputs(tool_calls, given), input_type)
        jobs = [
            Job(
                self,
                call,
                input_type,
                rt,
                copy_context() if threaded[self._tool_name(call)] else None,
            )
            for call, rt in zip(tool_calls, runtimes, strict=True)
        ]
        settings = Settings(self.executor, self._async_tools, self.executor.max_concurrency)
        outputs = await self._run_jobs(jobs, settings)
        return self._combine_tool_outputs(outputs, input_type)

    def _runtimes(
        self,
        input: list[AnyMessage] | dict[str, Any] | BaseModel,
        config: RunnableConfig,
        runtime: Runtime,
        tool_calls: list[LangChainToolCall],
    ) -> list[ToolRuntime[Any, Any]]:
        """One ``ToolRuntime`` per call, as LangGraph's ``_func`` / ``_afunc`` build them."""
        tools = list(self.tools_by_name.values())
        return [
            ToolRuntime[Any, Any](
                state=self._extract_state(input, cfg),
                tool_call_id=call["id"],
                config=cfg,
                context=runtime.context,
                store=runtime.store,
                stream_writer=runtime.stream_writer,
                tools=tools,
                execution_info=runtime.execution_info,
                server_info=runtime.server_info,
            )
            for call, cfg in zip(tool_calls, get_config_list(config, len(tool_calls)), strict=True)
        ]

    def _tool_name(self, call: LangChainToolCall) -> str:
        name = call["name"]
        return name if name in self.tools_by_name else _UNREGISTERED

    async def _run_jobs(self, jobs: list[Job], settings: Settings) -> list[Output]:
        """Run every call in one batch; then the outputs in order, or the first error."""
        spans = span_observers(self.executor.tracing)
        batch = Batch(settings, hooks=(*self.executor.hooks, *spans))
        seen: set[str] = set()
        async with batch:
            for index, job in enumerate(jobs):
                call_id = job.call.get("id") or f"call_{index}"
                if call_id in seen:  # LangGraph runs calls that share an id; so do we
                    call_id = f"{call_id}#{index}"
                seen.add(call_id)
                batch.submit(ToolCall(call_id, self._tool_name(job.call), {"job": job}))
        outputs: list[Output] = []
        for job, result in zip(jobs, batch.results(), strict=True):
            if result.status == "timeout":
                outputs.append(self._timed_out(job.call, result.content))
            elif job.error is not None:
                raise job.error
            elif not job.done:  # a BaseException that is no Exception: LangGraph raises it too
                raise result.error or RuntimeError(f"call {result.call_id}: {result.content}")
            else:
                outputs.append(job.output)  # type: ignore[arg-type]  # None from a bad wrapper
        return outputs

    def _outputs(self, calls: list[LangChainToolCall], given: list[Any]) -> list[Output]:
        """The outputs of :func:`run_in_tasks` in order, or the first error."""
        outputs: list[Output] = []
        for call, output in zip(calls, given, strict=True):
            if type(output) is TimedOut:
                outputs.append(self._timed_out(call, output.message))
            elif type(output) is Raised:
                raise output.error
            else:
                outputs.append(output)
        return outputs

    def _timed_out(self, call: LangChainToolCall, content: str) -> ToolMessage:
        """The answer to a call stopped at its timeout, as ``handle_tool_errors`` says: the
        default (which answers the model's mistakes and raises the tools' own errors) answers
        it, as the model can go on without it; other settings treat it as any error."""
        error = ToolTimeoutError(content, tool_name=call["name"], tool_call_id=call["id"])
        flag = self._handle_tool_errors
        if flag is _DEFAULT_HANDLER:
            content = error.message
        elif not flag or not isinstance(error, _handled_types(flag)):
            raise error
        else:
            content = langgraph_error_content(error, flag)
        return ToolMessage(
            content=content, name=call["name"], tool_call_id=call["id"], status="error"
        )


def _handled_types(flag: ErrorHandling) -> tuple[type[Exception], ...]:
    """The exceptions ``handle_tool_errors`` answers, as LangGraph's node decides them."""
    if isinstance(flag, type) and issubclass(flag, Exception):
        return (flag,)
    if isinstance(flag, tuple):
        return flag
    if callable(flag) and not isinstance(flag, type):
        return langgraph_handled_types(flag)
    return (Exception,)


def _min_limit(own: int | None, config: object) -> int | None:
    if not isinstance(config, int) or isinstance(config, bool) or config < 1:
        return own
    return config if own is None else min(own, config)


def _run_blocking(func: Callable[[], Awaitable[list[Output]]]) -> list[Output]:
    """Run ``func`` on an event loop of its own; in a new thread if this one has a loop running
    (a graph invoked synchronously from async code)."""
    if running_library() is None:
        # A thread of a graph run from async code may carry sniffio's "asyncio" in its context
        # with no loop running in it: anyio.run would refuse to start.
        return run_new_loop(func)
    # Not in this context: it says asyncio is running (sniffio). Each call has its own copy.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="toolvolley") as pool:
        return pool.submit(anyio.run, func).result()
