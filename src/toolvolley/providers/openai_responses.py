"""The OpenAI Responses API: ``function_call`` items answered by ``function_call_output`` items
(the request, tool definitions, stream assembly, result messages and the SDK's call objects).

A streamed call is ready at ``response.function_call_arguments.done`` (or its item's
``output_item.done``).

Programmatic tool calls: a ``function_call`` whose ``caller`` is ``{"type": "program",
"caller_id"}`` was made by the code of that ``program`` item. The request is stateless
(``store=False``), so the turn keeps the ``program`` item as it was (its ``fingerprint`` must go
back) before the calls, which keep their ``caller``.

Reasoning: a ``reasoning`` item goes back before the calls only when it carries its
``encrypted_content`` (asked for with ``request_options={"include":
["reasoning.encrypted_content"]}``): statelessly, one without it names a stored item that does
not exist, which the API refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, Usage
from .._sdk_calls import arguments_of, caller_of, field_of, plain, text_field
from .._toolbox import Toolbox
from ._assembly import Assembler, Partial, generated_id
from ._base import SDKAdapter, tool_specs
from ._callers import allowed_callers, wants_code

KEPT = frozenset({"program", "program_output"})  # the provider's items the follow-up carries


def _kept(kind: object, encrypted_content: object) -> bool:
    """Whether the follow-up carries an output item of this type (see the module docstring)."""
    return kind in KEPT or (kind == "reasoning" and bool(encrypted_content))


__all__ = ["OpenAIResponses", "ResponsesAssembler"]


class ResponsesAssembler(Assembler):
    """OpenAI Responses events: ``function_call`` output items and their argument deltas.

    Items are found by ``output_index`` (unique in a response), or by ``item_id`` for events
    without one, so two items sharing an id stay two calls.
    """

    finish_signal = "response.completed"

    def _feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "response.output_text.delta":
            self._say(event.get("delta") or "")
        elif kind == "response.output_item.added":
            item = event.get("item") or {}
            if item.get("type") == "function_call":
                self._begin(
                    (_at(event.get("output_index")), _item(item.get("id"))),
                    item.get("call_id"),
                    item.get("name") or "",
                    caller_of(item),
                )
        elif kind == "response.function_call_arguments.delta":
            partial = self._find(event, event.get("item_id"))
            if partial is not None and not partial.ready:
                partial.fragments.append(event.get("delta") or "")
        elif kind == "response.function_call_arguments.done":
            partial = self._find(event, event.get("item_id"))
            if partial is not None and not partial.ready:
                partial.final = event.get("arguments") or ""
                self._ready(partial)
        elif kind == "response.output_item.done":
            item = event.get("item") or {}
            if _kept(item.get("type"), item.get("encrypted_content")):
                self._kept.append(dict(item))
            partial = self._find(event, item.get("id"))
            if partial is not None and item.get("type") == "function_call" and not partial.ready:
                partial.final = item.get("arguments") or partial.arguments
                partial.caller = partial.caller or caller_of(item)
                self._ready(partial)
        elif kind in ("response.completed", "response.incomplete"):
            # incomplete is a finish too (max_output_tokens, content filter): the provider
            # ended the response on purpose and says why in incomplete_details
            usage = (event.get("response") or {}).get("usage") or {}
            self._usage = Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
            self._finished = True
        elif kind in ("response.failed", "error"):
            error = (event.get("response") or {}).get("error") or event
            self._failure = str(error.get("message") or error.get("code") or kind)

    def _find(self, event: Mapping[str, Any], item_id: Any) -> Partial | None:
        index = event.get("output_index")
        if index is not None:
            return self._open.get(_at(index))
        return self._open.get(_item(item_id))


PROGRAMMATIC = "programmatic"  # what a "code" caller is called on this wire


def _at(output_index: Any) -> Any:
    return None if output_index is None else ("output_index", output_index)


def _item(item_id: Any) -> Any:
    return None if not item_id else ("item_id", item_id)


class OpenAIResponses(SDKAdapter):
    """The Responses API through ``openai.AsyncOpenAI``, stateless (``store=False``): the whole
    transcript of input items goes with every request, so any turn can be replayed::

        model = OpenAIResponses(model="gpt-4.1-mini")
        model = OpenAIResponses.offline()
    """

    provider = "openai-responses"
    _sdk = "openai"
    _client_class = "AsyncOpenAI"
    _default_model = "gpt-4.1-mini"
    call_type = "function_call"
    other_parts = frozenset({"message", "reasoning"})
    other_parts_hint = (
        "Pass only the function_call items of a Responses output: "
        '[i for i in response.output if i.type == "function_call"].'
    )
    _assembler = ResponsesAssembler

    def _request(
        self, transcript: Sequence[Mapping[str, Any]], toolbox: Toolbox, parallel: bool
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "input": list(transcript), "store": False}
        if self.system:
            request["instructions"] = self.system
        if len(toolbox):
            request["tools"] = self.tool_definitions(toolbox)
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
                calls.append(ToolCall(call_id, item.name, item.arguments or "", caller_of(item)))
            elif item.type == "message":
                texts.append("".join(c.text for c in item.content if c.type == "output_text"))
        usage = raw.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage else Usage()
        return "".join(texts), tuple(calls), tokens

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        messages: list[Message] = [{"role": "assistant", "content": text}] if text else []
        for c in calls:
            item: Message = {
                "type": "function_call",
                "call_id": c.id,
                "name": c.name,
                "arguments": c.arguments_text(),
            }
            if c.caller is not None:
                item["caller"] = dict(c.caller)
            messages.append(item)
        return tuple(messages)

    def _provider_parts(self, raw: Any) -> tuple[tuple[Message, ...], Mapping[str, Any] | None]:
        return tuple(
            dict(plain(i))
            for i in raw.output
            if _kept(i.type, getattr(i, "encrypted_content", None))
        ), None

    def _with_kept(self, turn: tuple[Message, ...], kept: Sequence[Message]) -> tuple[Message, ...]:
        """The kept items before the first call, in the order the model wrote them (its
        reasoning, the code before what it called)."""
        at = next((i for i, m in enumerate(turn) if m.get("type") == "function_call"), len(turn))
        return (*turn[:at], *kept, *turn[at:])

    @staticmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """Flat function definitions, with ``strict`` stated explicitly, and ``allowed_callers``
        when a tool has them (``"code"`` is ``"programmatic"``, and the
        ``programmatic_tool_calling`` tool is then offered too)."""
        callers = allowed_callers(toolbox, code=PROGRAMMATIC)
        definitions: list[dict[str, Any]] = []
        for name, description, schema in tool_specs(toolbox):
            definition: dict[str, Any] = {
                "type": "function",
                "name": name,
                "description": description,
                "parameters": schema,
                "strict": False,
            }
            if name in callers:
                definition["allowed_callers"] = callers[name]
            definitions.append(definition)
        if wants_code(callers, PROGRAMMATIC):
            definitions.insert(0, {"type": "programmatic_tool_calling"})
        return definitions

    @staticmethod
    def result_messages(results: Sequence[ToolResult]) -> list[Message]:
        """One ``{"type": "function_call_output", "call_id", "output"}`` item per result."""
        return [
            {"type": "function_call_output", "call_id": r.call_id, "output": r.content}
            for r in results
        ]

    @staticmethod
    def read_call(value: object, where: str) -> ToolCall:
        """A ``function_call`` item of ``response.output`` (``ResponseFunctionToolCall``) or its
        dict; its ``call_id`` (not the item's ``id``) is what the follow-up answers."""
        what = "OpenAI Responses function_call item"
        call_id = text_field(value, "call_id", what, where)
        name = text_field(value, "name", what, where)
        return ToolCall(call_id, name, arguments_of(field_of(value, "arguments")), caller_of(value))
