"""Results of calls made by code go back before the code's container expires.

With programmatic tool calling the code the model wrote waits, in the provider's container, for
the results of the calls it made; the container expires (``ModelResponse.expires_at``, about
4.5 minutes after it was last used), and a result sent after that is lost: the model may take
the call as timed out and make it again. So a turn whose calls came from code stops waiting
``MARGIN`` seconds before the expiry (time for the follow-up to reach the provider), and every
call not finished by then is answered with a ``timeout`` result saying why, never left hanging.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone

import anyio

from ._calls import ToolCall, ToolResult

__all__ = ["MARGIN", "answer_by", "too_late"]

MARGIN = 5.0  # seconds left for the follow-up request to reach the provider


def answer_by(expires_at: datetime, calls: Sequence[ToolCall]) -> float | None:
    """The event loop's time by which the turn must stop waiting for its calls, if code made
    any of them."""
    if not any(call.by_code for call in calls):
        return None
    left = (expires_at - datetime.now(timezone.utc)).total_seconds()
    if left <= 0:
        # The provider has just used the container: an expiry already past says this clock
        # and the provider's disagree, not that it is gone. Cutting every call would be wrong.
        return None
    return anyio.current_time() + max(left - MARGIN, 0.0)


def too_late(result: ToolResult, expires_at: datetime) -> ToolResult:
    """A call still running when the container's time ran out, answered as such."""
    if result.status != "cancelled":
        return result
    message = (
        f"The call to {result.name!r} did not finish before the code execution container that "
        f"waits for it expires ({expires_at:%H:%M:%S} UTC), so it was stopped and this answer "
        "sent while the code can still read it. Call it again if you still need its result, "
        "or go on without it."
    )
    return dataclasses.replace(
        result, status="timeout", content=message, error=TimeoutError(message)
    )
