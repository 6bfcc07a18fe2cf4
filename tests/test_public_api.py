"""The public surface is what ``__all__`` says: everything listed exists, nothing private leaks."""

from __future__ import annotations

import inspect
import types

import toolvolley


def test_all_names_exist_and_are_public() -> None:
    for name in toolvolley.__all__:
        assert hasattr(toolvolley, name), name
        assert not name.startswith("_"), name


def test_every_public_attribute_is_exported() -> None:
    public = {  # dir(): names the package imports on first use too
        name
        for name in dir(toolvolley)
        if not name.startswith("_") and not isinstance(getattr(toolvolley, name), types.ModuleType)
    }
    assert public == set(toolvolley.__all__)


def test_exported_classes_and_functions_are_our_own() -> None:
    for name in toolvolley.__all__:
        value = getattr(toolvolley, name)
        if isinstance(value, type) or inspect.isfunction(value):
            assert value.__module__.startswith("toolvolley."), (name, value.__module__)


def test_all_is_sorted() -> None:
    assert list(toolvolley.__all__) == sorted(toolvolley.__all__)
