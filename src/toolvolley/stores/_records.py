"""What a journal writes, as JSON text: a model response, a call that started, a call's result.

A :class:`Record` is one row: ``kind`` is ``"response"`` (``call_id`` empty), ``"call"`` (a call
the stream finished, recorded before it is dispatched), ``"started"`` or ``"result"``. A
response keeps what the loop needs to replay the turn without asking the model again (its text,
calls, messages, usage, cut-off calls, calls declined in serial mode, a stream cut); ``raw``
(the SDK's object) is not kept. A call keeps its id, name, arguments and caller, and its place
in the response. A result keeps its status, content and value (a value with no JSON form is kept
as None: the content is what the model read) and its attempts (fields at their defaults are left
out); its times are the replay's own. How records become table rows: ``_rows``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pydantic_core

from .._calls import ToolCall, ToolResult
from .._errors import StreamCutError, ToolError
from .._model import ModelResponse, Usage

__all__ = [
    "Record",
    "call_from_json",
    "call_to_json",
    "ready_call_to_json",
    "response_from_json",
    "response_to_json",
    "result_from_json",
    "result_to_json",
]

Kind = Literal["response", "call", "started", "result"]


@dataclass(frozen=True, slots=True)
class Record:
    """One row of a journal: ``(conversation, turn, call_id, kind)`` is its key."""

    conversation: str
    turn: int
    call_id: str
    kind: Kind
    data: str


def call_to_json(call: ToolCall) -> dict[str, Any]:
    # As given: text stays text, a mapping is encoded with the rest of the response (once).
    arguments = call.arguments
    kept = arguments if isinstance(arguments, str) else dict(arguments)
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": kept}
    if call.caller is not None:
        data["caller"] = dict(call.caller)
    return data


def _call_as_text(call: ToolCall) -> dict[str, Any]:
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments_text()}
    if call.caller is not None:
        data["caller"] = dict(call.caller)
    return data


def call_from_json(data: dict[str, Any]) -> ToolCall:
    return ToolCall(
        id=data["id"], name=data["name"], arguments=data["arguments"], caller=data.get("caller")
    )


def ready_call_to_json(position: int, call: ToolCall, parts: Sequence[Any] = ()) -> str:
    """A call recorded as the stream finished it (``position``: its place in the response;
    ``parts``: what of the model's turn goes back with it, kept if it has a JSON form)."""
    if parts:
        try:
            return _encode_response({"at": position, **call_to_json(call), "parts": list(parts)})
        except TypeError:
            pass
    try:
        return _encode_response({"at": position, **call_to_json(call)})
    except TypeError:
        return _encode_response({"at": position, **_call_as_text(call)})


def response_to_json(response: ModelResponse) -> str:
    try:
        return _response_json(response, call_to_json)
    except TypeError:  # arguments with no JSON form: written as arguments_text() writes them
        return _response_json(response, _call_as_text)


def _response_json(response: ModelResponse, call: Callable[[ToolCall], dict[str, Any]]) -> str:
    cut = response.stream_error
    return _encode_response(
        {
            "text": response.text,
            "calls": [call(c) for c in response.calls],
            "messages": list(response.messages),
            "usage": [response.usage.input_tokens, response.usage.output_tokens],
            "incomplete": [call(c) for c in response.incomplete],
            "declined": [[call(c), why] for c, why in response.declined],
            "stream_error": None if cut is None else str(cut),
        }
    )


def response_from_json(text: str, provider: str) -> ModelResponse:
    data = json.loads(text)
    cut = data["stream_error"]
    return ModelResponse(
        text=data["text"],
        calls=tuple(call_from_json(c) for c in data["calls"]),
        messages=tuple(data["messages"]),
        usage=Usage(*data["usage"]),
        incomplete=tuple(call_from_json(c) for c in data["incomplete"]),
        declined=tuple((call_from_json(c), why) for c, why in data.get("declined", ())),
        stream_error=None if cut is None else StreamCutError(cut, provider=provider),
    )


def result_to_json(result: ToolResult) -> str:
    # What every result has, then only what differs from the defaults: the encoding is paid per
    # call, on the path every journaled call takes.
    data: dict[str, Any] = {
        "status": result.status,
        "content": result.content,
        "value": result.value,
    }
    if result.attempts != 1:
        data["attempts"] = result.attempts
    if result.attempt_errors:
        data["attempt_errors"] = list(result.attempt_errors)
    if result.may_still_take_effect:
        data["may_still_take_effect"] = True
    try:  # pydantic's encoder: a few times faster than json's on a dict this small
        return pydantic_core.to_json(data).decode()
    except (TypeError, ValueError):  # a value with no JSON form: the content stands for it
        data["value"] = None
        return pydantic_core.to_json(data).decode()


def result_from_json(call: ToolCall, text: str) -> ToolResult:
    """A recorded result for ``call``; a failure's ``error`` is a :class:`ToolError` holding its
    content (the exception itself did not survive the process)."""
    data = json.loads(text)
    status = data["status"]
    return ToolResult(
        call_id=call.id,
        name=call.name,
        status=status,
        content=data["content"],
        value=data["value"],
        error=None if status == "ok" else ToolError(data["content"]),
        attempts=data.get("attempts", 1),
        attempt_errors=tuple(data.get("attempt_errors", ())),
        may_still_take_effect=data.get("may_still_take_effect", False),
    )


def _not_json(value: object) -> object:
    raise TypeError(
        f"A model response holds {type(value).__name__}, which has no JSON form: a journal "
        "cannot record it."
    )


# Made once: json.dumps with options builds a new encoder each time it is called.
_encode_response = json.JSONEncoder(ensure_ascii=False, default=_not_json).encode
