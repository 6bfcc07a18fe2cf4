"""Turning what a tool returned into the text the model reads."""

from __future__ import annotations

import base64
import dataclasses
import decimal
import json
import math
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence, ValuesView
from collections.abc import Set as AbstractSet
from pathlib import PurePath
from typing import Any

import pydantic_core
from pydantic import BaseModel

__all__ = ["UnserializableResult", "sendable", "sendable_text", "to_content"]

# In a str every code point in this range is a lone surrogate: a pair is one code point above it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_FAILURES = (pydantic_core.PydanticSerializationError, ValueError, TypeError, RecursionError)

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")

Fallback = Callable[[Any], Any]


class UnserializableResult(Exception):
    """The value a tool returned cannot be written as JSON."""


def sendable_text(text: str) -> str:
    """``text`` with every lone surrogate (``"\\ud800"``, valid in a Python or JSON string but no
    UTF-8 text, so no SDK can send it) replaced by U+FFFD; ``text`` itself when it has none."""
    if text.isascii() or not _LONE_SURROGATE.search(text):
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def sendable(value: Any) -> Any:
    """``value`` (a request or message: dicts, lists, tuples, strings) with :func:`sendable_text`
    applied to every string and key in it; ``value`` itself when it holds no lone surrogate."""
    if isinstance(value, str):
        return sendable_text(value)
    if isinstance(value, dict):
        pairs = [
            (sendable_text(k) if isinstance(k, str) else k, sendable(v)) for k, v in value.items()
        ]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if isinstance(value, list | tuple):
        items = [sendable(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def to_content(value: Any) -> str:
    """Strings go as they are; everything else as compact, strict JSON.

    pydantic writes what it knows (models, dataclasses, namedtuples, dicts, lists, sets, dates,
    UUIDs, paths, enums; ``Decimal`` and ``Fraction`` as their exact text, e.g. ``"19.990"``).
    Number-likes such as numpy and mpmath values become JSON numbers and arrays through
    ``tolist()``, ``__index__`` or ``__float__``; a number with its own text (an mpmath value, a
    float16, float32 or long double, alone or in an array) is written as that text, the shortest
    exact for its type and precision: ``1.3`` for mpmath's ``1.3`` at 2 digits, ``0.1`` for a
    float32 0.1, never the widened double (``1.302734375``, ``0.10000000149011612``). Bytes are
    UTF-8 text, or base64 when they are not text. NaN and infinities become ``null``, so the
    content always parses as JSON. Anything else (an arbitrary object, a reference cycle) raises
    :class:`UnserializableResult` naming where it sits, e.g. ``result["items"][2]``.
    """
    if isinstance(value, str):
        return value
    try:
        return pydantic_core.to_json(value, inf_nan_mode="null", fallback=_json_form).decode()
    except _FAILURES:
        pass  # the rare case: walk the value to convert what pydantic refused, or to say where
    try:
        return _write_plain(value, _json_form)
    except _LongText:  # rarer still: a number with more digits than a double carries
        return _ExactNumbers().write(value)


def _write(value: Any, fallback: Fallback) -> str:
    try:
        return pydantic_core.to_json(value, inf_nan_mode="null", fallback=fallback).decode()
    except _FAILURES:
        pass
    return _write_plain(value, fallback)


def _write_plain(value: Any, fallback: Fallback) -> str:
    plain = _plain(value, "result", set(), fallback)
    try:
        return pydantic_core.to_json(plain, inf_nan_mode="null", fallback=fallback).decode()
    except _FAILURES as exc:  # nested deeper than pydantic writes (a few hundred levels)
        raise _refused(f"result is nested too deeply ({exc})") from exc


def _json_form(value: Any) -> Any:
    """The JSON-able stand-in for a value pydantic does not know, duck-typed (numpy, mpmath)."""
    kind = type(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    if hasattr(kind, "tolist"):  # numpy arrays and scalars
        return _numpy_form(value)
    if hasattr(kind, "__index__"):
        return value.__index__()
    if hasattr(kind, "__float__"):
        return _own_number(value, float(value))
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (Sequence, AbstractSet, ValuesView)):
        return list(value)
    raise TypeError(f"{kind.__name__} has no JSON form")


def _numpy_form(value: Any) -> Any:
    """A float that is not a double (float16, float32, longdouble), alone or in an array, is
    written as its own text; everything else as ``tolist()`` gives it."""
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "kind", None) != "f" or getattr(dtype, "itemsize", 8) == 8:
        return value.tolist()
    if getattr(value, "ndim", 0):
        shape = tuple(value.shape)
        if 0 in shape:
            return value.tolist()
        # Each element (a scalar) comes back here; ``flat`` gives scalars whatever the array's
        # subclass (the rows of an ``np.matrix`` are matrices again).
        nested: list[Any] = list(value.flat)
        for size in reversed(shape[1:]):
            nested = [nested[i : i + size] for i in range(0, len(nested), size)]
        return nested
    return _own_number(value, float(value))


def _own_number(value: Any, widened: float) -> Any:
    """A number-like as the number its own text says (numpy's and mpmath's ``str`` give the
    shortest text exact for the value's type and precision: ``1.3``, not ``1.302734375``)."""
    if not math.isfinite(widened):
        return widened  # written as null
    text = str(value)
    if not _JSON_NUMBER.fullmatch(text):
        return widened
    near = float(text)
    # The double nearest the text says the same when it is written (pydantic writes the
    # shortest text that reads back as the double, as repr does).
    if math.isfinite(near) and decimal.Decimal(repr(near)) == decimal.Decimal(text):
        return near
    raise _LongText(text)


class _LongText(Exception):
    """A number whose own text has more digits than a double carries (mpmath at 30 digits, a
    long double): :class:`_ExactNumbers` writes it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _ExactNumbers:
    """Writes a value with numbers whose text no double carries: each goes through pydantic as
    a placeholder string, then the placeholder is replaced by the number's text."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.tag = ""

    def write(self, value: Any) -> str:
        while True:
            self.texts.clear()
            self.tag = f"toolvolley-number-{secrets.token_hex(8)}-"
            written = _write(value, self._json_form)
            # A tool's own string that contains the tag would be taken for a placeholder.
            if written.count(self.tag) == len(self.texts):
                break
        placeholder = re.compile(f'"{re.escape(self.tag)}([0-9]+)"(:?)')
        return placeholder.sub(self._number_text, written)

    def _json_form(self, value: Any) -> Any:
        try:
            return _json_form(value)
        except _LongText as exc:
            self.texts.append(exc.text)
            return f"{self.tag}{len(self.texts) - 1}"

    def _number_text(self, match: re.Match[str]) -> str:
        text = self.texts[int(match[1])]
        return f'"{text}":' if match[2] else text  # an object key stays a string


def _plain(value: Any, where: str, active: set[int], fallback: Fallback) -> Any:
    """``value`` as plain JSON data, or :class:`UnserializableResult` saying what is at ``where``.

    Only runs when pydantic refused the value, so it can afford to be thorough. ``fallback``
    converts what pydantic does not know (:func:`_json_form`).
    """
    if isinstance(value, str):
        return sendable_text(value)
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return base64.b64encode(data).decode("ascii")
    if id(value) in active:
        raise _refused(f"{where} contains itself (a reference cycle)")
    active.add(id(value))
    try:
        return _plain_container(value, where, active, fallback)
    except RecursionError:
        raise _refused(f"{where} is nested too deeply") from None
    finally:
        active.discard(id(value))


def _plain_container(value: Any, where: str, active: set[int], fallback: Fallback) -> Any:
    if isinstance(value, Iterator):
        # pydantic's attempt has iterated it already (and may have stopped at an error in it):
        # what is left is not the value, so say so rather than send a part of it.
        raise _refused(
            f"{where} is a generator or iterator that could not be written out; "
            "return a list instead"
        )
    if isinstance(value, Mapping):
        return {
            _plain_key(key, where, fallback): _plain(
                item, f"{where}[{_show_key(key)}]", active, fallback
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, AbstractSet)) or _is_iterable_value(value):
        return [_plain(item, f"{where}[{i}]", active, fallback) for i, item in enumerate(value)]
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return {
            (info.serialization_alias or info.alias or name): _plain(
                getattr(value, name), f"{where}.{name}", active, fallback
            )
            for name, info in fields.items()
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(
                getattr(value, field.name), f"{where}.{field.name}", active, fallback
            )
            for field in dataclasses.fields(value)
        }
    try:  # dates, UUIDs, enums, Decimal ... as pydantic writes them
        return pydantic_core.to_jsonable_python(value, inf_nan_mode="null")
    except _FAILURES:
        pass
    try:
        converted = fallback(value)
    except _LongText:
        raise  # to_content writes the value again, with its exact numbers
    except Exception as exc:  # a number-like's own conversion may fail in any way
        reason = f"{where} is of type {type(value).__name__}, which has no JSON form"
        raise _refused(reason) from exc
    return _plain(converted, where, active, fallback)


def _is_iterable_value(value: Any) -> bool:
    """Sequences that pydantic writes as arrays (deque, range ...); not the number-likes."""
    return isinstance(value, (Sequence, ValuesView)) and not hasattr(type(value), "tolist")


def _plain_key(key: Any, where: str, fallback: Fallback) -> Any:
    """A key pydantic can write as an object key (it writes 1 as "1", True as "true" ...)."""
    if isinstance(key, str):
        return sendable_text(key)
    try:
        pydantic_core.to_json({key: None}, fallback=fallback)
    except _FAILURES:
        try:
            fallback(key)  # pydantic hides why: a long number's text is written in a second pass
        except _LongText:
            raise
        except Exception:
            pass
        raise _refused(f"{where} has a key of type {type(key).__name__}") from None
    return key


def _show_key(key: Any) -> str:
    return json.dumps(key) if isinstance(key, str) else repr(key)


def _refused(reason: str) -> UnserializableResult:
    return UnserializableResult(f"returned a value that cannot be written as JSON: {reason}")
