"""What every provider's stream assembler shares: tool calls assembled from a stream, ready the
moment their arguments are.

An assembler (one per wire format, in that format's module) is fed the stream's events (as
dicts, in the provider's own shapes) and returns the ``TextDelta`` and ``CallReady`` updates
each made. A call is ready when the stream says its arguments are complete (each format says
how). ``finish()`` returns what was assembled and whether the stream gave its finish signal (a
``finish_reason``, ``response.completed``, ``message_stop``); calls whose arguments never
completed (the stream ended or broke first) are listed apart, so the caller can answer them
with an error.

A call the provider sent without an id gets a generated one (``call_...``, ``toolu_...``), used
in the transcript too, so the follow-up answers the call the model's turn lists.

Items the provider ran itself and that the follow-up must carry back as they were (the code
that made programmatic calls: an Anthropic ``server_tool_use``, a Responses ``program``) are
``kept``; a code container's record (its id, ``expires_at``) is ``container``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._calls import ToolCall
from .._events import CallReady, StreamUpdate, TextDelta
from .._model import Usage

__all__ = ["Assembled", "Assembler", "Partial", "generated_id", "is_json_object"]


@dataclass
class Partial:
    id: str
    name: str
    given_id: bool  # the provider sent the id (else it was generated here)
    fragments: list[str] = field(default_factory=list)
    final: str | None = None  # set when the stream states the whole arguments
    ready: bool = False
    caller: Mapping[str, Any] | None = None  # who made the call, if not the model (see ToolCall)

    @property
    def arguments(self) -> str:
        return self.final if self.final is not None else "".join(self.fragments)

    def call(self) -> ToolCall:
        return ToolCall(self.id, self.name, self.arguments, self.caller)


@dataclass(frozen=True)
class Assembled:
    text: str
    calls: tuple[ToolCall, ...]  # complete, in the order the model wrote them
    incomplete: tuple[ToolCall, ...]  # arguments cut off by the end of the stream
    usage: Usage
    finished: bool  # the stream gave its finish signal (it was not cut off)
    failure: str = ""  # what the provider said when it ended the response as failed
    turn: tuple[Any, ...] | None = None  # the turn's transcript messages, if the format keeps
    # more of them than text and calls (Gemini's thought signatures, in the parts they came in)
    kept: tuple[dict[str, Any], ...] = ()  # the provider's own items, for the transcript
    container: Mapping[str, Any] | None = None  # the code container's id and expires_at
    raw: Any = None  # the response as the format's whole one holds it, where it rebuilds one


def generated_id(prefix: str) -> str:
    """A unique id for a call the provider sent without one; the transcript carries it too."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


class Assembler:
    finish_signal: ClassVar[str]  # what the provider sends when the response is whole
    id_prefix: ClassVar[str] = "call_"

    def __init__(self) -> None:
        self._updates: list[StreamUpdate] = []
        self._text: list[str] = []
        self._partials: list[Partial] = []  # in the order calls began
        self._open: dict[Any, Partial] = {}  # the call each stream key is currently writing
        self._usage = Usage()
        self._finished = False
        self._failure = ""
        self._kept: list[dict[str, Any]] = []
        self._container: Mapping[str, Any] | None = None

    def feed(self, event: Mapping[str, Any]) -> list[StreamUpdate]:
        """Take one stream event; the text and the calls ready to run it brought."""
        self._feed(event)
        updates, self._updates = self._updates, []
        return updates

    def _feed(self, event: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _say(self, text: str) -> None:
        if text:
            self._text.append(text)
            self._updates.append(TextDelta(text))

    def _begin(self, keys: tuple[Any, ...], call_id: Any, name: str, caller: Any = None) -> Partial:
        """A new call: the stream's keys (index, item id) now point at it, whatever they did."""
        given = isinstance(call_id, str) and bool(call_id)
        partial = Partial(call_id if given else generated_id(self.id_prefix), name, given)
        partial.caller = caller if isinstance(caller, Mapping) else None
        self._partials.append(partial)
        for key in keys:
            if key is not None:
                self._open[key] = partial
        return partial

    def _ready(self, partial: Partial) -> None:
        if not partial.ready:
            partial.ready = True
            call = partial.call()
            parts = self._turn_parts(partial, call)
            self._updates.append(CallReady(call, time.perf_counter(), parts))

    def _turn_parts(self, partial: Partial, call: ToolCall) -> tuple[Any, ...]:
        """What of the turn goes back with ``partial`` (as ``call``), now ready (see
        ``CallReady.parts``): nothing, unless the format keeps more of a turn than its calls."""
        return ()

    def finish(self) -> Assembled:
        return Assembled(
            text="".join(self._text),
            calls=tuple(p.call() for p in self._partials if p.ready),
            incomplete=tuple(p.call() for p in self._partials if not p.ready),
            usage=self._usage,
            finished=self._finished,
            failure=self._failure,
            kept=tuple(self._kept),
            container=self._container,
        )


def is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
