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
assembled and whether the stream gave its finish signal (a ``finish_reason``,
``response.completed``, ``message_stop``); calls whose arguments never completed (the stream
ended or broke first) are listed apart, so the caller can answer them with an error.

A call the provider sent without an id gets a generated one (``call_...``, ``toolu_...``), used
in the transcript too, so the follow-up answers the call the model's turn lists.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._calls import ToolCall
from .._events import CallReady, StreamUpdate, TextDelta
from .._model import Usage

__all__ = [
    "AnthropicAssembler",
    "Assembled",
    "ChatAssembler",
    "ResponsesAssembler",
    "generated_id",
]

Emit = Callable[[StreamUpdate], None]


@dataclass
class _Partial:
    id: str
    name: str
    given_id: bool  # the provider sent the id (else it was generated here)
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
    finished: bool  # the stream gave its finish signal (it was not cut off)
    failure: str = ""  # what the provider said when it ended the response as failed


def generated_id(prefix: str) -> str:
    """A unique id for a call the provider sent without one; the transcript carries it too."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


class _Assembler:
    finish_signal: ClassVar[str]  # what the provider sends when the response is whole
    id_prefix: ClassVar[str] = "call_"

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._text: list[str] = []
        self._partials: list[_Partial] = []  # in the order calls began
        self._open: dict[Any, _Partial] = {}  # the call each stream key is currently writing
        self._usage = Usage()
        self._finished = False
        self._failure = ""
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

    def _begin(self, keys: tuple[Any, ...], call_id: Any, name: str) -> _Partial:
        """A new call: the stream's keys (index, item id) now point at it, whatever they did."""
        given = isinstance(call_id, str) and bool(call_id)
        partial = _Partial(call_id if given else generated_id(self.id_prefix), name, given)
        self._partials.append(partial)
        for key in keys:
            if key is not None:
                self._open[key] = partial
        return partial

    def _ready(self, partial: _Partial) -> None:
        if not partial.ready:
            partial.ready = True
            self._readied = True
            self._emit(CallReady(partial.call(), time.perf_counter()))

    def finish(self) -> Assembled:
        return Assembled(
            text="".join(self._text),
            calls=tuple(p.call() for p in self._partials if p.ready),
            incomplete=tuple(p.call() for p in self._partials if not p.ready),
            usage=self._usage,
            finished=self._finished,
            failure=self._failure,
        )


class ChatAssembler(_Assembler):
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
            if piece.rstrip().endswith("}") and _is_json_object(partial.arguments):
                self._ready(partial)

    @staticmethod
    def _starts_new(partial: _Partial, call_id: str | None, name: str) -> bool:
        if call_id and call_id != partial.id:
            return partial.given_id or partial.ready
        return bool(name) and partial.ready and not call_id


class ResponsesAssembler(_Assembler):
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
            partial = self._find(event, item.get("id"))
            if partial is not None and item.get("type") == "function_call" and not partial.ready:
                partial.final = item.get("arguments") or partial.arguments
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

    def _find(self, event: Mapping[str, Any], item_id: Any) -> _Partial | None:
        index = event.get("output_index")
        if index is not None:
            return self._open.get(_at(index))
        return self._open.get(_item(item_id))


def _at(output_index: Any) -> Any:
    return None if output_index is None else ("output_index", output_index)


def _item(item_id: Any) -> Any:
    return None if not item_id else ("item_id", item_id)


class AnthropicAssembler(_Assembler):
    """Anthropic Messages events: ``tool_use`` blocks and their ``input_json_delta`` pieces.

    A block is found by its content-block ``index``; a ``content_block_start`` at an index in
    use begins a new block there (the earlier one keeps its place).
    """

    finish_signal = "message_stop"
    id_prefix = "toolu_"

    def _feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage") or {}
            self._usage = Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._begin((event.get("index"),), block.get("id"), block.get("name") or "")
            else:
                self._open.pop(event.get("index"), None)
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._say(delta.get("text") or "")
            elif delta.get("type") == "input_json_delta":
                partial = self._open.get(event.get("index"))
                if partial is not None and not partial.ready:
                    partial.fragments.append(delta.get("partial_json") or "")
        elif kind == "content_block_stop":
            partial = self._open.get(event.get("index"))
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
