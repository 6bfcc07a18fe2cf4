"""A lone surrogate ("\\ud800") is a valid Python and JSON string but no UTF-8 text: no SDK can
send it. Whatever a tool returns or raises, the result's content is text every provider takes,
so the conversation goes on (the surrogate becomes U+FFFD)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from toolvolley import (
    Executor,
    Tool,
    ToolCall,
    ToolError,
    ToolResult,
    result_messages,
    run_loop,
    tool,
)
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses
from toolvolley.testing import OfflineModel

pytestmark = pytest.mark.anyio

LONE = "Par\ud800is"


@tool
def returns_text(city: str) -> str:
    """A string with a lone surrogate."""
    return LONE


@tool
def returns_structure(city: str) -> dict[str, Any]:
    """A lone surrogate in a key and in a value."""
    return {f"k{LONE}": [LONE]}


@tool
def raises(city: str) -> str:
    """Fails with a lone surrogate in its message."""
    raise ToolError(f"no weather for {LONE}")


def encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def test_every_result_is_text_a_provider_can_send() -> None:
    executor = Executor([returns_text, returns_structure, raises])
    results = await executor.run(
        [
            ToolCall("1", "returns_text", '{"city": "x"}'),
            ToolCall("2", "returns_structure", '{"city": "x"}'),
            ToolCall("3", "raises", '{"city": "x"}'),
        ]
    )
    assert [r.status for r in results] == ["ok", "ok", "error"]
    assert all(encodes(r.content) for r in results)
    assert results[0].content == "Par\ufffdis"
    assert results[1].content == '{"kPar\ufffdis":["Par\ufffdis"]}'
    assert "no weather for Par\ufffdis" in results[2].content
    assert results[0].value == LONE  # the value itself is the tool's, untouched


@pytest.mark.parametrize("adapter", [OpenAIChat, OpenAIResponses, AnthropicMessages])
async def test_a_conversation_goes_on_after_a_tool_returned_a_lone_surrogate(
    adapter: Any,
) -> None:
    async with adapter.offline() as model:
        outcome = await run_loop(model, "What's the weather in Paris?", [returns_text])
    assert outcome.model_turns == 2
    assert "Par\ufffdis" in outcome.final_text


# What the model itself sends may hold lone surrogates too (a compatible server's JSON may escape
# one), and its turn goes back to it in the next request: a tool name, a call's arguments (a key,
# a value), its text. Each reaches the SDK as sendable text, and the conversation goes on.
MODEL_TURNS = {
    "unknown-tool-name": {"tool_calls": [{"name": f"look{LONE}up", "arguments": {"city": "x"}}]},
    "argument-value": {"tool_calls": [{"name": "returns_text", "arguments": {"city": LONE}}]},
    "invalid-arguments": {
        "tool_calls": [{"name": "returns_text", "arguments": {"city": 3, f"x{LONE}": LONE}}]
    },
    "text-beside-a-call": {
        "text": f"Looking {LONE} up.",
        "tool_calls": [{"name": "returns_text", "arguments": {"city": "x"}}],
    },
}


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # text, not concurrency
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("turn", list(MODEL_TURNS), ids=list(MODEL_TURNS))
@pytest.mark.parametrize("adapter", [OpenAIChat, OpenAIResponses, AnthropicMessages])
async def test_a_lone_surrogate_from_the_model_goes_back_to_it_as_sendable_text(
    adapter: Any, turn: str, stream: bool
) -> None:
    script = [MODEL_TURNS[turn], {"text": "Done."}]
    engine = OfflineModel(script=script, token_rate=1e6, first_token_s=0)
    async with adapter.offline(engine) as model:
        outcome = await run_loop(model, "Go.", [returns_text], stream=stream)
    assert outcome.model_turns == 2
    assert outcome.final_text == "Done."


@pytest.mark.parametrize("provider", ["openai-chat", "openai-responses", "anthropic"])
def test_result_messages_are_sendable_text(provider: Any) -> None:
    result = ToolResult(call_id=f"call_{LONE}", name=f"f{LONE}", status="ok", content=LONE)
    messages = result_messages([result], provider)
    assert encodes(json.dumps(messages, ensure_ascii=False))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # text, not concurrency
@pytest.mark.parametrize("adapter", [OpenAIChat, OpenAIResponses, AnthropicMessages])
async def test_a_tool_described_with_a_lone_surrogate_can_be_offered(adapter: Any) -> None:
    # An MCP server chooses its tools' descriptions: one lone surrogate in them made every
    # request of every conversation fail to encode.
    async def look(city: str) -> str:
        return f"{city}: found"

    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    described = Tool.from_schema("look", f"Look a city up {LONE}.", schema, look)
    script = [{"tool_calls": [{"name": "look", "arguments": {"city": "Lima"}}]}, {"text": "Done."}]
    engine = OfflineModel(script=script, token_rate=1e6, first_token_s=0)
    async with adapter.offline(engine) as model:
        outcome = await run_loop(model, "Go.", [described])
    assert outcome.model_turns == 2
    assert outcome.final_text == "Done."
