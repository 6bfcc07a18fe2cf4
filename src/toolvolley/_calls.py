"""What the model asked for (:class:`ToolCall`) and what goes back to it (:class:`ToolResult`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ._errors import UserError

__all__ = ["ToolCall", "ToolResult", "ToolStatus", "new_result"]

ToolStatus = Literal[
    "ok", "error", "timeout", "cancelled", "invalid_arguments", "unknown_tool", "in_doubt"
]
"""How a call ended. Only ``"ok"`` means the tool returned a value. ``"in_doubt"``: after a
crash, a call that had started and has no recorded result (its tool neither idempotent nor able
to check, see ``@tool(reconcile=...)``): it may or may not have taken effect."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call as the model wrote it.

    ``arguments`` is the raw JSON text the model produced (validated only when the call runs, so a
    malformed value becomes an ``invalid_arguments`` result, not an exception); a mapping is
    accepted too::

        ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')

    ``caller`` is who made the call when it was not the model itself but code the model wrote
    and the provider runs (programmatic tool calling), exactly as the wire gave it: Anthropic's
    ``{"type": "code_execution_20250825", "tool_id": ...}``, OpenAI Responses'
    ``{"type": "program", "caller_id": ...}``. ``None`` for a call the model made directly. Such
    a call runs like any other; its result must reach the provider before the code's container
    expires (see :attr:`ModelResponse.expires_at`).
    """

    id: str
    name: str
    arguments: str | Mapping[str, Any] = "{}"
    caller: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Misuse caught here, not as a result: a result could not be written back without a
        # string id, and a batch could not even look up or file an unhashable one.
        if not isinstance(self.id, str):
            raise UserError(
                f"ToolCall id must be a string (the id the model gave the call), got "
                f"{type(self.id).__name__}."
            )
        if not isinstance(self.name, str):
            raise UserError(
                f"ToolCall name must be a string (the tool the model asked for), got "
                f"{type(self.name).__name__}."
            )

    @property
    def by_code(self) -> bool:
        """Whether code the model wrote made this call (its ``caller`` is not ``direct``)."""
        return self.caller is not None and self.caller.get("type") != "direct"

    def arguments_text(self) -> str:
        """The arguments as JSON text, whatever form they were given in."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The one answer to one :class:`ToolCall`.

    ``content`` is the text sent back to the model: the tool's return value (JSON for structured
    values) or, when the call failed, a short message saying what was wrong and what to do.
    Times are seconds on the monotonic ``time.perf_counter()`` clock: ``queued_at`` when the call
    was handed to the executor, ``started_at`` when the tool began, ``ended_at`` when it ended.
    ``attempts`` counts the times the body was started (more than one with a :class:`Retry` or
    :class:`Hedge`); ``attempt_errors`` says why each attempt that did not answer failed.
    ``may_still_take_effect``: the call timed out or was given up on while its body could not be
    stopped (an abandoned thread, a worker process that had the job), or it is ``in_doubt``: what
    it does may happen, or have happened, after this result.
    """

    call_id: str
    name: str
    status: ToolStatus
    content: str
    value: Any = None
    error: BaseException | None = field(default=None, repr=False)
    queued_at: float = 0.0
    started_at: float = 0.0
    ended_at: float = 0.0
    attempts: int = 1
    attempt_errors: tuple[str, ...] = ()
    may_still_take_effect: bool = False

    @property
    def ok(self) -> bool:
        """Whether the tool returned a value."""
        return self.status == "ok"

    @property
    def is_error(self) -> bool:
        """Whether the model should read ``content`` as a failure (providers flag these)."""
        return self.status != "ok"

    @property
    def duration(self) -> float:
        """Seconds the tool ran (zero for calls that never started)."""
        return self.ended_at - self.started_at

    @property
    def queue_time(self) -> float:
        """Seconds between handing the call over and the tool starting."""
        return self.started_at - self.queued_at


class _Unfrozen:
    """The layout of :class:`ToolResult` (the same slots, in the same order) without the frozen
    ``__setattr__``: filled in with plain stores, then given its real class."""

    __slots__ = tuple(f.name for f in fields(ToolResult))


def new_result(
    call_id: str,
    name: str,
    status: ToolStatus,
    content: str,
    value: Any,
    error: BaseException | None,
    queued_at: float,
    started_at: float,
    ended_at: float,
    attempts: int = 1,
    attempt_errors: tuple[str, ...] = (),
    may_still_take_effect: bool = False,
) -> ToolResult:
    """``ToolResult(...)`` at about a quarter of the cost, for the executor's hot path.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` once per field; this
    stores into an object of the same layout and then sets its class (allowed because the slots
    are the same). The object is the same in every respect.
    """
    result: Any = object.__new__(_Unfrozen)
    result.call_id = call_id
    result.name = name
    result.status = status
    result.content = content
    result.value = value
    result.error = error
    result.queued_at = queued_at
    result.started_at = started_at
    result.ended_at = ended_at
    result.attempts = attempts
    result.attempt_errors = attempt_errors
    result.may_still_take_effect = may_still_take_effect
    result.__class__ = ToolResult
    return result  # type: ignore[no-any-return]
