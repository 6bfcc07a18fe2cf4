"""Programmatic tool calls (made by code the model wrote, run by the provider): the tools that
allow it say so in their definitions, the calls carry their ``caller`` in events, and their
results go back before the code's container expires.

Responses are served through each official SDK's HTTP transport (see also
tests/test_recorded_programmatic.py for recorded ones).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import anyio
import httpx2
import pytest
from pydantic import Field

from toolvolley import (
    Executor,
    Tool,
    Toolbox,
    ToolCall,
    ToolResult,
    UserError,
    run_loop,
    run_turn,
    tool,
)
from toolvolley._expiry import MARGIN
from toolvolley.events import CallReady, CallStarted, TurnEvent, TurnStats
from toolvolley.observe._trace import TraceSection, TraceTurn, trace_events
from toolvolley.providers import AnthropicMessages, OpenAIResponses
from toolvolley.testing import OfflineModel, anthropic_client, openai_client

on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])  # as tests/test_providers

CODE = {"type": "code_execution_20250825", "tool_id": "srvtoolu_1"}


@tool(allowed_callers=["code"])
async def quick() -> str:
    """Answers at once."""
    return "quick done"


def test_tools_that_code_may_call_say_so_in_both_formats() -> None:
    @tool(allowed_callers=["direct", "code"])
    def either() -> str:
        """Called by the model or its code."""
        return ""

    @tool
    def plain() -> str:
        """Called by the model."""
        return ""

    toolbox = Toolbox([quick, either, plain])
    anthropic = AnthropicMessages.tool_definitions(toolbox)
    assert [d.get("allowed_callers") for d in anthropic] == [
        ["code_execution_20250825"],
        ["direct", "code_execution_20250825"],
        None,
        None,
    ]
    assert anthropic[-1] == {"type": "code_execution_20250825", "name": "code_execution"}
    responses = OpenAIResponses.tool_definitions(toolbox)
    assert responses[0] == {"type": "programmatic_tool_calling"}
    assert [d.get("allowed_callers") for d in responses[1:]] == [
        ["programmatic"],
        ["direct", "programmatic"],
        None,
    ]
    # A toolbox that names no callers sends the definitions as before.
    assert AnthropicMessages.tool_definitions(Toolbox([plain])) == [
        {"name": "plain", "description": "Called by the model.", "input_schema": plain.parameters}
    ]


@pytest.mark.parametrize("wrong", ["code", [], ["code", ""], [3]])
def test_allowed_callers_is_a_list_of_names(wrong: Any) -> None:
    with pytest.raises(UserError, match="allowed_callers"):
        quick.with_options(allowed_callers=wrong)


def test_a_call_made_by_code_says_so() -> None:
    assert ToolCall("t", "quick", "{}", CODE).by_code
    assert not ToolCall("t", "quick", "{}", {"type": "direct"}).by_code
    assert not ToolCall("t", "quick").by_code
    block = {"type": "tool_use", "id": "t", "name": "quick", "input": {}, "caller": CODE}
    assert AnthropicMessages.read_call(block, "here").caller == CODE
    item = {
        "type": "function_call",
        "call_id": "c",
        "name": "quick",
        "arguments": "{}",
        "caller": {"type": "program", "caller_id": "p"},
    }
    assert OpenAIResponses.read_call(item, "here").caller == item["caller"]


def _anthropic(seconds_left: float) -> tuple[AnthropicMessages, Any, list[Any], list[datetime]]:
    """An adapter answered by two calls from code, in a container with ``seconds_left`` from
    when the response is sent; the requests sent, and the expiry times given."""
    import anthropic

    sent: list[Any] = []
    given: list[datetime] = []

    async def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(await request.aread()))
        given.append(datetime.now(timezone.utc) + timedelta(seconds=seconds_left))
        return httpx2.Response(200, json=_message(given[-1]))

    client = anthropic.AsyncAnthropic(
        api_key="k",
        base_url="http://programmatic.invalid",
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(transport=httpx2.MockTransport(answer)),
    )
    return AnthropicMessages(client, model="m"), client, sent, given


def _message(expires_at: datetime) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "tool_use", "id": "toolu_slow", "name": "slow", "input": {}, "caller": CODE},
            {"type": "tool_use", "id": "toolu_quick", "name": "quick", "input": {}, "caller": CODE},
        ],
        "container": {"id": "container_1", "expires_at": expires_at.isoformat()},
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


@pytest.mark.anyio
@on_asyncio
async def test_a_call_made_by_code_still_running_when_the_container_expires_is_answered() -> None:
    """The container's time runs out while one call is still running: it is stopped and
    answered with a timeout the model can act on; the other call keeps its result."""
    started = anyio.Event()

    @tool(allowed_callers=["code"])
    async def slow() -> str:
        """Never finishes by itself."""
        started.set()
        await anyio.sleep_forever()
        return ""

    model, client, _, given = _anthropic(MARGIN + 0.5)
    events: list[TurnEvent] = []
    async with client:
        transcript = [model.user_message("Run the code.")]
        response, stats = await run_turn(
            model, transcript, Executor([slow, quick]), stream=False, on_event=events.append
        )
    assert started.is_set()
    assert response.expires_at == given[0]
    by_id = {r.call_id: r for r in stats.results}
    assert by_id["toolu_quick"].status == "ok"
    late = by_id["toolu_slow"]
    assert late.status == "timeout"
    assert "container" in late.content
    assert "Call it again" in late.content
    # Every call is answered, and the calls in the events say who made them.
    assert [r.call_id for r in stats.results] == ["toolu_slow", "toolu_quick"]
    assert [e.call.caller for e in events if isinstance(e, CallReady | CallStarted)] == [CODE] * 4


@pytest.mark.anyio
@on_asyncio
async def test_calls_made_by_code_with_time_to_spare_are_not_cut() -> None:
    @tool(allowed_callers=["code"])
    async def slow() -> str:
        """Answers at once too."""
        return "slow done"

    model, client, sent, _ = _anthropic(240.0)
    async with client:
        transcript = [model.user_message("Run the code.")]
        _, stats = await run_turn(model, transcript, Executor([slow, quick]), stream=False)
        assert [r.status for r in stats.results] == ["ok", "ok"]
        # The next request (the follow-up) names the container the calls came from.
        await run_turn(model, transcript, Executor([slow, quick]), stream=False)
    assert "container" not in sent[0]
    assert sent[1]["container"] == "container_1"
    assert sent[1]["tools"][-1] == {"type": "code_execution_20250825", "name": "code_execution"}


def test_a_tool_lists_its_callers() -> None:
    assert quick.allowed_callers == ("code",)
    assert Tool.with_options(quick, allowed_callers=None).allowed_callers is None


def test_the_trace_says_which_calls_code_made() -> None:
    calls = (ToolCall("t1", "quick", "{}", CODE), ToolCall("t2", "quick", "{}"))
    results = tuple(
        ToolResult(c.id, "quick", "ok", "done", queued_at=1.0, started_at=1.0, ended_at=2.0)
        for c in calls
    )
    stats = TurnStats(
        index=0,
        calls=2,
        model_s=0.5,
        tools_s=1.0,
        tool_calls=calls,
        results=results,
        started_at=0.5,
        model_ended_at=1.0,
        streamed=True,
    )
    turn = TraceTurn(stats, first_output_at=0.6, ready_at={"t1": 0.9, "t2": 0.9})
    events = trace_events([TraceSection("one turn", turns=[turn])])["traceEvents"]
    tracks = [e["args"]["name"] for e in events if e["name"] == "thread_name" and e["tid"]]
    assert tracks == ["quick t1 (from code)", "quick t2"]
    spans = [e["args"] for e in events if e["name"] == "quick"]
    assert [s.get("caller") for s in spans] == [CODE, None]
    ready = [e["args"] for e in events if e["name"] == "arguments complete: quick"]
    assert [r.get("caller") for r in ready] == [CODE, None]


@tool(allowed_callers=["code"])
async def get_weather(city: Annotated[str, Field(examples=["Seoul", "Tokyo", "Paris"])]) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("adapter", [AnthropicMessages, OpenAIResponses])
async def test_the_offline_model_calls_tools_from_code_when_only_code_may(
    adapter: type[AnthropicMessages | OpenAIResponses], stream: bool
) -> None:
    """Planned: a tool only code may call is called from code, and the follow-up (which the
    offline model refuses without the container id or the program item) is accepted."""
    async with adapter.offline() as model:
        result = await run_loop(
            model, "What is the weather in Seoul and Tokyo?", [get_weather], stream=stream
        )
    first, last = result.turns
    assert [(c.name, json.loads(c.arguments_text())) for c in first.tool_calls] == [
        ("get_weather", {"city": "Seoul"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert all(c.by_code for c in first.tool_calls)
    assert [r.status for r in first.results] == ["ok", "ok"]
    assert last.tool_calls == ()
    assert "sunny in Seoul" in result.final_text


@pytest.mark.anyio
@on_asyncio
@pytest.mark.parametrize("adapter", [AnthropicMessages, OpenAIResponses])
async def test_a_scripted_call_from_code(
    adapter: type[AnthropicMessages | OpenAIResponses],
) -> None:
    script = [
        {
            "tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Paris"}, "caller": "code"},
                {"name": "get_weather", "arguments": {"city": "Seoul"}},
            ]
        },
        {"text": "Done."},
    ]
    async with adapter.offline(OfflineModel(script=script)) as model:
        result = await run_loop(model, "Weather?", [get_weather.with_options(allowed_callers=None)])
    calls = result.turns[0].tool_calls
    assert [c.by_code for c in calls] == [True, False]
    assert calls[1].caller is None
    assert result.final_text == "Done."


@pytest.mark.anyio
@on_asyncio
async def test_the_offline_model_refuses_answers_to_code_without_the_container() -> None:
    import anthropic

    block = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    messages: list[Any] = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [block | {"caller": CODE}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
    ]
    async with anthropic_client() as client:
        with pytest.raises(anthropic.BadRequestError, match="container_id is required"):
            await client.messages.create(model="offline", max_tokens=100, messages=messages)
        # With the container named, the same follow-up is taken.
        await client.messages.create(
            model="offline", max_tokens=100, messages=messages, container="container_1"
        )


@pytest.mark.anyio
@on_asyncio
async def test_the_offline_model_refuses_calls_from_code_without_their_program() -> None:
    import openai

    call = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": "{}",
        "caller": {"type": "program", "caller_id": "call_p"},
    }
    items: list[Any] = [
        {"role": "user", "content": "Weather?"},
        call,
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]
    async with openai_client() as client:
        with pytest.raises(openai.BadRequestError, match="No program item found"):
            await client.responses.create(model="offline", input=items, store=False)


def test_a_code_execution_version_named_as_a_caller_is_the_one_offered() -> None:
    newer = quick.with_options(allowed_callers=["code_execution_20260120"])
    definitions = AnthropicMessages.tool_definitions(Toolbox([newer]))
    assert definitions[0]["allowed_callers"] == ["code_execution_20260120"]
    assert definitions[-1] == {"type": "code_execution_20260120", "name": "code_execution"}


@pytest.mark.anyio
@on_asyncio
async def test_a_container_past_its_expiry_on_arrival_cuts_nothing() -> None:
    """The provider has just used the container, so an ``expires_at`` already past when the
    response arrives says the clocks disagree, not that the container is gone: the calls run."""

    @tool(allowed_callers=["code"])
    async def slow() -> str:
        """Answers after giving the event loop a turn."""
        await anyio.lowlevel.checkpoint()
        return "slow done"

    model, client, _, _ = _anthropic(-60.0)
    async with client:
        transcript = [model.user_message("Run the code.")]
        _, stats = await run_turn(model, transcript, Executor([slow, quick]), stream=False)
    assert [r.status for r in stats.results] == ["ok", "ok"]


@pytest.mark.anyio
@on_asyncio
async def test_the_offline_model_takes_back_a_reasoning_item_only_with_its_encrypted_content() -> (
    None
):
    # As the Responses API: statelessly, nothing was stored under a reasoning item's id.
    import openai

    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}
    reasoning: dict[str, Any] = {"type": "reasoning", "id": "rs_1", "summary": []}
    answer = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    async with openai_client() as client:
        items: list[Any] = [{"role": "user", "content": "Weather?"}, reasoning, call, answer]
        with pytest.raises(openai.BadRequestError, match="Item with id 'rs_1' not found"):
            await client.responses.create(model="offline", input=items, store=False)
        reasoning["encrypted_content"] = "gAAAA-sealed"
        response = await client.responses.create(model="offline", input=items, store=False)
        assert response.output
