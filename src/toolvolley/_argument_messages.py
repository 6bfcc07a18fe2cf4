"""What the model is told when its arguments are refused: where, what was expected, what was sent.

The checks themselves are pydantic's (``@tool`` functions) and jsonschema-rs's (JSON Schema
tools); only the wording is ours. Every message names each failing location as a path
(``items[2].city``), says what was expected, and ends with the tool's parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema_rs import ValidationError, ValidationErrorKind

__all__ = [
    "NOT_AN_OBJECT",
    "TOO_DEEP",
    "clipped",
    "describe_schema_errors",
    "invalid_arguments",
    "location",
    "not_a_finite_number",
    "not_json",
    "shown",
]

NOT_AN_OBJECT = "The arguments must be a JSON object with the tool's parameters as keys."
TOO_DEEP = "The arguments are nested too deeply. Send a flatter JSON object."
MAX_PROBLEMS_SHOWN = 5
# What a schema or the arguments hold is shown in part: an enum of thousands of options, a
# property name of a megabyte or a schema of thousands of properties must not flood the model's
# context with each failed call.
_MAX_LINE = 300
_MAX_HINT = 600
_MAX_OPTIONS = 10
_K = ValidationErrorKind


def not_json(reason: str) -> str:
    return f"The arguments are not valid JSON ({clipped(reason)}). Send one JSON object."


def not_a_finite_number(at: Iterable[int | str], value: float) -> str:
    return f"{location(at)}: Input should be a finite number (got {shown(value)})"


def clipped(text: str, limit: int = _MAX_LINE) -> str:
    """``text``, cut to ``limit`` characters (the cut marked with ``...``)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invalid_arguments(problems: Sequence[str], schema: Mapping[str, Any]) -> str:
    """The whole message: the problems (the first few), the expected parameters, what to do."""
    lines = [clipped(line) for line in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
    return (
        "Invalid arguments: "
        + "; ".join(lines)
        + f". Expected parameters: {clipped(_signature_hint(schema), _MAX_HINT)}."
        + " Fix the arguments and call the tool again."
    )


def location(parts: Iterable[int | str]) -> str:
    """``["items", 2, "city"]`` as ``items[2].city``; the whole arguments as ``(arguments)``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(arguments)"


def shown(value: Any) -> str:
    """A value as the model sent it, short: JSON for scalars, the kind for containers."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_schema_errors(errors: Iterable[ValidationError], data: Any = None) -> list[str]:
    """One line per problem the validator found in ``data``, in the order it found them."""
    lines: list[str] = []
    for error in errors:
        lines.extend(_lines(error, data))
    return lines


def _lines(error: ValidationError, data: Any) -> list[str]:
    kind, at = error.kind, error.instance_path
    if isinstance(kind, _K.Required):
        return [f"{location([*at, kind.property])}: missing required argument"]
    if isinstance(kind, (_K.AdditionalProperties, _K.UnevaluatedProperties)):
        return [f"{location([*at, key])}: unexpected argument" for key in kind.unexpected]
    if isinstance(kind, _K.UnevaluatedItems):
        indexes = _indexes_of(_value_at(data, at), kind.unexpected)
        if indexes is None:
            return [f"{location(at)}: {len(kind.unexpected)} unexpected items"]
        return [f"{location([*at, index])}: unexpected item" for index in indexes]
    if isinstance(kind, _K.FalseSchema):
        if error.evaluation_path[-1:] == ["additionalProperties"]:
            # An object that declares no properties at all: jsonschema-rs reports the object's
            # place, and every key in it is one too many.
            found = _value_at(data, at)
            keys = list(found) if isinstance(found, Mapping) else []
            return [f"{location([*at, key])}: unexpected argument" for key in keys] or [
                f"{location(at)}: takes no properties"
            ]
        if at and isinstance(at[-1], str):
            return [f"{location(at)}: unexpected argument"]
        if at and isinstance(at[-1], int):  # past prefixItems, where items is false
            return [f"{location(at)}: unexpected item"]
    expected = _expected(error)
    if expected is None:
        return [f"{location(at)}: {error.message}"]
    return [f"{location(at)}: {expected} (got {shown(error.instance)})"]


def _expected(error: ValidationError) -> str | None:
    """What the failing keyword asked for, in pydantic's words where pydantic has some."""
    kind = error.kind
    if isinstance(kind, _K.Type):
        return "Input should be " + _one_of([_type_word(t) for t in kind.types])
    if isinstance(kind, _K.Enum):
        return "Input should be " + _one_of([_literal(v) for v in kind.options])
    if isinstance(kind, _K.Constant):
        return f"Input should be {_literal(kind.expected_value)}"
    if isinstance(kind, (_K.AnyOf, _K.OneOfNotValid)):
        return _none_of(kind.context)
    if isinstance(kind, _K.OneOfMultipleValid):
        return "Input should match exactly one of the allowed forms, not several"
    if isinstance(kind, _K.Not):
        return f"Input should not match {_compact(kind.schema)}"
    bounds: list[tuple[type[Any], str]] = [
        (_K.Minimum, "Input should be greater than or equal to"),
        (_K.Maximum, "Input should be less than or equal to"),
        (_K.ExclusiveMinimum, "Input should be greater than"),
        (_K.ExclusiveMaximum, "Input should be less than"),
        (_K.MinLength, "String should have at least {} characters"),
        (_K.MaxLength, "String should have at most {} characters"),
        (_K.MinItems, "Array should have at least {} items"),
        (_K.MaxItems, "Array should have at most {} items"),
        (_K.MinProperties, "Object should have at least {} properties"),
        (_K.MaxProperties, "Object should have at most {} properties"),
    ]
    for cls, words in bounds:
        if isinstance(kind, cls):
            limit = kind.limit
            return words.format(limit) if "{}" in words else f"{words} {limit}"
    if isinstance(kind, _K.MultipleOf):
        return f"Input should be a multiple of {kind.multiple_of}"
    if isinstance(kind, _K.Pattern):
        return f"String should match pattern '{clipped(kind.pattern, 80)}'"
    if isinstance(kind, _K.BacktrackLimitExceeded):
        return "String is too costly to check against its pattern; send a simpler one"
    if isinstance(kind, _K.Format):
        return f"Input should be a valid {kind.format}"
    if isinstance(kind, _K.UniqueItems):
        return "Array items should be unique"
    return None


def _value_at(data: Any, at: Sequence[int | str]) -> Any:
    for step in at:
        try:
            data = data[step]
        except (LookupError, TypeError):
            return None
    return data


def _indexes_of(items: Any, unexpected: Sequence[object]) -> list[int] | None:
    """Where in ``items`` the values jsonschema-rs names are: its stubs say by index, but it
    gives each item's compact JSON. Matched from the end: the items left unevaluated are those
    past the ones a schema took."""
    if all(type(u) is int for u in unexpected):
        return [u for u in unexpected if type(u) is int]
    if not isinstance(items, (list, tuple)):
        return None
    wanted = list(reversed(unexpected))
    found: list[int] = []
    for index in range(len(items) - 1, -1, -1):
        if len(found) == len(wanted):
            break
        text = json.dumps(items[index], separators=(",", ":"), ensure_ascii=False, default=repr)
        if text == wanted[len(found)]:
            found.append(index)
    return found[::-1] if len(found) == len(wanted) else None


def _none_of(branches: Sequence[Sequence[ValidationError]]) -> str:
    """For ``anyOf``/``oneOf``: the forms allowed, or the one that came closest."""
    at = None
    words: list[str] = []
    for branch in branches:
        if len(branch) != 1 or not isinstance(branch[0].kind, (_K.Type, _K.Enum, _K.Constant)):
            break
        said = _expected(branch[0])
        if said is None or (at is not None and branch[0].instance_path != at):
            break
        at = branch[0].instance_path
        words.append(said.removeprefix("Input should be "))
    else:
        if words:
            return "Input should be " + _one_of(words)
    closest = min(branches, key=len, default=())
    inner = "; ".join(describe_schema_errors(closest)[:2])
    return f"Input should match one of {len(branches)} allowed forms (the closest: {inner})"


def _one_of(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    if len(words) > _MAX_OPTIONS:
        return ", ".join(words[:_MAX_OPTIONS]) + f" or one of {len(words) - _MAX_OPTIONS} more"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _type_word(kind: str) -> str:
    return "null" if kind == "null" else f"a valid {kind}"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return _compact(value)


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def _signature_hint(schema: Mapping[str, Any]) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not isinstance(properties, Mapping) or not properties:
        return "none"
    required = schema.get("required", ())
    required = set(required) if isinstance(required, list) else set()
    parts = []
    for name, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, Mapping) else "any"
        if isinstance(kind, list):
            kind = "|".join(str(k) for k in kind)
        parts.append(f"{name} ({kind}{', required' if name in required else ''})")
    return ", ".join(parts)
