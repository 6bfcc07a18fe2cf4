"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, llama.cpp, Ollama)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio.lowlevel

from .._calls import ToolCall, ToolResult
from .._events import StreamUpdate
from .._model import Message, ModelAdapter, ModelResponse, Usage
from .._optional import require
from .._toolbox import Toolbox
from ..offline import OfflineModel, http_client_for
from ._assembly import ChatAssembler

__all__ = ["OpenAIChat"]

OFFLINE_URL = "http://offline.toolvolley.invalid/v1"  # never resolved: the transport is in-process


class OpenAIChat(ModelAdapter):
    """Chat Completions through ``openai.AsyncOpenAI``.

    The follow-up holds the assistant message with its ``tool_calls`` and then one ``role: "tool"``
    message per ``tool_call_id``, all in the same request::

        model = OpenAIChat(model="gpt-4.1-mini")                          # api.openai.com
        model = OpenAIChat(base_url="http://127.0.0.1:8080/v1", model="qwen3")  # vLLM, llama.cpp
        model = OpenAIChat.offline()                                      # no key, no network

    ``stream_usage=False`` leaves out ``stream_options`` for servers that refuse it.
    """

    provider = "openai-chat"

    def __init__(
        self,
        client: Any = None,
        *,
        model: str = "gpt-4.1-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        stream_usage: bool = True,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        if client is None:
            openai: Any = require("openai", "openai")
            client = self._owned_client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key)
        self.client = client
        self.model = model
        self.system = system
        self.stream_usage = stream_usage
        self.request_options = dict(request_options or {})

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> OpenAIChat:
        """This adapter, talking to the offline model in-process through the official SDK."""
        openai: Any = require("openai", "openai")
        engine = model or OfflineModel()
        client = openai.AsyncOpenAI(
            base_url=OFFLINE_URL,
            api_key="offline",
            max_retries=0,
            http_client=http_client_for(engine, openai.DefaultAsyncHttpxClient),
        )
        adapter = cls(client, **{"model": engine.name, **options})
        adapter._owned_client = client
        return adapter

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

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        completion = await self.client.chat.completions.create(
            **self._request(transcript, toolbox, parallel_tool_calls)
        )
        message = completion.choices[0].message
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments or "")
            for c in message.tool_calls or ()
            if getattr(c, "type", "function") == "function"
        )
        usage = completion.usage
        return _response(
            message.content or "",
            calls,
            Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            raw=completion,
        )

    async def stream(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
        on_update: Callable[[StreamUpdate], None],
    ) -> ModelResponse:
        request = self._request(transcript, toolbox, parallel_tool_calls) | {"stream": True}
        if self.stream_usage:
            request.setdefault("stream_options", {"include_usage": True})
        assembler = ChatAssembler(on_update)
        error: Exception | None = None
        stream = await self.client.chat.completions.create(**request)
        try:
            async for chunk in stream:
                if assembler.feed(chunk.model_dump(mode="json", exclude_none=True)):
                    await anyio.lowlevel.checkpoint()  # let the call start before parsing on
        except Exception as exc:  # the stream broke: keep what was assembled
            error = exc
        finally:
            await stream.close()
        done = assembler.finish()
        return _response(
            done.text, done.calls, done.usage, incomplete=done.incomplete, stream_error=error
        )

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

    def result_messages(self, results: Sequence[ToolResult]) -> list[Message]:
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in results]


def _response(
    text: str,
    calls: tuple[ToolCall, ...],
    usage: Usage,
    *,
    raw: Any = None,
    incomplete: tuple[ToolCall, ...] = (),
    stream_error: Exception | None = None,
) -> ModelResponse:
    assistant: Message = {"role": "assistant", "content": text or None}
    if calls or incomplete:
        assistant["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_text()},
            }
            for c in (*calls, *incomplete)
        ]
    return ModelResponse(
        text=text,
        calls=calls,
        messages=(assistant,),
        usage=usage,
        raw=raw,
        incomplete=incomplete,
        stream_error=stream_error,
    )
