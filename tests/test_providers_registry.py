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
    BedrockConverse,
    Gemini,
    OpenAIChat,
    OpenAIResponses,
    adapter,
)
from toolvolley.testing import OfflineModel


@pytest.fixture(autouse=True)
def _no_aws_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """boto3 looks for credentials when a client is made: not on this machine, nor the network
    (the instance metadata service)."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def test_the_provider_names_are_a_frozen_mapping_of_the_adapters() -> None:
    assert dict(PROVIDERS) == {
        "openai-chat": OpenAIChat,
        "openai-responses": OpenAIResponses,
        "anthropic": AnthropicMessages,
        "gemini": Gemini,
        "bedrock": BedrockConverse,
    }
    with pytest.raises(TypeError):
        PROVIDERS["another"] = OpenAIChat  # type: ignore[index]


# What each SDK needs to be built: a key, or (boto3) a region, credentials coming at call time.
NEEDS: dict[str, dict[str, Any]] = {"bedrock": {"region_name": "us-east-1"}}


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_a_spec_makes_its_adapter_with_its_model(name: str) -> None:
    needs = NEEDS.get(name, {"api_key": "k"})
    made = adapter(f"{name}:some-model", base_url="http://127.0.0.1:1/v1", **needs)
    assert type(made) is PROVIDERS[name]
    assert made.model == "some-model"
    assert adapter(name, **needs).model == PROVIDERS[name]._default_model


def test_bedrock_says_where_its_key_and_region_go(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="AWS_BEARER_TOKEN_BEDROCK"):
        adapter("bedrock:m", api_key="k", region_name="us-east-1")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match="region_name="):
        adapter("bedrock:m")


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
