"""Stream assembly by each provider's rules, and streams cut before their finish signal.

Streams are the offline model's wire encoding, decoded into events, bent the way real servers
bend them (two calls at one index, calls without ids, names in pieces, repeated item ids, no
finish signal) and replayed through the official SDK's HTTP transport.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx2
import pytest
from pydantic import Field

from toolvolley import (
    Executor,
    ModelAdapter,
    StreamCutError,
    Toolbox,
    run_loop,
    run_turn,
    tool,
)
from toolvolley._model import ModelResponse
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses
from toolvolley.testing import _anthropic as wire_anthropic
from toolvolley.testing import _chat as wire_chat
from toolvolley.testing import _responses as wire_responses
from toolvolley.testing._planner import PlannedCall, Reply
from toolvolley.testing._wire import Generation

# Assembly is plain parsing, the same on every backend. On trio, openai's AsyncStream leaves
# its event generator unclosed after `[DONE]` (a ResourceWarning at garbage collection), so the
# SDK-streaming tests run on asyncio, like tests/test_providers.py.
pytestmark = pytest.mark.parametrize("anyio_backend", ["asyncio"])

KINDS = ["chat", "responses", "anthropic"]
Event = tuple[str | None, Any]  # (SSE event name, data: a dict, or "[DONE]")


@tool
async def get_weather(city: Annotated[str, Field(examples=["Seoul", "Tokyo", "Paris"])]) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


TOOLBOX = Toolbox([get_weather])
TWO_CALLS = [("get_weather", {"city": "Seoul"}), ("get_weather", {"city": "Tokyo"})]


def _generation(calls: list[tuple[str, dict[str, Any]]], text: str) -> Generation:
    reply = Reply(text=text, calls=[PlannedCall(name, args) for name, args in calls])
    return Generation(reply=reply, model="m", seed="seed", input_tokens=10)


def events(kind: str, calls: list[tuple[str, dict[str, Any]]], text: str = "") -> list[Event]:
    """The provider's stream for a reply, as (event, data) pairs to bend."""
    gen = _generation(calls, text)
    if kind == "chat":
        frames = wire_chat.stream_frames(gen, include_usage=True)
    elif kind == "responses":
        frames = wire_responses.stream_frames(gen)
    else:
        frames = wire_anthropic.stream_frames(gen)
    parsed: list[Event] = []
    for block in b"".join(f.data for f in frames).decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        data = fields["data"]
        parsed.append((fields.get("event"), data if data == "[DONE]" else json.loads(data)))
    return parsed


def body(kind: str, calls: list[tuple[str, dict[str, Any]]], text: str = "") -> dict[str, Any]:
    """The provider's whole (non-streamed) response body for a reply."""
    gen = _generation(calls, text)
    module: Any = {"chat": wire_chat, "responses": wire_responses}.get(kind, wire_anthropic)
    return dict(module.response_body(gen))


def sse(stream: list[Event]) -> bytes:
    out = []
    for name, data in stream:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {data if data == '[DONE]' else json.dumps(data)}\n\n")
    return "".join(out).encode()


class Script:
    """Answers the SDK's requests in turn: a JSON body, or an SSE stream that may break."""

    def __init__(self, *answers: dict[str, Any] | bytes, breaks: bool = False) -> None:
        self.answers = list(answers)
        self.breaks = breaks
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(await request.aread()))
        answer = self.answers.pop(0)
        if isinstance(answer, dict):
            return httpx2.Response(200, json=answer)
        data, breaks = answer, self.breaks

        class Body(httpx2.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                yield data
                if breaks:
                    raise httpx2.ReadError("connection lost in the middle of the stream")

        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Body())


def adapter(kind: str, script: Script) -> ModelAdapter:
    transport = httpx2.MockTransport(script)
    if kind == "anthropic":
        import anthropic

        return AnthropicMessages(
            anthropic.AsyncAnthropic(
                api_key="k",
                base_url="http://replay.invalid",
                max_retries=0,
                http_client=anthropic.DefaultAsyncHttpxClient(transport=transport),
            ),
            model="m",
        )
    import openai

    client = openai.AsyncOpenAI(
        api_key="k",
        base_url="http://replay.invalid/v1",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(transport=transport),
    )
    return OpenAIChat(client, model="m") if kind == "chat" else OpenAIResponses(client, model="m")


