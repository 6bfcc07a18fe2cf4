"""A timed-out call whose body could not be stopped says so: an abandoned thread may still
take effect (``ToolResult.may_still_take_effect``, and its content), an async body that was
cancelled was stopped."""

from __future__ import annotations

import threading

import anyio
import pytest

from toolvolley import Executor, ToolCall, tool

release = threading.Event()


@tool(timeout=0.2)
def hangs() -> str:
    """Blocks until released: its thread is abandoned at the timeout."""
    release.wait(30)
    return "late"


@tool(timeout=0.2)
async def sleeps() -> str:
    """Cancelled at the timeout: stopped."""
    await anyio.sleep(30)
    return "late"


@pytest.mark.anyio
async def test_an_abandoned_thread_may_still_take_effect() -> None:
    release.clear()
    try:
        results = await Executor([hangs, sleeps]).run(
            [ToolCall("a", "hangs"), ToolCall("b", "sleeps")]
        )
    finally:
        release.set()
    abandoned, stopped = results
    assert [r.status for r in results] == ["timeout", "timeout"]
    assert abandoned.may_still_take_effect
    assert "may still take effect" in abandoned.content
    assert "was stopped" not in abandoned.content
    assert not stopped.may_still_take_effect
    assert "was stopped" in stopped.content


@pytest.mark.anyio
async def test_a_deadline_that_abandons_a_thread_says_so() -> None:
    release.clear()
    try:
        results = await Executor([hangs.with_options(timeout=None)], deadline=0.2).run(
            [ToolCall("a", "hangs")]
        )
    finally:
        release.set()
    assert results[0].status == "timeout"
    assert results[0].may_still_take_effect
    assert "may still take effect" in results[0].content


@pytest.mark.anyio
async def test_a_cancelled_call_whose_thread_goes_on_says_so() -> None:
    """Cancelled, not timed out: the abandoned thread's result says it may still take effect;
    a cancelled async body was stopped and says nothing of the kind."""
    release.clear()
    entered = threading.Event()

    @tool
    def charge() -> str:
        entered.set()
        release.wait(30)
        return "charged"

    try:
        with anyio.CancelScope() as scope:
            async with Executor([charge, sleeps.with_options(timeout=None)]).batch() as batch:
                batch.submit(ToolCall("a", "charge"))
                batch.submit(ToolCall("b", "sleeps"))
                await anyio.to_thread.run_sync(entered.wait, 30)
                scope.cancel()
    finally:
        release.set()
    abandoned, stopped = batch.results()
    assert [r.status for r in (abandoned, stopped)] == ["cancelled", "cancelled"]
    assert abandoned.may_still_take_effect
    assert "may still take effect" in abandoned.content
    assert not stopped.may_still_take_effect
    assert stopped.content.endswith("no result is available.")
