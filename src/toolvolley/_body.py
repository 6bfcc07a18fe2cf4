"""A call's body on its runner (``Runner.run``), and what the runner tells of its attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .runners._base import CallContext

if TYPE_CHECKING:
    from ._results import Slot
    from ._tools import Tool
    from .runners._base import Runner

__all__ = ["run_body"]


async def run_body(
    runner: Runner, slot: Slot, tool: Tool, kwargs: dict[str, Any], deadline: float
) -> Any:
    """The call's body, on its runner; ``deadline`` on the core's clock (``_clock.now``)."""
    context = CallContext(tool, kwargs, deadline)
    try:
        return await runner.run(context)
    finally:  # retries, hedges: each attempt, whatever the outcome
        slot.tries = context.attempts
        slot.abandoned = context.abandoned
