"""Anthropic Messages: ``tool_use`` blocks, answered by one user message of ``tool_result``s
(the request, tool definitions, stream assembly, result messages and the SDK's call objects).

A streamed call is ready at the ``content_block_stop`` of its ``tool_use`` block.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, Usage
from .._sdk_calls import arguments_of, field_of, text_field
from .._toolbox import Toolbox
from ._assembly import Assembler, generated_id
from ._base import SDKAdapter, tool_specs

__all__ = ["AnthropicAssembler", "AnthropicMessages"]


class AnthropicAssembler(Assembler):
    """Anthropic Messages events: ``tool_use`` blocks and their ``input_json_delta`` pieces.

    A block is found by its content-block ``index``; a ``content_block_start`` at an index in
    use begins a new block there (the earlier one keeps its place).
    """

    finish_signal = "message_stop"
    id_prefix = "toolu_"

    def _feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage") or {}
            self._usage = Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._begin((event.get("index"),), block.get("id"), block.get("name") or "")
            else:
                self._open.pop(event.get("index"), None)
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._say(delta.get("text") or "")
            elif delta.get("type") == "input_json_delta":
                partial = self._open.get(event.get("index"))
                if partial is not None and not partial.ready:
                    partial.fragments.append(delta.get("partial_json") or "")
        elif kind == "content_block_stop":
            partial = self._open.get(event.get("index"))
            if partial is not None:
                if not partial.fragments:
                    partial.final = "{}"  # a tool_use with no input streams no JSON at all
                self._ready(partial)
        elif kind == "message_delta":
            usage = event.get("usage") or {}
            self._usage = Usage(self._usage.input_tokens, usage.get("output_tokens", 0))
        elif kind == "message_stop":
            self._finished = True


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
    call_type = "tool_use"
    other_parts = frozenset(
        {
            "text",
            "thinking",
            "redacted_thinking",
            "server_tool_use",
            "web_search_tool_result",
            "web_fetch_tool_result",
            "mcp_tool_use",
        }
    )
    other_parts_hint = (
        "Pass only the tool_use blocks of an Anthropic response: "
        '[b for b in response.content if b.type == "tool_use"].'
    )
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
            request["tools"] = self.tool_definitions(toolbox)
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

    @staticmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """``{name, description, input_schema}`` per tool."""
        return [
            {"name": name, "description": description, "input_schema": schema}
            for name, description, schema in tool_specs(toolbox)
        ]

    @staticmethod
    def read_call(value: object, where: str) -> ToolCall:
        """A ``tool_use`` block of ``response.content`` (``ToolUseBlock``) or its dict; its
        ``input`` is already parsed and stays a mapping."""
        what = "Anthropic tool_use block"
        call_id = text_field(value, "id", what, where)
        name = text_field(value, "name", what, where)
        return ToolCall(call_id, name, arguments_of(field_of(value, "input")))

    @staticmethod
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        """The one user message of ``tool_result`` blocks (failures carry ``is_error``), or
        nothing for no results."""
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
