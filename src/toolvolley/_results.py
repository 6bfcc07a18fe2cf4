"""One call's record in a batch (:class:`Slot`) and the one :class:`ToolResult` it ends with.

Whatever ends a call (its value, its error, its timeout, a rejection before it ran, the batch's
cancellation) goes through here, so every result is built the same way: on the core's clock
(``_clock.now``), with text any SDK can send (no lone surrogates), a failure that says
something, and the attempts a Retry or Hedge made. The words are ``_wording``'s.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from . import _wording as wording
from ._calls import ToolCall, ToolResult, ToolStatus, new_result
from ._clock import now
from ._content import UnserializableResult, sendable_text, to_content

if TYPE_CHECKING:
    from collections.abc import Hashable

    from .runners._base import Attempts

__all__ = ["Slot", "cancelled", "finish", "finish_value", "recorded", "timed_out"]


class Slot:
    """One submitted call, from its submission to its result."""

    __slots__ = (
        "abandoned",
        "arguments",
        "call",
        "done",
        "key",
        "queued_at",
        "result",
        "started_at",
        "tries",
    )

    def __init__(self, call: ToolCall, queued_at: float) -> None:
        self.call = call
        self.queued_at = queued_at
        self.started_at: float | None = None
        self.result: ToolResult | None = None
        self.done: Any = None  # an event, made when a later call waits for this one's result
        self.arguments: dict[str, Any] | None = None  # with references: validated when run
        self.tries: Attempts | None = None  # with a Retry or Hedge: each attempt
        self.key: Hashable | None = None  # with a store: the key its result is kept under
        self.abandoned = False  # its body was left running: it may still take effect


def finish(
    slot: Slot,
    status: ToolStatus,
    content: str,
    value: Any = None,
    error: BaseException | None = None,
) -> ToolResult:
    """The call's one result, kept in ``slot`` (and its ``done`` event set)."""
    ended = now()
    started = slot.started_at if slot.started_at is not None else ended
    if not content.isascii():  # what a tool returns or raises may hold lone surrogates
        content = sendable_text(content)
    call = slot.call
    if status != "ok" and not content.strip():
        # A failure must say something: Anthropic refuses an empty error tool_result, and
        # with it the whole follow-up.
        content = wording.failed_silently(call.name)
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
    return result


def finish_value(slot: Slot, tool_name: str, value: Any) -> ToolResult:
    """The result of a call whose tool returned ``value``."""
    try:
        content = to_content(value)
    except UnserializableResult as exc:
        return finish(slot, "error", wording.unserializable(tool_name, exc), value, exc)
    return finish(slot, "ok", content, value)


def timed_out(
    slot: Slot, tool_name: str, timeout: float | None, own: bool, deadline: float | None
) -> ToolResult:
    """The result of a call that ran out of time: its own ``timeout`` when ``own``, else the
    batch's ``deadline`` (seconds)."""
    stopped = not slot.abandoned
    if own:
        assert timeout is not None
        message = wording.timed_out(tool_name, timeout, stopped, slot.started_at is not None)
    else:
        assert deadline is not None
        message = wording.deadline_passed(tool_name, deadline, slot.started_at is not None, stopped)
    result = finish(slot, "timeout", message, None, TimeoutError(message))
    if not stopped:
        result = slot.result = dataclasses.replace(result, may_still_take_effect=True)
    return result


def cancelled(slot: Slot, closed_at: float) -> ToolResult:
    """The result of a call that had none when its batch closed."""
    started = slot.started_at if slot.started_at is not None else closed_at
    return ToolResult(
        call_id=slot.call.id,
        name=slot.call.name,
        status="cancelled",
        content=wording.cancelled(slot.call.name, stopped=not slot.abandoned),
        queued_at=slot.queued_at,
        started_at=started,
        ended_at=max(started, closed_at),
        attempts=max(slot.tries.count, 1) if slot.tries is not None else 1,
        attempt_errors=tuple(slot.tries.errors) if slot.tries is not None else (),
        may_still_take_effect=slot.abandoned,
    )


def recorded(slot: Slot, result: ToolResult) -> ToolResult:
    """``slot``'s result taken from ``result``, one a store gave for it (an identical call's,
    one recorded earlier): its outcome under this call's id, on this call's times."""
    slot.started_at = max(slot.queued_at, result.started_at)
    ended = now()
    slot.result = new_result(
        slot.call.id,
        slot.call.name,
        result.status,
        result.content,
        result.value,
        result.error,
        slot.queued_at,
        slot.started_at,
        ended,
        result.attempts,
        result.attempt_errors,
        result.may_still_take_effect,
    )
    if slot.done is not None:
        slot.done.set()
    return slot.result
