"""Streaming: calls assembled from each provider's stream, and started while the model writes."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import random
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from unittest import mock

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from bfcl import BFCL_DIR, Case, load_cases
from helpers import InFlight
from replay import Canned, replay_client
from toolvolley import (
    Executor,
    ModelAdapter,
    StreamCutError,
    Tool,
    Toolbox,
    run_loop,
    run_turn,
    tool,
)
from toolvolley.events import (
    CallFinished,
    CallReady,
    CallStarted,
    TextDelta,
    TurnEvent,
    TurnFinished,
)
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses
from toolvolley.testing import OfflineModel
from toolvolley.testing import _anthropic as wire_anthropic
from toolvolley.testing import _chat as wire_chat
from toolvolley.testing import _responses as wire_responses
from toolvolley.testing._planner import PlannedCall, Reply
from toolvolley.testing._wire import Generation

KINDS = ["chat", "responses", "anthropic"]
CASES = load_cases()


def encode(
    kind: str,
    calls: list[tuple[str, dict[str, Any]]],
    text: str = "",
    split: Callable[[str], list[str]] | None = None,
) -> Canned:
    """The provider's plain body and its SSE stream for a reply making ``calls``; ``split`` cuts
    the text and each call's arguments into the stream's delta events (by default as the offline
    model does, a token of 4 characters an event)."""
    reply = Reply(text=text, calls=[PlannedCall(name, args) for name, args in calls])
    gen = Generation(reply=reply, model="m", seed="seed", input_tokens=10)
    wire: Any = {"chat": wire_chat, "responses": wire_responses, "anthropic": wire_anthropic}[kind]
    with contextlib.ExitStack() as stack:
        if split is not None:
            stack.enter_context(mock.patch.object(wire, "pieces", split))
        if kind == "chat":
            frames = wire_chat.stream_frames(gen, include_usage=True)
        else:
            frames = wire.stream_frames(gen)
    return Canned(body=wire.response_body(gen), stream=b"".join(f.data for f in frames))


def split_into(sizes: Sequence[int]) -> Callable[[str], list[str]]:
    """Cuts text into pieces of ``sizes`` characters, cycled; a size of 0 is an empty delta."""
    assert any(sizes), "at least one size must be positive"

    def split(text: str) -> list[str]:
        cut, start = [], 0
        for size in itertools.cycle(sizes):
            if start >= len(text):
                break
            cut.append(text[start : start + size])
            start += size
        return cut or [""]

    return split


def adapter_for(kind: str, canned: Canned) -> ModelAdapter:
    if kind == "anthropic":
        import anthropic

        client: Any = anthropic.AsyncAnthropic(
            api_key="k",
            base_url="http://replay.invalid",
            max_retries=0,
            http_client=replay_client(anthropic.DefaultAsyncHttpxClient, canned),
        )
        return AnthropicMessages(client, model="m")
    import openai

    client = openai.AsyncOpenAI(
        api_key="k",
        base_url="http://replay.invalid/v1",
        max_retries=0,
        http_client=replay_client(openai.DefaultAsyncHttpxClient, canned),
    )
    return OpenAIChat(client, model="m") if kind == "chat" else OpenAIResponses(client, model="m")


def _same(call: Any) -> tuple[str, str, Any]:
    return (call.id, call.name, json.loads(call.arguments_text()))


# --- every BFCL case, each wire format, the stream's deltas cut at random ----------------------
#
# The chunks are cut at the event level: the SDK re-frames the SSE byte stream into events before
# toolvolley sees any of it, so cutting the bytes only ever tested the SDK's decoder. What reaches
# the assembler is how the text and the arguments are split across delta events.


@functools.cache
def _shared_adapter(kind: str) -> tuple[ModelAdapter, Canned]:
    """One SDK client per wire format for the whole corpus (its transport opens no sockets);
    each example swaps in its own canned replies."""
    canned = Canned()
    return adapter_for(kind, canned), canned


def _check_case(case: Case, kind: str, sizes: Sequence[int]) -> None:
    toolbox = Toolbox(
        Tool.from_schema(
            f["name"], f.get("description", ""), f["parameters"], lambda **kw: kw, dialect="bfcl"
        )
        for f in case.functions
    )
    calls = [(toolbox.wire_name(name), args) for name, args in case.calls]
    adapter, canned = _shared_adapter(kind)
    fresh = encode(kind, calls, text="Calling the tools now.", split=split_into(sizes))
    canned.body, canned.stream = fresh.body, fresh.stream
    ready: list[Any] = []
    text: list[str] = []

    async def main() -> tuple[Any, Any]:
        plain = await adapter.respond([adapter.user_message("q")], toolbox)
        streamed = None
        async for update in adapter.stream([adapter.user_message("q")], toolbox):
            if isinstance(update, CallReady):
                ready.append(update.call)
            elif isinstance(update, TextDelta):
                text.append(update.text)
            else:
                streamed = update
        return plain, streamed

    plain, streamed = anyio.run(main)
    assert len(plain.calls) == len(calls)
    assert [_same(c) for c in streamed.calls] == [_same(c) for c in plain.calls]
    assert [_same(c) for c in ready] == [_same(c) for c in plain.calls]
    assert [json.loads(c.arguments_text()) for c in plain.calls] == [args for _, args in calls]
    assert streamed.incomplete == ()
    assert streamed.text == plain.text == "".join(text) == "Calling the tools now."
    assert streamed.messages == plain.messages  # the transcript is the same either way


needs_corpus = pytest.mark.skipif(not CASES, reason=f"BFCL corpus not found at {BFCL_DIR}")


@needs_corpus
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_streamed_in_random_chunks(case: Case, kind: str) -> None:
    """Breadth: every case in every format, its text and arguments cut into deltas of 1 to 12
    characters.

    The cuts come from a generator seeded by the case and format, so a failure replays.
    (Hypothesis is kept for the deep test below: 1,200 parametrized ``@settings`` tests make
    its CI profile build a settings chain deeper than the recursion limit.)
    """
    draw = random.Random(f"{case.id}/{kind}")
    _check_case(case, kind, [draw.randint(1, 12) for _ in range(draw.randint(1, 8))])


@needs_corpus
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES) if CASES else st.nothing(),
    kind=st.sampled_from(KINDS),
    sizes=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=12).filter(any),
)
def test_streams_cut_into_tiny_chunks(case: Case, kind: str, sizes: list[int]) -> None:
    """Depth: deltas of 0 to 8 characters, so escapes (``\\"``), keys, numbers, non-ASCII text
    and the closing braces are split anywhere, with empty deltas in between."""
    _check_case(case, kind, sizes)


# --- early dispatch against the offline model ------------------------------------------------

CITIES = ["Seoul", "Tokyo", "Paris"]


def weather_tool(flight: InFlight) -> Tool:
    @tool
    async def get_weather(city: Annotated[str, Field(examples=CITIES)]) -> str:
        """Weather for a city."""
        flight.enter(city)
        await anyio.lowlevel.checkpoint()
        flight.leave(city)
        return f"sunny in {city}"

    return get_weather


OFFLINE: dict[str, Callable[[OfflineModel], ModelAdapter]] = {
    "chat": OpenAIChat.offline,
    "responses": OpenAIResponses.offline,
    "anthropic": AnthropicMessages.offline,
}


# Where each format's stream begins the second call: the stream is held there.
SECOND_CALL = {
    "chat": b'"index": 1, "id"',
    "responses": b'"output_index": 1',
    "anthropic": b'"index": 1',
}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("kind", KINDS)
async def test_first_call_starts_before_the_stream_ends(kind: str) -> None:
    flight = InFlight()
    events: list[TurnEvent] = []
    first_finished = anyio.Event()

    def on_event(event: TurnEvent) -> None:
        events.append(event)
        if isinstance(event, CallFinished):
            first_finished.set()

    canned = encode(kind, [("get_weather", {"city": c}) for c in CITIES])
    # The model stops writing before the second call until the first call has finished: it
    # cannot finish unless it was started from the stream, while the model was still writing.
    marker = canned.stream.index(SECOND_CALL[kind])
    canned.pause_at = canned.stream.rindex(b"\n\n", 0, marker) + 2
    canned.resume = first_finished.wait
    async with adapter_for(kind, canned) as model:
        transcript = [model.user_message("Weather in Seoul, Tokyo and Paris?")]
        with anyio.fail_after(10):
            _, stats = await run_turn(
                model, transcript, Executor([weather_tool(flight)]), on_event=on_event
            )
    started = [e for e in events if isinstance(e, CallStarted)]
    assert [e.call.arguments_text() for e in started] == [json.dumps({"city": c}) for c in CITIES]
    assert started[0].at < stats.model_ended_at  # the first tool ran while the model wrote
    assert stats.results[0].ended_at < stats.model_ended_at
    assert [r.status for r in stats.results] == ["ok", "ok", "ok"]
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("CallReady") < kinds.index("CallStarted") < kinds.index("CallFinished")
    assert isinstance(events[-1], TurnFinished)
    assert stats.streamed


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_serial_mode_streams_but_runs_one_call_at_a_time_in_order() -> None:
    flight = InFlight()
    ready: list[CallReady] = []
    all_written = anyio.Event()

    def on_event(event: TurnEvent) -> None:
        if isinstance(event, CallReady):
            ready.append(event)
            if len(ready) == len(CITIES):
                all_written.set()

    @tool
    async def get_weather(city: Annotated[str, Field(examples=CITIES)]) -> str:
        """Weather for a city."""
        flight.enter(city)
        # Each call stays in flight until the model has written every call: the calls written
        # meanwhile would have started by then, were the executor not serial.
        await all_written.wait()
        flight.leave(city)
        return f"sunny in {city}"

    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        with anyio.fail_after(10):
            outcome = await run_loop(
                model,
                "Weather in Paris, Seoul and Tokyo?",
                Executor([get_weather], mode="serial"),
                on_event=on_event,
            )
    assert flight.peak == 1
    assert flight.order() == [
        f"{kind}:{city}" for city in ("Paris", "Seoul", "Tokyo") for kind in ("start", "end")
    ]
    assert outcome.model_turns == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_events_carry_text_as_it_streams() -> None:
    events: list[TurnEvent] = []
    async with OpenAIChat.offline(OfflineModel(token_rate=5000, first_token_s=0)) as model:
        outcome = await run_loop(
            model, "Weather in Paris?", [weather_tool(InFlight())], on_event=events.append
        )
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == outcome.final_text
    assert sum(isinstance(e, TextDelta) for e in events) > 3  # in pieces, not at once
    assert [type(e) for e in events if isinstance(e, CallFinished | TurnFinished)] == [
        CallFinished,
        TurnFinished,
        TurnFinished,
    ]


# --- streams that end or break too early -----------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("breaks", [False, True], ids=["ends", "breaks"])
async def test_a_cut_stream_runs_complete_calls_and_fails_the_cut_one(
    kind: str, breaks: bool
) -> None:
    flight = InFlight()
    canned = encode(kind, [("get_weather", {"city": c}) for c in CITIES])
    # End the stream right after the event carrying ' "Pa', inside the third call's arguments
    # (pieces are JSON-escaped in every format's events).
    piece = canned.stream.index(b'\\"Pa')
    canned.stop_after = canned.stream.index(b"\n\n", piece) + 2
    canned.fail, canned.cuts = breaks, [7]
    async with adapter_for(kind, canned) as model:
        transcript = [model.user_message("q")]
        response, stats = await run_turn(model, transcript, Executor([weather_tool(flight)]))
    assert [r.status for r in stats.results] == ["ok", "ok", "error"]
    assert [r.content for r in stats.results[:2]] == ["sunny in Seoul", "sunny in Tokyo"]
    assert "ended before the arguments of 'get_weather' were complete" in stats.results[2].content
    assert len(response.incomplete) == 1
    # Ended or broke, the stream never gave its finish signal: the turn records the cut.
    assert isinstance(response.stream_error, StreamCutError)
    assert (response.stream_error.__cause__ is not None) is breaks
    # The transcript answers every call the model began, so the conversation can go on.
    answered = model.result_messages(list(stats.results))
    assert transcript[-len(answered) :] == answered
