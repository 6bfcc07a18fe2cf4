"""The OpenAI Responses API: ``function_call`` items answered by ``function_call_output`` items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, Usage
from .._toolbox import Toolbox
from ._assembly import ResponsesAssembler, generated_id
from ._base import SDKAdapter

__all__ = ["OpenAIResponses"]


class OpenAIResponses(SDKAdapter):
    """The Responses API through ``openai.AsyncOpenAI``, stateless (``store=False``): the whole
    transcript of input items goes with every request, so any turn can be replayed::

        model = OpenAIResponses(model="gpt-4.1-mini")
        model = OpenAIResponses.offline()
    """

    provider = "openai-responses"
    _sdk = "openai"
    _client_class = "AsyncOpenAI"
    _assembler = ResponsesAssembler
    _default_model = "gpt-4.1-mini"

    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "input": list(transcript), "store": False}
        if self.system:
            request["instructions"] = self.system
        if len(toolbox):
            request["tools"] = toolbox.openai_responses_tools()
            request["parallel_tool_calls"] = parallel
        return request | self.request_options

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self.client.responses.create(**request)

    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        calls: list[ToolCall] = []
        texts: list[str] = []
        for item in raw.output:
            if item.type == "function_call":
                call_id = getattr(item, "call_id", None) or generated_id("call_")
                calls.append(ToolCall(call_id, item.name, item.arguments or ""))
            elif item.type == "message":
                texts.append("".join(c.text for c in item.content if c.type == "output_text"))
        usage = raw.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage else Usage()
        return "".join(texts), tuple(calls), tokens

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        messages: list[Message] = [{"role": "assistant", "content": text}] if text else []
        messages += [
            {
                "type": "function_call",
                "call_id": c.id,
                "name": c.name,
                "arguments": c.arguments_text(),
            }
            for c in calls
        ]
        return tuple(messages)

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

    @staticmethod  # no client needed: toolvolley.result_messages() calls it on the class
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        return [
            {"type": "function_call_output", "call_id": r.call_id, "output": r.content}
            for r in results
        ]
