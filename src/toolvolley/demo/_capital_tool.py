"""``get_capital``: a country's capital from the demo's city table, the first step of the
capitals exercise ("the weather in the capitals of France, Japan and Peru")."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import anyio

from .._errors import ToolError, UserError
from .._tools import Tool
from ._cities import CAPITALS, capital_of

__all__ = ["capital_tool"]


def capital_tool(*, latency_s: float = 0.0, jitter_s: float = 0.0) -> Tool:
    """The ``get_capital(country)`` tool: ``{"country": "France", "capital": "Paris"}``.

    It looks the country up in the bundled city table (:data:`CAPITALS`). ``latency_s`` stands
    for a remote look-up service: each call waits that long, up to ``jitter_s`` more or less,
    fixed per country (so figures reproduce), before answering. The schema lists the countries
    as examples, and the description names the result's fields, so a model (the offline one
    included) knows to refer to ``"$1.capital"``.
    """
    if not (0 <= jitter_s <= latency_s < math.inf):
        raise UserError("capital_tool needs 0 <= jitter_s <= latency_s.")

    async def get_capital(country: str) -> dict[str, Any]:
        delay = latency_s + jitter_s * (2 * _unit(country.strip().lower()) - 1)
        if delay > 0:
            await anyio.sleep(delay)
        city = capital_of(country)
        if city is None:
            raise ToolError(
                f"No capital is listed for {country!r}. Give the country's English name, "
                "e.g. 'France'."
            )
        return {"country": city.country, "capital": city.name}

    return Tool.from_schema(
        "get_capital",
        'The capital city of a country. Returns {"country": ..., "capital": ...}.',
        {
            "type": "object",
            "properties": {
                "country": {
                    "type": "string",
                    "description": 'Country name in English, e.g. "France".',
                    "examples": sorted(CAPITALS),
                }
            },
            "required": ["country"],
            "additionalProperties": False,
        },
        get_capital,
        timeout=30.0,
    )


def _unit(key: str) -> float:
    """A number in [0, 1) fixed by ``key``."""
    return int(hashlib.sha256(f"capital {key}".encode()).hexdigest()[:8], 16) / 16**8
