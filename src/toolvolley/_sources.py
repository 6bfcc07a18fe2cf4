"""Where tools come from: a :class:`ToolSource`, listed again at each turn of a conversation.

A tool source is an async context manager with one method, ``await source.list_tools()``, the
tools it offers now. A :class:`~toolvolley.Toolbox` is one (a fixed list, with nothing to open);
a :class:`toolvolley.mcp.MCPServer` is another (a server's tools, as the server lists them).

- **Entered** means inside ``async with source:``. The caller enters its sources and keeps them
  open for as long as it uses them (as it does a model adapter); :func:`~toolvolley.run_loop`
  and :func:`~toolvolley.run_turn` never enter or close a source themselves.
- **list_tools** may be called while the source is entered, any number of times; an MCP server
  not entered raises :class:`~toolvolley.UserError` ("Open the server first"). A Toolbox has no
  lifetime and lists at any time. The loop calls it once at the start of every turn and offers
  the model exactly what it returned: a tool the server added between turns is offered on the
  next turn, a call to one it removed is answered ``unknown_tool``.
- **A source whose server died** connects again when listed (an MCP server: a new process for
  stdio, a new session for HTTP) and lists anew; if it cannot, ``list_tools`` raises
  (:class:`~toolvolley.mcp.MCPServerError`), and so does the turn. A call that was running when
  the server went away is not affected by listing: it gets its ``error`` result, as always.

Several sources make one list (:func:`combine`, or a list of sources given to ``run_loop``); two
tools of one name in it are a :class:`~toolvolley.UserError` naming both sources. To make names
distinct, :func:`prefixed` and :func:`renamed` change the names a source's tools have in the
conversation; each call still reaches its tool (an MCP server is called by its own name), and
its result comes back under the call's id::

    async with MCPServer.stdio("python", ["files.py"]) as files:
        result = await run_loop(model, "Tidy my notes", [prefixed(files, "fs_"), local_tools])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._errors import UserError, type_name
from ._executor import Executor
from ._toolbox import Toolbox
from ._tools import Tool, ToolList

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Combined",
    "ToolSource",
    "combine",
    "executor_for_turn",
    "prefixed",
    "renamed",
    "resolve_tools",
]


@runtime_checkable
class ToolSource(Protocol):
    """Tools from somewhere with a lifetime: ``async with source:``, then
    ``await source.list_tools()`` (see the module docstring for when it may be called)."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...

    async def list_tools(self) -> Sequence[Tool]:
        """The tools offered now. A :class:`~toolvolley.ToolList` says which it left out."""
        ...


class Combined:
    """Several sources as one: the tools of each, in the order given. Entering it enters each
    source, and leaving it closes them in reverse order.

    Listing again keeps the same :class:`~toolvolley.Toolbox` (and executor) while every source
    lists the same tool objects, so a turn whose tools did not change costs no rebuild.
    """

    __slots__ = ("_executors", "_listed", "_sources", "_stack", "_toolbox")

    def __init__(self, sources: Iterable[ToolSource]) -> None:
        self._sources = tuple(sources)
        for source in self._sources:
            if not isinstance(source, ToolSource):
                raise UserError(
                    f"A tool source has list_tools() and is an async context manager (a "
                    f"Toolbox, an MCPServer); got {type_name(source)}."
                )
        self._stack: contextlib.AsyncExitStack | None = None
        self._listed: tuple[Tool, ...] | None = None
        self._toolbox: Toolbox | None = None
        self._executors: tuple[Executor, Executor] | None = None  # (base, view) of the last turn

    def __repr__(self) -> str:
        return f"combine({', '.join(map(repr, self._sources))})"

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            for source in self._sources:
                await stack.enter_async_context(source)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        return await stack.__aexit__(exc_type, exc, tb)

    async def list_tools(self) -> ToolList:
        toolbox = await self.toolbox()
        return ToolList(toolbox, toolbox.withheld)

    async def toolbox(self) -> Toolbox:
        """Every source's tools now, as one toolbox."""
        if len(self._sources) == 1 and isinstance(self._sources[0], Toolbox):
            return self._sources[0]
        listings = [(source, await source.list_tools()) for source in self._sources]
        listed = tuple(t for _, tools in listings for t in tools)
        withheld = {n: why for _, tools in listings for n, why in _withheld(tools).items()}
        last = self._toolbox
        if last is not None and listed == self._listed and withheld == last.withheld:
            return last  # the same tool objects (Tools compare by identity): nothing changed
        _check_unique(listings)
        self._toolbox = Toolbox(ToolList(listed, withheld))
        self._listed = listed
        return self._toolbox

    async def executor(self, base: Executor) -> Executor:
        """``base`` with the tools listed now (see :meth:`Executor.using`)."""
        toolbox = await self.toolbox()
        last = self._executors
        if last is not None and last[0] is base and last[1].toolbox is toolbox:
            return last[1]
        view = base.using(toolbox)
        self._executors = (base, view)
        return view


def combine(*sources: ToolSource) -> Combined:
    """One source of the tools of ``sources``; a name two of them list is a :class:`UserError`
    when listed (see :func:`prefixed`)."""
    return Combined(sources)


