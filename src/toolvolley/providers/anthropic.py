"""Anthropic Messages: ``tool_use`` blocks, answered by one user message of ``tool_result``s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, ModelAdapter, ModelResponse, Usage
from .._optional import require
from .._toolbox import Toolbox
from ..offline import OfflineModel, http_client_for

__all__ = ["AnthropicMessages"]

OFFLINE_URL = "http://offline.toolvolley.invalid"  # never resolved: the transport is in-process


class AnthropicMessages(ModelAdapter):
    """The Messages API through ``anthropic.AsyncAnthropic``. Every result of a turn goes back in
    one user message; failures carry ``is_error``. With ``parallel_tool_calls=False`` the request
    says ``tool_choice={"type": "auto", "disable_parallel_tool_use": true}``::

        model = AnthropicMessages(model="claude-sonnet-4-5")
        model = AnthropicMessages.offline()
    """

    provider = "anthropic"

    def __init__(
        self,
        client: Any = None,
        *,
        model: str = "claude-sonnet-4-5",
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        max_tokens: int = 4096,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        if client is None:
            anthropic: Any = require("anthropic", "anthropic")
            client = self._owned_client = anthropic.AsyncAnthropic(
                base_url=base_url, api_key=api_key
            )
        self.client = client
        self.model = model
        self.system = system
        self.max_tokens = max_tokens
        self.request_options = dict(request_options or {})

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> AnthropicMessages:
        """This adapter, talking to the offline model in-process through the official SDK."""
        anthropic: Any = require("anthropic", "anthropic")
        engine = model or OfflineModel()
        client = anthropic.AsyncAnthropic(
            base_url=OFFLINE_URL,
            api_key="offline",
            max_retries=0,
            http_client=http_client_for(engine, anthropic.DefaultAsyncHttpxClient),
        )
        adapter = cls(client, **{"model": engine.name, **options})
        adapter._owned_client = client
        return adapter

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": list(transcript),
        }
        if self.system:
            request["system"] = self.system
        if len(toolbox):
            request["tools"] = toolbox.anthropic_tools()
            if not parallel_tool_calls:
                request["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
        message = await self.client.messages.create(**request, **self.request_options)
        calls: list[ToolCall] = []
        blocks: list[Message] = []
        texts: list[str] = []
        for block in message.content:
            if block.type == "tool_use":
                calls.append(ToolCall(block.id, block.name, dict(block.input)))
                blocks.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
            elif block.type == "text":
                texts.append(block.text)
                blocks.append({"type": "text", "text": block.text})
        usage = message.usage
        return ModelResponse(
            text="".join(texts),
            calls=tuple(calls),
            messages=({"role": "assistant", "content": blocks},),
            usage=Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
            raw=message,
        )

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

    def result_messages(self, results: Sequence[ToolResult]) -> list[Message]:
        blocks: list[dict[str, Any]] = []
        for r in results:
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": r.call_id,
                "content": r.content,
            }
            if r.is_error:
                block["is_error"] = True
            blocks.append(block)
        return [{"role": "user", "content": blocks}] if blocks else []
