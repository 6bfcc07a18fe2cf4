"""The loop pulls a model's turn from ``ModelAdapter.stream()``, an async iterator of updates that
ends with the response, and starts each ready call itself: streamed or not, one code path. A
custom adapter written against the old push ``stream(..., on_update)`` still works."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import pytest

from toolvolley import (
    ModelAdapter,
    ModelError,
    ModelResponse,
    Tool,
    Toolbox,
    ToolCall,
    ToolResult,
    UserError,
    run_loop,
)
from toolvolley._model import ModelStream, collect
from toolvolley.events import CallReady, StreamUpdate, TextDelta, TurnEvent

CALL = ToolCall("a", "hold", "{}")


class Base(ModelAdapter):
    provider = "custom"

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        calls = () if len(transcript) > 1 else (CALL,)  # one call, then the answer
        return ModelResponse("done" if not calls else "", calls, ({"role": "assistant"},))

    def user_message(self, text: str) -> dict[str, Any]:
        return {"role": "user", "content": text}

    def result_messages(self, results: Sequence[ToolResult]) -> list[dict[str, Any]]:
        return [{"role": "tool", "tool_call_id": r.call_id} for r in results]


def started_tool(started: anyio.Event) -> Tool:
    async def hold() -> str:
        started.set()
        return "held"

    return Tool.from_schema("hold", "Say it started.", {"type": "object"}, hold)


class Pulled(Base):
    """Streams a call, and goes on only once the loop has started it: early dispatch."""

    def __init__(self, started: anyio.Event) -> None:
        self.started = started
        self.closed = False

    async def _stream(self, transcript: Sequence[Mapping[str, Any]]) -> ModelStream:
        try:
            if len(transcript) > 1:
                yield TextDelta("done")
                yield ModelResponse("done", (), ({"role": "assistant"},))
                return
            yield CallReady(CALL, 0.0)
            with anyio.fail_after(10):  # the loop started the call before reading on
                await self.started.wait()
            yield ModelResponse("", (CALL,), ({"role": "assistant"},))
        finally:
            self.closed = True

    def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelStream:
        return self._stream(transcript)


@pytest.mark.anyio
async def test_the_loop_starts_each_call_it_pulls_while_the_model_goes_on() -> None:
    started = anyio.Event()
    model = Pulled(started)
    heard: list[TurnEvent] = []
    outcome = await run_loop(model, "go", [started_tool(started)], on_event=heard.append)
    assert outcome.final_text == "done"
    assert [r.content for r in outcome.turns[0].results] == ["held"]
    assert model.closed
    assert any(isinstance(e, CallReady) for e in heard)


@pytest.mark.anyio
async def test_a_turn_not_streamed_goes_through_the_same_reader() -> None:
    started = anyio.Event()
    heard: list[TurnEvent] = []
    outcome = await run_loop(
        Base(), "go", [started_tool(started)], stream=False, on_event=heard.append
    )
    assert outcome.final_text == "done"
    assert [type(e).__name__ for e in heard if isinstance(e, CallReady | TextDelta)] == [
        "CallReady",
        "TextDelta",
    ]


@pytest.mark.anyio
async def test_the_default_stream_yields_the_whole_response_then_the_response() -> None:
    items = [i async for i in Base().stream([{"role": "user"}], Toolbox())]
    assert [type(i).__name__ for i in items] == ["CallReady", "ModelResponse"]
    assert (await collect(Base().stream([{"role": "user"}], Toolbox()))).calls == (CALL,)


class SubmitsGarbage(Pulled):
    async def _stream(self, transcript: Sequence[Mapping[str, Any]]) -> ModelStream:
        try:
            yield CallReady(CALL, 0.0)
            yield CallReady("not a call", 0.0)  # type: ignore[arg-type]
            yield ModelResponse("", (CALL,), ())
        finally:
            self.closed = True


@pytest.mark.anyio
async def test_an_error_outside_the_models_stream_is_not_the_models() -> None:
    """What submitting a call raises is the caller's (here a UserError), never a ModelError; the
    model's stream is closed and the call already started still finishes."""
    started = anyio.Event()
    model = SubmitsGarbage(started)
    with pytest.raises(UserError, match=r"Batch\.submit"):
        await run_loop(model, "go", [started_tool(started)])
    assert model.closed
    assert started.is_set()


class NotAnIterator(Base):
    async def stream(  # type: ignore[override]
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        raise AssertionError("never awaited")


class NoResponse(Base):
    def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelStream:
        async def updates() -> ModelStream:
            yield TextDelta("and then nothing")

        return updates()


@pytest.mark.anyio
async def test_a_stream_that_is_no_iterator_is_a_user_error() -> None:
    with pytest.raises(UserError, match="async iterator of updates"):
        await run_loop(NotAnIterator(), "go", [])


@pytest.mark.anyio
async def test_a_stream_that_ends_without_its_response_is_a_user_error() -> None:
    with pytest.raises(UserError, match="ended without its ModelResponse"):
        await run_loop(NoResponse(), "go", [])


class Pushing(Base):
    """A custom adapter written against the old ``stream(..., on_update) -> ModelResponse``."""

    def __init__(self, started: anyio.Event, error: Exception | None = None) -> None:
        self.started = started
        self.error = error

    async def stream(  # type: ignore[override]
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
        on_update: Callable[[StreamUpdate], None],
    ) -> ModelResponse:
        if len(transcript) > 1:
            on_update(TextDelta("done"))
            return ModelResponse("done", (), ({"role": "assistant"},))
        on_update(CallReady(CALL, 0.0))
        with anyio.fail_after(10):  # its call starts while it goes on, as it did before
            await self.started.wait()
        if self.error is not None:
            raise self.error
        return ModelResponse("", (CALL,), ({"role": "assistant"},))


@pytest.mark.anyio
async def test_an_adapter_with_the_old_push_stream_still_dispatches_early() -> None:
    started = anyio.Event()
    outcome = await run_loop(Pushing(started), "go", [started_tool(started)])
    assert outcome.final_text == "done"
    assert [r.content for r in outcome.turns[0].results] == ["held"]


@pytest.mark.anyio
async def test_an_old_push_stream_that_fails_is_one_model_error() -> None:
    started = anyio.Event()
    with pytest.raises(ModelError) as info:
        await run_loop(Pushing(started, RuntimeError("reset")), "go", [started_tool(started)])
    assert isinstance(info.value.__cause__, RuntimeError)
