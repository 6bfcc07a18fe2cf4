"""The OpenAI Responses API: ``function_call`` items answered by ``function_call_output`` items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, ModelAdapter, ModelResponse, Usage
from .._optional import require
from .._toolbox import Toolbox
from ..offline import OfflineModel, http_client_for
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

    async def respond(
        self,
        transcript: Sequence[Mapping[str, Any]],
        toolbox: Toolbox,
        *,
        parallel_tool_calls: bool = True,
    ) -> ModelResponse:
        request: dict[str, Any] = {"model": self.model, "input": list(transcript), "store": False}
        if self.system:
            request["instructions"] = self.system
        if len(toolbox):
            request["tools"] = toolbox.openai_responses_tools()
            request["parallel_tool_calls"] = parallel_tool_calls
        response = await self.client.responses.create(**request, **self.request_options)
        calls: list[ToolCall] = []
        messages: list[Message] = []
        texts: list[str] = []
        for item in response.output:
            if item.type == "function_call":
                calls.append(ToolCall(item.call_id, item.name, item.arguments or ""))
                messages.append(
                    {
                        "type": "function_call",
                        "call_id": item.call_id,
                        "name": item.name,
                        "arguments": item.arguments or "",
                    }
                )
            elif item.type == "message":
                text = "".join(c.text for c in item.content if c.type == "output_text")
                texts.append(text)
                messages.append({"role": "assistant", "content": text})
        usage = response.usage
        return ModelResponse(
            text="".join(texts),
            calls=tuple(calls),
            messages=tuple(messages),
            usage=Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
            raw=response,
        )

    def user_message(self, text: str) -> Message:
        return {"role": "user", "content": text}

    def result_messages(self, results: Sequence[ToolResult]) -> list[Message]:
        return [
            {"type": "function_call_output", "call_id": r.call_id, "output": r.content}
            for r in results
        ]
