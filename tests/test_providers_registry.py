"""One spelling of each provider name, a spec that makes an adapter, and each wire format owned
by its own module (tool definitions, result messages, the SDK's call objects)."""

from __future__ import annotations

from typing import Any

import pytest

import toolvolley
from toolvolley import Tool, Toolbox, ToolResult, UserError
from toolvolley.providers import (
    PROVIDERS,
    AnthropicMessages,
    Gemini,
    OpenAIChat,
    OpenAIResponses,
    adapter,
)
from toolvolley.testing import OfflineModel


def test_the_provider_names_are_a_frozen_mapping_of_the_adapters() -> None:
    assert dict(PROVIDERS) == {
        "openai-chat": OpenAIChat,
        "openai-responses": OpenAIResponses,
        "anthropic": AnthropicMessages,
        "gemini": Gemini,
    }
    with pytest.raises(TypeError):
        PROVIDERS["another"] = OpenAIChat  # type: ignore[index]


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_a_spec_makes_its_adapter_with_its_model(name: str) -> None:
    made = adapter(f"{name}:some-model", base_url="http://127.0.0.1:1/v1", api_key="k")
    assert type(made) is PROVIDERS[name]
    assert made.model == "some-model"
    assert adapter(name, api_key="k").model == PROVIDERS[name]._default_model


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(PROVIDERS))
async def test_a_spec_offline_talks_to_the_offline_model(name: str) -> None:
    engine = OfflineModel(token_rate=1e6, first_token_s=0, aliases=("m",))
    async with adapter(f"{name}:m", offline=engine) as made:
        assert type(made) is PROVIDERS[name]
        assert made.model == "m"
        response = await made.respond([made.user_message("hello")], Toolbox())
        assert response.text


def test_an_unknown_provider_says_which_there_are() -> None:
    with pytest.raises(UserError) as info:
        adapter("openai:gpt-4.1-mini")
    assert "'openai-chat', 'openai-responses', 'anthropic'" in str(info.value)
    with pytest.raises(UserError, match="no base_url"):
        adapter("openai-chat", offline=True, base_url="http://127.0.0.1:1")


def echo(text: str) -> str:
    """Say it back."""
    return text


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("openai_chat_tools", OpenAIChat),
        ("openai_responses_tools", OpenAIResponses),
        ("anthropic_tools", AnthropicMessages),
    ],
)
def test_the_toolbox_renderers_are_the_provider_modules_own(method: str, kind: Any) -> None:
    box = Toolbox(
        [toolvolley.tool(echo), Tool.from_schema("a.b", "dotted", {"type": "object"}, echo)]
    )
    assert getattr(box, method)() == kind.tool_definitions(box)


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_result_messages_dispatch_to_the_provider_module(name: str) -> None:
    results = [ToolResult("c1", "echo", "ok", "hi"), ToolResult("c2", "echo", "error", "no")]
    expected = PROVIDERS[name].result_messages(results)
    assert toolvolley.result_messages(results, name) == expected  # type: ignore[arg-type]
