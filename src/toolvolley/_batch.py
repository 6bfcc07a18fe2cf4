"""A batch: the calls of one model turn, each run once and answered once.

The batch owns its call tasks (the runtime's task group), asks the :class:`Scheduler` when each
call may start, hands the body to the tool's :class:`Runner`, and writes the one result. What it
promises, whatever happens:

* every submitted call gets exactly one :class:`ToolResult`, in submission order;
* anything a tool raises is that call's ``error`` (``BaseException`` subclasses included); only
  the runtime's own cancellation propagates. A tool that raises ``KeyboardInterrupt`` or
  ``SystemExit`` gets its ``error`` result too, its siblings finish, and the batch re-raises the
  first such exception when it closes, so the program still stops as the tool asked;
* hooks are told of each call once, and cannot change a result or stop the batch (see
  :class:`ExecutionHooks`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import anyio

from ._calls import ToolCall, ToolResult, ToolStatus, new_result
from ._content import UnserializableResult, sendable_text, to_content
from ._dedupe import dedupe_key, ends_sharing
from ._errors import ToolError, UserError, describe_exception, type_name, user_error_unwrapped
from ._events import ExecutionHooks, ProgressReporter, current_reporter
from ._references import ReferenceTurn, Unresolved, plan_references, resolve
from ._report import BatchReport
from ._runtime import Runtime, current_runtime
from ._scheduling import AdmissionLike, Mode, Scheduler, SideEffectsPolicy
from ._schema import ArgumentsError
from ._sdk_calls import to_call
from .runners._base import PLAIN, Attempts, CallContext, settle

if TYPE_CHECKING:
    from ._toolbox import Toolbox
    from ._tools import Tool
    from .runners._base import Runner


class BatchSettings(Protocol):
    """What a batch reads of the executor that made it (an :class:`Executor` is one)."""

    @property
    def toolbox(self) -> Toolbox: ...

    @property
    def mode(self) -> Mode: ...

    @property
    def timeout(self) -> float | None: ...

    @property
    def deadline(self) -> float | None: ...

    @property
    def max_concurrency(self) -> int | None: ...

    @property
    def references(self) -> bool: ...

    @property
    def dedupe(self) -> bool: ...

    @property
    def side_effects(self) -> SideEffectsPolicy: ...

    def route(self, tool: Tool) -> Runner | None: ...


__all__ = ["Batch", "BatchSettings"]

logger = logging.getLogger("toolvolley")

_MAX_ERROR_TEXT = 500
_INF = math.inf
_clock = time.perf_counter  # the clock of every ToolResult


class _Slot:
    __slots__ = ("arguments", "call", "done", "queued_at", "result", "started_at", "tries")

    def __init__(self, call: ToolCall, queued_at: float) -> None:
        self.call = call
        self.queued_at = queued_at
        self.started_at: float | None = None
        self.result: ToolResult | None = None
        self.done: Any = None  # an event, made when a later call waits for this one's result
        self.arguments: dict[str, Any] | None = None  # with references: validated when run
        self.tries: Attempts | None = None  # with a Retry or Hedge: each attempt


class Batch:
    """Calls submitted together; use as an async context manager (see :meth:`Executor.batch`).

    Leaving the block waits for every call. After it, :meth:`results` gives one result per
    submitted call even if the block was cancelled: calls that did not finish are ``cancelled``.
    ``hook_errors`` lists what hooks raised (each was also logged).
    """

    def __init__(self, executor: BatchSettings, *, hooks: Sequence[ExecutionHooks] = ()) -> None:
        self._executor = executor
        self._hooks = tuple(hooks)
        self._slots: list[_Slot] = []
        self._ids: set[str] = set()
        self._runtime: Runtime | None = None
        self._scheduler: Scheduler | None = None
        self._state: Literal["new", "open", "closed"] = "new"
        self._deadline = math.inf
        self._closed_at = 0.0
        self._cancelled_exc: type[BaseException] = BaseException
        self._interrupt: BaseException | None = None
        self._stopping = False  # the batch is being cancelled: no body may start any more
        self._thread = 0  # the event loop's thread, where submit() must be called
        self._shared: dict[tuple[str, str], _Slot] = {}  # with dedupe: the first of each kind
        self.hook_errors: list[BaseException] = []

    async def __aenter__(self) -> Batch:
        if self._state != "new":
            raise UserError("A Batch can be entered once; make a new one with executor.batch().")
        executor = self._executor
        runtime = self._runtime = current_runtime()
        if executor.deadline is not None:
            self._deadline = runtime.now() + executor.deadline
        self._scheduler = Scheduler(
            runtime,
            serial=executor.mode == "serial",
            max_concurrency=executor.max_concurrency,
            side_effects=executor.side_effects,
        )
        self._cancelled_exc = anyio.get_cancelled_exc_class()
        self._thread = threading.get_ident()
        await runtime.open()
        self._state = "open"
        self._tell("batch_started", self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        runtime = self._runtime
        assert runtime is not None
        if exc_type is not None or runtime.host_cancelling():
            # The block is being left because of a cancellation (or an error): calls that have
            # not started their body yet must not start it now, before the cancellation (on
            # its way to them) arrives.
            self._stopping = True
        try:
            with user_error_unwrapped():  # misuse inside the block (e.g. submit(a dict))
                suppress = await runtime.close(exc_type, exc, tb)
        except BaseException:
            if self._interrupt is not None:
                raise self._interrupt from None  # a tool asked the program to stop: that wins
            raise
        finally:
            self._state = "closed"
            self._closed_at = _clock()
            self._tell("batch_finished", self)
        if self._interrupt is not None:
            # Every call has its result; now stop as the tool asked.
            raise self._interrupt
        return suppress

    @property
    def mode(self) -> Mode:
        return self._executor.mode

    @property
    def size(self) -> int:
        """Calls submitted so far (failed ones included)."""
        return len(self._slots)

    def submit(self, call: object) -> int:
        """Start ``call`` (subject to limits and barriers) and return its index in the batch.

        ``call`` is a :class:`ToolCall` or a provider SDK's own tool call (an OpenAI
        ``ChatCompletionMessageFunctionToolCall`` or ``ResponseFunctionToolCall``, an Anthropic
        ``ToolUseBlock``) or its dict.
        """
        if self._state != "open":
            raise UserError("Submit calls inside 'async with executor.batch() as batch:'.")
        if threading.get_ident() != self._thread:
            raise UserError(
                "Batch.submit was called from another thread; call it on the event loop's thread "
                "(from a worker thread: anyio.from_thread.run_sync(batch.submit, call))."
            )
        if not isinstance(call, ToolCall):
            call = to_call(call, "Batch.submit()")
        slot = _Slot(call, _clock())
        index = len(self._slots)
        self._slots.append(slot)
        if call.id in self._ids:
            message = (
                f"Duplicate tool call id {_quoted(call.id)}: an earlier call in this turn has the "
                "same id, so this one was not run. Give every call its own id."
            )
            self._reject(slot, "error", message)
            return index
        self._ids.add(call.id)
        executor = self._executor
        tool = executor.toolbox.get(call.name)
        if tool is None:
            available = ", ".join(executor.toolbox.wire_names) or "none"
            message = f"Unknown tool {_quoted(call.name)}. Available tools: {available}."
            if (why := executor.toolbox.withheld.get(call.name)) is not None:
                message += f" {call.name!r} was left out: {why}"
            self._reject(slot, "unknown_tool", message)
            return index
        key = None
        if executor.dedupe:
            # In serial mode and under side_effects="strict" every call that is not read-only
            # is ordered after the calls before it: a later identical call must not reuse a
            # result from before it.
            ordered = executor.mode == "serial" or executor.side_effects == "strict"
            if ends_sharing(tool, ordered):
                self._shared.clear()
            key = dedupe_key(tool, call)
            first = self._shared.get(key) if key is not None else None
            if first is not None:  # an identical call is running: share its result
                assert self._runtime is not None
                self._runtime.spawn(self._share, slot, first, name=call.id)
                return index
        plan = None
        try:
            if executor.references:
                plan = plan_references(call, index)
            kwargs = tool.arguments.validate(call.arguments) if plan is None else None
        except ArgumentsError as exc:
            self._reject(slot, "invalid_arguments", exc.message, exc.cause)
            return index
        except UserError:
            raise
        except Exception as exc:  # the check's own failure: this call's result, not the batch's
            message = f"Tool {tool.name!r} could not check its arguments: {describe_exception(exc)}"
            self._reject(slot, "error", message, exc)
            return index
        assert self._runtime is not None
        assert self._scheduler is not None
        admitted = self._scheduler.admit(tool)
        turn: AdmissionLike | ReferenceTurn = admitted
        if plan is not None:  # references: validated once the calls they name have results
            slot.arguments, needed = plan
            turn = ReferenceTurn(admitted, self._events_of(needed))
        runner = executor.route(tool)
        self._runtime.spawn(self._run, slot, tool, kwargs, turn, runner, name=call.id)
        if key is not None:
            self._shared[key] = slot
        return index

    def _events_of(self, indices: tuple[int, ...]) -> tuple[Any, ...]:
        """Events set when each of those earlier calls has its result (none for those that
        already have it)."""
        assert self._runtime is not None
        events = []
        for i in indices:
            slot = self._slots[i]
            if slot.result is None:
                if slot.done is None:
                    slot.done = self._runtime.event()
                events.append(slot.done)
        return tuple(events)

    def _result_at(self, index: int) -> ToolResult:
        result = self._slots[index].result
        assert result is not None, "a reference is resolved only after its call has a result"
        return result

    def fail(self, call: object, message: str, *, status: ToolStatus = "error") -> int:
        """Record ``call`` as failed without running it (e.g. its arguments were cut off), so it
        still gets its one result, in order. Returns its index in the batch. ``call`` is what
        :meth:`submit` takes: a :class:`ToolCall` or a provider SDK's own tool call."""
        if self._state != "open":
            raise UserError("Record calls inside 'async with executor.batch() as batch:'.")
        if status == "ok":
            raise UserError("Batch.fail records a failure; its status cannot be 'ok'.")
        if status not in _FAILURES:
            allowed = ", ".join(repr(s) for s in _FAILURES)
            raise UserError(f"Batch.fail(): status must be one of {allowed}; got {status!r}.")
        if not isinstance(message, str):
            raise UserError(
                f"Batch.fail(): message must be a string (what the model reads), "
                f"not {type_name(message)}."
            )
        if not isinstance(call, ToolCall):
            call = to_call(call, "Batch.fail()")
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
        kwargs: dict[str, Any] | None,
        turn: AdmissionLike | ReferenceTurn,
        runner: Runner | None,
    ) -> None:
        """Run one call: wait for its turn, run its body under its timeout, write its result.

        This is the path every call takes, so the common case (no barrier, no limit, no hooks)
        costs as little as it can: see scenario D in ``benchmarks/executor.py``. ``runner`` is
        None for a coroutine function on the event loop, awaited here directly: what
        :class:`LoopRunner` would do, without its frame. ``kwargs`` is None for a call with
        references (see ``_references.py``): they are filled in and validated after its wait.
        """
        runtime = self._runtime
        assert runtime is not None
        timeout = tool.timeout if tool.timeout is not None else self._executor.timeout
        waits = turn.waits
        guard = None
        try:
            # The call's own timeout starts when the call does: now, or after its wait.
            with runtime.guard(self._deadline, None if waits else timeout) as guard:
                if waits:
                    await turn.wait(slot)
                    if timeout is not None:
                        guard.reschedule(min(self._deadline, runtime.now() + timeout))
                try:
                    if self._stopping:
                        return  # no result: it is reported as cancelled, its body never ran
                    if kwargs is None:
                        kwargs = self._resolved(slot, tool)
                    slot.started_at = _clock()
                    if self._hooks:
                        self._tell("call_started", slot.call, slot.started_at)
                        # The call's own task context: report_progress() reaches this batch.
                        current_reporter.set(ProgressReporter(self._tell, slot))
                    if runner is None:
                        value = await tool.func(**kwargs)
                        if type(value) not in PLAIN:  # nested lazy values: see _content
                            value = await settle(value)
                    else:
                        deadline = guard.deadline
                        if deadline != _INF:  # the runners' clock is time.monotonic()
                            deadline += time.monotonic() - runtime.now()
                        context = CallContext(tool, kwargs, deadline)
                        try:
                            value = await runner.run(context)
                        finally:  # retries, hedges: each attempt, whatever the outcome
                            slot.tries = context.attempts
                finally:
                    if waits:
                        turn.release(slot)
            if guard.expired:
                self._finish_timeout(slot, tool, timeout, guard.deadline)
            else:
                self._finish_value(slot, tool, value)
        except ToolError as exc:
            self._finish(slot, "error", exc.message, None, exc)
        except Unresolved as exc:
            self._finish(slot, exc.status, exc.message, None, exc.cause or exc)
        except BaseException as exc:
            if isinstance(exc, self._cancelled_exc) and runtime.cancelling():
                raise  # the runtime's cancellation: the batch is being cancelled
            if guard is not None and guard.expired:  # the tool turned our timeout into another
                self._finish_timeout(slot, tool, timeout, guard.deadline)
            else:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) and self._interrupt is None:
                    self._interrupt = exc
                message = f"Tool {tool.name!r} failed with {describe_exception(exc)}"
                self._finish(slot, "error", message, None, exc)
        finally:
            turn.finish()

    def _resolved(self, slot: _Slot, tool: Tool) -> dict[str, Any]:
        """A call's arguments with its references filled in, validated against its schema."""
        assert slot.arguments is not None
        arguments = resolve(slot.arguments, self._result_at)
        try:
            return tool.arguments.validate(arguments)
        except ArgumentsError as exc:
            raise Unresolved("invalid_arguments", exc.message, exc.cause) from exc

    async def _share(self, slot: _Slot, first: _Slot) -> None:
        """An identical call's result, once the first of them has it, under this call's id."""
        if first.result is None:
            assert self._runtime is not None
            if first.done is None:
                first.done = self._runtime.event()
            await first.done.wait()
        result = first.result
        assert result is not None
        slot.tries = first.tries
        slot.started_at = max(slot.queued_at, result.started_at)
        content, error = result.content, result.error
        if result.status == "timeout":  # the time ran out on the first call's run, not this one
            content = (
                f"Same call as {first.call.id} (same tool and arguments), run once for both; "
                f"its result: {content}"
            )
            error = TimeoutError(content)
        self._finish(slot, result.status, content, result.value, error)

    # --- results ------------------------------------------------------------------------------

    def _finish_value(self, slot: _Slot, tool: Tool, value: Any) -> None:
        try:
            content = to_content(value)
        except UnserializableResult as exc:
            message = f"Tool {tool.name!r} {exc}; no result can be shown."
            self._finish(slot, "error", message, value, exc)
            return
        self._finish(slot, "ok", content, value)

    def _finish_timeout(
        self, slot: _Slot, tool: Tool, timeout: float | None, deadline: float
    ) -> None:
        """The call's own ``timeout`` if that was what ran out, else the batch deadline."""
        if timeout is not None and deadline < self._deadline:
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
        if not content.isascii():  # what a tool returns or raises may hold lone surrogates
            content = sendable_text(content)
        call = slot.call
        if status != "ok" and not content.strip():
            # A failure must say something: Anthropic refuses an empty error tool_result, and
            # with it the whole follow-up.
            content = f"Tool {_quoted(call.name)} failed without saying why."
        tries = slot.tries
        if tries is None:
            result = slot.result = new_result(
                call.id, call.name, status, content, value, error, slot.queued_at, started, ended
            )
        else:
            result = slot.result = new_result(
                call.id,
                call.name,
                status,
                content,
                value,
                error,
                slot.queued_at,
                started,
                ended,
                max(tries.count, 1),
                tuple(tries.errors),
            )
        if slot.done is not None:
            slot.done.set()
        if self._hooks:
            self._tell("call_finished", result)

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
            attempts=max(slot.tries.count, 1) if slot.tries is not None else 1,
            attempt_errors=tuple(slot.tries.errors) if slot.tries is not None else (),
        )

    # --- hooks --------------------------------------------------------------------------------

    def _tell(self, event: str, *args: Any) -> None:
        """Tell every hook of ``event``; a hook that raises is logged and kept, never obeyed."""
        for hook in self._hooks:
            try:
                getattr(hook, event)(*args)
            except BaseException as exc:  # a hook's bug, whatever its kind, is only reported
                if isinstance(exc, self._cancelled_exc):
                    raise
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) and self._interrupt is None:
                    self._interrupt = exc
                self.hook_errors.append(exc)
                logger.error("Hook %r raised in %s; the batch goes on.", hook, event, exc_info=exc)


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


_FAILURES: tuple[ToolStatus, ...] = tuple(s for s in get_args(ToolStatus) if s != "ok")


def _quoted(text: str) -> str:
    """A name or id the model wrote, quoted and cut short: it may be anything, of any length."""
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:76] + "...'"
