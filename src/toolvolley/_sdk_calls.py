"""Tool calls as the provider SDKs hand them over, made into :class:`ToolCall` objects.

``Executor.run``, ``run_sync`` and ``Batch.submit`` take, besides ``ToolCall``:

* OpenAI Chat Completions: ``message.tool_calls[i]`` (``ChatCompletionMessageFunctionToolCall``,
  formerly ``ChatCompletionMessageToolCall``) or its dict,
  ``{"id", "type": "function", "function": {"name", "arguments"}}``;
* OpenAI Responses: a ``function_call`` item of ``response.output`` (``ResponseFunctionToolCall``)
  or its dict, ``{"type": "function_call", "call_id", "name", "arguments"}``;
* Anthropic Messages: a ``tool_use`` block of ``response.content`` (``ToolUseBlock``) or its dict,
  ``{"type": "tool_use", "id", "name", "input"}``;
* Gemini: an item of ``response.function_calls`` (``types.FunctionCall``) or its dict,
  ``{"name", "args"}`` and an ``id`` if the model gave one (else one is made up).
* Bedrock Converse (boto3): a content block's ``toolUse``, ``{"toolUseId", "name", "input"}``
  (newer ones add ``"type": "tool_use"``), or the block ``{"toolUse": {...}}`` itself.

They are recognised by the ``type`` they say they are (attributes or keys; Bedrock's by their
keys), so no SDK is imported; each provider module reads its own (``read_call``), with the
helpers here. Anthropic's and Bedrock's ``input`` is already parsed and stays a mapping; the JSON
text of the others is validated when the call runs, so arguments the model got wrong are an
``invalid_arguments`` result. Anything else is a :class:`UserError` saying what to pass.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from ._calls import ToolCall
from ._errors import UserError, type_name

__all__ = [
    "MISSING",
    "arguments_of",
    "caller_of",
    "field_of",
    "is_one_call",
    "plain",
    "text_field",
    "to_call",
]

MISSING: Any = object()


def to_call(value: object, where: str) -> ToolCall:
    """``value`` as a :class:`ToolCall`, or the :class:`UserError` for ``where``'s caller."""
    if isinstance(value, ToolCall):
        return value
    call = _from_sdk_shape(value, where)
    if call is None:
        raise UserError(
            f"{where} takes tool calls (toolvolley.ToolCall, or the OpenAI or Anthropic SDK's "
            f"own tool-call objects or their dicts); got {type_name(value)}. {_hint(value)}"
        )
    return call


def is_one_call(value: object) -> bool:
    """Whether ``value`` is a single call of a known shape (passed where a list belongs)."""
    return isinstance(value, ToolCall) or _reader(value) is not None


def field_of(value: object, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key, MISSING)
    return getattr(value, key, MISSING)


def plain(value: object) -> Any:
    """An SDK object (a pydantic model) as the JSON it was read from: the fields the wire gave,
    nothing the SDK filled in; a dict stays as it is."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", exclude_unset=True)
    return value


def caller_of(value: object) -> dict[str, Any] | None:
    """Who made a call (``caller``: ``{"type": ...}``), as the wire gave it; None if absent."""
    caller = plain(field_of(value, "caller"))
    return dict(caller) if isinstance(caller, Mapping) else None


def _kind(value: object) -> Any:
    """The ``type`` the value says it is (a string), else ``""``."""
    kind = field_of(value, "type")
    return kind if isinstance(kind, str) else ""


def text_field(value: object, key: str, what: str, where: str) -> str:
    found = field_of(value, key)
    if not isinstance(found, str):
        got = "nothing" if found is MISSING else "None" if found is None else type_name(found)
        if key in ("id", "call_id"):
            todo = (
                "Its result is matched to it by that id: pass the calls as the SDK returned "
                "them, or, for a provider that sent none, a ToolCall(id, name, arguments) with "
                "an id of your own."
            )
        else:
            todo = "Pass the calls as the SDK returned them."
        raise UserError(f"{where}: the {what} has no string {key!r} (got {got}). {todo}")
    return found


def arguments_of(found: Any) -> str | Mapping[str, Any]:
    """What the model wrote as arguments, kept for validation when the call runs: JSON text as
    it is, a mapping as parsed (a deep copy: the SDK's object is sent back to the provider as
    the assistant's turn, and the handler runs later); any other value as its JSON, which fails
    validation as the model's mistake, not the caller's."""
    if found is MISSING or found is None:
        return ""
    if isinstance(found, str):
        return found
    if isinstance(found, Mapping):
        try:
            return copy.deepcopy(dict(found))
        except Exception:  # nested too deeply, or not JSON: the check refuses it as such
            return dict(found)
    return json.dumps(found, default=str)


def _reader(value: object) -> Any:
    """How to read ``value``, by the type it says it is; None if it is no call we know."""
    kind: Any = field_of(value, "type")
    if isinstance(value, Mapping) and ("toolUseId" in value or "toolUse" in value):
        kind = "toolUse"  # Bedrock's, known by its keys: its "type" is Anthropic's word
    if kind is MISSING or kind is None:
        # A Chat tool call from a server that leaves "type" out; the SDK parses it all the same.
        function = field_of(value, "function")
        if (
            function is not MISSING
            and function is not None
            and field_of(value, "id") is not MISSING
        ):
            kind = "function"
        elif field_of(value, "args") is not MISSING and field_of(value, "name") is not MISSING:
            kind = "functionCall"  # Gemini's FunctionCall (response.function_calls) has no type
        else:
            return None
    if not isinstance(kind, str):
        return None
    from .providers._registry import call_readers  # each format reads its own SDK's objects

    return call_readers().get(kind)


def _from_sdk_shape(value: object, where: str) -> ToolCall | None:
    reader = _reader(value)
    return None if reader is None else reader(value, where)


def _hint(value: object) -> str:
    kind = _kind(value)
    if kind:
        from .providers import PROVIDERS  # the format the other parts of a response belong to

        for provider in PROVIDERS.values():
            if kind in provider.other_parts:
                return provider.other_parts_hint
    if kind.endswith("_call") or kind == "custom":
        return f"Only function tool calls run here, not a {kind!r} one."
    if isinstance(value, Mapping) and {"id", "name"} <= value.keys() <= {"id", "name", "arguments"}:
        return "Make each one a ToolCall: ToolCall(**c)."
    return (
        "Make each call a ToolCall(id, name, arguments), e.g. "
        """ToolCall("call_1", "get_weather", '{"city": "Paris"}')."""
    )
