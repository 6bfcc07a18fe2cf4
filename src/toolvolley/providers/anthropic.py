"""Anthropic Messages: ``tool_use`` blocks, answered by one user message of ``tool_result``s
(the request, tool definitions, stream assembly, result messages and the SDK's call objects).

A streamed call is ready at the ``content_block_stop`` of its ``tool_use`` block, or at once
when it comes whole in ``message_start`` (the responses after the first of code that calls
several tools in turn).

Programmatic tool calls: a ``tool_use`` whose ``caller`` names a code-execution block was made by
that code, in a container. The turn keeps the provider's own blocks (``server_tool_use`` and
its ``*_tool_result``) as they were, and the follow-up names the container (``container``): the
API refuses it otherwise ("container_id is required when there are pending tool uses generated
by code execution with tools").

Extended thinking: the turn keeps its ``thinking`` and ``redacted_thinking`` blocks as they came
(a streamed one's text and signature from its deltas), first in the turn: the API refuses a
tool-use turn without them when thinking is on. (Interleaved thinking, between calls, goes back
before them all.)
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .._calls import ToolCall, ToolResult
from .._model import Message, ModelResponse, Usage
from .._sdk_calls import arguments_of, caller_of, field_of, plain, text_field
from .._toolbox import Toolbox
from ._assembly import Assembler, Partial, generated_id
from ._base import SDKAdapter, expiry, tool_specs
from ._callers import allowed_callers

__all__ = ["AnthropicAssembler", "AnthropicMessages"]


class AnthropicAssembler(Assembler):
    """Anthropic Messages events: ``tool_use`` blocks and their ``input_json_delta`` pieces.

    A block is found by its content-block ``index``; a ``content_block_start`` at an index in
    use begins a new block there (the earlier one keeps its place).
    """

    finish_signal = "message_stop"
    id_prefix = "toolu_"

    def __init__(self) -> None:
        super().__init__()
        self._given: dict[int, str] = {}  # a call's input as its block's start gave it
        self._server: dict[Any, tuple[dict[str, Any], list[str]]] = {}  # kept, its JSON pieces
        self._thinking: dict[Any, dict[str, Any]] = {}  # a thinking block, by index, as it streams
        self._handed = 0  # kept blocks before this index went out with a ready call

    def _feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "message_start":
            message = event.get("message") or {}
            usage = message.get("usage") or {}
            self._usage = Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
            self._container = message.get("container") or self._container
            for block in message.get("content") or ():  # blocks that come whole, no events
                self._whole(block)
        elif kind == "content_block_start":
            self._start(event.get("index"), event.get("content_block") or {})
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._say(delta.get("text") or "")
            elif delta.get("type") in ("thinking_delta", "signature_delta"):
                block = self._thinking.get(event.get("index"))
                if block is not None and delta["type"] == "thinking_delta":
                    block["thinking"] = block.get("thinking", "") + (delta.get("thinking") or "")
                elif block is not None:
                    block["signature"] = delta.get("signature") or ""
            elif delta.get("type") == "input_json_delta":
                piece = delta.get("partial_json") or ""
                partial = self._open.get(event.get("index"))
                if partial is not None and not partial.ready:
                    partial.fragments.append(piece)
                elif event.get("index") in self._server:
                    self._server[event.get("index")][1].append(piece)
        elif kind == "content_block_stop":
            partial = self._open.get(event.get("index"))
            if partial is not None:
                if not "".join(partial.fragments).strip():
                    # a tool_use whose input came whole in its start streams no JSON at all
                    partial.final = self._given.get(id(partial), "{}")
                self._ready(partial)
            kept = self._server.pop(event.get("index"), None)
            if kept is not None and "".join(kept[1]).strip():
                block, pieces = kept
                with contextlib.suppress(ValueError):  # else kept as its start gave it
                    block["input"] = json.loads("".join(pieces))
        elif kind == "message_delta":
            usage = event.get("usage") or {}
            self._usage = Usage(self._usage.input_tokens, usage.get("output_tokens", 0))
            self._container = (event.get("delta") or {}).get("container") or self._container
        elif kind == "message_stop":
            self._finished = True

    def _turn_parts(self, partial: Partial, call: ToolCall) -> tuple[Any, ...]:
        """The blocks kept since the previous ready call (thinking, the provider's own), whole
        by now, and this call's ``tool_use`` block: a turn a crash cut short is rebuilt from
        them (``AnthropicMessages._turn_from_parts``)."""
        kept = copy.deepcopy(self._kept[self._handed :])
        self._handed = len(self._kept)
        return (*kept, _tool_use(call))

    def _start(self, index: Any, block: Mapping[str, Any]) -> None:
        self._open.pop(index, None)
        self._server.pop(index, None)
        self._thinking.pop(index, None)
        if block.get("type") == "tool_use":
            partial = self._begin((index,), block.get("id"), block.get("name") or "")
            partial.caller = caller_of(block)
            if block.get("input"):
                self._given[id(partial)] = json.dumps(block["input"], ensure_ascii=False)
        elif block.get("type") == "text":
            self._say(block.get("text") or "")
        elif _thinking(block):
            copied = dict(block)
            self._kept.append(copied)
            self._thinking[index] = copied
        elif _kept(block):
            copied = dict(block)
            self._kept.append(copied)
            self._server[index] = (copied, [])

    def _whole(self, block: Mapping[str, Any]) -> None:
        if block.get("type") == "tool_use":
            partial: Partial = self._begin((), block.get("id"), block.get("name") or "")
            partial.caller = caller_of(block)
            partial.final = json.dumps(block.get("input") or {}, ensure_ascii=False)
            self._ready(partial)
        elif block.get("type") == "text":
            self._say(block.get("text") or "")
        elif _kept(block) or _thinking(block):
            self._kept.append(dict(block))


def _kept(block: Mapping[str, Any]) -> bool:
    """A block the provider ran itself (a server tool's use or result): back as it was."""
    kind = str(block.get("type") or "")
    return kind == "server_tool_use" or (kind.endswith("_tool_result") and kind != "tool_result")


def _thinking(block: Mapping[str, Any]) -> bool:
    """Extended thinking: back as it was, signature and all."""
    return block.get("type") in ("thinking", "redacted_thinking")


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
        # The container each call made by code ran in, by call id: the follow-up answering
        # the call must name it. Kept here, not in the transcript, whose messages the API reads.
        self._containers: dict[str, tuple[str, datetime | None]] = {}

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
        container = self._container_for(transcript)
        if container is not None:
            request["container"] = container
        return request | self.request_options

    def _container_for(self, transcript: Sequence[Mapping[str, Any]]) -> str | None:
        """The container of the calls made by code that the transcript's last assistant turn
        holds (their answers follow it), if it had any."""
        for message in reversed(transcript):
            if message.get("role") != "assistant":
                continue
            content = message.get("content")
            for block in content if isinstance(content, list) else ():
                found = self._containers.get(str(block.get("id"))) if _by_code(block) else None
                if found is not None:
                    return found[0]
            return None
        return None

    def _build(
        self, text: str, calls: tuple[ToolCall, ...], usage: Usage, **parts: Any
    ) -> ModelResponse:
        response = super()._build(text, calls, usage, **parts)
        container = parts.get("container")
        if container is not None and container.get("id"):
            now = datetime.now(timezone.utc)
            self._containers = {  # containers that have expired take no more answers
                k: v for k, v in self._containers.items() if v[1] is None or v[1] > now
            }
            for call in (*calls, *response.incomplete):
                if call.by_code:
                    self._containers[call.id] = (str(container["id"]), expiry(container))
        return response

    def _provider_parts(self, raw: Any) -> tuple[tuple[Message, ...], Mapping[str, Any] | None]:
        kept = tuple(
            dict(plain(b))
            for b in raw.content
            if _kept({"type": b.type}) or _thinking({"type": b.type})
        )
        container = getattr(raw, "container", None)
        return kept, None if container is None else plain(container)

    def _with_kept(self, turn: tuple[Message, ...], kept: Sequence[Message]) -> tuple[Message, ...]:
        """The thinking first, then the text, then the provider's blocks (the code before what
        it called), then the calls."""
        (message,) = turn
        blocks = list(message["content"])
        texts = [b for b in blocks if b["type"] == "text"]
        rest = [b for b in blocks if b["type"] != "text"]
        thinking = [b for b in kept if _thinking(b)]
        server = [b for b in kept if not _thinking(b)]
        return ({**message, "content": [*thinking, *texts, *server, *rest]},)

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self.client.messages.create(**request)

    def _parse(self, raw: Any) -> tuple[str, tuple[ToolCall, ...], Usage]:
        calls: list[ToolCall] = []
        texts: list[str] = []
        for block in raw.content:
            if block.type == "tool_use":
                call_id = getattr(block, "id", None) or generated_id("toolu_")
                calls.append(ToolCall(call_id, block.name, dict(block.input), caller_of(block)))
            elif block.type == "text":
                texts.append(block.text)
        usage = raw.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage else Usage()
        return "".join(texts), tuple(calls), tokens

    def _assistant_messages(self, text: str, calls: Sequence[ToolCall]) -> tuple[Message, ...]:
        blocks: list[Message] = [{"type": "text", "text": text}] if text else []
        blocks += [_tool_use(c) for c in calls]
        return ({"role": "assistant", "content": blocks},)

    @staticmethod
    def _turn_from_parts(parts: Sequence[Any]) -> tuple[Message, ...]:
        """The turn from the blocks its ready calls carried (``CallReady.parts``), as a journal
        kept them: a turn a crash cut short, its thinking first, as a whole turn has it."""
        blocks = [dict(p) for p in parts]
        thinking = [b for b in blocks if _thinking(b)]
        return (
            {"role": "assistant", "content": [*thinking, *(b for b in blocks if not _thinking(b))]},
        )

    @staticmethod
    def tool_definitions(toolbox: Toolbox) -> list[dict[str, Any]]:
        """``{name, description, input_schema}`` per tool, with its ``allowed_callers`` when it
        has them (``"code"`` is the code-execution tool, ``code_execution_20250825``, which is
        then offered too; a caller named by its version, ``code_execution_20260120``, offers
        that version)."""
        callers = allowed_callers(toolbox, code=CODE_EXECUTION)
        definitions: list[dict[str, Any]] = []
        for name, description, schema in tool_specs(toolbox):
            definition = {"name": name, "description": description, "input_schema": schema}
            if name in callers:
                definition["allowed_callers"] = callers[name]
            definitions.append(definition)
        # the code-execution tool the callers name ("code": CODE_EXECUTION), offered once
        named = [c for names in callers.values() for c in names if c.startswith("code_execution")]
        if named:
            definitions.append({"type": sorted(set(named))[-1], "name": "code_execution"})
        return definitions

    @staticmethod
    def read_call(value: object, where: str) -> ToolCall:
        """A ``tool_use`` block of ``response.content`` (``ToolUseBlock``) or its dict; its
        ``input`` is already parsed and stays a mapping."""
        what = "Anthropic tool_use block"
        call_id = text_field(value, "id", what, where)
        name = text_field(value, "name", what, where)
        return ToolCall(call_id, name, arguments_of(field_of(value, "input")), caller_of(value))

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


CODE_EXECUTION = "code_execution_20250825"  # the code-execution tool a "code" caller means


def _by_code(block: Any) -> bool:
    """Whether a transcript's block is a ``tool_use`` made by code."""
    if not isinstance(block, Mapping) or block.get("type") != "tool_use":
        return False
    caller = block.get("caller")
    return isinstance(caller, Mapping) and caller.get("type") != "direct"


def _tool_use(call: ToolCall) -> Message:
    """A call as the ``tool_use`` block of the model's turn."""
    block: Message = {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call)}
    if call.caller is not None:
        block["caller"] = dict(call.caller)
    return block


def _input(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as the object a ``tool_use`` block holds ({} if they never parsed)."""
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
