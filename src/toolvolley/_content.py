"""Turning what a tool returned into the text the model reads."""

from __future__ import annotations

from typing import Any

import pydantic_core

__all__ = ["UnserializableResult", "to_content"]


class UnserializableResult(Exception):
    """The value a tool returned cannot be written as JSON."""


def to_content(value: Any) -> str:
    """Strings go as they are; everything else as compact JSON (pydantic models, dataclasses,
    dicts, lists, dates, enums ...)."""
    if isinstance(value, str):
        return value
    try:
        return pydantic_core.to_json(value).decode()
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError) as exc:
        raise UnserializableResult(
            f"returned a value of type {type(value).__name__} that cannot be written as JSON"
        ) from exc
