"""vLLM's parallel tool-call test (tests/tool_use/test_parallel_tool_calls.py), its assertions,
tools and messages, pointed at the offline model served under uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from toolvolley.testing import OfflineApp, OfflineModel
from toolvolley.testing._serving import serve_in_thread

openai = pytest.importorskip("openai")

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {
                    "type": "string",
                    "description": "The city to find the weather for, e.g. 'San Francisco'",
                },
                "state": {
                    "type": "string",
                    "description": "must the two-letter abbreviation for the state that the city "
                    "is in, e.g. 'CA' which would mean 'California'",
                },
                "unit": {
                    "type": "string",
                    "description": "The unit to fetch the temperature in",
                    "enum": ["celsius", "fahrenheit"],
                },
            },
        },
    },
}
SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "web_search",
        "description": "Search the internet and get a summary of the top 10 webpages. Should only "
        "be used if you don't know the answer to a user query, and the results are likely"
        "to be able to be found with a web search",
        "parameters": {
            "type": "object",
            "properties": {
                "search_term": {
                    "type": "string",
                    "description": "The term to use in the search. This should"
                    "ideally be keywords to search for, not a"
                    "natural-language question",
                }
            },
            "required": ["search_term"],
        },
    },
}
QUESTION = "What is the weather in Dallas, Texas and Orlando, Florida in Fahrenheit?"
MESSAGES_ASKING_FOR_PARALLEL_TOOLS: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
MESSAGES_WITH_PARALLEL_TOOL_RESPONSE: list[dict[str, Any]] = [
    {"role": "user", "content": QUESTION},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "chatcmpl-tool-03e6481b146e408e9523d9c956696295",
                "type": "function",
                "function": {
                    "name": "get_current_weather",
                    "arguments": '{"city": "Dallas", "state": "TX", "unit": "fahrenheit"}',
                },
            },
            {
                "id": "chatcmpl-tool-d027061e1bd21cda48bee7da829c1f5b",
                "type": "function",
                "function": {
                    "name": "get_current_weather",
                    "arguments": '{"city": "Orlando", "state": "Fl", "unit": "fahrenheit"}',
                },
            },
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "chatcmpl-tool-03e6481b146e408e9523d9c956696295",
        "content": "The weather in Dallas TX is 98 degrees fahrenheit with mostly cloudy skies "
        "and a chance of rain in the evening.",
    },
    {
        "role": "tool",
        "tool_call_id": "chatcmpl-tool-d027061e1bd21cda48bee7da829c1f5b",
        "content": "The weather in Orlando FL is 78 degrees fahrenheit with clearskies.",
    },
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    model = OfflineModel(token_rate=5000, first_token_s=0)
    with serve_in_thread(OfflineApp(model)) as url:
        yield f"{url}/v1"


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[Any]:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0) as c:
        yield c


async def test_parallel_tool_calls(client: Any) -> None:
    models = await client.models.list()
    model_name: str = models.data[0].id
    chat_completion = await client.chat.completions.create(
        messages=MESSAGES_ASKING_FOR_PARALLEL_TOOLS,
        temperature=0,
        max_tokens=200,
        model=model_name,
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        logprobs=False,
    )
    choice = chat_completion.choices[0]
    stop_reason = chat_completion.choices[0].finish_reason
    non_streamed_tool_calls = chat_completion.choices[0].message.tool_calls

    assert choice.message.role == "assistant"
    assert non_streamed_tool_calls is not None
    assert len(non_streamed_tool_calls) == 2
    for tool_call in non_streamed_tool_calls:
        assert tool_call.type == "function"
        assert tool_call.function is not None
        assert isinstance(tool_call.id, str)
        assert len(tool_call.id) > 16
        assert tool_call.function.name == WEATHER_TOOL["function"]["name"]
        assert isinstance(tool_call.function.arguments, str)
        parsed_arguments = json.loads(tool_call.function.arguments)
        assert isinstance(parsed_arguments, dict)
        assert isinstance(parsed_arguments.get("city"), str)
        assert isinstance(parsed_arguments.get("state"), str)
    assert stop_reason == "tool_calls"

    stream = await client.chat.completions.create(
        model=model_name,
        messages=MESSAGES_ASKING_FOR_PARALLEL_TOOLS,
        temperature=0,
        max_tokens=200,
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        logprobs=False,
        stream=True,
    )
    role_name: str | None = None
    finish_reason_count = 0
    tool_call_names: list[str] = []
    tool_call_args: list[str] = []
    tool_call_idx = -1
    tool_call_id_count = 0
    async for chunk in stream:
        if chunk.choices[0].finish_reason:
            finish_reason_count += 1
            assert chunk.choices[0].finish_reason == "tool_calls"
        if chunk.choices[0].delta.role:
            assert not role_name or role_name == "assistant"
            role_name = "assistant"
        streamed_tool_calls = chunk.choices[0].delta.tool_calls
        if streamed_tool_calls and len(streamed_tool_calls) > 0:
            assert len(streamed_tool_calls) == 1  # one delta per chunk, even for parallel calls
            tool_call = streamed_tool_calls[0]
            if tool_call.index != tool_call_idx:
                tool_call_idx = tool_call.index
                tool_call_args.append("")
            if tool_call.id:
                tool_call_id_count += 1
                assert isinstance(tool_call.id, str)
                assert len(tool_call.id) > 16
            if tool_call.function:
                if tool_call.function.name:
                    assert isinstance(tool_call.function.name, str)
                    tool_call_names.append(tool_call.function.name)
                if tool_call.function.arguments:
                    assert isinstance(tool_call.function.arguments, str)
                    tool_call_args[tool_call.index] += tool_call.function.arguments
    assert finish_reason_count == 1
    assert role_name == "assistant"
    assert len(non_streamed_tool_calls) == len(tool_call_names) == len(tool_call_args)
    for i in range(2):
        assert non_streamed_tool_calls[i].function.name == tool_call_names[i]
        streamed_args = json.loads(tool_call_args[i])
        non_streamed_args = json.loads(non_streamed_tool_calls[i].function.arguments)
        assert streamed_args == non_streamed_args
    # Beyond vLLM's assertions: the parts went where they fit.
    assert [json.loads(c.function.arguments) for c in non_streamed_tool_calls] == [
        {"city": "Dallas", "state": "TX", "unit": "fahrenheit"},
        {"city": "Orlando", "state": "FL", "unit": "fahrenheit"},
    ]


async def test_parallel_tool_calls_with_results(client: Any) -> None:
    models = await client.models.list()
    model_name: str = models.data[0].id
    chat_completion = await client.chat.completions.create(
        messages=MESSAGES_WITH_PARALLEL_TOOL_RESPONSE,
        temperature=0,
        max_tokens=200,
        model=model_name,
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        logprobs=False,
    )
    choice = chat_completion.choices[0]
    assert choice.finish_reason != "tool_calls"
    assert choice.message.role == "assistant"
    assert choice.message.tool_calls is None or len(choice.message.tool_calls) == 0
    assert choice.message.content is not None
    assert "98" in choice.message.content
    assert "78" in choice.message.content

    stream = await client.chat.completions.create(
        messages=MESSAGES_WITH_PARALLEL_TOOL_RESPONSE,
        temperature=0,
        max_tokens=200,
        model=model_name,
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        logprobs=False,
        stream=True,
    )
    chunks: list[str] = []
    finish_reason_count = 0
    role_sent = False
    async for chunk in stream:
        delta = chunk.choices[0].delta
        if delta.role:
            assert not role_sent
            assert delta.role == "assistant"
            role_sent = True
        if delta.content:
            chunks.append(delta.content)
        if chunk.choices[0].finish_reason is not None:
            finish_reason_count += 1
            assert chunk.choices[0].finish_reason == choice.finish_reason
        assert not delta.tool_calls or len(delta.tool_calls) == 0
    assert role_sent
    assert finish_reason_count == 1
    assert len(chunks)
    assert "".join(chunks) == choice.message.content


async def test_parallel_tool_calls_with_an_enum_on_city(client: Any) -> None:
    # issue 26: an enum on `city` beside the free `state` used to give one call per value named
    properties = WEATHER_TOOL["function"]["parameters"]["properties"]
    city = {**properties["city"], "enum": ["Austin", "Dallas", "Orlando"]}
    function = {
        **WEATHER_TOOL["function"],
        "parameters": {"type": "object", "properties": {**properties, "city": city}},
    }
    chat_completion = await client.chat.completions.create(
        messages=MESSAGES_ASKING_FOR_PARALLEL_TOOLS,
        model="offline",
        tools=[{"type": "function", "function": function}, SEARCH_TOOL],
    )
    calls = chat_completion.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_current_weather", {"city": "Dallas", "state": "TX", "unit": "fahrenheit"}),
        ("get_current_weather", {"city": "Orlando", "state": "FL", "unit": "fahrenheit"}),
    ]
