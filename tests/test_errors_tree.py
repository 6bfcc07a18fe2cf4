"""The exception tree drawn in ``toolvolley._errors``'s docstring is the library's whole tree:
every ``ToolvolleyError`` subclass defined anywhere in the package, under its own base."""

from __future__ import annotations

import importlib
import pkgutil
import re

import toolvolley
from toolvolley import _errors
from toolvolley._errors import ToolvolleyError

# "    ├── UserError   text": the name, and the column where it starts (its depth in the tree)
_ENTRY = re.compile(r"^(?P<indent>    (?:[│ ]   )*(?:[├└]── )?)(?P<name>[A-Z]\w+)\s")


def _drawn() -> dict[str, str | None]:
    """Each class name in the docstring's tree, and the name of the class above it."""
    assert _errors.__doc__ is not None
    parents: dict[str, str | None] = {}
    path: list[str] = []  # the names on the way down to the last entry
    for line in _errors.__doc__.splitlines():
        match = _ENTRY.match(line)
        if match is None or (not path and match["name"] != "ToolvolleyError"):
            continue
        depth = (len(match["indent"]) - 4) // 4
        del path[depth:]
        parents[match["name"]] = path[-1] if path else None
        path.append(match["name"])
    return parents


def _defined() -> dict[str, str | None]:
    """Each ToolvolleyError subclass the package defines, and its toolvolley base class."""
    for module in pkgutil.walk_packages(toolvolley.__path__, "toolvolley."):
        if module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed: its errors are not here
            continue
    found: dict[str, str | None] = {"ToolvolleyError": None}
    todo = [ToolvolleyError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("toolvolley."):
                found[sub.__name__] = cls.__name__
                todo.append(sub)
    return found


def test_the_drawing_parses() -> None:
    drawn = _drawn()
    assert drawn["ToolvolleyError"] is None
    assert drawn["SchemaError"] == "UserError"
    assert drawn["StreamCutError"] == "ModelError"


def test_every_toolvolley_error_is_drawn_under_its_base() -> None:
    assert _drawn() == _defined()
