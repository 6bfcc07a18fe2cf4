"""Tool parameters: what checks a call's arguments, and for ``@tool`` functions, pydantic's check.

A Python function's signature (``@tool``) is the source of truth for its parameters: type hints,
defaults, ``Annotated``/``Field`` metadata and the docstring's parameter descriptions become a
pydantic model with ``extra="forbid"``, and its JSON Schema is what providers are sent. Tools
defined by a JSON Schema are checked by a JSON Schema validator instead (``_json_schema``).

``null`` is a value wherever the type allows it. Elsewhere, ``null`` for a parameter (or a
nested field) that is not required means "not given": its Python default applies. A parameter's
default is always accepted as its value, even when the type refuses it (``x: int = None``).
``null`` for a required parameter stays an error.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)
from pydantic.fields import FieldInfo

from ._argument_messages import NOT_AN_OBJECT, invalid_arguments, location, not_json, shown
from ._docstrings import Docstring, parse_docstring
from ._errors import UserError

__all__ = [
    "Arguments",
    "ArgumentsError",
    "FunctionArguments",
    "arguments_from_function",
]

_CONFIG = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)


class ArgumentsError(Exception):
    """The arguments a model sent cannot be used; ``message`` is written for the model to read."""

    def __init__(self, message: str, *, cause: Exception | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class Arguments(Protocol):
    """Checks a call's arguments and turns them into keyword arguments for the handler."""

    json_schema: dict[str, Any]
    """The JSON Schema of the parameters, as sent to providers."""

    def validate(self, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Return the handler's keyword arguments, or raise :class:`ArgumentsError`."""
        ...


class FunctionArguments:
    """A ``@tool`` function's arguments, checked by the pydantic model of its signature."""

    __slots__ = (
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
            return not_json(errors[0]["msg"])
        if len(errors) == 1 and not errors[0]["loc"] and errors[0]["type"].endswith("type"):
            return NOT_AN_OBJECT
        return invalid_arguments([_describe_error(error) for error in errors], self.json_schema)


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
    where = location(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"{where}: missing required argument"
    if kind == "extra_forbidden":
        return f"{where}: unexpected argument"
    return f"{where}: {error['msg']} (got {shown(error.get('input'))})"


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
    return FunctionArguments(model, fields, _tidy(schema))


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
