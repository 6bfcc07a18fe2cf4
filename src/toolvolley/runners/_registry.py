"""The built-in runner names, and an executor's table of runners by name.

The executor knows no kind of runner: it asks its :class:`RunnerTable` for the runner a tool
names. A runner given to the executor (``runners={"thread": ThreadRunner(32)}``) answers for
its name; else a built-in name's runner is made on first use, its module imported then, so
``import toolvolley`` loads none of them (a process tool's module loads when the tool is
defined, for its checks; the thread runner's when an executor first runs a sync tool).

A built-in runner is one line of :data:`BUILTIN`: its name, where its class is, and what must
be installed for it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from .._errors import UserError
from ._base import Runner, ToolSpec

__all__ = ["BUILTIN", "RunnerTable", "check_named", "installed", "runner_class"]


@dataclasses.dataclass(frozen=True)
class Builtin:
    """A built-in runner: ``target`` is ``"module:Class"`` (imported on first use); ``needs``
    a module that must be installed for the name to exist (an extra); ``checked``: whether a
    tool naming it is checked as it is defined (which imports the module then)."""

    target: str
    needs: str | None = None
    checked: bool = True


BUILTIN: Mapping[str, Builtin] = MappingProxyType(
    {
        "loop": Builtin("toolvolley.runners._base:LoopRunner", checked=False),
        "thread": Builtin("toolvolley.runners.threads:ThreadRunner", checked=False),
        "process": Builtin("toolvolley.runners.processes:ProcessRunner"),
        "ray": Builtin("toolvolley.runners.ray:RayRunner", needs="ray"),
    }
)


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (ray takes about a second)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    return _found(module)


@functools.cache
def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def runner_class(name: str) -> type[Runner] | None:
    """The class of the built-in runner ``name`` (its module imported now), or None."""
    entry = BUILTIN.get(name)
    if entry is None:
        return None
    module, _, attr = entry.target.partition(":")
    found = getattr(importlib.import_module(module), attr)
    if not (isinstance(found, type) and issubclass(found, Runner)):
        raise TypeError(f"{entry.target} is not a Runner class")
    return found


def check_named(name: str, tool: ToolSpec) -> None:
    """The checks of the built-in runner ``name`` for ``tool`` (at its definition); a name
    that is not built in is the executor's to resolve."""
    entry = BUILTIN.get(name)
    if entry is not None and entry.checked:
        found = runner_class(name)
        assert found is not None
        found.check_named(tool)


class RunnerTable:
    """One executor's runners by name: the ``given`` ones, and the built-in ones it makes the
    first time a tool names them (with ``max_threads`` for the thread runner)."""

    __slots__ = ("_given", "_made", "_max_threads")

    def __init__(self, given: Mapping[str, Runner], max_threads: int) -> None:
        for name, runner in given.items():
            if not isinstance(runner, Runner):
                raise UserError(f"runners[{name!r}] must be a Runner, not {runner!r}.")
        self._given = dict(given)
        self._made: dict[str, Runner] = {}
        self._max_threads = max_threads

    def get(self, name: str) -> Runner | None:
        """The runner called ``name``, made now if it is a built-in one not made yet."""
        runner = self._given.get(name)
        if runner is None:
            runner = self._made.get(name)
        if runner is not None:
            return runner
        entry = BUILTIN.get(name)
        if entry is None or (entry.needs is not None and not installed(entry.needs)):
            return None
        made = runner_class(name)
        assert made is not None
        # setdefault: two threads making the same runner at once share the first one made
        return self._made.setdefault(name, made.default(max_threads=self._max_threads))

    def names(self) -> list[str]:
        """Every name this table answers for, sorted."""
        builtin = (n for n, e in BUILTIN.items() if e.needs is None or installed(e.needs))
        return sorted({*self._given, *builtin})

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[Runner]:
        """The runners given or made so far."""
        return iter([*self._given.values(), *self._made.values()])
