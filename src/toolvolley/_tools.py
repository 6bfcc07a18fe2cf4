"""A :class:`Tool` is a callable the model may ask for, with the schema of its parameters."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Literal, overload

from ._docstrings import parse_docstring
from ._errors import UserError, type_name
from ._json_schema import Coercion, Dialect, arguments_from_schema
from ._options import check_count, check_flag, check_seconds
from ._policies import Hedge, Retry
from ._processes import ProcessRunner
from ._runners import Runner
from ._schema import Arguments, arguments_from_function

__all__ = ["RunIn", "Tool", "ToolList", "tool"]

RunIn = Literal["thread", "process"] | str | Runner
"""Where a sync tool runs: ``"thread"`` (default), ``"process"`` (CPU-bound work), the name of
another runner the executor has, or a :class:`Runner` object. Async tools run on the event loop
unless they name a runner object."""


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Tool:
    """A function the model can call.

    Make one with :func:`tool` (from a Python function) or :meth:`Tool.from_schema` (from a JSON
    Schema). Options:

    * ``timeout``: seconds one call may run; overrides the executor's ``timeout``.
    * ``max_concurrency``: how many calls of this tool may run at once within a batch.
    * ``sequential``: a barrier. Calls before it finish first, it runs alone, calls after it start
      once it has finished. For tools with side effects that others depend on.
    * ``run_in``: ``"thread"`` (default) or ``"process"`` for CPU-bound sync functions, which must
      then be importable by name (defined at module level); or the name of another runner of
      the executor, or a :class:`Runner` object.
    * Side effects, in MCP's vocabulary (``readOnlyHint``, ``destructiveHint``, ``idempotentHint``):
      ``read_only`` (changes nothing), ``destructive`` (may destroy or overwrite state), and
      ``idempotent`` (calling it again with the same arguments has no further effect). Nothing is
      assumed when they are left unset.
    * ``retry``, ``hedge``: a :class:`Retry` or :class:`Hedge` policy, for ``idempotent`` tools
      only (a UserError otherwise): they send the body again.

    A tool is still callable as the function it wraps.
    """

    name: str
    description: str
    func: Callable[..., Any] = dataclasses.field(repr=False)
    is_async: bool
    arguments: Arguments = dataclasses.field(repr=False)
    timeout: float | None = None
    max_concurrency: int | None = None
    sequential: bool = False
    run_in: RunIn = "thread"
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    retry: Retry | None = None
    hedge: Hedge | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise UserError("A tool needs a non-empty name.")
        if not isinstance(self.description, str):
            raise UserError(
                f"Tool {self.name!r}: description must be a string (what the model reads about "
                f"the tool; '' for none), not {type_name(self.description)}."
            )
        check_seconds(f"Tool {self.name!r}: timeout", self.timeout)
        check_count(f"Tool {self.name!r}: max_concurrency", self.max_concurrency)
        for flag in ("sequential", "read_only", "destructive", "idempotent"):
            check_flag(f"Tool {self.name!r}: {flag}", getattr(self, flag))
        if self.read_only and self.destructive:
            raise UserError(f"Tool {self.name!r} cannot be both read_only and destructive.")
        _check_policies(self)
        if isinstance(self.run_in, Runner):
            self.run_in.check(self)
        elif not isinstance(self.run_in, str) or not self.run_in:
            raise UserError(
                f"Tool {self.name!r}: run_in must be 'thread', 'process', the name of a runner "
                f"or a Runner, not {self.run_in!r}."
            )
        elif self.run_in == "process":
            ProcessRunner().check(self)
        elif self.run_in == "ray":
            from ._ray import check_ray_installed  # never imports ray itself

            check_ray_installed()

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
        timeout: float | None = None,
        max_concurrency: int | None = None,
        sequential: bool | None = None,
        run_in: RunIn | None = None,
        read_only: bool | None = None,
        destructive: bool | None = None,
        idempotent: bool | None = None,
        retry: Retry | None = None,
        hedge: Hedge | None = None,
    ) -> Tool:
        """A copy with the given options changed (those left as ``None`` are kept)."""
        changes: dict[str, Any] = {
            "name": name,
            "description": description,
            "timeout": timeout,
            "max_concurrency": max_concurrency,
            "sequential": sequential,
            "run_in": run_in,
            "read_only": read_only,
            "destructive": destructive,
            "idempotent": idempotent,
            "retry": retry,
            "hedge": hedge,
        }
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        handler: Callable[..., Any],
        *,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        sequential: bool = False,
        run_in: RunIn = "thread",
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
        retry: Retry | None = None,
        hedge: Hedge | None = None,
        dialect: Dialect = "json-schema",
        coerce: Collection[Coercion] = (),
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
            timeout=timeout,
            max_concurrency=max_concurrency,
            sequential=sequential,
            run_in=run_in,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
            retry=retry,
            hedge=hedge,
            arguments=arguments,
        )


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    sequential: bool = False,
    run_in: RunIn = "thread",
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    retry: Retry | None = None,
    hedge: Hedge | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    sequential: bool = False,
    run_in: RunIn = "thread",
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    retry: Retry | None = None,
    hedge: Hedge | None = None,
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
            timeout=timeout,
            max_concurrency=max_concurrency,
            sequential=sequential,
            run_in=run_in,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
            retry=retry,
            hedge=hedge,
            arguments=arguments,
        )

    return build if func is None else build(func)


class ToolList(list[Tool]):
    """Tools from a source that left some of its tools out, with why: e.g. an MCP server's listing
    in which a tool's schema cannot be used. A call to a left-out tool is ``unknown_tool`` with
    the reason (see :attr:`Toolbox.withheld <toolvolley.Toolbox.withheld>`)."""

    def __init__(self, tools: Iterable[Tool] = (), withheld: Mapping[str, str] | None = None):
        super().__init__(tools)
        self.withheld: dict[str, str] = dict(withheld or {})


def _check_policies(tool: Tool) -> None:
    for label, policy, kind in (("retry", tool.retry, Retry), ("hedge", tool.hedge, Hedge)):
        if policy is None:
            continue
        if not isinstance(policy, kind):
            raise UserError(f"Tool {tool.name!r}: {label} must be a {kind.__name__} or None.")
        if not tool.idempotent:
            raise UserError(
                f"Tool {tool.name!r} has a {label} policy but is not idempotent: sending its "
                "body again could repeat its effect. Mark it idempotent=True if calling it "
                f"twice with the same arguments is harmless, or drop the {label}."
            )


def _is_async(func: Callable[..., Any]) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    call = getattr(func, "__call__", None)  # noqa: B004 - async callable objects
    return any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (func, call)
    )
