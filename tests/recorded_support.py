"""Tools standing in for those a recorded response calls (tests/test_recorded.py,
tests/test_sdk_objects.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx2

from toolvolley import ModelAdapter, Tool, Toolbox
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses


def toolbox_for(meta: Mapping[str, Any], ran: list[tuple[str, dict[str, Any]]]) -> Toolbox:
    """A tool for every name the recording calls, accepting the arguments it was given."""
    properties: dict[str, dict[str, Any]] = {}
    for call in meta["tool_calls"]:
        for key in json.loads(call["arguments"]):
            properties.setdefault(call["name"], {})[key] = {}

    def make(name: str) -> Tool:
        async def run(**arguments: Any) -> str:
            ran.append((name, arguments))
            return f"{name} ran"

        schema = {"type": "object", "properties": properties.get(name, {})}
        return Tool.from_schema(name, f"The recorded {name}.", schema, run)

    return Toolbox(make(name) for name in dict.fromkeys(c["name"] for c in meta["tool_calls"]))


def adapter(kind: str, transport: httpx2.MockTransport) -> tuple[ModelAdapter, Any]:
    """The adapter for a recorded ``kind`` ("anthropic", "chat", else Responses), its SDK
    client answered by ``transport``; and that client."""
    if kind == "anthropic":
        import anthropic

        client: Any = anthropic.AsyncAnthropic(
            api_key="k",
            base_url="http://recorded.invalid",
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(transport=transport),
        )
        return AnthropicMessages(client, model="m"), client
    import openai

    client = openai.AsyncOpenAI(
        api_key="k",
        base_url="http://recorded.invalid/v1",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(transport=transport),
    )
    model = OpenAIChat(client, model="m") if kind == "chat" else OpenAIResponses(client, model="m")
    return model, client
