"""The Berkeley Function Calling Leaderboard's schema dialect, read only for
``Tool.from_schema(..., dialect="bfcl")``: its type words (``dict``, ``float``, ``tuple``,
``any``) become JSON Schema's, and the parameters object is closed
(``additionalProperties: false``) unless it says otherwise, as BFCL's checker treats it."""

from __future__ import annotations

from typing import Any

__all__ = ["BFCL_WORDS", "from_bfcl"]

_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}
BFCL_WORDS = (*_BFCL_TYPES, "any")


def from_bfcl(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _bfcl_node(schema)
    if "type" not in out and "properties" in out:
        out["type"] = "object"
    out.setdefault("additionalProperties", False)
    return out


def _bfcl_node(node: Any) -> Any:
    if isinstance(node, list):
        return [_bfcl_node(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            kind = _bfcl_type(value)
            if kind is not None:
                out[key] = kind
        elif key in ("properties", "$defs", "definitions", "patternProperties"):
            out[key] = {k: _bfcl_node(v) for k, v in value.items()}
        elif key in ("enum", "const", "default", "examples", "required"):
            out[key] = value
        else:
            out[key] = _bfcl_node(value)
    return out


def _bfcl_type(value: Any) -> Any:
    if isinstance(value, list):
        kinds = [_BFCL_TYPES.get(v, v) for v in value if v != "any"]
        return kinds or None
    if value == "any":
        return None
    return _BFCL_TYPES.get(value, value)
