"""The executor: every call of a batch runs at once (or one at a time), and each gets one result."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Literal

import anyio

from ._calls import ToolCall, ToolResult, ToolStatus, new_result
from ._content import UnserializableResult, to_content
from ._errors import ToolError, UserError
from ._events import ExecutionHooks
from ._report import BatchReport
from ._runtime import Guard, Runtime, current_runtime
from ._schema import ArgumentsError
from ._toolbox import Toolbox
from ._tools import Tool
from ._tracing import SpanHooks, Tracing, resolve_tracer
from ._workers import AbandonedThreads, run_in_process, run_in_thread

__all__ = ["Batch", "Executor", "Mode"]

Mode = Literal["parallel", "serial"]
"""``parallel``: every call starts at once. ``serial``: one call at a time, in order."""

_MAX_ERROR_TEXT = 500
_clock = time.perf_counter  # the clock of every ToolResult


class Executor:
    """Runs a batch of tool calls and returns exactly one :class:`ToolResult` per call, in order.

    * ``mode``: ``"parallel"`` (default) or ``"serial"`` (what ``parallel_tool_calls=False`` means).
    * ``timeout``: seconds one call may run, sync or async (a tool's own ``timeout`` wins).
    * ``deadline``: seconds the whole batch may take; calls unfinished by then time out.
    * ``max_concurrency``: calls running at once in a batch (``None``: no limit).
    * ``max_threads``: ceiling on worker threads a batch uses for sync tools.
    * ``hooks``: objects told when each call starts and finishes (see :class:`ExecutionHooks`).
    * ``tracing``: OpenTelemetry spans, ``"auto"`` (when an SDK is configured), ``True``,
      ``False`` or a ``TracerProvider`` (see the ``otel`` extra).

    Example::

        executor = Executor(Toolbox([get_weather]), timeout=10)
        results = await executor.run(calls)          # or executor.run_sync(calls)
    """

    __slots__ = (
        "_abandoned",
        "deadline",
        "hooks",
        "max_concurrency",
        "max_threads",
        "mode",
        "timeout",
        "toolbox",
        "tracing",
    )

    def __init__(
        self,
        toolbox: Toolbox | Iterable[Tool],
        *,
        mode: Mode = "parallel",
        timeout: float | None = None,
        deadline: float | None = None,
        max_concurrency: int | None = None,
        max_threads: int = 256,
        hooks: Sequence[ExecutionHooks] = (),
        tracing: Tracing = "auto",
    ) -> None:
        if mode not in ("parallel", "serial"):
            raise UserError(f"mode must be 'parallel' or 'serial', not {mode!r}.")
        for label, seconds in (("timeout", timeout), ("deadline", deadline)):
            if seconds is not None and not (_is_number(seconds) and 0 < seconds < math.inf):
                raise UserError(f"{label} must be a positive number of seconds or None.")
        for label, count in (("max_concurrency", max_concurrency), ("max_threads", max_threads)):
            if count is not None and not (_is_int(count) and count >= 1):
                raise UserError(f"{label} must be an integer >= 1.")
        self.toolbox = toolbox if isinstance(toolbox, Toolbox) else Toolbox(toolbox)
        self.mode: Mode = mode
        self.timeout = timeout
        self.deadline = deadline
        self.max_concurrency = max_concurrency
        self.max_threads = max_threads
        self.hooks = tuple(hooks)
        self.tracing: Tracing = tracing
        resolve_tracer(tracing)  # fail now, not mid-conversation, if the extra is missing
        self._abandoned = AbandonedThreads()

    def __repr__(self) -> str:
        return (
            f"Executor({self.toolbox!r}, mode={self.mode!r}, timeout={self.timeout!r}, "
            f"deadline={self.deadline!r}, max_concurrency={self.max_concurrency!r})"
        )

    @property
    def abandoned_threads(self) -> int:
        """Worker threads still running calls that timed out or were cancelled."""
        return self._abandoned.count

    def batch(self, *, hooks: Sequence[ExecutionHooks] = ()) -> Batch:
        """A batch to submit calls to one at a time, e.g. as a stream delivers them::

        async with executor.batch() as batch:
            batch.submit(call)
        results = batch.results()

        ``hooks`` are told about this batch's calls, after the executor's own hooks.
        """
        tracer = resolve_tracer(self.tracing)
        spans = (SpanHooks(tracer),) if tracer is not None else ()
        return Batch(self, hooks=(*self.hooks, *hooks, *spans))

    async def run(self, calls: Iterable[ToolCall]) -> list[ToolResult]:
        """Run ``calls`` and return one result per call, in the order of ``calls``.

        If the caller is cancelled, running tools are cancelled and the cancellation propagates;
        use :meth:`batch` to still read a result per call afterwards.
        """
        async with self.batch() as batch:
            for call in calls:
                batch.submit(call)
        return batch.results()

    def run_sync(self, calls: Iterable[ToolCall]) -> list[ToolResult]:
        """:meth:`run` for code without an event loop (starts one with ``anyio.run``)."""
        running = _running_event_loop()
        if running:
            raise UserError(
                f"run_sync() was called inside a running {running} event loop; "
                "use 'await executor.run()' there."
            )
        return anyio.run(self.run, list(calls))


class _Slot:
    __slots__ = ("call", "queued_at", "result", "started_at")

    def __init__(self, call: ToolCall, queued_at: float) -> None:
        self.call = call
        self.queued_at = queued_at
        self.started_at: float | None = None
        self.result: ToolResult | None = None


class _Phase:
    """The calls submitted since the last barrier; a barrier waits until ``pending`` is zero."""

    __slots__ = ("drained", "pending")

    def __init__(self) -> None:
        self.pending = 0
        self.drained: Any = None  # made by a barrier that has to wait; set when pending hits 0

    def leave(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self.drained is not None:
            self.drained.set()


class Batch:
    """Calls submitted together; use as an async context manager (see :meth:`Executor.batch`).

    Leaving the block waits for every call. After it, :meth:`results` gives one result per
    submitted call even if the block was cancelled: calls that did not finish are ``cancelled``.
    """

    def __init__(self, executor: Executor, *, hooks: Sequence[ExecutionHooks] = ()) -> None:
        self._executor = executor
        self._hooks = tuple(hooks)
        self._slots: list[_Slot] = []
        self._ids: set[str] = set()
        self._runtime: Runtime | None = None
        self._state: Literal["new", "open", "closed"] = "new"
        self._deadline = math.inf
        self._closed_at = 0.0
        self._limiter: anyio.CapacityLimiter | None = None
        self._tool_limiters: dict[str, anyio.CapacityLimiter] = {}
        self._threads: anyio.CapacityLimiter | None = None
        # A barrier (a sequential tool, or every call in serial mode) waits for the calls of the
        # phase before it to finish; calls after it wait for its `gate` event.
        self._gate: Any = None  # the last barrier's done event (the runtime's event type)
        self._phase = _Phase()

    async def __aenter__(self) -> Batch:
        if self._state != "new":
            raise UserError("A Batch can be entered once; make a new one with executor.batch().")
        executor = self._executor
        runtime = self._runtime = current_runtime()
        if executor.deadline is not None:
            self._deadline = runtime.now() + executor.deadline
        if executor.max_concurrency is not None:
            self._limiter = anyio.CapacityLimiter(executor.max_concurrency)
        self._threads = anyio.CapacityLimiter(executor.max_threads)
        await runtime.open()
        self._state = "open"
        for hook in self._hooks:
            hook.batch_started(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._runtime is not None
        try:
            return await self._runtime.close(exc_type, exc, tb)
        finally:
            self._state = "closed"
            self._closed_at = _clock()
            for hook in self._hooks:
                hook.batch_finished(self)

    @property
    def mode(self) -> Mode:
        return self._executor.mode

    @property
    def size(self) -> int:
        """Calls submitted so far (failed ones included)."""
        return len(self._slots)

    def submit(self, call: ToolCall) -> int:
        """Start ``call`` (subject to limits and barriers) and return its index in the batch."""
        if self._state != "open":
            raise UserError("Submit calls inside 'async with executor.batch() as batch:'.")
        if not isinstance(call, ToolCall):
            raise UserError(f"Batch.submit takes a ToolCall, not {type(call).__name__}.")
        slot = _Slot(call, _clock())
        index = len(self._slots)
        self._slots.append(slot)
        if call.id in self._ids:
            message = (
                f"Duplicate tool call id {call.id!r}: an earlier call in this turn has the same "
                "id, so this one was not run. Give every call its own id."
            )
            self._reject(slot, "error", message)
            return index
        self._ids.add(call.id)
        tool = self._executor.toolbox.get(call.name)
        if tool is None:
            available = ", ".join(self._executor.toolbox.wire_names) or "none"
            message = f"Unknown tool {call.name!r}. Available tools: {available}."
            self._reject(slot, "unknown_tool", message)
            return index
        try:
            kwargs = tool.arguments.validate(call.arguments)
        except ArgumentsError as exc:
            self._reject(slot, "invalid_arguments", exc.message, exc.cause)
            return index
        runtime = self._runtime
        assert runtime is not None
        gate, phase = self._gate, self._phase
        if self._executor.mode == "serial" or tool.sequential:
            done = self._gate = runtime.event()
            self._phase = _Phase()
            runtime.spawn(self._run, slot, tool, kwargs, gate, phase, done, name=call.id)
        else:
            phase.pending += 1
            runtime.spawn(self._run, slot, tool, kwargs, gate, None, phase, name=call.id)
        return index

    def fail(self, call: ToolCall, message: str, *, status: ToolStatus = "error") -> int:
        """Record ``call`` as failed without running it (e.g. its arguments were cut off), so it
        still gets its one result, in order. Returns its index in the batch."""
        if self._state != "open":
            raise UserError("Record calls inside 'async with executor.batch() as batch:'.")
        if status == "ok":
            raise UserError("Batch.fail records a failure; its status cannot be 'ok'.")
        slot = _Slot(call, _clock())
        self._slots.append(slot)
        self._ids.add(call.id)
        self._reject(slot, status, message)
        return len(self._slots) - 1

    def results(self) -> list[ToolResult]:
        """One result per submitted call, in submission order (after the batch has closed)."""
        if self._state == "open":
            raise UserError("The batch is still running; read results() after the 'async with'.")
        return [slot.result or self._cancelled(slot) for slot in self._slots]

    def report(self) -> BatchReport:
        """Wall time, sequential time, speedup and efficiency of the batch."""
        return BatchReport.from_results(self.results())

    # --- one call -----------------------------------------------------------------------------

    async def _run(
        self,
        slot: _Slot,
        tool: Tool,
        kwargs: dict[str, Any],
        gate: Any,
        drain: _Phase | None,
        done: Any,
    ) -> None:
        """Run one call. ``gate``: the previous barrier's event, to wait for. ``drain``: for a
        barrier, the phase to wait out. ``done``: the barrier's own event, or the phase the call
        belongs to.

        This is the path every call takes, so the common case (no barrier, no limiter, no
        hooks) costs as little as it can: see scenario D in ``benchmarks/executor.py``.
        """
        runtime = self._runtime
        assert runtime is not None
        timeout = tool.timeout if tool.timeout is not None else self._executor.timeout
        limiters = self._limiters(tool)
        waits = gate is not None or drain is not None or limiters
        try:
            # The call's own timeout starts when the call does: now, or after its wait.
            with runtime.guard(self._deadline, None if waits else timeout) as guard:
                if waits:
                    await self._wait_turn(slot, gate, drain, limiters, timeout, guard)
                try:
                    slot.started_at = _clock()
                    for hook in self._hooks:
                        hook.call_started(slot.call, slot.started_at)
                    if tool.is_async:
                        value = await tool.func(**kwargs)
                    else:
                        value = await self._run_sync_tool(tool, kwargs)
                finally:
                    for limiter in reversed(limiters):
                        limiter.release_on_behalf_of(slot)
            if guard.expired:
                own = timeout is not None and guard.deadline < self._deadline
                self._finish_timeout(slot, tool, timeout if own else None)
            else:
                self._finish_value(slot, tool, value)
        except ToolError as exc:
            self._finish(slot, "error", exc.message, None, exc)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            if len(text) > _MAX_ERROR_TEXT:
                text = text[: _MAX_ERROR_TEXT - 3] + "..."
            message = f"Tool {tool.name!r} failed with {text}"
            self._finish(slot, "error", message, None, exc)
        finally:
            if type(done) is _Phase:
                done.leave()
            else:
                done.set()

    async def _wait_turn(
        self,
        slot: _Slot,
        gate: Any,
        drain: _Phase | None,
        limiters: tuple[anyio.CapacityLimiter, ...],
        call_timeout: float | None,
        guard: Guard,
    ) -> None:
        """Wait for the barrier before the call and for a place in each limiter, then start
        the call's own timeout. On failure, releases what it took."""
        runtime = self._runtime
        assert runtime is not None
        if gate is not None:
            await gate.wait()
        if drain is not None and drain.pending:
            drain.drained = runtime.event()
            await drain.drained.wait()
        acquired: list[anyio.CapacityLimiter] = []
        try:
            for limiter in limiters:
                await limiter.acquire_on_behalf_of(slot)
                acquired.append(limiter)
        except BaseException:
            for limiter in reversed(acquired):
                limiter.release_on_behalf_of(slot)
            raise
        if call_timeout is not None:
            guard.reschedule(min(self._deadline, runtime.now() + call_timeout))

    async def _run_sync_tool(self, tool: Tool, kwargs: dict[str, Any]) -> Any:
        if tool.run_in == "process":
            return await run_in_process(tool.func, kwargs)
        assert self._threads is not None
        return await run_in_thread(
            tool.func, kwargs, limiter=self._threads, abandoned=self._executor._abandoned
        )

    def _limiters(self, tool: Tool) -> tuple[anyio.CapacityLimiter, ...]:
        """The tool's own limiter first, then the batch's: a call waiting for its tool's turn
        does not hold a place others could use."""
        limiters: tuple[anyio.CapacityLimiter, ...] = ()
        if tool.max_concurrency is not None:
            limiter = self._tool_limiters.get(tool.name)
            if limiter is None:
                limiter = anyio.CapacityLimiter(tool.max_concurrency)
                self._tool_limiters[tool.name] = limiter
            limiters = (limiter,)
        if self._limiter is not None:
            limiters = (*limiters, self._limiter)
        return limiters

    # --- results ------------------------------------------------------------------------------

    def _finish_value(self, slot: _Slot, tool: Tool, value: Any) -> None:
        try:
            content = to_content(value)
        except UnserializableResult as exc:
            message = f"Tool {tool.name!r} {exc}; no result can be shown."
            self._finish(slot, "error", message, value, exc)
            return
        self._finish(slot, "ok", content, value)

    def _finish_timeout(self, slot: _Slot, tool: Tool, timeout: float | None) -> None:
        """``timeout``: the call's own limit when that was what ran out; ``None``: the deadline."""
        if timeout is not None:
            message = (
                f"Tool {tool.name!r} did not finish within its {timeout:g} s timeout and was "
                "stopped. Continue without this result, or call it again if it is worth the wait."
            )
        else:
            when = "could start" if slot.started_at is None else "finished; it was stopped"
            message = (
                f"The batch deadline of {self._executor.deadline:g} s passed before tool "
                f"{tool.name!r} {when}. Continue without this result."
            )
        self._finish(slot, "timeout", message, None, TimeoutError(message))

    def _reject(
        self, slot: _Slot, status: ToolStatus, message: str, error: BaseException | None = None
    ) -> None:
        """A call that ends before it starts."""
        slot.started_at = slot.queued_at
        self._finish(slot, status, message, None, error)

    def _finish(
        self,
        slot: _Slot,
        status: ToolStatus,
        content: str,
        value: Any = None,
        error: BaseException | None = None,
    ) -> None:
        ended = _clock()
        started = slot.started_at if slot.started_at is not None else ended
        call = slot.call
        result = slot.result = new_result(
            call.id, call.name, status, content, value, error, slot.queued_at, started, ended
        )
        for hook in self._hooks:
            hook.call_finished(result)

    def _cancelled(self, slot: _Slot) -> ToolResult:
        started = slot.started_at if slot.started_at is not None else self._closed_at
        return ToolResult(
            call_id=slot.call.id,
            name=slot.call.name,
            status="cancelled",
            content=(
                f"The call to {slot.call.name!r} was cancelled before it finished; "
                "no result is available."
            ),
            queued_at=slot.queued_at,
            started_at=started,
            ended_at=max(started, self._closed_at),
        )


def _running_event_loop() -> str | None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "asyncio"
    trio: Any = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            return "trio"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
