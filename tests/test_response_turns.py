"""The per-response schedule of the adapters whose calls run in their frameworks' own tasks
(``integrations/_response_turns.py``): a schedule outlives no response, and one kept for reuse
is as new."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
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
WIPE = Flags("wipe", destructive=True)


@pytest.mark.anyio
async def test_a_response_after_one_with_a_barrier_waits_for_nothing() -> None:
    turns = ResponseTurns(serial=False, max_concurrency=None, side_effects="declared")
    wipe = turns.enter("first", WIPE)
    await wipe.wait()
    wipe.leave()
    assert turns.responses == 0
    look = turns.enter("second", PLAIN)  # a schedule of its own, not the first one's
    assert not look.waits
    look.leave()
    assert turns.responses == 0


@pytest.mark.anyio
async def test_calls_that_never_overlap_share_nothing_but_a_schedule_as_new() -> None:
    turns = ResponseTurns(serial=False, max_concurrency=1, side_effects="declared")
    for response in ("first", "second", "third"):
        place = turns.enter(response, PLAIN)
        assert turns.responses == 1
        await place.wait()  # the limit's one place is free each time
        place.leave()
        assert turns.responses == 0
    first = turns.enter("fourth", PLAIN)
    second = turns.enter("fifth", PLAIN)  # another response: a limit of its own
    assert turns.responses == 2
    with anyio.fail_after(5):  # sharing one limit of 1, the second would wait for ever
        await first.wait()
        await second.wait()
    first.leave()
    second.leave()
    assert turns.responses == 0


@pytest.mark.anyio
async def test_calls_that_wait_for_nothing_share_a_place_each_leaving_once() -> None:
    turns = ResponseTurns(serial=False, max_concurrency=None, side_effects="declared")
    places = [turns.enter("one", PLAIN) for _ in range(3)]
    assert places[0] is places[1] is places[2]  # no object kept per waiting call
    wipe = turns.enter("one", WIPE)  # waits for the three: a place of its own
    assert wipe.waits
    assert wipe is not places[0]
    after = turns.enter("one", PLAIN)  # behind the barrier: waits too
    assert after.waits
    for place in places:
        place.leave()
    assert turns.responses == 1
    with anyio.fail_after(5):  # the three have left: the barrier goes
        await wipe.wait()
    wipe.leave()
    with anyio.fail_after(5):
        await after.wait()
    after.leave()
    assert turns.responses == 0


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
