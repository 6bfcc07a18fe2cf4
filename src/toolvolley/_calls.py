"""What the model asked for (:class:`ToolCall`) and what goes back to it (:class:`ToolResult`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = ["ToolCall", "ToolResult", "ToolStatus", "new_result"]

ToolStatus = Literal["ok", "error", "timeout", "cancelled", "invalid_arguments", "unknown_tool"]
"""How a call ended. Only ``"ok"`` means the tool returned a value."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call as the model wrote it.

    ``arguments`` is the raw JSON text the model produced (validated only when the call runs, so a
    malformed value becomes an ``invalid_arguments`` result, not an exception); a mapping is
    accepted too::

        ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    """

    id: str
    name: str
    arguments: str | Mapping[str, Any] = "{}"

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


_RESULT_SLOTS = tuple(getattr(ToolResult, f.name).__set__ for f in fields(ToolResult))


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
) -> ToolResult:
    """``ToolResult(...)`` at about half the cost, for the executor's hot path.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` once per field; this
    fills the slots directly. The object is the same in every respect.
    """
    result = object.__new__(ToolResult)
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = _RESULT_SLOTS
    s0(result, call_id)
    s1(result, name)
    s2(result, status)
    s3(result, content)
    s4(result, value)
    s5(result, error)
    s6(result, queued_at)
    s7(result, started_at)
    s8(result, ended_at)
    return result
