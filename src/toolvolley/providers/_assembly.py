"""Tool calls assembled from each provider's stream, ready the moment their arguments are.

An assembler is fed the stream's events (as dicts, in the provider's own shapes) and reports
``TextDelta`` and ``CallReady`` updates as they happen. A call is ready when the stream says its
arguments are complete:

* Chat Completions: the next call begins, the choice finishes, or the arguments already form
  a complete JSON object (a well-formed stream adds nothing to a call after that);
* Responses: ``response.function_call_arguments.done`` (or the item's ``output_item.done``);
* Anthropic Messages: ``content_block_stop`` of a ``tool_use`` block.

``feed()`` says whether a call became ready, so the reader can let it start before parsing on
(the SDKs parse a buffered burst of events without yielding). ``finish()`` returns what was
assembled; calls whose arguments never completed (the stream ended
or broke first) are listed apart, so the caller can answer them with an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._calls import ToolCall
from .._events import CallReady, StreamUpdate, TextDelta
from .._model import Usage

__all__ = ["AnthropicAssembler", "Assembled", "ChatAssembler", "ResponsesAssembler"]

Emit = Callable[[StreamUpdate], None]


@dataclass
class _Partial:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)
    final: str | None = None  # set when the stream states the whole arguments
    ready: bool = False

    @property
    def arguments(self) -> str:
        return self.final if self.final is not None else "".join(self.fragments)

    def call(self) -> ToolCall:
        return ToolCall(self.id, self.name, self.arguments)


@dataclass(frozen=True)
class Assembled:
    text: str
    calls: tuple[ToolCall, ...]  # complete, in the order the model wrote them
    incomplete: tuple[ToolCall, ...]  # arguments cut off by the end of the stream
    usage: Usage
    finished: bool  # the stream said it was done (not cut off)


class _Assembler:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._text: list[str] = []
        self._partials: dict[Any, _Partial] = {}  # in the order calls began
        self._usage = Usage()
        self._finished = False
        self._readied = False

    def feed(self, event: Mapping[str, Any]) -> bool:
        """Take one stream event; True if it made a call ready to run."""
        self._readied = False
        self._feed(event)
        return self._readied

    def _feed(self, event: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _say(self, text: str) -> None:
        if text:
            self._text.append(text)
            self._emit(TextDelta(text))

    def _ready(self, partial: _Partial) -> None:
        if not partial.ready:
            partial.ready = True
            self._readied = True
            self._emit(CallReady(partial.call(), time.perf_counter()))

    def finish(self) -> Assembled:
        partials = list(self._partials.values())
        return Assembled(
            text="".join(self._text),
            calls=tuple(p.call() for p in partials if p.ready),
            incomplete=tuple(p.call() for p in partials if not p.ready),
            usage=self._usage,
            finished=self._finished,
        )


class ChatAssembler(_Assembler):
    """OpenAI Chat Completions chunks: ``choices[0].delta.tool_calls[]`` keyed by ``index``."""

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
                for partial in self._partials.values():
                    self._ready(partial)
                self._finished = True

    def _fragment(self, fragment: Mapping[str, Any]) -> None:
        index = fragment.get("index", 0)
        function = fragment.get("function") or {}
        partial = self._partials.get(index)
        if partial is None:
            for earlier in self._partials.values():  # the next call began
                self._ready(earlier)
            partial = self._partials[index] = _Partial(fragment.get("id") or "", "")
        if fragment.get("id"):
            partial.id = fragment["id"]
        if function.get("name"):
            partial.name = function["name"]
        piece = function.get("arguments") or ""
        if piece and not partial.ready:
            partial.fragments.append(piece)
            if piece.rstrip().endswith("}") and _is_json_object(partial.arguments):
                self._ready(partial)


class ResponsesAssembler(_Assembler):
    """OpenAI Responses events: ``function_call`` output items and their argument deltas."""

    def _feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "response.output_text.delta":
            self._say(event.get("delta") or "")
        elif kind == "response.output_item.added":
            item = event.get("item") or {}
            if item.get("type") == "function_call":
                self._partials[item.get("id") or event.get("output_index")] = _Partial(
                    item.get("call_id") or "", item.get("name") or ""
                )
        elif kind == "response.function_call_arguments.delta":
            partial = self._partials.get(event.get("item_id"))
            if partial is not None:
                partial.fragments.append(event.get("delta") or "")
        elif kind == "response.function_call_arguments.done":
            partial = self._partials.get(event.get("item_id"))
            if partial is not None:
                partial.final = event.get("arguments") or ""
                self._ready(partial)
        elif kind == "response.output_item.done":
            item = event.get("item") or {}
            partial = self._partials.get(item.get("id") or event.get("output_index"))
            if partial is not None and item.get("type") == "function_call":
                partial.final = item.get("arguments") or partial.arguments
                self._ready(partial)
        elif kind == "response.completed":
            usage = (event.get("response") or {}).get("usage") or {}
            self._usage = Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
            self._finished = True


class AnthropicAssembler(_Assembler):
    """Anthropic Messages events: ``tool_use`` blocks and their ``input_json_delta`` pieces."""

    def _feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage") or {}
            self._usage = Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._partials[event.get("index")] = _Partial(block.get("id", ""), block["name"])
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._say(delta.get("text") or "")
            elif delta.get("type") == "input_json_delta":
                partial = self._partials.get(event.get("index"))
                if partial is not None:
                    partial.fragments.append(delta.get("partial_json") or "")
        elif kind == "content_block_stop":
            partial = self._partials.get(event.get("index"))
            if partial is not None:
                if not partial.fragments:
                    partial.final = "{}"  # a tool_use with no input streams no JSON at all
                self._ready(partial)
        elif kind == "message_delta":
            usage = event.get("usage") or {}
            self._usage = Usage(self._usage.input_tokens, usage.get("output_tokens", 0))
        elif kind == "message_stop":
            self._finished = True


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
