"""One call of an executor run in the framework's own task for it, its turn taken in its model
response's schedule (:class:`~toolvolley.integrations._response_turns.ResponseTurns`).

A framework that runs each call of a response in a task of its own (the Agents SDK) can have
each of them run where it is, rather than handed to a batch held by the first of them
(:mod:`._volleys`): the caller's task waits for nothing but its own call, and nothing is kept
alive for it in another. What the call gets is what a batch gives it - its arguments checked by
its tool, its turn (``max_concurrency``, serial mode, side-effect barriers, shared with its
siblings), its tool's or the executor's timeout counted from its start and holding on every
runner (sync tools in abandoned threads, retries and hedges of idempotent tools), and one
:class:`ToolResult` built as a batch builds it - as long as the executor asks for nothing only
a batch has: hooks, tracing spans, a deadline, references, a result store (:func:`runs_alone`).

Anything a tool raises is its call's error, as in a batch (``GeneratorExit``, an
``asyncio.CancelledError`` the tool raises itself); a ``KeyboardInterrupt`` or ``SystemExit``
is raised again once every call of its response has its answer, by the last one to finish, so
the program still stops as the tool asked. Cancellation from outside (the framework cancelling
a call's task) passes as it came, its call unanswered.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from .._admission import rejected
from .._body import run_body
from .._calls import ToolCall, ToolResult
from .._clock import now
from .._errors import ToolError, describe_exception
from .._results import Slot, finish, finish_value, timed_out
from .._runtime import current_runtime
from .._tracing import traced
from .._wording import tool_failed
from ..runners._base import PLAIN, settle

if TYPE_CHECKING:
    from .._executor import Executor
    from .._tools import Tool
    from ..runners._base import Runner
    from ._response_turns import Place, ResponseTurns

__all__ = ["run_alone", "runs_alone"]


def runs_alone(executor: Executor) -> bool:
    """Whether ``executor``'s calls may run alone: it asks for nothing only a batch gives.
    (Whether it traces may change while it lives: a tracer provider set later.)"""
    return (
        not executor.hooks
        and executor.deadline is None
        and not executor.references
        and not executor.dedupe
        and executor.store is None
        and not traced(executor.tracing)
    )


async def run_alone(
    executor: Executor, turns: ResponseTurns, response: Hashable, tool: Tool, call: ToolCall
) -> ToolResult:
    """Run ``call`` of ``tool`` here, in its turn of ``response``, and return its result."""
    slot = Slot(call, now())
    try:
        kwargs = tool.arguments.validate(call.arguments)
    except Exception as exc:
        status, message, error = rejected(tool, exc)
        slot.started_at = slot.queued_at
        return finish(slot, status, message, None, error)
    runner = executor.route(tool)
    timeout = tool.timeout if tool.timeout is not None else executor.timeout
    place = turns.enter(response, tool)
    try:
        result = await _in_turn(place, runner, slot, tool, kwargs, seconds=timeout)
        if place.last_interrupted:
            # Its siblings' tasks, started with its own, may not have reached their tools yet
            # (it never suspended): they enter the response before it leaves it.
            await anyio.lowlevel.checkpoint()
    except BaseException:
        interrupt = place.leave()
        if interrupt is not None:
            raise interrupt from None  # a tool asked the program to stop: that wins
        raise
    interrupt = place.leave()
    if interrupt is not None:
        raise interrupt  # the response's last call out: every other call has its answer
    return result


async def _in_turn(
    place: Place,
    runner: Runner | None,
    slot: Slot,
    tool: Tool,
    kwargs: dict[str, Any],
    *,
    seconds: float | None,
) -> ToolResult:
    """The call, once it has entered its response's schedule: its wait, its body, its result
    (``seconds``: its timeout)."""
    timeout = seconds
    scope: anyio.CancelScope | None = None
    try:
        if place.waits:
            await place.wait()
        slot.started_at = now()
        if timeout is None:
            value = await _body(runner, slot, tool, kwargs, math.inf)
        else:
            value = None
            with anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope:
                value = await _body(runner, slot, tool, kwargs, slot.started_at + timeout)
            if scope.cancel_called:
                return timed_out(slot, tool.name, timeout, True, None)
        return finish_value(slot, tool.name, value)
    except ToolError as exc:
        return finish(slot, "error", exc.message, None, exc)
    except BaseException as exc:  # as a batch: anything the tool raises is its call's error
        if isinstance(exc, anyio.get_cancelled_exc_class()) and current_runtime().cancelling():
            raise  # the framework cancels the call's task (not the tool's own CancelledError)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            place.interrupted(exc)  # raised once the response's other calls have their answers
        if scope is not None and scope.cancel_called:  # the tool turned our timeout into another
            assert timeout is not None
            return timed_out(slot, tool.name, timeout, True, None)
        message = tool_failed(tool.name, describe_exception(exc))
        return finish(slot, "error", message, None, exc)


async def _body(
    runner: Runner | None, slot: Slot, tool: Tool, kwargs: dict[str, Any], deadline: float
) -> Any:
    """The call's body: awaited here for a coroutine function on the event loop (``runner``
    None, as a batch does), else on its runner (``deadline`` on the core's clock)."""
    if runner is not None:
        return await run_body(runner, slot, tool, kwargs, deadline)
    value = await tool.func(**kwargs)
    return value if type(value) in PLAIN else await settle(value)
