"""A lone surrogate ("\\ud800") is a valid Python and JSON string but no UTF-8 text: no SDK can
send it. Whatever a tool returns or raises, the result's content is text every provider takes,
so the conversation goes on (the surrogate becomes U+FFFD)."""

from __future__ import annotations

from typing import Any

import pytest

from toolvolley import Executor, ToolCall, ToolError, run_loop, tool
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses

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
