"""One observer mechanism: a hook is any function that takes an event, ``ExecutionHooks`` is one
such function with a method per event, and ``run_loop``'s ``on_event`` is one more hook of each
turn's batch. A batch without hooks makes no event at all."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import Field

from toolvolley import ExecutionHooks, Executor, ToolCall, UserError, run_loop, run_turn, tool
from toolvolley.events import (
    BatchFinished,
    BatchStarted,
    CallFinished,
    CallProgress,
    CallReady,
    CallStarted,
    TextDelta,
    TurnEvent,
    TurnFinished,
    report_progress,
)
from toolvolley.providers import OpenAIChat
from toolvolley.testing import OfflineModel


@tool
async def get_weather(city: Annotated[str, Field(examples=["Seoul", "Paris"])]) -> str:
    """Weather for a city."""
    report_progress(1, 2, f"looking up {city}")
    await anyio.lowlevel.checkpoint()
    return f"sunny in {city}"


def _name(event: TurnEvent) -> str:
    match event:
        case CallStarted(call) | CallReady(call):
            return f"{type(event).__name__} {call.id}"
        case CallProgress(call, progress, total, message):
            return f"CallProgress {call.id} {progress:g}/{total:g} {message}"
        case CallFinished(result):
            return f"CallFinished {result.call_id} {result.status}"
        case BatchStarted(batch) | BatchFinished(batch):
            return f"{type(event).__name__} ({batch.mode}, {batch.size} calls)"
    return type(event).__name__


@pytest.mark.anyio
async def test_a_function_is_a_hook_and_hears_the_batchs_events_in_order() -> None:
    heard: list[TurnEvent] = []
    names: list[str] = []  # as each event arrives: a batch's size grows

    def hook(event: TurnEvent) -> None:
        heard.append(event)
        names.append(_name(event))

    executor = Executor([get_weather], hooks=[hook], mode="serial")
    results = await executor.run(
        [ToolCall("a", "get_weather", {"city": "Seoul"}), ToolCall("b", "nope", "{}")]
    )
    assert names == [
        "BatchStarted (serial, 0 calls)",
        "CallFinished b unknown_tool",  # answered at once, without running
        "CallStarted a",
        "CallProgress a 1/2 looking up Seoul",
        "CallFinished a ok",
        "BatchFinished (serial, 2 calls)",
    ]
    first, last = heard[0], heard[-1]
    assert isinstance(first, BatchStarted)
    assert isinstance(last, BatchFinished)
    assert first.at <= last.at
    assert [e.result for e in heard if isinstance(e, CallFinished)] == results[::-1]


@pytest.mark.anyio
async def test_hooks_of_the_executor_then_of_the_batch_hear_each_event_in_that_order() -> None:
    heard: list[str] = []

    class Methods(ExecutionHooks):
        def call_finished(self, result: Any) -> None:
            heard.append(f"methods {result.call_id}")

    executor = Executor([get_weather], hooks=[Methods()])
    async with executor.batch(hooks=[lambda e: heard.append(_name(e))]) as batch:
        batch.submit(ToolCall("a", "nope", "{}"))
    assert heard == [
        "BatchStarted (parallel, 0 calls)",
        "methods a",
        "CallFinished a unknown_tool",
        "BatchFinished (parallel, 1 calls)",
    ]


class Duck:  # the methods of ExecutionHooks, without being one
    def call_finished(self, result: Any) -> None:
        pass


def test_a_hook_that_cannot_be_called_is_a_user_error() -> None:
    with pytest.raises(UserError, match=r"ExecutionHooks subclass.*Duck"):
        Executor([get_weather], hooks=[Duck()])  # type: ignore[list-item]
    executor = Executor([get_weather])
    with pytest.raises(UserError, match=r"ExecutionHooks subclass.*Duck"):
        executor.batch(hooks=[Duck()])  # type: ignore[list-item]


@pytest.mark.anyio
async def test_a_batch_without_hooks_makes_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("an event was made for nobody")

    for name in ("BatchStarted", "CallStarted", "CallFinished", "BatchFinished"):
        monkeypatch.setattr(f"toolvolley._batch.{name}", refuse)
    monkeypatch.setattr("toolvolley._batch.ProgressReporter", refuse)
    results = await Executor([get_weather]).run(
        [ToolCall("a", "get_weather", {"city": "Seoul"}), ToolCall("b", "nope", "{}")]
    )
    assert [r.status for r in results] == ["ok", "unknown_tool"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the offline model
async def test_on_event_is_one_more_hook_and_hears_the_turns_batch() -> None:
    events: list[TurnEvent] = []
    names: list[str] = []
    executor_heard: list[TurnEvent] = []

    def on_event(event: TurnEvent) -> None:
        events.append(event)
        if not isinstance(event, TextDelta):
            names.append(_name(event))

    executor = Executor([get_weather], hooks=[executor_heard.append])
    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        transcript = [model.user_message("Weather in Seoul?")]
        _, stats = await run_turn(model, transcript, executor, on_event=on_event)
    call = stats.results[0].call_id
    assert names == [
        "BatchStarted (parallel, 0 calls)",
        f"CallReady {call}",
        f"CallStarted {call}",
        f"CallProgress {call} 1/2 looking up Seoul",
        f"CallFinished {call} ok",
        "BatchFinished (parallel, 1 calls)",
        "TurnFinished",
    ]
    # The executor's hooks hear the same events, the stream's included, each before on_event.
    assert executor_heard == events
    assert isinstance(events[-1], TurnFinished)
    assert events[-1].turn is stats


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the offline model
async def test_an_interrupt_from_on_event_waits_for_the_turns_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As from any hook: kept and raised once every call has its result, never mid-batch."""
    finished: list[str] = []

    def on_event(event: TurnEvent) -> None:
        if isinstance(event, CallReady):
            raise KeyboardInterrupt
        if isinstance(event, CallFinished):
            finished.append(event.result.status)

    caplog.set_level(logging.ERROR, logger="toolvolley")
    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
            await run_loop(model, "Weather in Seoul?", [get_weather], on_event=on_event)
    assert finished == ["ok"]
    assert "raised on CallReady" in caplog.text


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the offline model
async def test_an_interrupt_from_on_event_at_the_turns_end_is_raised_at_once() -> None:
    turns: list[int] = []

    def on_event(event: TurnEvent) -> None:
        if isinstance(event, TurnFinished):
            turns.append(event.turn.index)
            raise KeyboardInterrupt

    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
            await run_loop(model, "Weather in Seoul?", [get_weather], on_event=on_event)
    assert turns == [0]  # the conversation stopped at the first turn's end
