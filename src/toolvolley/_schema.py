"""Tool parameters: their JSON Schema and the pydantic validator that checks a call's arguments.

Two sources are supported, and both end as a pydantic model with ``extra="forbid"``:

* a Python signature (``@tool``): type hints, defaults, ``Annotated``/``Field`` metadata and the
  docstring's parameter descriptions;
* a JSON Schema (``Tool.from_schema``), as tools from MCP servers, OpenAPI specs or the Berkeley
  Function Calling Leaderboard arrive. BFCL's type words (``dict``, ``float``, ``tuple``, ``any``)
  are translated to JSON Schema so the definitions sent to providers are valid.

``null`` is a value wherever the type allows it. Elsewhere, ``null`` for a parameter (or a
nested property) that is not required means "not given": a Python default applies, and a
``from_schema`` handler does not receive the key. A parameter's declared default is always
accepted as its value, even when the type refuses it (``x: int = None``, BFCL's
``{"type": "integer", "default": null}``). ``null`` for a required parameter stays an error.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)
from pydantic.fields import FieldInfo

from ._docstrings import Docstring, parse_docstring
from ._errors import UserError

__all__ = ["Arguments", "ArgumentsError", "arguments_from_function", "arguments_from_schema"]

_CONFIG = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)
_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}
_MAX_ERRORS_SHOWN = 5


class ArgumentsError(Exception):
    """The arguments a model sent cannot be used; ``message`` is written for the model to read."""

    def __init__(self, message: str, *, cause: Exception | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class Arguments:
    """Validates a call's arguments and turns them into keyword arguments for the handler."""

    __slots__ = (
        "_as_plain_data",
        "_fields",
        "_model",
        "_renamed",
        "_validate_json",
        "_validate_python",
        "json_schema",
    )

    def __init__(
        self,
        model: type[BaseModel],
        fields: Mapping[str, str],
        json_schema: dict[str, Any],
        *,
        as_plain_data: bool,
    ) -> None:
        self._model = model
        # The compiled validator itself: every call of a batch goes through here, and the
        # model's classmethods cost as much again as the validation of a small object.
        if not model.__pydantic_complete__:
            model.model_rebuild(raise_errors=True)
        self._validate_json = model.__pydantic_validator__.validate_json
        self._validate_python = model.__pydantic_validator__.validate_python
        self._fields = dict(fields)  # handler keyword -> model attribute
        self._renamed = any(keyword != attr for keyword, attr in self._fields.items())
        self._as_plain_data = as_plain_data
        self.json_schema = json_schema

    def validate(self, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Return the handler's keyword arguments, or raise :class:`ArgumentsError`.

        ``null`` for an optional parameter means "not given" (see the module docstring).
        """
        try:
            if isinstance(raw, (str, bytes)):
                instance: BaseModel = self._validate_json(raw)
            else:
                instance = self._validate_python(raw)
        except ValidationError as exc:
            if isinstance(raw, (str, bytes)) and not raw.strip():
                return self.validate("{}")  # some models send "" for a tool without parameters
            instance = self._without_null_optionals(raw, exc)
        if self._as_plain_data:
            return instance.model_dump(mode="python", by_alias=True, exclude_unset=True)
        values: dict[str, Any] = instance.__dict__  # the instance is thrown away: no copy
        if not self._renamed:
            return values
        return {keyword: values[attr] for keyword, attr in self._fields.items()}

    def _without_null_optionals(
        self, raw: str | bytes | Mapping[str, Any], exc: ValidationError
    ) -> BaseModel:
        """Validate again with ``null`` taken to mean "not given" where a parameter is optional.

        Real models send ``null`` for what they leave out (OpenAI's strict mode makes every field
        required and nullable). Only the failure path pays for this: a ``null`` the type accepts
        is a value, and never reaches here.
        """
        errors = exc.errors(include_url=False)
        data: Any = None
        if errors and errors[0]["type"] != "json_invalid":
            try:
                data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            except ValueError:
                data = None
        if isinstance(data, Mapping):
            paths = {
                path
                for error in errors
                if (path := _null_path(data, error["loc"])) and _is_optional(self.json_schema, path)
            }
            if paths:
                data = _without(data, paths)
                try:
                    if isinstance(raw, (str, bytes)):  # the JSON parser's rules, not Python's
                        return self._validate_json(json.dumps(data))  # type: ignore[no-any-return]
                    return self._validate_python(data)  # type: ignore[no-any-return]
                except ValidationError as retry_exc:
                    exc = retry_exc  # the problems that remain
        raise ArgumentsError(self._describe(exc), cause=exc) from exc

    def _describe(self, exc: ValidationError) -> str:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            return f"The arguments are not valid JSON ({errors[0]['msg']}). Send one JSON object."
        if len(errors) == 1 and not errors[0]["loc"] and errors[0]["type"].endswith("type"):
            return "The arguments must be a JSON object with the tool's parameters as keys."
        lines = [_describe_error(error) for error in errors[:_MAX_ERRORS_SHOWN]]
        if len(errors) > _MAX_ERRORS_SHOWN:
            lines.append(f"... and {len(errors) - _MAX_ERRORS_SHOWN} more problems")
        return (
            "Invalid arguments: "
            + "; ".join(lines)
            + f". Expected parameters: {_signature_hint(self.json_schema)}."
            + " Fix the arguments and call the tool again."
        )


def _null_path(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Where in ``data`` the ``null`` an error is about sits; () if it is not about a ``null``."""
    node: Any = data
    path: list[int | str] = []
    for part in loc:
        is_key = isinstance(node, Mapping) and isinstance(part, str) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (is_key or is_index):
            continue  # a union member's tag ("int", "Window" ...), not a step into the data
        node = node[part]
        path.append(part)
        if node is None:
            return tuple(path) if isinstance(part, str) else ()
    return ()


def _is_optional(schema: Mapping[str, Any], path: tuple[int | str, ...]) -> bool:
    """Whether the property ``path`` leads to is declared and not required."""
    node: Any = schema
    for part in path[:-1]:
        node = _step(schema, node, part)
        if node is None:
            return False
    key = path[-1]
    owner = _step(schema, node, key, owner=True)
    return owner is not None and key not in owner.get("required", ())


def _step(
    root: Mapping[str, Any], node: Any, part: int | str, *, owner: bool = False
) -> Mapping[str, Any] | None:
    """The schema of ``node[part]`` (or, with ``owner``, the object schema declaring ``part``)."""
    for option in _options(root, node):
        if isinstance(part, int):
            items = option.get("items")
            if isinstance(items, Mapping):
                return option if owner else items
            continue
        spec = option.get("properties", {}).get(part) if isinstance(option, Mapping) else None
        if isinstance(spec, Mapping):
            return option if owner else spec
    return None


def _options(root: Mapping[str, Any], node: Any, depth: int = 0) -> list[Mapping[str, Any]]:
    """``node`` with its ``$ref`` resolved and its ``anyOf``/``oneOf``/``allOf`` spread out."""
    if not isinstance(node, Mapping) or depth > 8:
        return []
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
        section, _, key = ref[2:].partition("/")
        return _options(root, root.get(section, {}).get(key), depth + 1)
    found = [node]
    for key in ("anyOf", "oneOf", "allOf"):
        for member in node.get(key, ()):
            found.extend(_options(root, member, depth + 1))
    return found


def _without(data: Any, paths: set[tuple[int | str, ...]]) -> Any:
    """A copy of ``data`` without the keys at ``paths`` (copied only along them)."""
    heads: dict[Any, set[tuple[int | str, ...]]] = {}
    for head, *rest in paths:
        heads.setdefault(head, set()).add(tuple(rest))
    if isinstance(data, Mapping):
        out: Any = dict(data)
    else:
        out = list(data)
    for head, rests in heads.items():
        if () in rests:
            del out[head]
        else:
            out[head] = _without(out[head], rests)
    return out


def _describe_error(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(arguments)"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: missing required argument"
    if kind == "extra_forbidden":
        return f"{where}: unexpected argument"
    got = error.get("input")
    shown = (
        json.dumps(got, default=repr) if not isinstance(got, (dict, list)) else type(got).__name__
    )
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{where}: {error['msg']} (got {shown})"


def _signature_hint(schema: Mapping[str, Any]) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not properties:
        return "none"
    required = set(schema.get("required", ()))
    parts = []
    for name, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, Mapping) else "any"
        if isinstance(kind, list):
            kind = "|".join(str(k) for k in kind)
        parts.append(f"{name} ({kind}{', required' if name in required else ''})")
    return ", ".join(parts)


# --- from a Python function -------------------------------------------------------------------


def arguments_from_function(func: Callable[..., Any], doc: Docstring | None = None) -> Arguments:
    """Build the validator and JSON Schema of ``func``'s parameters."""
    doc = doc if doc is not None else parse_docstring(func.__doc__)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except NameError as exc:
        raise UserError(
            f"Cannot resolve the type hints of {func.__qualname__!r}: {exc}. "
            "Define the types it names at module level."
        ) from exc
    definitions: dict[str, Any] = {}
    defaults: dict[str, tuple[str, Any]] = {}
    fields: dict[str, str] = {}
    for index, param in enumerate(inspect.signature(func).parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise UserError(
                f"Tool function {func.__qualname__!r} has parameter {param.name!r} of kind "
                f"{param.kind.description}; tools take named parameters only."
            )
        annotation = hints.get(param.name, Any)
        description = doc.params.get(param.name)
        if _has_description(annotation):
            description = None  # Annotated[..., Field(description=...)] wins over the docstring
        attr = param.name
        alias = None
        if attr.startswith(("model_", "_")) or hasattr(BaseModel, attr):
            attr, alias = f"param_{index}", param.name  # would shadow pydantic's own attributes
        options: dict[str, Any] = {"description": description, "alias": alias}
        default = ... if param.default is param.empty else param.default
        if default is not ... and not isinstance(default, FieldInfo):
            defaults[attr] = (param.name, default)
        # Only options that are set: an explicit None would override Annotated metadata.
        info = Field(default, **{k: v for k, v in options.items() if v is not None})
        definitions[attr] = (annotation, info)
        fields[param.name] = attr
    try:
        model = _model(f"{func.__name__}_arguments", _CONFIG, definitions, defaults)
        schema = model.model_json_schema()
    except Exception as exc:  # pydantic raises several kinds for unsupported annotations
        raise UserError(
            f"Cannot build a JSON Schema for the parameters of {func.__qualname__!r}: {exc}"
        ) from exc
    return Arguments(model, fields, _tidy(schema), as_plain_data=False)


def _model(
    name: str,
    config: ConfigDict,
    definitions: dict[str, Any],
    defaults: Mapping[str, tuple[str, Any]],
) -> type[BaseModel]:
    """``create_model``, with each declared default accepted as a value even outside its type.

    ``defaults`` maps a field to its key in the arguments and its default. A default the type
    refuses (``x: int = None``, BFCL's ``{"type": "integer", "default": null}``) is still what
    a model may send: such fields alone get a validator that lets exactly that value through,
    so the others pay nothing and the JSON Schema is unchanged.
    """
    model = create_model(name, __config__=config, **definitions)
    if not defaults:
        return model
    try:
        model.__pydantic_validator__.validate_python(dict(defaults.values()))
    except ValidationError as exc:
        refused = {e["loc"][0] for e in exc.errors() if e["loc"] and e["type"] != "missing"}
    else:
        return model
    widened = dict(definitions)
    for attr, (key, default) in defaults.items():
        if key in refused:
            annotation, info = definitions[attr]
            widened[attr] = (Annotated[annotation, WrapValidator(_or_exactly(default))], info)
    return create_model(name, __config__=config, **widened)


def _or_exactly(default: Any) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            if type(value) is type(default) and value == default:
                return value
            raise

    return validate


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in annotation.__metadata__)


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles: they cost tokens and tell the model nothing."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    for definition in schema.get("$defs", {}).values():
        if isinstance(definition, dict):
            _tidy(definition)
    return schema


# --- from a JSON Schema -----------------------------------------------------------------------


def arguments_from_schema(name: str, parameters: Mapping[str, Any]) -> Arguments:
    """Build the validator for a JSON Schema of parameters (BFCL type words accepted)."""
    try:  # a schema from elsewhere (an MCP server) can be any shape: every failure says so
        schema = normalize_schema(parameters)
        if schema.get("type", "object") != "object":
            raise UserError(f"Parameters of tool {name!r} must be a JSON Schema of type 'object'.")
        builder = _SchemaTypes(schema)
        model = builder.object_model(re.sub(r"\W", "_", name) + "_arguments", schema)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"Cannot build a validator for tool {name!r}: {exc}") from exc
    return Arguments(model, {}, schema, as_plain_data=True)


