"""Attacks on the per-response schedule (``integrations/_response_turns.py``) and its users."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import anyio.lowlevel
import pytest

from toolvolley.integrations._response_turns import ResponseTurns


@dataclass(frozen=True)
class Flags:
    name: str
    sequential: bool = False
    read_only: bool = False
    destructive: bool = False
    max_concurrency: int | None = None


PLAIN = Flags("look")


@pytest.mark.anyio
async def test_a_call_cancelled_while_it_waits_for_a_place_leaves_and_stays_cancelled() -> None:
    """The middleware's (and Pydantic AI capability's) pattern: ``try: await place.wait() ...
    finally: place.leave()``. A call cancelled while it waits for the limit holds no place:
    leaving must not try to give one back (which raises), or the cancellation is lost."""
    turns = ResponseTurns(serial=False, max_concurrency=1, side_effects="declared")
    first = turns.enter("r", PLAIN)
    await first.wait()  # holds the one place
    second = turns.enter("r", PLAIN)
    assert second.waits
    outcome: list[str] = []

    async def waiting(scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await second.wait()
            finally:
                second.leave()
        outcome.append("cancelled" if scope.cancelled_caught else "ran")

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiting, scope)
        await anyio.wait_all_tasks_blocked()
        scope.cancel()
    first.leave()
    assert outcome == ["cancelled"]
    assert turns.responses == 0