def written_calls(kind: str, transcript: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of every call the model's turn in the transcript carries."""
    if kind == "chat":
        (assistant,) = [m for m in transcript if m.get("role") == "assistant"]
        return [
            (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in assistant.get("tool_calls", ())
        ]
    if kind == "responses":
        return [
            (i["call_id"], i["name"], json.loads(i["arguments"]))
            for i in transcript
            if i.get("type") == "function_call"
        ]
    (assistant,) = [m for m in transcript if m.get("role") == "assistant"]
    return [
        (b["id"], b["name"], b["input"]) for b in assistant["content"] if b["type"] == "tool_use"
    ]


def answered_ids(kind: str, transcript: list[dict[str, Any]]) -> list[str]:
    """The call ids the follow-up's results answer."""
    if kind == "chat":
        return [m["tool_call_id"] for m in transcript if m.get("role") == "tool"]
    if kind == "responses":
        return [i["call_id"] for i in transcript if i.get("type") == "function_call_output"]
    last = transcript[-1]
    return [b["tool_use_id"] for b in last["content"] if b["type"] == "tool_result"]


async def one_turn(kind: str, answer: dict[str, Any] | bytes, *, stream: bool = True) -> Any:
    async with adapter(kind, Script(answer)) as model:
        transcript = [model.user_message("Weather in Seoul and Tokyo?")]
        response, stats = await run_turn(model, transcript, Executor(TOOLBOX), stream=stream)
    return response, stats, transcript


def assert_consistent(kind: str, stats: Any, transcript: list[dict[str, Any]]) -> None:
    """Both calls ran once, and the follow-up answers exactly the calls the transcript lists."""
    assert [r.content for r in stats.results] == ["sunny in Seoul", "sunny in Tokyo"]
    written = written_calls(kind, transcript)
    assert [(name, args) for _, name, args in written] == [
        ("get_weather", {"city": "Seoul"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    ids = [i for i, _, _ in written]
    assert all(ids)
    assert len(set(ids)) == 2
    assert answered_ids(kind, transcript) == ids == [r.call_id for r in stats.results]


# --- Chat Completions -----------------------------------------------------------------------


def _fragments(stream: list[Event]) -> list[dict[str, Any]]:
    return [
        f
        for _, data in stream
        if isinstance(data, dict)
        for choice in data.get("choices", ())
        for f in choice.get("delta", {}).get("tool_calls", ())
    ]


@pytest.mark.anyio
async def test_chat_a_new_id_at_a_used_index_is_a_new_call() -> None:
    stream = events("chat", TWO_CALLS)
    for fragment in _fragments(stream):
        fragment["index"] = 0  # some OpenAI-compatible servers number every call 0
    _, stats, transcript = await one_turn("chat", sse(stream))
    assert_consistent("chat", stats, transcript)


@pytest.mark.anyio
async def test_chat_calls_without_ids_at_one_index_are_told_apart_by_their_names() -> None:
    """A server that sends each call whole, all at index 0 and without ids: a name arriving
    after a call's arguments were complete starts the next call."""
    stream = events("chat", TWO_CALLS)
    for fragment in _fragments(stream):
        fragment["index"] = 0
        fragment.pop("id", None)
    _, stats, transcript = await one_turn("chat", sse(stream))
    assert_consistent("chat", stats, transcript)


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
async def test_chat_calls_without_ids_get_unique_ids_the_follow_up_carries(
    streamed: bool,
) -> None:
    if streamed:
        stream = events("chat", TWO_CALLS)
        for fragment in _fragments(stream):
            fragment.pop("id", None)
        answer: dict[str, Any] | bytes = sse(stream)
    else:
        answer = body("chat", TWO_CALLS)
        for call in answer["choices"][0]["message"]["tool_calls"]:
            del call["id"]
    _, stats, transcript = await one_turn("chat", answer, stream=streamed)
    assert_consistent("chat", stats, transcript)
    assert all(r.call_id.startswith("call_") for r in stats.results)


@pytest.mark.anyio
async def test_chat_a_name_streamed_in_pieces_is_joined() -> None:
    stream = events("chat", TWO_CALLS)
    bent: list[Event] = []
    for name, data in stream:
        bent.append((name, data))
        for choice in data.get("choices", ()) if isinstance(data, dict) else ():
            for fragment in choice.get("delta", {}).get("tool_calls", ()):
                if "id" in fragment:  # the call's first fragment: split its name in three
                    fragment["function"]["name"] = "get_"
                    more = copy.deepcopy(data)
                    (extra,) = more["choices"][0]["delta"]["tool_calls"]
                    extra.pop("id")
                    extra.pop("type", None)
                    bent.append((name, more))
                    extra["function"]["name"] = "wea"
                    last = copy.deepcopy(more)
                    last["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] = "ther"
                    bent.append((name, last))
    _, stats, transcript = await one_turn("chat", sse(bent))
    assert_consistent("chat", stats, transcript)


@pytest.mark.anyio
async def test_chat_a_name_repeated_on_every_fragment_is_not_doubled() -> None:
    stream = events("chat", TWO_CALLS)
    for fragment in _fragments(stream):
        fragment.setdefault("function", {})["name"] = "get_weather"
    _, stats, transcript = await one_turn("chat", sse(stream))
    assert_consistent("chat", stats, transcript)


# --- Responses ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_responses_two_items_with_one_item_id_are_two_calls() -> None:
    stream = events("responses", TWO_CALLS)
    for _, data in stream:
        item = data.get("item") or {}
        if item.get("type") == "function_call":
            item["id"] = "fc_same"
        if "item_id" in data:
            data["item_id"] = "fc_same"
    _, stats, transcript = await one_turn("responses", sse(stream))
    assert_consistent("responses", stats, transcript)


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
async def test_responses_calls_without_call_ids_get_unique_ids(streamed: bool) -> None:
    if streamed:
        stream = events("responses", TWO_CALLS)
        for _, data in stream:
            for item in [data.get("item") or {}, *(data.get("response") or {}).get("output", ())]:
                item.pop("call_id", None)
        answer: dict[str, Any] | bytes = sse(stream)
    else:
        answer = body("responses", TWO_CALLS)
        for item in answer["output"]:
            item.pop("call_id", None)
    _, stats, transcript = await one_turn("responses", answer, stream=streamed)
    assert_consistent("responses", stats, transcript)


# --- Anthropic ------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
async def test_anthropic_tool_use_without_an_id_gets_a_unique_one(streamed: bool) -> None:
    if streamed:
        stream = events("anthropic", TWO_CALLS)
        for _, data in stream:
            (data.get("content_block") or {}).pop("id", None)
        answer: dict[str, Any] | bytes = sse(stream)
    else:
        answer = body("anthropic", TWO_CALLS)
        for block in answer["content"]:
            block.pop("id", None)
    _, stats, transcript = await one_turn("anthropic", answer, stream=streamed)
    assert_consistent("anthropic", stats, transcript)
    assert all(r.call_id.startswith("toolu_") for r in stats.results)


@pytest.mark.anyio
async def test_anthropic_two_blocks_at_one_index_are_two_calls() -> None:
    stream = events("anthropic", TWO_CALLS)
    for _, data in stream:
        if data.get("index") == 1:  # the second tool_use block reuses the first one's index
            data["index"] = 0
    _, stats, transcript = await one_turn("anthropic", sse(stream))
    assert_consistent("anthropic", stats, transcript)


THINKING = {"type": "thinking", "thinking": "Two cities: two calls.", "signature": "EqQBCgIY"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"}


def with_thinking(stream: list[Event]) -> list[Event]:
    """``stream`` with extended thinking before its blocks, as the API streams it: a thinking
    block (its text and signature in deltas) and a redacted one, the others' indices after."""
    for _, data in stream:
        if isinstance(data, dict) and "index" in data:
            data["index"] += 2
    start, deltas = (
        THINKING,
        [
            {"type": "thinking_delta", "thinking": "Two cities: "},
            {"type": "thinking_delta", "thinking": "two calls."},
            {"type": "signature_delta", "signature": THINKING["signature"]},
        ],
    )
    thinking: list[Event] = [
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {**start, "thinking": "", "signature": ""},
            },
        ),
        *[
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})
            for d in deltas
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": REDACTED},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ]
    return [stream[0], *thinking, *stream[1:]]  # after message_start


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])
async def test_anthropic_thinking_goes_back_first_and_verbatim(streamed: bool) -> None:
    """With extended thinking, the turn that made tool calls goes back with its thinking blocks
    first, as they came (signature, redacted data): the API refuses a tool-use turn without
    them when thinking is on."""
    if streamed:
        answer: dict[str, Any] | bytes = sse(with_thinking(events("anthropic", TWO_CALLS)))
    else:
        answer = body("anthropic", TWO_CALLS)
        answer["content"] = [THINKING, REDACTED, *answer["content"]]
    _, stats, transcript = await one_turn("anthropic", answer, stream=streamed)
    assert_consistent("anthropic", stats, transcript)
    (assistant,) = [m for m in transcript if m.get("role") == "assistant"]
    assert assistant["content"][:2] == [THINKING, REDACTED]
    assert [b["type"] for b in assistant["content"][2:]] == ["tool_use", "tool_use"]


@pytest.mark.anyio
async def test_an_anthropic_turn_rebuilt_from_its_calls_parts_is_the_turn_itself() -> None:
    """What each ready call carries of the turn (``CallReady.parts``, what a journal records)
    rebuilds the turn a crash cut short: thinking first, verbatim, then the calls, as the
    whole turn goes back."""
    from toolvolley.events import CallReady

    stream = sse(with_thinking(events("anthropic", TWO_CALLS)))
    async with adapter("anthropic", Script(stream)) as model:
        transcript = [model.user_message("Weather in Seoul and Tokyo?")]
        updates = [u async for u in model.stream(transcript, TOOLBOX)]
    *readies, response = updates
    assert isinstance(response, ModelResponse)
    parts = [p for u in readies if isinstance(u, CallReady) for p in u.parts]
    rebuilt = model._turn_from_parts(parts)  # type: ignore[attr-defined]
    assert rebuilt == response.messages
    assert rebuilt[0]["content"][:2] == [THINKING, REDACTED]


# --- streams cut before their finish signal -------------------------------------------------

FINISH = {"chat": "finish_reason", "responses": "response.completed", "anthropic": "message_stop"}
ANSWER = "The weather in Paris is sunny."


def cut_after(stream: list[Event], piece: str) -> list[Event]:
    """The stream up to and including the first event whose data holds ``piece``."""
    at = next(i for i, (_, data) in enumerate(stream) if piece in json.dumps(data))
    return stream[: at + 1]


def without_finish(kind: str, stream: list[Event]) -> list[Event]:
    """Every event but the provider's finish signal (and what follows it)."""
    for i, (_, data) in enumerate(stream):
        if kind == "chat" and any(c.get("finish_reason") for c in data.get("choices", ())):
            return stream[:i]
        if kind != "chat" and data.get("type") == FINISH[kind]:
            return stream[:i]
    raise AssertionError("no finish signal")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("breaks", [False, True], ids=["ends", "breaks"])
async def test_a_final_answer_cut_short_raises_stream_cut_error(kind: str, breaks: bool) -> None:
    stream = cut_after(events(kind, [], text=ANSWER), "in P")
    async with adapter(kind, Script(sse(stream), breaks=breaks)) as model:
        with pytest.raises(StreamCutError) as info:
            await run_loop(model, "Weather in Paris?", TOOLBOX)
    error = info.value
    assert FINISH[kind] in str(error)  # names the signal that never came
    assert error.provider == model.provider
    (turn,) = error.turns
    assert turn.stream_error is error
    assert turn.text == "The weather in P"  # what arrived, for the curious
    assert error.transcript == [model.user_message("Weather in Paris?")]  # no half answer in it
    assert isinstance(error.__cause__, Exception) is breaks


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_without_its_finish_signal_is_cut_even_if_the_text_looks_whole(
    kind: str,
) -> None:
    stream = without_finish(kind, events(kind, [], text=ANSWER))
    _, stats, _ = await one_turn(kind, sse(stream))
    assert stats.text == ANSWER
    assert isinstance(stats.stream_error, StreamCutError)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_a_cut_turn_whose_calls_all_ran_lets_the_conversation_go_on(kind: str) -> None:
    """Every call of the cut turn has a result, so the model can go on: run_loop continues."""
    cut = without_finish(kind, events(kind, TWO_CALLS))
    final = events(kind, [], text="Sunny in both.")
    script = Script(sse(cut), sse(final))
    async with adapter(kind, script) as model:
        outcome = await run_loop(model, "Weather in Seoul and Tokyo?", TOOLBOX)
    first, last = outcome.turns
    assert isinstance(first.stream_error, StreamCutError)
    assert [r.status for r in first.results] == ["ok", "ok"]
    assert last.stream_error is None
    assert outcome.final_text == "Sunny in both."
    assert_consistent(kind, first, outcome.transcript[:-1])


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_a_whole_stream_has_no_stream_error(kind: str) -> None:
    _, stats, _ = await one_turn(kind, sse(events(kind, TWO_CALLS, text="Looking.")))
    assert stats.stream_error is None
    assert [r.status for r in stats.results] == ["ok", "ok"]
