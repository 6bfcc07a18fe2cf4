"""The arguments of an adapter's own toolvolley tools: one object of the framework's, handed
over in the process under one name (``{"job": ...}``, ``{"call": ...}``), never JSON a model
sent. The framework checks the model's arguments itself; here there is nothing to validate, so
a call of a batch of 1,000 does not pay for a pydantic validation of an opaque object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._schema import ArgumentsError

__all__ = ["InProcessArguments"]


class InProcessArguments:
    """Takes ``{name: value}`` as it comes; anything else is an :class:`ArgumentsError`."""

    __slots__ = ("json_schema", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.json_schema: dict[str, Any] = {
            "additionalProperties": False,
            "properties": {name: {}},
            "required": [name],
            "type": "object",
        }

    def validate(self, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        if type(raw) is dict and len(raw) == 1 and self.name in raw:
            return raw
        raise ArgumentsError(f"Expected {{{self.name!r}: ...}} from the adapter, got {raw!r}.")
