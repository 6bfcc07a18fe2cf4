"""Reading a request body as strict JSON (RFC 8259), as the real services' parsers do.

Python's ``json`` accepts more than they do, and some of it fails later, far from the request:
an integer of more than 4,300 digits (``int`` refuses to print it), ``NaN`` and ``1e999``
(written back out as ``NaN``/``Infinity``, which no JSON parser reads), lone surrogates
(``"\\ud800"``, which cannot be encoded as UTF-8), and nesting deep enough to exhaust the stack.
Each is refused here with a 400, like serde_json refuses it (whose recursion limit of 128
is kept too), so nothing after parsing meets them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ._wire import Kind, WireError, wire_error

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "parse_body"]

MAX_DEPTH = 128
MAX_INT_DIGITS = 4300  # CPython's own limit for int <-> str, checked before converting


class _Refused(ValueError):
    pass


def parse_body(kind: Kind, body: bytes) -> tuple[str, Any]:
    """The body's text and JSON value, or the provider's 400 saying why it is not valid JSON."""
    try:
        text = body.decode() if body else "{}"
    except UnicodeDecodeError as exc:
        raise wire_error(kind, 400, f"The request body is not valid UTF-8: {exc}") from exc
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError as exc:
        raise _invalid(kind, f"recursion limit exceeded (more than {MAX_DEPTH} levels)") from exc
    except ValueError as exc:  # JSONDecodeError and _Refused
        raise _invalid(kind, str(exc)) from exc
    _check(kind, value)
    return text, value


def _invalid(kind: Kind, reason: str) -> WireError:
    return wire_error(kind, 400, f"The request body is not valid JSON: {reason}")


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"number out of range (an integer of more than {MAX_INT_DIGITS} digits)")
    return int(digits)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number out of range ({text[:40]})")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def _check(kind: Kind, value: Any) -> None:
    """Depth and strings, walked without recursion (the value may be as deep as the stack)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            _text(kind, item, where)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise _invalid(kind, f"recursion limit exceeded (more than {MAX_DEPTH} levels)")
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str):
                _text(kind, key, where, "a key")
            stack.append((child, depth + 1, path))


def _text(kind: Kind, text: str, where: str, what: str = "a string") -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            place = where or "the top level"
            reason = f"lone surrogate {text[exc.start]!r} in {what} at {place}"
            raise _invalid(kind, reason) from exc
