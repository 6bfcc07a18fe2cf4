"""The offline model on its own: the planner, the wire formats, and streams the SDKs can parse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from toolvolley import UserError
from toolvolley.offline import OfflineModel
from toolvolley.offline._planner import Conversation, ToolSpec, plan

WEATHER = ToolSpec(
    "get_weather",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "examples": ["York", "New York", "Paris"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
)
TIME = ToolSpec(
    "get_time",
    {"type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}},
)


def test_one_call_per_mention_in_the_order_mentioned() -> None:
    reply = plan(Conversation([WEATHER, TIME], "Time in CET, then weather in Paris and New York"))
    assert [(c.name, c.arguments) for c in reply.calls] == [
        ("get_time", {"zone": "CET"}),
        ("get_weather", {"city": "Paris", "unit": "celsius"}),  # required unit: first enum value
        ("get_weather", {"city": "New York", "unit": "celsius"}),
    ]


def test_longest_match_and_whole_words_only() -> None:
    reply = plan(Conversation([WEATHER], "New York, not Yorkshire"))
    assert [c.arguments["city"] for c in reply.calls] == ["New York"]


def test_serial_gives_the_next_unanswered_call() -> None:
    conversation = Conversation(
        [WEATHER],
        "Paris and York",
        calls_made=[("get_weather", {"city": "Paris", "unit": "celsius"})],
        results=[("get_weather", "{}", False)],
        parallel=False,
    )
    assert [c.arguments["city"] for c in plan(conversation).calls] == ["York"]


def test_answers_with_the_results_once_everything_is_answered() -> None:
    conversation = Conversation(
        [WEATHER],
        "Paris",
        calls_made=[("get_weather", {"city": "Paris", "unit": "celsius"})],
        results=[("get_weather", '{"t": 3}', False)],
    )
    reply = plan(conversation)
    assert reply.calls == []
    assert reply.text == "Here is what the tools returned:\n- get_weather: t 3"


def test_says_what_it_is_when_nothing_matches() -> None:
    assert "not a language model" in plan(Conversation([WEATHER], "Hello")).text


async def _body(model: OfflineModel, path: str, payload: Any) -> tuple[int, bytes]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = await model.handle("POST", path, raw)
    return response.status, b"".join([chunk async for chunk in response.body])


FAST = OfflineModel(token_rate=10_000, first_token_s=0)
CHAT_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER.parameters}}
]


@pytest.mark.anyio
async def test_malformed_requests_get_provider_errors() -> None:
    status, body = await _body(FAST, "/v1/chat/completions", b"{not json")
    assert status == 400
    assert "not valid JSON" in json.loads(body)["error"]["message"]
    status, body = await _body(FAST, "/v1/messages", {"model": "offline", "messages": []})
    assert status == 400
    assert json.loads(body)["error"]["message"] == "max_tokens: Field required"
    status, body = await _body(FAST, "/v1/nowhere", {})
    assert status == 404
    tool_message = {"role": "tool", "tool_call_id": "x", "content": "1"}
    orphan = {"model": "offline", "messages": [tool_message]}
    status, body = await _body(FAST, "/v1/chat/completions", orphan)
    assert status == 400
    assert "must be a response to a preceeding message" in json.loads(body)["error"]["message"]


@pytest.mark.anyio
async def test_same_request_same_answer_with_fresh_ids() -> None:
    request = {
        "model": "offline",
        "messages": [{"role": "user", "content": "Paris"}],
        "tools": CHAT_TOOLS,
    }
    model = OfflineModel(token_rate=10_000, first_token_s=0)
    first = json.loads((await _body(model, "/v1/chat/completions", request))[1])
    second = json.loads((await _body(model, "/v1/chat/completions", request))[1])
    assert (
        first["choices"][0]["message"]["tool_calls"][0]["function"]
        == (second["choices"][0]["message"]["tool_calls"][0]["function"])
    )
    ids = {first["id"], second["id"]}
    ids |= {r["choices"][0]["message"]["tool_calls"][0]["id"] for r in (first, second)}
    assert len(ids) == 4  # every response and every call has an id of its own
    # ... and a fresh model gives the same ids in the same order: still deterministic.
    again = OfflineModel(token_rate=10_000, first_token_s=0)
    assert json.loads((await _body(again, "/v1/chat/completions", request))[1]) == first


def test_settings_are_validated() -> None:
    with pytest.raises(UserError):
        OfflineModel(token_rate=0)
    with pytest.raises(UserError):
        OfflineModel(first_token_s=-1)


# --- the SDKs' own stream parsers accept what the offline model streams -----------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_openai_chat_stream_parses_into_the_same_calls() -> None:
    import openai

    from toolvolley.offline import http_client_for

    http = http_client_for(FAST, openai.DefaultAsyncHttpxClient)
    async with openai.AsyncOpenAI(
        base_url="http://x.invalid/v1", api_key="k", http_client=http
    ) as client:
        request: dict[str, Any] = {
            "model": "offline",
            "messages": [{"role": "user", "content": "Paris and York"}],
            "tools": CHAT_TOOLS,
        }
        whole = await client.chat.completions.create(**request)
        arguments: dict[int, str] = {}
        names: dict[int, str] = {}
        stream = await client.chat.completions.create(**request, stream=True)
        async for chunk in stream:
            for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
                if delta.function and delta.function.name:
                    names[delta.index] = delta.function.name
                if delta.function and delta.function.arguments:
                    arguments[delta.index] = (
                        arguments.get(delta.index, "") + delta.function.arguments
                    )
    expected = [
        (c.function.name, c.function.arguments) for c in whole.choices[0].message.tool_calls or []
    ]
    assert [(names[i], arguments[i]) for i in sorted(names)] == expected
    assert len(expected) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_openai_responses_stream_parses_into_the_same_calls() -> None:
    import openai

    from toolvolley.offline import http_client_for

    http = http_client_for(FAST, openai.DefaultAsyncHttpxClient)
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER.parameters}]
    async with openai.AsyncOpenAI(
        base_url="http://x.invalid/v1", api_key="k", http_client=http
    ) as client:
        request: dict[str, Any] = {"model": "offline", "input": "Paris and York", "tools": tools}
        whole = await client.responses.create(**request)
        done: list[tuple[str, str]] = []
        stream = await client.responses.create(**request, stream=True)
        async for event in stream:
            if event.type == "response.output_item.done" and event.item.type == "function_call":
                done.append((event.item.name, event.item.arguments))
    expected = [(i.name, i.arguments) for i in whole.output if i.type == "function_call"]
    assert done == expected
    assert len(expected) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_anthropic_stream_parses_into_the_same_message() -> None:
    import anthropic

    from toolvolley.offline import http_client_for

    http = http_client_for(FAST, anthropic.DefaultAsyncHttpxClient)
    tools = [{"name": "get_weather", "input_schema": WEATHER.parameters}]
    async with anthropic.AsyncAnthropic(
        base_url="http://x.invalid", api_key="k", http_client=http
    ) as client:
        request: dict[str, Any] = {
            "model": "offline",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Paris and York"}],
            "tools": tools,
        }
        whole = await client.messages.create(**request)
        async with client.messages.stream(**request) as stream:
            streamed = await stream.get_final_message()
    assert [(b.type, getattr(b, "input", None)) for b in streamed.content] == [
        (b.type, getattr(b, "input", None)) for b in whole.content
    ]
    assert streamed.stop_reason == "tool_use"
