"""The calls of one message of toolvolley's LangGraph ``ToolNode`` under ``ainvoke``, each in an
asyncio task of its own as LangGraph's node runs them, under the message's schedule.

When every call of the message runs on the event loop and nothing observes the calls (no hooks,
no tracing, no batch deadline), a :class:`~toolvolley.Batch` would add nothing the calls need
but its bookkeeping: a slot, a guard, a result and a task-group entry per call, all alive while
the call is suspended. That is what garbage collection pays for: with LangChain loaded a full
collection takes 100-250 ms, and 1,000 calls of a message that keep eight objects more each than
LangGraph's own node made one fall in every such message (scenario D of
``benchmarks/peers/run.py``). Here each call is one coroutine around LangGraph's ``_arun_one``:

* the message's :class:`~toolvolley._scheduling.Scheduler` admits the calls in the model's order
  (``max_concurrency``, ``mode="serial"``, side-effect barriers), as a batch's would;
* a call's ``timeout`` (its tool's, else the executor's) is a cancel scope from when it starts;
* a call that raises (a ``BaseException`` too) lets the others finish; the node then raises
  the first error in order, or answers a timeout as ``handle_tool_errors`` says, exactly as
  after a batch.

Anything else (a call run in a thread, hooks, tracing, a deadline) goes through the batch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio

from .. import _wording as wording
from .._scheduling import AdmissionLike, Scheduler
from ._response_turns import EVENTS

if TYPE_CHECKING:
    from langchain_core.messages import ToolCall as LangChainToolCall

    from .._tools import Tool

__all__ = ["Raised", "TimedOut", "run_in_tasks"]


class Raised:
    """A call's exception, raised by the node once every call has finished."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class TimedOut:
    """A call stopped at its timeout: what the model reads of it."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


async def run_in_tasks(
    arun_one: Any,  # the node's _arun_one(call, input_type, runtime)
    calls: list[LangChainToolCall],
    tools: list[Tool],
    input_type: str,
    runtimes: list[Any],
    *,
    serial: bool,
    max_concurrency: int | None,
    side_effects: Any,
    seconds: float | None,
) -> list[Any]:
    """What each call gave, in order: LangGraph's output, or a :class:`Raised` or
    :class:`TimedOut`. ``seconds``: the executor's timeout, for tools without their own."""
    scheduler = Scheduler(
        EVENTS, serial=serial, max_concurrency=max_concurrency, side_effects=side_effects
    )
    given = await asyncio.gather(
        *(
            _one(
                arun_one,
                call,
                input_type,
                runtime,
                tool.name,
                scheduler.admit(tool),  # here, in the model's order
                tool.timeout if tool.timeout is not None else seconds,
            )
            for call, tool, runtime in zip(calls, tools, runtimes, strict=True)
        ),
        # Every call finishes before any is answered: a BaseException that is no Exception
        # (those are Raised already) would otherwise return at once, its siblings left running.
        return_exceptions=True,
    )
    return [Raised(g) if isinstance(g, BaseException) else g for g in given]


async def _one(
    arun_one: Any,
    call: LangChainToolCall,
    input_type: str,
    runtime: Any,
    name: str,
    turn: AdmissionLike,
    seconds: float | None,
) -> Any:
    owner: object | None = None
    try:
        if turn.waits:
            owner = object()  # the limiters' borrower: this call
            await turn.wait(owner)
        try:
            if seconds is None:
                return await arun_one(call, input_type, runtime)
            failure: Exception | None = None
            output: Any = None
            with anyio.CancelScope(deadline=anyio.current_time() + seconds) as scope:
                try:
                    output = await arun_one(call, input_type, runtime)
                except Exception as exc:
                    failure = exc
            if scope.cancel_called:  # our deadline, whatever the tool made of it
                return TimedOut(wording.timed_out(name, seconds))
            return output if failure is None else Raised(failure)
        finally:
            if owner is not None:
                turn.release(owner)
    except Exception as exc:  # LangGraph's to raise (or not) once every call has finished
        return Raised(exc)
    finally:
        turn.finish()
