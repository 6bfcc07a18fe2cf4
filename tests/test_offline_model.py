"""The offline model on its own: the planner, the wire formats, and streams the SDKs can parse."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolvolley import UserError
from toolvolley.testing import OfflineModel
from toolvolley.testing._planner import Conversation, ToolSpec, plan

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

    from toolvolley.testing import http_client_for

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

    from toolvolley.testing import http_client_for

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

    from toolvolley.testing import http_client_for

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


# --- free text, parameters honoured ---------------------------------------------------------

CITY_ONLY = ToolSpec(
    "get_weather",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
)


def test_a_list_in_the_text_is_one_call_per_item() -> None:
    reply = plan(Conversation([CITY_ONLY], "What's the weather in Seoul, Tokyo and Paris?"))
    assert [c.arguments for c in reply.calls] == [
        {"city": "Seoul"},
        {"city": "Tokyo"},
        {"city": "Paris"},
    ]


def test_each_items_parts_go_to_the_parameters_they_fit() -> None:
    tool = ToolSpec(
        "get_weather",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "state": {"type": "string", "description": "the state's full name"},
                "country": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    )
    text = "Weather for Dallas, TX, Lyon, France and Austin, Texas in celsius please"
    assert [c.arguments for c in plan(Conversation([tool], text)).calls] == [
        {"city": "Dallas", "state": "Texas", "unit": "celsius"},
        {"city": "Lyon", "country": "France", "unit": "celsius"},
        {"city": "Austin", "state": "Texas", "unit": "celsius"},
    ]


DALLAS_ORLANDO = "What is the weather in Dallas, Texas and Orlando, Florida in Fahrenheit?"


@pytest.mark.parametrize(
    "required", [[], ["city"], ["city", "state"], ["city", "state", "unit"]], ids=str
)
def test_an_enum_on_one_parameter_beside_free_ones_keeps_each_items_parts_together(
    required: list[str],
) -> None:
    # issue 26: with an enum on `city`, each value it lists used to be a call of its own
    tool = ToolSpec(
        "get_current_weather",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Austin", "Dallas", "Orlando"]},
                "state": {"type": "string", "description": "The state the city is in"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": required,
        },
    )
    assert [c.arguments for c in plan(Conversation([tool], DALLAS_ORLANDO)).calls] == [
        {"city": "Dallas", "state": "Texas", "unit": "fahrenheit"},
        {"city": "Orlando", "state": "Florida", "unit": "fahrenheit"},
    ]


def test_an_enum_on_the_item_takes_its_listed_spelling_and_skips_what_it_does_not_list() -> None:
    tool = ToolSpec(
        "get_current_weather",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["DALLAS", "ORLANDO"]},
                "state": {"type": "string", "enum": ["TX", "FL"]},
            },
            "required": ["city"],
        },
    )
    text = "Weather in Dallas, Texas, Orlando, FL and Springfield, Illinois?"
    assert [c.arguments for c in plan(Conversation([tool], text)).calls] == [
        {"city": "DALLAS", "state": "TX"},
        {"city": "ORLANDO", "state": "FL"},
    ]


def test_the_follow_up_answers_whatever_the_transcript_wrote() -> None:
    conversation = Conversation(
        [CITY_ONLY],
        "weather in Seoul and Paris",
        calls_made=[("get_weather", {"city": "SEOUL, KR"}), ("get_weather", {"city": "paris"})],
        results=[("get_weather", "7 C", False), ("get_weather", "9 C", False)],
    )
    reply = plan(conversation)
    assert reply.calls == []
    assert "7 C" in reply.text
    assert "9 C" in reply.text


def test_tool_choice_none_required_and_named() -> None:
    text = "What's the weather in Seoul and Paris?"
    assert plan(Conversation([CITY_ONLY, TIME], text, tool_choice="none")).calls == []
    named = plan(
        Conversation([CITY_ONLY, TIME], text, tool_choice="required", forced_tool="get_time")
    )
    assert [c.name for c in named.calls] == ["get_time"]  # nothing fits: one call all the same
    required = plan(Conversation([TIME], "Hello", tool_choice="required"))
    assert [c.name for c in required.calls] == ["get_time"]


@pytest.mark.anyio
async def test_max_tokens_cuts_with_each_providers_stop_reason() -> None:
    text = {"role": "user", "content": "Hello " * 40}
    status, body = await _body(
        FAST, "/v1/chat/completions", {"model": "offline", "messages": [text], "max_tokens": 3}
    )
    choice = json.loads(body)["choices"][0]
    assert (status, choice["finish_reason"]) == (200, "length")
    assert len(choice["message"]["content"]) == 12  # 3 tokens of 4 characters
    _, body = await _body(
        FAST, "/v1/messages", {"model": "offline", "messages": [text], "max_tokens": 3}
    )
    assert json.loads(body)["stop_reason"] == "max_tokens"
    _, body = await _body(
        FAST, "/v1/responses", {"model": "offline", "input": "Hi " * 40, "max_output_tokens": 3}
    )
    response = json.loads(body)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    # Tool calls that do not fit whole are left out, and the stop reason says so.
    request = {
        "model": "offline",
        "messages": [{"role": "user", "content": "Paris and New York"}],
        "tools": CHAT_TOOLS,
        "max_completion_tokens": 12,
    }
    choice = json.loads((await _body(FAST, "/v1/chat/completions", request))[1])["choices"][0]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["tool_calls"]) == 1


@pytest.mark.anyio
async def test_previous_response_id_continues_a_stored_conversation() -> None:
    model = OfflineModel(token_rate=10_000, first_token_s=0, stored_responses=1)
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER.parameters}]
    first = json.loads(
        (
            await _body(
                model, "/v1/responses", {"model": "offline", "input": "Paris", "tools": tools}
            )
        )[1]
    )
    call = first["output"][0]
    follow_up = {
        "model": "offline",
        "previous_response_id": first["id"],
        "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "9 C"}],
        "tools": tools,
    }
    status, body = await _body(model, "/v1/responses", follow_up)
    assert status == 200
    assert "9 C" in json.loads(body)["output"][0]["content"][0]["text"]
    # Bounded: one response is kept, so the first one has been forgotten by now.
    status, body = await _body(model, "/v1/responses", follow_up)
    assert status == 400
    assert json.loads(body)["error"]["param"] == "previous_response_id"


@pytest.mark.anyio
async def test_include_usage_adds_a_usage_chunk() -> None:
    request = {
        "model": "offline",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _, body = await _body(FAST, "/v1/chat/completions", request)
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line[6:7] == "{"]
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] > 0


# --- dependent calls: "the weather in the capitals of ..." ----------------------------------

CAPITALS_PROMPT = "What's the weather in the capitals of France, Japan and Peru?"
_COUNTRY = {
    "type": "object",
    "properties": {"country": {"type": "string"}},
    "required": ["country"],
}
_CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CAPITAL = ToolSpec("get_capital", _COUNTRY, 'Returns {"country": ..., "capital": ...}.')
CITY_WEATHER = ToolSpec("get_weather", _CITY, "Current weather for a city.")


def _capitals(**options: Any) -> Conversation:
    return Conversation(tools=[CAPITAL, CITY_WEATHER], user_text=CAPITALS_PROMPT, **options)


def _calls(reply: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in reply.calls]


def test_flat_chain_looks_up_then_calls_with_the_values_then_answers() -> None:
    first = plan(_capitals())
    assert _calls(first) == [("get_capital", {"country": c}) for c in ("France", "Japan", "Peru")]
    looked_up = [
        ("get_capital", json.dumps({"country": c, "capital": city}), False)
        for c, city in (("France", "Paris"), ("Japan", "Tokyo"), ("Peru", "Lima"))
    ]
    second = plan(_capitals(calls_made=_calls(first), results=looked_up))
    assert _calls(second) == [("get_weather", {"city": c}) for c in ("Paris", "Tokyo", "Lima")]
    weather = [("get_weather", f"{c}: 20 C", False) for c in ("Paris", "Tokyo", "Lima")]
    third = plan(_capitals(calls_made=_calls(first) + _calls(second), results=looked_up + weather))
    assert third.calls == []
    assert "Lima: 20 C" in third.text


def test_references_put_every_call_in_one_response() -> None:
    reply = plan(_capitals(references=True))
    assert _calls(reply)[3:] == [("get_weather", {"city": f"${n}.capital"}) for n in (1, 2, 3)]
    results = [("get_capital", "{}", False)] * 3 + [("get_weather", "20 C", False)] * 3
    answer = plan(_capitals(references=True, calls_made=_calls(reply), results=results))
    assert answer.calls == []
    assert answer.text.startswith("Here is what the tools returned")


def test_whole_result_reference_when_the_description_names_no_field() -> None:
    plain = ToolSpec("get_capital", _COUNTRY, "The capital of a country.")
    reply = plan(Conversation([plain, CITY_WEATHER], CAPITALS_PROMPT, references=True))
    assert [c.arguments for c in reply.calls[3:]] == [{"city": f"${n}"} for n in (1, 2, 3)]
    # flat, a plain-text result is the value itself; an error's long text is not
    made = [("get_capital", {"country": c}) for c in ("France", "Japan", "Peru")]
    results = [
        ("get_capital", "Paris", False),
        ("get_capital", "Tool 'get_capital' failed with ValueError: " + "x" * 80, False),
        ("get_capital", "Lima", True),
    ]
    flat = plan(Conversation([plain, CITY_WEATHER], CAPITALS_PROMPT, made, results))
    assert _calls(flat) == [("get_weather", {"city": "Paris"})]


def test_references_need_parallel_calls_and_a_tool_named_after_the_noun() -> None:
    serial = plan(_capitals(references=True, parallel=False))
    assert _calls(serial) == [("get_capital", {"country": "France"})]
    no_source = plan(Conversation([CITY_WEATHER], CAPITALS_PROMPT, references=True))
    assert all("$" not in json.dumps(c.arguments) for c in no_source.calls)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["chat", "responses", "anthropic"])
async def test_the_references_prompt_in_the_system_prompt_turns_references_on(kind: str) -> None:
    from toolvolley import references_prompt

    flat_tools: list[dict[str, Any]] = [
        {"type": "function", "name": t.name, "description": t.description,
         "parameters": dict(t.parameters)}
        for t in (CAPITAL, CITY_WEATHER)
    ]  # fmt: skip
    tools_chat = [{"type": "function", "function": f} for f in flat_tools]

    def request(system: str | None) -> tuple[str, dict[str, Any]]:
        user = {"role": "user", "content": CAPITALS_PROMPT}
        if kind == "chat":
            messages = ([{"role": "system", "content": system}] if system else []) + [user]
            return "/v1/chat/completions", {
                "model": "offline", "messages": messages, "tools": tools_chat
            }  # fmt: skip
        if kind == "responses":
            return "/v1/responses", {"model": "offline", "input": [user], "tools": flat_tools,
                                     **({"instructions": system} if system else {})}  # fmt: skip
        anthropic_tools = [
            {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
            for t in flat_tools
        ]
        return "/v1/messages", {"model": "offline", "max_tokens": 500, "messages": [user],
                                "tools": anthropic_tools,
                                **({"system": system} if system else {})}  # fmt: skip

    for system, expected in ((None, 3), ("You are helpful.\n" + references_prompt(), 6)):
        path, payload = request(system)
        status, body = await _body(FAST, path, payload)
        assert status == 200, body
        text = body.decode()
        assert text.count("get_capital") == 3
        assert text.count("get_weather") == expected - 3
        assert ("$3.capital" in text) is (expected == 6)


_BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "offline", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/responses": {"model": "offline", "input": "hi"},
    "/v1/messages": {
        "model": "offline",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    },
}


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", list(_BODIES))
@pytest.mark.parametrize(
    "raw",
    ["[" * 100_000 + "]" * 100_000, "9" * 4301, '"Par\\ud800is"'],
    ids=["nested 100,000 deep", "4,301 digits", "lone surrogate"],
)
async def test_json_a_strict_parser_refuses_is_a_400_not_a_crash(
    path: str, stream: bool, raw: str
) -> None:
    text = json.dumps(_BODIES[path] | {"stream": stream})
    status, body = await _body(FAST, path, f'{text[:-1]}, "x": {raw}}}'.encode())
    assert status == 400
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("The request body is not valid JSON: ")


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", list(_BODIES))
async def test_a_scripted_lone_surrogate_is_sent_escaped_never_raised(
    path: str, stream: bool
) -> None:
    # Whatever the answer holds, encoding it cannot fail: JSON escapes it as \ud800.
    turn = {"text": "Par\ud800is", "tool_calls": [{"name": "f", "arguments": {"city": "\udc00"}}]}
    model = OfflineModel(token_rate=10_000, first_token_s=0, script=[turn])
    status, body = await _body(model, path, _BODIES[path] | {"stream": stream})
    assert status == 200
    assert "\\ud800" in body.decode()


_WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "examples": ["Paris", "York"]},
        "unit": {"type": "string", "enum": ["c", "f"]},
        "days": {"type": "integer", "default": 3},
    },
    "required": ["city", "unit", "days"],
}
# One full request per API, with tools, calls and results: what the mutations start from.
_RICH: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        "model": "offline",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and York"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": _WEATHER_SCHEMA}}
        ],
        "tool_choice": "required",
        "max_tokens": 50,
    },
    "/v1/responses": {
        "model": "offline",
        "input": [
            {"role": "user", "content": "Weather in Paris"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": _WEATHER_SCHEMA}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "instructions": "x",
    },
    "/v1/messages": {
        "model": "offline",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "s"}],
        "messages": [
            {"role": "user", "content": "Weather in Paris and York"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "ok"},
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"x": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [
                        {"type": "text", "text": "sunny"}]}
                ],
            },
            {"role": "user", "content": "And in York?"},
        ],
        "tools": [{"name": "get_weather", "input_schema": _WEATHER_SCHEMA}],
        "tool_choice": {"type": "any"},
    },
}  # fmt: skip

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _places(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (keys and indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found += [(*at, key), *_places(child, (*at, key))]
    return found


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    path = draw(st.sampled_from(sorted(_RICH)))
    body = json.loads(json.dumps(_RICH[path]))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(_places(body)))
        parent = body
        for key in where[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(_JSON)
        if not _places(body):
            break
    return path, body | {"stream": draw(st.booleans())}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_no_request_body_gets_a_500(case: tuple[str, dict[str, Any]]) -> None:
    # A request with any field of a full one replaced by any JSON value, or removed: the
    # provider's 4xx, or an answer, never the server's own failure.
    path, body = case
    model = OfflineModel(token_rate=1e9, first_token_s=0)
    try:
        status, raw = anyio.run(_body, model, path, body)
    except Exception as exc:  # what the server turns into a 500
        pytest.fail(f"{type(exc).__name__}: {exc}")
    assert status < 500, raw
    if status != 200 or not body.get("stream"):
        json.loads(raw)
