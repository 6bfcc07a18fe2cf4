"""The public surface is what each public module's ``__all__`` says: everything listed exists,
nothing private leaks; the root holds the library's nouns and verbs, events and pictures have
modules of their own, and a name that moved says where it went."""

from __future__ import annotations

import importlib
import inspect
import types
from typing import Any

import pytest

import toolvolley
import toolvolley.events
import toolvolley.observe

# The public modules whose every name is in ``__all__``; toolvolley.testing needs the cli extra.
PUBLIC = [
    "toolvolley",
    "toolvolley.events",
    "toolvolley.observe",
    "toolvolley.runners",
    "toolvolley.testing",
]


def _module(name: str) -> types.ModuleType:
    if name == "toolvolley.testing":
        pytest.importorskip("httpx")
    return importlib.import_module(name)


@pytest.mark.parametrize("name", PUBLIC)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = _module(name)
    for public in module.__all__:
        assert hasattr(module, public), public
        assert not public.startswith("_"), public


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_attribute_is_exported(name: str) -> None:
    module = _module(name)
    public = {  # dir(): names a module imports on first use too
        attr
        for attr in dir(module)
        if not attr.startswith("_") and not isinstance(getattr(module, attr), types.ModuleType)
    }
    assert public == set(module.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_exported_classes_and_functions_are_our_own(name: str) -> None:
    module = _module(name)
    for public in module.__all__:
        value = getattr(module, public)
        if isinstance(value, type) or inspect.isfunction(value):
            assert value.__module__.startswith("toolvolley."), (public, value.__module__)


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_sorted(name: str) -> None:
    module = _module(name)
    assert list(module.__all__) == sorted(module.__all__)


def test_the_loops_message_type_is_exported() -> None:
    assert "Message" in toolvolley.__all__
    assert toolvolley.Message == dict[str, Any]  # what LoopResult.transcript holds
    assert "list[Message]" in str(toolvolley.LoopResult.__annotations__["transcript"])


def test_events_and_pictures_are_not_at_the_root() -> None:
    """Only ExecutionHooks, what users subclass, is in both the root and toolvolley.events."""
    root = set(toolvolley.__all__)
    assert sorted(root & set(toolvolley.events.__all__)) == ["ExecutionHooks"]
    assert sorted(root & set(toolvolley.observe.__all__)) == []
    assert len(root) <= 36


@pytest.mark.parametrize(
    ("name", "home"),
    [
        *[(n, "toolvolley.events") for n in toolvolley.events.__all__ if n != "ExecutionHooks"],
        *[(n, "toolvolley.observe") for n in ("Bar", "BatchReport", "Timeline")],
        *[(n, "toolvolley.observe") for n in ("save_timelines", "timelines_svg")],
    ],
)
def test_a_moved_root_name_says_where_it_went(name: str, home: str) -> None:
    # (``from toolvolley import X`` gives Python's own "cannot import name": the import
    # statement drops an AttributeError's message.)
    with pytest.raises(AttributeError, match=rf"toolvolley\.{name} has moved to {home}: from"):
        getattr(toolvolley, name)
    assert hasattr(importlib.import_module(home), name)


def test_an_unknown_root_name_is_a_plain_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'toolvolley' has no attribute 'Nope'"):
        toolvolley.Nope  # noqa: B018
