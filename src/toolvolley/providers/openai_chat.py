"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, llama.cpp, Ollama): the
request, tool definitions, stream assembly, result messages and the SDK's tool-call objects.

A streamed call is ready when the next call begins, the choice finishes, or its arguments
already form a complete JSON object (a well-formed stream adds nothing to a call after that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._errors import UserError
from .._model import Message, Usage
from .._sdk_calls import MISSING, arguments_of, field_of, text_field
from .._toolbox import Toolbox
from ._assembly import Assembler, Partial, generated_id, is_json_object
from ._base import SDKAdapter, tool_specs

__all__ = ["ChatAssembler", "OpenAIChat"]


class ChatAssembler(Assembler):
    """OpenAI Chat Completions chunks: ``choices[0].delta.tool_calls[]`` keyed by ``index``.

    OpenAI sends a call's ``id`` and whole ``name`` in its first fragment and only argument
    pieces after it. OpenAI-compatible servers bend this, so: a fragment bringing a different
    id, or a name after the call's arguments were complete, starts a new call even at a used
    index; name pieces sent before the arguments are joined (a name repeated whole is kept
    once); a call without an id gets one.
    """

    finish_signal = "a choice with a finish_reason"

    def _feed(self, chunk: Mapping[str, Any]) -> None:
        usage = chunk.get("usage")
        if usage:
            self._usage = Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            self._say(delta.get("content") or "")
            for fragment in delta.get("tool_calls") or ():
                self._fragment(fragment)
            if choice.get("finish_reason"):
                for partial in self._partials:
                    self._ready(partial)
                self._finished = True

    def _fragment(self, fragment: Mapping[str, Any]) -> None:
        index = fragment.get("index", 0)
        call_id = fragment.get("id") or None
        function = fragment.get("function") or {}
        name = function.get("name") or ""
        partial = self._open.get(index)
        if partial is None or self._starts_new(partial, call_id, name):
            for earlier in self._partials:  # the next call began
                self._ready(earlier)
            partial = self._begin((index,), call_id, name)
        else:
            if call_id and not partial.given_id and not partial.ready:
                partial.id, partial.given_id = call_id, True  # the id came late
            if name and name != partial.name and not partial.fragments:
                partial.name += name  # a name streamed in pieces
            # (some servers repeat the whole name on every fragment: that is not a piece)
        piece = function.get("arguments") or ""
        if piece and not partial.ready:
            partial.fragments.append(piece)
            if piece.rstrip().endswith("}") and is_json_object(partial.arguments):
                self._ready(partial)

    @staticmethod
    def _starts_new(partial: Partial, call_id: str | None, name: str) -> bool:
        if call_id and call_id != partial.id:
            return partial.given_id or partial.ready
        return bool(name) and partial.ready and not call_id


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
    call_type = "function"
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
            request["tools"] = self.tool_definitions(toolbox)
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

    @staticmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """``{"type": "function", "function": {name, description, parameters}}`` per tool."""
        return [
            {
                "type": "function",
                "function": {"name": name, "description": description, "parameters": schema},
            }
            for name, description, schema in tool_specs(toolbox)
        ]

    @staticmethod
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        """One ``{"role": "tool", "tool_call_id", "content"}`` message per result."""
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results]

    @staticmethod
    def read_call(value: object, where: str) -> ToolCall:
        """``message.tool_calls[i]`` (``ChatCompletionMessageFunctionToolCall``) or its dict,
        ``{"id", "type": "function", "function": {"name", "arguments"}}``."""
        what = "OpenAI Chat tool call"
        function = field_of(value, "function")
        defines = value if function is MISSING or function is None else function
        if field_of(value, "id") is MISSING and field_of(defines, "parameters") is not MISSING:
            raise UserError(f"{where} got a tool definition (it has parameters), not a tool call.")
        if function is MISSING or function is None:
            raise UserError(f"{where}: the {what} has no 'function'.")
        name = text_field(function, "name", f"{what}'s function", where)
        call_id = text_field(value, "id", what, where)
        return ToolCall(call_id, name, arguments_of(field_of(function, "arguments")))
