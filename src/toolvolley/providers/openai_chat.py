"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, llama.cpp, Ollama)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, Usage
from .._toolbox import Toolbox
from ._assembly import ChatAssembler, generated_id
from ._base import SDKAdapter

__all__ = ["OpenAIChat"]


class OpenAIChat(SDKAdapter):
    """Chat Completions through ``openai.AsyncOpenAI``.

    The follow-up holds the assistant message with its ``tool_calls`` and then one ``role: "tool"``
    message per ``tool_call_id``, all in the same request::

        model = OpenAIChat(model="gpt-4.1-mini")                          # api.openai.com
        model = OpenAIChat(base_url="http://127.0.0.1:8080/v1", model="qwen3")  # vLLM, llama.cpp
        model = OpenAIChat.offline()                                      # no key, no network

    ``stream_usage=False`` leaves out ``stream_options`` for servers that refuse it.
    """

    provider = "openai-chat"
    _sdk = "openai"
    _client_class = "AsyncOpenAI"
    _default_model = "gpt-4.1-mini"
    _assembler = ChatAssembler

    def __init__(
        self,
        client: Any = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        stream_usage: bool = True,
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
        self.stream_usage = stream_usage

    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]:
        messages = list(transcript)
        if self.system and not (messages and messages[0].get("role") in ("system", "developer")):
            messages.insert(0, {"role": "system", "content": self.system})
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if len(toolbox):
            # parallel_tool_calls is only allowed alongside tools
            request["tools"] = toolbox.openai_chat_tools()
            request["parallel_tool_calls"] = parallel
        return request | self.request_options

    def _stream_options(self) -> dict[str, Any]:
        if not self.stream_usage or "stream_options" in self.request_options:
            return {}  # the caller's own stream_options win
        return {"stream_options": {"include_usage": True}}

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self.client.chat.completions.create(**request)

    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        message = raw.choices[0].message
        calls = tuple(
            ToolCall(c.id or generated_id("call_"), c.function.name, c.function.arguments or "")
            for c in message.tool_calls or ()
            if getattr(c, "type", "function") == "function"
        )
        usage = raw.usage
        tokens = Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage()
        return message.content or "", calls, tokens

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        assistant: Message = {"role": "assistant", "content": text or None}
        if calls:
            assistant["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_text()},
                }
                for c in calls
            ]
        return (assistant,)

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

    @staticmethod  # no client needed: toolvolley.result_messages() calls it on the class
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results]