def normalize_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``parameters`` with BFCL type words turned into JSON Schema ones."""
    if not isinstance(parameters, Mapping):
        raise UserError("Tool parameters must be a JSON Schema object (a mapping).")
    schema: dict[str, Any] = _normalize(copy.deepcopy(dict(parameters)))
    if "type" not in schema and "properties" in schema:
        schema["type"] = "object"
    schema.setdefault("properties", {}) if schema.get("type") == "object" else None
    return schema


def _normalize(node: Any) -> Any:
    if isinstance(node, list):
        return [_normalize(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            out[key] = _normalize_type(value)
            if out[key] is None:
                del out[key]
        elif key in ("properties", "$defs", "definitions", "patternProperties"):
            out[key] = {k: _normalize(v) for k, v in value.items()}
        elif key in ("enum", "const", "default", "examples", "required"):
            out[key] = value
        else:
            out[key] = _normalize(value)
    return out


def _normalize_type(value: Any) -> Any:
    if isinstance(value, list):
        kinds = [_BFCL_TYPES.get(v, v) for v in value if v != "any"]
        return kinds or None
    if value == "any":
        return None
    return _BFCL_TYPES.get(value, value)


class _SchemaTypes:
    """Translates JSON Schema nodes to annotated Python types that pydantic validates."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._resolving: set[str] = set()
        self._count = 0

    def object_model(self, name: str, schema: Mapping[str, Any]) -> type[BaseModel]:
        required = set(schema.get("required", ()))
        definitions: dict[str, Any] = {}
        defaults: dict[str, tuple[str, Any]] = {}
        for index, (prop, spec) in enumerate(schema.get("properties", {}).items()):
            spec = spec if isinstance(spec, Mapping) else {}
            annotation = self.annotation(spec)
            default = ... if prop in required else None
            definitions[f"field_{index}"] = (annotation, Field(default=default, alias=prop))
            if "default" in spec:
                defaults[f"field_{index}"] = (prop, spec["default"])
        extra = schema.get("additionalProperties", True)
        config = ConfigDict(
            extra="forbid" if extra is False or schema is self._root else "allow",
            protected_namespaces=(),
        )
        self._count += 1
        return _model(f"{name}_{self._count}", config, definitions, defaults)

    def annotation(self, spec: Mapping[str, Any]) -> Any:
        if "$ref" in spec:
            return self._ref(spec["$ref"])
        for key in ("anyOf", "oneOf"):
            if key in spec:
                options = [self.annotation(s) for s in spec[key] if isinstance(s, Mapping)]
                return Union[tuple(options)] if options else Any  # noqa: UP007
        kind = spec.get("type")
        if isinstance(kind, list):
            options = [self.annotation({**spec, "type": k}) for k in kind]
            return Union[tuple(options)]  # noqa: UP007
        base = self._base(kind, spec)
        if spec.get("nullable") is True:
            base = Union[base, None]  # noqa: UP007
        if "enum" in spec and isinstance(spec["enum"], list):
            return _enum_type(base, spec["enum"])
        return base

    def _base(self, kind: Any, spec: Mapping[str, Any]) -> Any:
        if kind == "string":
            return Annotated[
                str,
                Field(
                    min_length=spec.get("minLength"),
                    max_length=spec.get("maxLength"),
                    pattern=spec.get("pattern"),
                ),
            ]
        if kind in ("integer", "number"):
            base: Any = int if kind == "integer" else _NUMBER
            return Annotated[
                base,
                Field(
                    ge=spec.get("minimum"),
                    le=spec.get("maximum"),
                    gt=spec.get("exclusiveMinimum"),
                    lt=spec.get("exclusiveMaximum"),
                ),
            ]
        if kind == "boolean":
            return bool
        if kind == "null":
            return None
        if kind == "array":
            items = spec.get("items")
            item = self.annotation(items) if isinstance(items, Mapping) else Any
            return Annotated[
                list[item],  # type: ignore[valid-type]
                Field(min_length=spec.get("minItems"), max_length=spec.get("maxItems")),
            ]
        if kind == "object":
            if spec.get("properties"):
                return self.object_model("object", spec)
            extra = spec.get("additionalProperties")
            value = self.annotation(extra) if isinstance(extra, Mapping) else Any
            return dict[str, value]  # type: ignore[valid-type]
        return Any

    def _ref(self, ref: Any) -> Any:
        prefixes = ("#/$defs/", "#/definitions/")
        if not isinstance(ref, str) or not ref.startswith(prefixes) or ref in self._resolving:
            return Any  # remote or recursive references are not checked locally
        section, _, key = ref[2:].partition("/")
        target = self._root.get(section, {}).get(key)
        if not isinstance(target, Mapping):
            raise UserError(f"Schema reference {ref!r} points to nothing.")
        self._resolving.add(ref)
        try:
            return self.annotation(target)
        finally:
            self._resolving.discard(ref)


def _keep_ints(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # JSON 5 stays 5, not 5.0, so arguments pass through unchanged
    return handler(value)


_NUMBER = Annotated[float, WrapValidator(_keep_ints)]


def _enum_type(base: Any, values: list[Any]) -> Any:
    if values and all(isinstance(v, (str, int, bool)) and v is not None for v in values):
        return Literal[tuple(values)]

    def check(value: Any) -> Any:
        if value not in values:
            raise ValueError(f"must be one of {json.dumps(values)}")
        return value

    return Annotated[base, AfterValidator(check)]
