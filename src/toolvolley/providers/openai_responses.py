"""The OpenAI Responses API: ``function_call`` items answered by ``function_call_output`` items."""

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
from ._assembly import ResponsesAssembler
from .openai_chat import OFFLINE_URL

__all__ = ["OpenAIResponses"]


class OpenAIResponses(ModelAdapter):
    """The Responses API through ``openai.AsyncOpenAI``, stateless (``store=False``): the whole
    transcript of input items goes with every request, so any turn can be replayed::

        model = OpenAIResponses(model="gpt-4.1-mini")
        model = OpenAIResponses.offline()
    """

    provider = "openai-responses"

    def __init__(
        self,
        client: Any = None,
        *,
        model: str = "gpt-4.1-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        system: str | None = None,
        request_options: Mapping[str, Any] | None = None,
    ) -> None:
        if client is None:
            openai: Any = require("openai", "openai")
            client = self._owned_client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key)
        self.client = client
        self.model = model
        self.system = system
        self.request_options = dict(request_options or {})

    @classmethod
    def offline(cls, model: OfflineModel | None = None, **options: Any) -> OpenAIResponses:
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
        request: dict[str, Any] = {"model": self.model, "input": list(transcript), "store": False}
        if self.system:
            request["instructions"] = self.system
        if len(toolbox):
            request["tools"] = toolbox.openai_responses_tools()
            request["parallel_tool_calls"] = parallel
        return request | self.request_options

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        response = await self.client.responses.create(
            **self._request(transcript, toolbox, parallel_tool_calls)
        )
        calls: list[ToolCall] = []
        texts: list[str] = []
        for item in response.output:
            if item.type == "function_call":
                calls.append(ToolCall(item.call_id, item.name, item.arguments or ""))
            elif item.type == "message":
                texts.append("".join(c.text for c in item.content if c.type == "output_text"))
        usage = response.usage
        return _response(
            "".join(texts),
            tuple(calls),
            Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
            raw=response,
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
        assembler = ResponsesAssembler(on_update)
        error: Exception | None = None
        stream = await self.client.responses.create(**request)
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
        return [
            {"type": "function_call_output", "call_id": r.call_id, "output": r.content}
            for r in results
        ]


def _response(
    text: str,
    calls: tuple[ToolCall, ...],
    usage: Usage,
    *,
    raw: Any = None,
    incomplete: tuple[ToolCall, ...] = (),
    stream_error: Exception | None = None,
) -> ModelResponse:
    messages: list[Message] = [{"role": "assistant", "content": text}] if text else []
    messages += [
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments_text()}
        for c in (*calls, *incomplete)
    ]
    return ModelResponse(
        text=text,
        calls=calls,
        messages=tuple(messages),
        usage=usage,
        raw=raw,
        incomplete=incomplete,
        stream_error=stream_error,
    )
