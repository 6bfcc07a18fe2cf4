"""Anthropic Messages: ``tool_use`` blocks, answered by one user message of ``tool_result``s."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, Usage
from .._toolbox import Toolbox
from ._assembly import AnthropicAssembler, generated_id
from ._base import SDKAdapter

__all__ = ["AnthropicMessages"]


class AnthropicMessages(SDKAdapter):
    """The Messages API through ``anthropic.AsyncAnthropic``. Every result of a turn goes back in
    one user message; failures carry ``is_error``. With ``parallel_tool_calls=False`` the request
    says ``tool_choice={"type": "auto", "disable_parallel_tool_use": true}``::

        model = AnthropicMessages(model="claude-sonnet-4-5")
        model = AnthropicMessages.offline()
    """

    provider = "anthropic"
    _sdk = "anthropic"
    _client_class = "AsyncAnthropic"
    _default_model = "claude-sonnet-4-5"
    _assembler = AnthropicAssembler

    def __init__(
        self,
        client: Any = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        max_tokens: int = 4096,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            client,
            model=model,
            base_url=base_url,
            api_key=api_key,
            system=system,
            request_options=request_options,
        )
        self.max_tokens = max_tokens

    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": list(transcript),
        }
        if self.system:
            request["system"] = self.system
        if len(toolbox):
            request["tools"] = toolbox.anthropic_tools()
            if not parallel:
                request["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
        return request | self.request_options

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self.client.messages.create(**request)

    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        calls: list[ToolCall] = []
        texts: list[str] = []
        for block in raw.content:
            if block.type == "tool_use":
                call_id = getattr(block, "id", None) or generated_id("toolu_")
                calls.append(ToolCall(call_id, block.name, dict(block.input)))
            elif block.type == "text":
                texts.append(block.text)
        usage = raw.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage else Usage()
        return "".join(texts), tuple(calls), tokens

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        blocks: list[Message] = [{"type": "text", "text": text}] if text else []
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c)} for c in calls
        ]
        return ({"role": "assistant", "content": blocks},)

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

    @staticmethod  # no client needed: toolvolley.result_messages() calls it on the class
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
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


def _input(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as the object a ``tool_use`` block holds ({} if they never parsed)."""
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
