"""A :class:`Tool` is a callable the model may ask for, with the schema of its parameters."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, overload

from ._docstrings import parse_docstring
from ._errors import UserError, type_name
from ._json_schema import Coercion, Dialect, arguments_from_schema
from ._schema import Arguments, arguments_from_function
from ._tool_options import OPTION_NAMES, RunIn, ToolOptionArgs, ToolOptions, option_changes
from .runners._base import Runner
from .runners._registry import check_named

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["RunIn", "Tool", "ToolList", "tool"]

_SHOWN = ("name", "description", "is_async", *OPTION_NAMES)


@dataclasses.dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class Tool(ToolOptions):
    """A function the model can call, with its :class:`ToolOptions` (``timeout``,
    ``max_concurrency``, ``sequential``, ``run_in``, ``read_only``, ``destructive``,
    ``idempotent``, ``retry``, ``hedge``; see there what each does).

    Make one with :func:`tool` (from a Python function) or :meth:`Tool.from_schema` (from a JSON
    Schema); :meth:`with_options` makes a copy with other options.

    A tool is still callable as the function it wraps.
    """

    name: str
    description: str
    func: Callable[..., Any]
    is_async: bool
    arguments: Arguments

    # A tool is itself, not its options: equal and hashed by identity (the executor keys on it).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise UserError("A tool needs a non-empty name.")
        if not isinstance(self.description, str):
            raise UserError(
                f"Tool {self.name!r}: description must be a string (what the model reads about "
                f"the tool; '' for none), not {type_name(self.description)}."
            )
        self._check_options(f"Tool {self.name!r}")
        if isinstance(self.run_in, Runner):
            self.run_in.check(self)
        else:  # a built-in runner's checks (its module imported now, never ray itself)
            check_named(self.run_in, self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SHOWN)
        return f"Tool({shown})"

    @property
    def options(self) -> ToolOptions:
        """This tool's options, as one value."""
        return ToolOptions(**{name: getattr(self, name) for name in OPTION_NAMES})

    @property
    def placement(self) -> str | Runner:
        """The runner this tool names: a :class:`Runner`, or a name the executor resolves
        (``"loop"`` for async tools, else ``run_in``)."""
        if isinstance(self.run_in, Runner):
            return self.run_in
        return "loop" if self.is_async and self.run_in == "thread" else self.run_in

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the tool's parameters, as sent to providers."""
        return self.arguments.json_schema

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def with_options(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        **options: Unpack[ToolOptionArgs],
    ) -> Tool:
        """A copy with the given options changed. Options not given are kept; ``None`` clears
        one whose default is ``None`` (``with_options(timeout=None)``: the executor's timeout
        applies again). ``name`` and ``description`` are kept when ``None``."""
        changes = option_changes("with_options()", options)
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        handler: Callable[..., Any],
        *,
        dialect: Dialect = "json-schema",
        coerce: Collection[Coercion] = (),
        **options: Unpack[ToolOptionArgs],
    ) -> Tool:
        """A tool from a JSON Schema of its parameters and a callable that takes them by name.

        ``handler`` (sync or async) receives the arguments as the JSON values the model sent,
        once a JSON Schema validator has found them valid (draft 2020-12 unless ``$schema``
        names another; ``$ref`` only within the schema, never fetched)::

            Tool.from_schema("weather", "Current weather.",
                             {"type": "object", "properties": {"city": {"type": "string"}},
                              "required": ["city"]},
                             handler=get_weather)

        ``coerce`` opts into lenient repairs, and the handler gets the repaired values:
        ``"nulls"`` (``null`` for a property that is not required means "not given"),
        ``"defaults"`` (a property's declared default is accepted as its value) and
        ``"strings"`` (``"5"`` where a number is asked for becomes ``5``).
        ``dialect="bfcl"`` reads BFCL's type words (``dict``, ``float``, ``tuple``, ``any``)
        and closes the parameters object, as BFCL's checker does.

        Raises :class:`SchemaError` (a :class:`UserError`) if the schema cannot be used: it is
        invalid, or refers to another document.
        """
        if not callable(handler):
            raise UserError(f"Tool {name!r}: handler must be callable.")
        arguments = arguments_from_schema(name, parameters, dialect=dialect, coerce=coerce)
        return cls(
            name=name,
            description=description,
            func=handler,
            is_async=_is_async(handler),
            arguments=arguments,
            **option_changes("Tool.from_schema()", options),
        )


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    **options: Unpack[ToolOptionArgs],
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    **options: Unpack[ToolOptionArgs],
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a sync or async function into a :class:`Tool`.

    The description comes from the docstring, the parameters' JSON Schema from the type hints
    (``Annotated[..., Field(description=...)]`` and docstring ``Args:`` entries describe them)::

        @tool(timeout=10)
        async def get_weather(city: str) -> dict[str, float]:
            \"\"\"Current weather for a city.

            Args:
                city: City name, e.g. "Paris".
            \"\"\"
    """

    changes = option_changes("@tool", options)

    def build(fn: Callable[..., Any]) -> Tool:
        if not callable(fn):
            raise UserError("@tool decorates a function.")
        doc = parse_docstring(fn.__doc__)
        arguments = arguments_from_function(fn, doc)
        return Tool(
            name=name or fn.__name__,
            description=description if description is not None else doc.description,
            func=fn,
            is_async=_is_async(fn),
            arguments=arguments,
            **changes,
        )

    return build if func is None else build(func)


class ToolList(list[Tool]):
    """Tools from a source that left some of its tools out, with why: e.g. an MCP server's listing
    in which a tool's schema cannot be used. A call to a left-out tool is ``unknown_tool`` with
    the reason (see :attr:`Toolbox.withheld <toolvolley.Toolbox.withheld>`)."""

    def __init__(self, tools: Iterable[Tool] = (), withheld: Mapping[str, str] | None = None):
        super().__init__(tools)
        self.withheld: dict[str, str] = dict(withheld or {})


def _is_async(func: Callable[..., Any]) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    call = getattr(func, "__call__", None)  # noqa: B004 - async callable objects
    return any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (func, call)
    )