class _Renamed:
    """A source whose tools have other names in the conversation (see :func:`renamed`)."""

    __slots__ = ("_label", "_made", "_rename", "_source")

    def __init__(self, source: ToolSource, rename: Callable[[str], str], label: str) -> None:
        if not isinstance(source, ToolSource):
            raise UserError(f"{label}: expected a tool source, got {type_name(source)}.")
        self._source = source
        self._rename = rename
        self._label = label
        self._made: dict[Tool, Tool] = {}  # the source's tool: its renamed copy, from last time

    def __repr__(self) -> str:
        return self._label

    async def __aenter__(self) -> Self:
        await self._source.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._source.__aexit__(exc_type, exc, tb)

    async def list_tools(self) -> ToolList:
        listed = await self._source.list_tools()
        made: dict[Tool, Tool] = {}
        for tool in listed:
            copy = self._made.get(tool)
            if copy is None:
                # The copy keeps the tool's body: an MCP tool still calls the server by the
                # name the server gave it.
                copy = tool.with_options(name=self._rename(tool.name))
            made[tool] = copy
        self._made = made
        withheld = {self._rename(n): why for n, why in _withheld(listed).items()}
        return ToolList(made.values(), withheld)


def prefixed(source: ToolSource, prefix: str) -> ToolSource:
    """``source`` with ``prefix`` in front of each tool's name (``prefixed(files, "fs_")``:
    ``read`` is offered as ``fs_read``)."""
    if not isinstance(prefix, str) or not prefix:
        raise UserError(f"prefixed(): the prefix is a non-empty string, not {prefix!r}.")
    return _Renamed(source, lambda name: prefix + name, f"prefixed({source!r}, {prefix!r})")


def renamed(source: ToolSource, names: Mapping[str, str]) -> ToolSource:
    """``source`` with some tools offered under other names: ``{"old": "new"}``. A name the
    source does not list (yet) is left alone."""
    if not isinstance(names, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in names.items()
    ):
        raise UserError(f"renamed(): names maps tool names to new names, not {names!r}.")
    table = dict(names)
    return _Renamed(source, lambda name: table.get(name, name), f"renamed({source!r}, {table!r})")


def resolve_tools(
    tools: object, executor: Executor | None, where: str
) -> tuple[Executor, Combined | None]:
    """What ``run_loop``'s ``tools`` and ``executor`` mean: the executor whose settings apply,
    and the sources to list at each turn (``None``: the executor's own toolbox, listed once)."""
    if isinstance(tools, Executor):
        if executor is not None:
            raise UserError(f"{where}: tools is an Executor already; drop executor=.")
        return tools, None
    if executor is not None and not isinstance(executor, Executor):
        raise UserError(f"{where}: executor must be an Executor, not {type_name(executor)}.")
    sources = None if isinstance(tools, Combined) else _sources(tools)
    if sources is None and not isinstance(tools, Combined):
        # tools alone: as before, one toolbox for the whole conversation
        if executor is None:
            return Executor(tools), None  # type: ignore[arg-type]  # Toolbox checks the items
        _check_no_tools(executor, where)
        return executor.using(tools), None  # type: ignore[arg-type]
    combined = tools if isinstance(tools, Combined) else Combined(sources or ())
    if executor is None:
        return Executor(), combined
    _check_no_tools(executor, where)
    return executor, combined


async def executor_for_turn(executor: Executor, tools: object, where: str) -> Executor:
    """``executor`` with the tools ``tools`` lists now (``run_turn``'s ``tools=``)."""
    if isinstance(tools, Combined):
        return await tools.executor(executor)
    base, sources = resolve_tools(tools, executor, where)
    return base if sources is None else await sources.executor(base)


def _sources(tools: object) -> list[ToolSource] | None:
    """The sources in ``tools``, with its plain tools as one Toolbox first; ``None`` when it
    holds no source but a Toolbox or plain tools."""
    if isinstance(tools, Toolbox):
        return None
    if isinstance(tools, ToolSource):
        return [tools]
    if isinstance(tools, (str, bytes, Mapping, Tool)) or not isinstance(tools, Iterable):
        return None  # Toolbox() says what is wrong with it
    items = list(tools)
    sources = [s for s in items if isinstance(s, ToolSource) and not isinstance(s, Toolbox)]
    if not sources:
        return None
    toolboxes = [item for item in items if isinstance(item, Toolbox)]
    plain = [item for item in items if item not in sources and item not in toolboxes]
    return [*([Toolbox(plain)] if plain else []), *toolboxes, *sources]


def _check_no_tools(executor: Executor, where: str) -> None:
    if len(executor.toolbox):
        raise UserError(
            f"{where}: the executor has tools of its own ({', '.join(executor.toolbox.names)}) "
            "and tools= gives others: give them in one place, e.g. Executor(timeout=...) with "
            "tools=[...] holding them all."
        )


def _withheld(tools: Sequence[Tool]) -> dict[str, str]:
    return tools.withheld if isinstance(tools, ToolList) else {}


def _check_unique(listings: Sequence[tuple[ToolSource, Sequence[Tool]]]) -> None:
    owner: dict[str, ToolSource] = {}
    for source, tools in listings:
        for tool in tools:
            first = owner.setdefault(tool.name, source)
            if first is not source:
                raise UserError(
                    f"Two tool sources list a tool named {tool.name!r}: {first!r} and "
                    f"{source!r}. Give one of them other names: prefixed(source, 'x_') or "
                    "renamed(source, {...})."
                )
