"""Anthropic Messages: ``tool_use`` blocks, answered by one user message of ``tool_result``s."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio.lowlevel

from .._calls import ToolCall, ToolResult
from .._events import StreamUpdate
from .._model import Message, ModelAdapter, ModelResponse, Usage
from .._optional import require
from .._toolbox import Toolbox
from ..offline import OfflineModel, http_client_for
from ._assembly import AnthropicAssembler

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

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        message = await self.client.messages.create(
            **self._request(transcript, toolbox, parallel_tool_calls)
        )
        calls: list[ToolCall] = []
        texts: list[str] = []
        for block in message.content:
            if block.type == "tool_use":
                calls.append(ToolCall(block.id, block.name, dict(block.input)))
            elif block.type == "text":
                texts.append(block.text)
        usage = message.usage
        return _response(
            "".join(texts),
            tuple(calls),
            Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
            raw=message,
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
        assembler = AnthropicAssembler(on_update)
        error: Exception | None = None
        stream = await self.client.messages.create(**request)
        try:
            async for event in stream:
                if assembler.feed(event.model_dump(mode="json", exclude_none=True)):
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


def _response(
    text: str,
    calls: tuple[ToolCall, ...],
    usage: Usage,
    *,
    raw: Any = None,
    incomplete: tuple[ToolCall, ...] = (),
    stream_error: Exception | None = None,
) -> ModelResponse:
    blocks: list[Message] = [{"type": "text", "text": text}] if text else []
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c)}
        for c in (*calls, *incomplete)
    ]
    return ModelResponse(
        text=text,
        calls=calls,
        messages=({"role": "assistant", "content": blocks},),
        usage=usage,
        raw=raw,
        incomplete=incomplete,
        stream_error=stream_error,
    )
