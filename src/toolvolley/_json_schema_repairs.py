"""The lenient repairs a tool defined by a JSON Schema may opt into (``coerce=...``): a
validation error that one of them explains is repaired in a copy of the arguments, which are
then checked again. See :mod:`toolvolley._json_schema` for what each repair means."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args
from urllib.parse import unquote

import jsonschema_rs

__all__ = ["COERCIONS", "Coercion", "repaired", "repairs_named"]

Coercion = Literal["nulls", "defaults", "strings"]
COERCIONS: frozenset[str] = frozenset(get_args(Coercion))
_REPAIR_PASSES = 3

_DROP = object()  # a repair: leave the key out (a ``null`` that means "not given")
_ACCEPT = object()  # a repair: the value stands as it is (a declared default)


def repairs_named(coerce: object) -> frozenset[str] | None:
    """The repairs ``coerce`` names (read once: it may be an iterator); None if it names none."""
    if isinstance(coerce, str) or not isinstance(coerce, Iterable):
        return None
    try:
        repairs = frozenset(coerce)
    except TypeError:  # unhashable items
        return None
    return repairs if repairs <= COERCIONS else None


def repaired(
    validator: jsonschema_rs.Validator,
    schema: Mapping[str, Any],
    coerce: frozenset[str],
    data: Mapping[str, Any],
    errors: list[jsonschema_rs.ValidationError],
) -> tuple[Mapping[str, Any], list[jsonschema_rs.ValidationError]]:
    """``data`` with the repairs ``coerce`` names made, and the errors that remain (``schema``
    is what ``validator`` checks)."""
    for attempt in range(_REPAIR_PASSES + 1):
        last = attempt == _REPAIR_PASSES
        remaining = []
        edits: dict[tuple[int | str, ...], Any] = {}
        for error in errors:
            fix = _fix(schema, coerce, error)
            if fix is _ACCEPT:
                continue
            if fix is None or last:
                remaining.append(error)
            else:
                edits[tuple(error.instance_path)] = fix
        if not edits:
            break
        data = _edited(data, edits)
        errors = list(validator.iter_errors(data))
    return data, remaining


def _fix(
    schema: Mapping[str, Any], coerce: frozenset[str], error: jsonschema_rs.ValidationError
) -> Any:
    """How to repair what ``error`` is about: _ACCEPT, _DROP, a new value, or None."""
    value, at = error.instance, error.instance_path
    steps = error.evaluation_path
    if "defaults" in coerce:
        where = _schema_at(schema, steps[:-1])
        if isinstance(where, Mapping) and "default" in where:
            default = where["default"]
            if type(default) is type(value) and default == value:
                return _ACCEPT
    if "nulls" in coerce and value is None and at and isinstance(at[-1], str):
        owner = _owner_of(schema, steps, at[-1])
        if owner is not None and at[-1] not in owner.get("required", ()):
            return _DROP
    if "strings" in coerce and isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Type):
        return _scalar_from(value, error.kind.types)
    return None


def _schema_at(root: Mapping[str, Any], steps: list[int | str]) -> Any:
    """The subschema an evaluation path leads to, through local ``$ref``s; None if it leaves."""
    node: Any = root
    for step in steps:
        if step == "$ref" and isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            node = _local(root, node["$ref"])
        elif isinstance(node, Mapping):
            if step not in node:
                return None
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


def _local(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node: Any = root
    pointer = unquote(ref[1:])
    for token in pointer.split("/")[1:] if pointer else ():
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, Mapping) and token in node:
            node = node[token]
        else:
            return None
    return node


def _owner_of(
    root: Mapping[str, Any], steps: list[int | str], key: str
) -> Mapping[str, Any] | None:
    """The object schema whose ``properties`` declared ``key`` on this evaluation path."""
    for index in range(len(steps) - 2, -1, -1):
        if steps[index] == "properties" and steps[index + 1] == key:
            owner = _schema_at(root, steps[:index])
            return owner if isinstance(owner, Mapping) else None
    return None


def _scalar_from(value: Any, types: list[str]) -> Any:
    """``value`` (a string) as the number, integer or boolean ``types`` allows; None if not."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if not ({"number", "integer"} & set(types)):
        return None
    try:
        number = json.loads(text, parse_constant=_not_a_number)
    except ValueError:
        return None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    if isinstance(number, float) and not math.isfinite(number):  # 1e400
        return None
    if "number" in types or isinstance(number, int) or number.is_integer():
        return number
    return None


def _edited(data: Any, edits: Mapping[tuple[int | str, ...], Any]) -> Any:
    """A copy of ``data`` with each path set to its value (or dropped), copied only along them."""
    heads: dict[int | str, dict[tuple[int | str, ...], Any]] = {}
    for where, value in edits.items():
        if where:
            heads.setdefault(where[0], {})[where[1:]] = value
    out: Any = dict(data) if isinstance(data, Mapping) else list(data)
    dropped: list[int | str] = []
    for head, rest in heads.items():
        if () in rest:
            if rest[()] is _DROP:
                dropped.append(head)
            else:
                out[head] = rest[()]
        else:
            out[head] = _edited(out[head], rest)
    for head in sorted(dropped, key=str, reverse=True):
        del out[head]
    return out


def _not_a_number(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")
