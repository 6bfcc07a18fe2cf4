"""A batch: the calls of one model turn, each run once and answered once.

The batch owns its call tasks (the runtime's task group), asks the :class:`Scheduler` when each
call may start, hands the body to the tool's :class:`Runner`, and writes the one result. What it
promises, whatever happens:

* every submitted call gets exactly one :class:`ToolResult`, in submission order;
* anything a tool raises is that call's ``error`` (``BaseException`` subclasses included); only
  the runtime's own cancellation propagates. A tool that raises ``KeyboardInterrupt`` or
  ``SystemExit`` gets its ``error`` result too, its siblings finish, and the batch re-raises the
  first such exception when it closes, so the program still stops as the tool asked;
* its observers (hooks, ``on_event``) are told of each event once, and cannot change a result
  or stop the batch (see ``_observers.py``); with none, no event is made.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio

from . import _wording as wording
from ._admission import check_failure, rejected
from ._batch_settings import BatchSettings
from ._body import run_body
from ._calls import ToolCall, ToolResult, ToolStatus
from ._clock import from_runtime, now
from ._errors import ToolError, UserError, describe_exception, user_error_unwrapped
from ._events import (
    BatchFinished,
    BatchStarted,
    CallFinished,
    CallStarted,
    Observer,
    ProgressReporter,
    TurnEvent,
    current_reporter,
)
from ._observers import Observers
from ._references import (
    ReferenceTurn,
    Unresolved,
    plan_references,
    resolved_arguments,
    waits_for,
)
from ._report import BatchReport
from ._results import Slot, cancelled, finish, finish_value, recorded, timed_out
from ._runtime import Runtime, current_runtime
from ._scheduling import AdmissionLike, Mode, Scheduler
from ._sdk_calls import to_call
from ._starts import Late, Start, Starts
from .runners._base import PLAIN, settle
from .stores import BatchScope, MemoryStore

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ._tools import Tool
    from .runners._base import Runner
    from .stores import ResultStore, StoreBatch


__all__ = ["Batch", "BatchSettings"]

_INF = math.inf


class Batch:
    """Calls submitted together; use as an async context manager (see :meth:`Executor.batch`).

    Leaving the block waits for every call. After it, :meth:`results` gives one result per
    submitted call even if the block was cancelled: calls that did not finish are ``cancelled``.
    ``hook_errors`` lists what its hooks raised (each was also logged). ``store`` is consulted for
    the calls it keeps (see ``toolvolley.stores``); ``executor.dedupe`` makes it a
    :class:`MemoryStore` when none is given.
    """

    def __init__(
        self,
        executor: BatchSettings,
        *,
        hooks: Sequence[Observer] = (),
        store: ResultStore | None = None,
    ) -> None:
        self._executor = executor
        self._observers = Observers(hooks)
        self._hooks = self._observers.observers
        self._notify = self._observers.notify
        self._slots: list[Slot] = []
        self._ids: set[str] = set()
        self._runtime: Runtime | None = None
        self._scheduler: Scheduler | None = None
        self._state: Literal["new", "open", "closed"] = "new"
        self._deadline = math.inf
        self._closed_at = 0.0
        self._stopping = False  # the batch is being cancelled: no body may start any more
        self._thread = 0  # the event loop's thread, where submit() must be called
        self._store = store if store is not None or not executor.dedupe else MemoryStore()
        self._kept: StoreBatch | None = None  # the store's view of this batch, once open
        self._starts: Starts | None = None  # its calls that start together (see _starts.py)
        self.hook_errors = self._observers.errors

    async def __aenter__(self) -> Batch:
        if self._state != "new":
            raise UserError("A Batch can be entered once; make a new one with executor.batch().")
        executor = self._executor
        runtime = self._runtime = current_runtime()
        if executor.deadline is not None:
            self._deadline = runtime.now() + executor.deadline
        serial = executor.mode == "serial"
        self._scheduler = Scheduler(
            runtime,
            serial=serial,
            max_concurrency=executor.max_concurrency,
            side_effects=executor.side_effects,
        )
        self._observers.cancelled_exc = cancelled = anyio.get_cancelled_exc_class()
        if self._store is not None:
            # Serial, or strict side effects: every call that is not read-only is ordered after
            # the calls before it.
            ordered = serial or executor.side_effects == "strict"
            self._kept = await self._store.open_batch(BatchScope(ordered=ordered))
            self._starts = Starts(
                runtime,
                self._kept,
                deadline=self._deadline,
                cancelled=cancelled,
                stopping=lambda: self._stopping,
                run=self._run,
            )
        self._thread = threading.get_ident()
        await runtime.open()
        self._state = "open"
        if self._hooks:
            self._notify(BatchStarted(self, now()))
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
        observers = self._observers
        try:
            with user_error_unwrapped():  # misuse inside the block (e.g. submit(a dict))
                suppress = await runtime.close(exc_type, exc, tb)
            if self._kept is not None:
                await self._kept.close()
        except BaseException:
            if observers.interrupt is not None:
                raise observers.interrupt from None  # a tool asked the program to stop: that wins
            raise
        finally:
            self._state = "closed"
            self._starts = None  # it holds the batch (its run): not kept past the close
            self._closed_at = now()
            if self._hooks:
                self._notify(BatchFinished(self, self._closed_at))
        if observers.interrupt is not None:
            # Every call has its result; now stop as the tool asked.
            raise observers.interrupt
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
        slot = Slot(call, now())
        index = len(self._slots)
        self._slots.append(slot)
        if call.id in self._ids:
            self._reject(slot, "error", wording.duplicate_id(call.id))
            return index
        self._ids.add(call.id)
        toolbox = self._executor.toolbox
        tool = toolbox.get(call.name)
        if tool is None:
            available = ", ".join(toolbox.wire_names)
            message = wording.unknown_tool(call.name, available, toolbox.withheld.get(call.name))
            self._reject(slot, "unknown_tool", message)
            return index
        executor = self._executor
        runtime = self._runtime
        assert runtime is not None
        kept = self._kept
        if kept is not None and (key := kept.key(tool, call)) is not None:
            answer = kept.recorded(key)
            if answer is not None:  # the store answers it (an identical call, a record)
                runtime.spawn(self._answer, slot, answer, name=call.id)
                return index
            slot.key = key
        try:  # the check is inline: every call passes here (see scenario D)
            plan = plan_references(call, index) if executor.references else None
            kwargs = tool.arguments.validate(call.arguments) if plan is None else None
        except Exception as exc:
            self._reject(slot, *rejected(tool, exc))
            return index
        assert self._scheduler is not None
        admitted = self._scheduler.admit(tool)
        turn: AdmissionLike | ReferenceTurn = admitted
        if plan is not None:  # references: validated once the calls they name have results
            slot.arguments, needed = plan
            turn = ReferenceTurn(admitted, waits_for(self._slots, needed, runtime.event))
        runner = executor.route(tool)
        if slot.key is not None:
            assert kept is not None
            kept.running(slot.key, call)
            if not turn.waits:  # recorded with the calls submitted with it, before any starts
                assert self._starts is not None
                self._starts.add((slot, tool, kwargs, turn, runner), self._timeout(tool))
                return index
            # else its start is recorded when its wait is over, in its own task
        runtime.spawn(self._run, slot, tool, kwargs, turn, runner, None, name=call.id)
        return index

    def fail(self, call: object, message: str, *, status: ToolStatus = "error") -> int:
        """Record ``call`` as failed without running it (e.g. its arguments were cut off), so it
        still gets its one result, in order. Returns its index in the batch. ``call`` is what
        :meth:`submit` takes: a :class:`ToolCall` or a provider SDK's own tool call."""
        if self._state != "open":
            raise UserError("Record calls inside 'async with executor.batch() as batch:'.")
        check_failure(status, message)
        if not isinstance(call, ToolCall):
            call = to_call(call, "Batch.fail()")
        slot = Slot(call, now())
        self._slots.append(slot)
        self._ids.add(call.id)
        self._reject(slot, status, message)
        return len(self._slots) - 1

    def results(self) -> list[ToolResult]:
        """One result per submitted call, in submission order (after the batch has closed)."""
        if self._state == "open":
            raise UserError("The batch is still running; read results() after the 'async with'.")
        return [slot.result or cancelled(slot, self._closed_at) for slot in self._slots]

    def report(self) -> BatchReport:
        """Wall time, sequential time, speedup and efficiency of the batch."""
        return BatchReport.from_results(self.results())

    def notify(self, event: TurnEvent) -> None:
        """Tell this batch's hooks of ``event``, as the batch tells them of its own: how
        :func:`run_turn` passes on what the model's stream delivers and the turn's end.

        What a hook raises is logged and kept in ``hook_errors``; an interrupt it raises
        (``KeyboardInterrupt``) is raised when the batch closes, or at once after it has.
        """
        observers = self._observers
        before = observers.interrupt
        observers.notify(event)
        interrupt = observers.interrupt
        if self._state == "closed" and interrupt is not None and interrupt is not before:
            raise interrupt

    def _timeout(self, tool: Tool) -> float | None:
        return tool.timeout if tool.timeout is not None else self._executor.timeout

    # --- one call -----------------------------------------------------------------------------

    async def _run(
        self,
        slot: Slot,
        tool: Tool,
        kwargs: dict[str, Any] | None,
        turn: AdmissionLike | ReferenceTurn,
        runner: Runner | None,
        start: Start | None,
    ) -> None:
        """Run one call: wait for its turn, run its body under its timeout, write its result.

        This is the path every call takes, so the common case (no barrier, no limit, no hooks,
        no store) costs as little as it can: see scenario D in ``benchmarks/executor.py``.
        ``runner`` is None for a coroutine function on the event loop, awaited here directly:
        what :class:`LoopRunner` would do, without its frame. ``kwargs`` is None for a call with
        references (see ``_references.py``): they are filled in and validated after its wait.
        ``start``: its start was recorded by the store with others' (see ``_starts.py``); its
        timeout counts the record's time, not the wait to run.
        """
        runtime = self._runtime
        assert runtime is not None
        timeout = self._timeout(tool)
        waits = turn.waits
        guard = None
        try:
            deadline, relative = self._deadline, None if waits else timeout
            if start is not None and timeout is not None:  # it started when its record did
                relative = timeout - start.took  # the record's time counts, not the siblings'
                if relative <= 0:
                    deadline, relative = min(deadline, runtime.now()), None
            # The call's own timeout starts when the call does: now, or after its wait.
            with runtime.guard(deadline, relative) as guard:
                if waits:
                    await turn.wait(slot)
                    if timeout is not None:
                        guard.reschedule(min(self._deadline, runtime.now() + timeout))
                try:
                    if self._stopping:
                        return  # no result: it is reported as cancelled, its body never ran
                    if kwargs is None:
                        kwargs = resolved_arguments(slot, self._slots, tool)
                    if start is not None:  # recorded with others (or not, if it raised)
                        if start.error is not None:
                            raise start.error
                        if guard.deadline <= runtime.now():
                            raise Late  # its time ran out while its start was being recorded
                    elif slot.key is not None:  # the store records that it starts
                        assert self._kept is not None
                        await self._kept.started([(slot.key, slot.call)])
                    slot.started_at = now()
                    if self._hooks:
                        self._notify(CallStarted(slot.call, slot.started_at))
                        # The call's own task context: report_progress() reaches this batch.
                        current_reporter.set(ProgressReporter(self._notify, slot))
                    if runner is None:
                        value = await tool.func(**kwargs)
                        if type(value) not in PLAIN:  # nested lazy values: see _content
                            value = await settle(value)
                    else:
                        deadline = guard.deadline
                        if deadline != _INF:  # the runners' clock is the core's: _clock.now
                            deadline = from_runtime(deadline, runtime.now())
                        value = await run_body(runner, slot, tool, kwargs, deadline)
                finally:
                    if waits:
                        turn.release(slot)
            if guard.expired:
                result = self._timed_out(slot, tool, timeout, guard.deadline)
            else:
                result = finish_value(slot, tool.name, value)
        except Late:
            assert guard is not None
            result = self._timed_out(slot, tool, timeout, guard.deadline)
        except ToolError as exc:
            result = finish(slot, "error", exc.message, None, exc)
        except Unresolved as exc:
            result = finish(slot, exc.status, exc.message, None, exc.cause or exc)
        except BaseException as exc:
            if isinstance(exc, self._observers.cancelled_exc) and runtime.cancelling():
                raise  # the runtime's cancellation: the batch is being cancelled
            self._observers.interrupted(exc)  # also one the tool raised at our timeout
            if guard is not None and guard.expired:  # the tool turned our timeout into another
                result = self._timed_out(slot, tool, timeout, guard.deadline)
            else:
                message = wording.tool_failed(tool.name, describe_exception(exc))
                result = finish(slot, "error", message, None, exc)
        finally:
            turn.finish()
        if self._hooks:
            self._notify(CallFinished(result))
        if slot.key is not None:
            assert self._kept is not None
            await self._kept.finished(slot.key, result)

    async def _answer(self, slot: Slot, answer: Awaitable[ToolResult]) -> None:
        """A call the store answered: the result it gives, under this call's id."""
        try:
            result = recorded(slot, await answer)
        except Exception as exc:  # the store's failure: this call's result, not the batch's
            message = wording.tool_failed(slot.call.name, describe_exception(exc))
            result = finish(slot, "error", message, None, exc)
        if self._hooks:
            self._notify(CallFinished(result))

    def _timed_out(
        self, slot: Slot, tool: Tool, timeout: float | None, deadline: float
    ) -> ToolResult:
        """The call's own ``timeout`` if that was what ran out, else the batch deadline."""
        own = timeout is not None and deadline < self._deadline
        return timed_out(slot, tool.name, timeout, own, self._executor.deadline)

    def _reject(
        self, slot: Slot, status: ToolStatus, message: str, error: BaseException | None = None
    ) -> None:
        """A call that ends before it starts."""
        slot.started_at = slot.queued_at
        result = finish(slot, status, message, None, error)
        if self._hooks:
            self._notify(CallFinished(result))
