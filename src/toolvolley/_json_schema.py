"""Arguments of tools defined by a JSON Schema: MCP servers' tools, OpenAPI operations, BFCL cases.

A real validator checks them (jsonschema-rs): draft 2020-12, or the draft the schema names with
``$schema``. ``$ref`` reaches only into the schema itself; nothing is ever fetched, and a schema
that refers elsewhere makes its tool unusable (:class:`~toolvolley.SchemaError`), as does an
invalid one. A call gets exactly what its schema allows, passed on as the JSON values it sent.

Lenient repairs are opt-in, per tool (``Tool.from_schema(..., coerce=...)``; made in
``_json_schema_repairs``); what the handler receives is the repaired value:

* ``"nulls"``: ``null`` for a property its object does not require, where the schema refuses
  ``null``, means "not given" and is left out (OpenAI's strict mode makes every field nullable).
* ``"defaults"``: a value equal to the ``default`` declared where it fails is accepted as it is
  (BFCL's ground truth sends ``{"type": "integer", "default": null}`` parameters as ``null``).
* ``"strings"``: a string that reads as the number, integer or boolean the schema asks for is
  passed on as that value (``"5"`` becomes ``5``).

``dialect="bfcl"`` reads the Berkeley Function Calling Leaderboard's schemas: its type words
(``dict``, ``float``, ``tuple``, ``any``) become JSON Schema's, and the parameters object is
closed (``additionalProperties: false``) unless it says otherwise, as BFCL's checker treats it.
That reading lives in ``_json_schema_bfcl``, imported only for that dialect (and to name it in
the error for a default-dialect schema that uses those words).
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Collection, Mapping
from typing import Any, Literal

import jsonschema_rs

from ._argument_messages import (
    NOT_AN_OBJECT,
    TOO_DEEP,
    clipped,
    describe_schema_errors,
    invalid_arguments,
    location,
    not_a_finite_number,
    not_json,
)
from ._content import sendable_text
from ._errors import SchemaError, UserError
from ._json_schema_repairs import COERCIONS, Coercion, repaired, repairs_named
from ._schema import ArgumentsError

__all__ = ["Coercion", "Dialect", "SchemaArguments", "arguments_from_schema"]

Dialect = Literal["json-schema", "bfcl"]
# Patterns with back-references or lookaround run on a backtracking engine; the default budget (a
# million steps, ~30 ms a string) lets one call's array of strings hold the event loop for
# seconds. Ten thousand is plenty for the patterns schemas use.
_PATTERNS = jsonschema_rs.FancyRegexOptions(backtrack_limit=10_000)
# How deep jsonschema-rs itself reads an instance to report its errors.
_MAX_DEPTH = 255


class SchemaArguments:
    """Checks a call's arguments against the tool's JSON Schema; the handler's keyword arguments
    are the arguments themselves (repaired where the tool's ``coerce`` allows)."""

    __slots__ = ("_coerce", "_schema", "_validator", "json_schema")

    def __init__(
        self,
        validator: jsonschema_rs.Validator,
        schema: dict[str, Any],
        json_schema: dict[str, Any],
        coerce: frozenset[str],
    ) -> None:
        self._validator = validator
        self._schema = schema  # what the validator checks
        self._coerce = coerce
        self.json_schema = json_schema

    def __reduce__(self) -> tuple[Any, ...]:
        # Compiled validators do not pickle; tools shipped to Ray workers (run_many) must.
        return _rebuilt, (self._schema, self.json_schema, self._coerce)

    def validate(self, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Return the handler's keyword arguments, or raise :class:`ArgumentsError`."""
        try:
            return self._validated(raw)
        except RecursionError as exc:  # json.loads, or Python code walking what it read
            raise ArgumentsError(TOO_DEEP, cause=exc) from exc

    def _validated(self, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(raw, (str, bytes)):
            if not raw.strip():
                raw = "{}"  # some models send "" for a tool without parameters
            try:
                data = json.loads(raw, parse_float=_finite_float, parse_constant=_not_json)
            except ValueError as exc:
                reason = str(exc)
                if "integer string conversion" in reason:  # CPython's guard, worded for Python
                    reason = (
                        f"a number has too many digits (at most {sys.get_int_max_str_digits()})"
                    )
                raise ArgumentsError(not_json(reason), cause=exc) from exc
        else:
            data = raw
            # Parsed by someone else (an SDK, a reference's result): what json.loads guarantees
            # is checked here, and the depth, which jsonschema-rs would recurse through on the
            # native stack.
            if isinstance(data, Mapping) and (problem := _not_plain_json(data)) is not None:
                if problem is TOO_DEEP:
                    raise ArgumentsError(TOO_DEEP)
                raise ArgumentsError(invalid_arguments([problem], self.json_schema))
        if not isinstance(data, Mapping):
            raise ArgumentsError(NOT_AN_OBJECT)
        try:
            try:
                if self._validator.is_valid(data):
                    return dict(data)
                errors = list(self._validator.iter_errors(data))
            except UnicodeEncodeError:
                # A lone surrogate ("\ud800", which JSON may escape) that jsonschema-rs had to
                # encode: check the arguments with U+FFFD in its place, as results are sent.
                data = json.loads(sendable_text(json.dumps(data, ensure_ascii=False)))
                if self._validator.is_valid(data):
                    return dict(data)
                errors = list(self._validator.iter_errors(data))
        except ValueError as exc:  # jsonschema-rs reads no deeper than _MAX_DEPTH to report
            if "Recursion limit" in str(exc):
                raise ArgumentsError(TOO_DEEP, cause=exc) from exc
            message = f"The arguments hold a value that is not JSON: {clipped(str(exc))}."
            raise ArgumentsError(message, cause=exc) from exc
        if self._coerce:
            data, errors = repaired(self._validator, self._schema, self._coerce, data, errors)
            if not errors:
                return dict(data)
        raise ArgumentsError(
            invalid_arguments(describe_schema_errors(errors, data), self.json_schema),
            cause=errors[0],
        )


def _rebuilt(
    schema: dict[str, Any], json_schema: dict[str, Any], coerce: frozenset[str]
) -> SchemaArguments:
    return SchemaArguments(_compile(schema), schema, json_schema, coerce)


def arguments_from_schema(
    name: str,
    parameters: Mapping[str, Any],
    *,
    dialect: Dialect = "json-schema",
    coerce: Collection[Coercion] = (),
) -> SchemaArguments:
    """Build the check of ``parameters``; raise :class:`SchemaError` if it cannot be used."""
    if dialect not in ("json-schema", "bfcl"):
        raise UserError(f"Tool {name!r}: dialect must be 'json-schema' or 'bfcl', not {dialect!r}.")
    repairs = repairs_named(coerce)
    if repairs is None:
        raise UserError(
            f"Tool {name!r}: coerce takes a collection of {sorted(COERCIONS)}, not {coerce!r}."
        )
    if not isinstance(parameters, Mapping):
        raise SchemaError(name, "must be a JSON Schema object (a mapping).")
    refused: list[str] = []
    try:
        schema: dict[str, Any] = copy.deepcopy(dict(parameters))
        if dialect == "bfcl":
            from ._json_schema_bfcl import from_bfcl

            schema = from_bfcl(schema)
        validator = _compile(schema, refused)
    except RecursionError as exc:
        raise SchemaError(name, "is nested too deeply to be used.") from exc
    except Exception as exc:  # the validator refuses invalid schemas with several kinds
        draft = schema.get("$schema")
        if isinstance(draft, str) and not _known_draft(draft):
            raise SchemaError(
                name,
                f"its $schema, {clipped(draft, 80)!r}, is not a draft this validator knows "
                "(2020-12, 2019-09, 7, 6 or 4, by their json-schema.org URIs). Drafts are never "
                "fetched: name one of those, or leave $schema out for 2020-12.",
            ) from exc
        if refused:
            raise SchemaError(
                name,
                f"refers to {clipped(refused[0], 80)!r}, outside itself. Schemas are never "
                "fetched: put the definition under $defs and refer to it as '#/$defs/...'.",
            ) from exc
        # Written for a developer, but also for the model that calls a server's tool left out.
        reason = clipped(getattr(exc, "message", None) or str(exc).split("\n", 1)[0])
        at = getattr(exc, "instance_path", None)
        if at:
            reason = f"{reason} (at {clipped(location(at), 120)})"
        if at and at[-1] == "type":
            from ._json_schema_bfcl import BFCL_WORDS

            if getattr(exc, "instance", None) in BFCL_WORDS:
                reason += "; BFCL's type words need Tool.from_schema(..., dialect='bfcl')"
        raise SchemaError(name, f"is not a valid JSON Schema: {reason}") from exc
    if schema.get("type", "object") != "object":
        raise SchemaError(name, "must be of type 'object' (the arguments are a JSON object).")
    # Providers expect both at the top of what they are sent. Not in what is checked: the
    # schema may refer to itself ("$ref": "#") for values that are not objects.
    sent = {"type": "object", "properties": {}, **schema}
    return SchemaArguments(validator, schema, sent, repairs)


def _compile(schema: dict[str, Any], refused: list[str] | None = None) -> jsonschema_rs.Validator:
    """The validator of ``schema``; every URI it would have to fetch is refused (and noted)."""

    def refuse(uri: str) -> Any:
        if refused is not None:
            refused.append(uri)
        raise LookupError(f"{uri} is not part of this schema")

    return jsonschema_rs.validator_for(schema, retriever=refuse, pattern_options=_PATTERNS)


def _known_draft(uri: str) -> bool:
    try:
        _compile({"$schema": uri})
    except Exception:
        return False
    return True


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid JSON, but no float holds it
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise ValueError(f"the number {shown} is out of range")
    return value


def _not_plain_json(data: Mapping[str, Any]) -> str | None:
    """The first place in ``data`` that JSON text could not have produced, as a problem line
    (TOO_DEEP if it is nested too deeply); None if there is none. Iterative: ``data`` may be
    nested deeper than Python recurses."""
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        value, at = stack.pop()
        if len(at) > _MAX_DEPTH:
            return TOO_DEEP
        if value is None or isinstance(value, (str, bool, int)):
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                return not_a_finite_number(at, value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    return f"{location(at)}: keys should be strings (got {type(key).__name__})"
                stack.append((item, (*at, key)))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, (*at, i)) for i, item in enumerate(value))
        else:
            return f"{location(at)}: {type(value).__name__} is not a JSON value"
    return None
