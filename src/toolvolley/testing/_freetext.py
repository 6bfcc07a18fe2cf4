"""Reading a request's free text: a list of places or things becomes one call per item.

Still a planner, not a language model. It picks the tool whose name the text mentions
("weather" for ``get_current_weather``), reads the list after a preposition ("in Seoul, Tokyo and
Paris", "for Dallas, Texas and Orlando, Florida"), and gives each item's parts to the parameters
they fit by name and description: the place to ``city``/``location``/``query``..., a US state to
``state`` (its two-letter code when the description asks for it), a country to ``country``, and
an ``enum`` value the text mentions ("in Fahrenheit") to its parameter. An ``enum`` that lists
the items themselves (``city: ["Dallas", "Orlando"]``, ``state: ["TX", "FL"]``) gives each item
its own value, in the spelling listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Item", "items_in", "plan_from_text"]

_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV", "new hampshire": "NH",
    "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "district of columbia": "DC",
}  # fmt: skip
_CODES = {code: name for name, code in _STATES.items()}
_COUNTRIES = {
    "argentina", "australia", "austria", "belgium", "brazil", "canada", "chile", "china",
    "colombia", "denmark", "egypt", "england", "finland", "france", "germany", "greece",
    "india", "indonesia", "ireland", "israel", "italy", "japan", "kenya", "korea", "mexico",
    "morocco", "netherlands", "new zealand", "nigeria", "norway", "peru", "poland", "portugal",
    "russia", "scotland", "singapore", "south africa", "south korea", "spain", "sweden",
    "switzerland", "thailand", "turkey", "ukraine", "united kingdom", "uk", "usa",
    "united states", "vietnam",
}  # fmt: skip
# Words in a tool's name that say nothing about what it is for.
_GENERIC = {
    "get", "set", "current", "fetch", "find", "lookup", "look", "up", "list", "search",
    "query", "tool", "info", "information", "data", "by", "for", "the", "web", "api",
}  # fmt: skip
_SUBJECTS = {"city", "location", "place", "town", "query", "q", "term", "search_term",
             "keyword", "keywords", "topic", "subject", "address", "destination", "name",
             "symbol", "ticker", "word", "item", "entity"}  # fmt: skip
_WHOLE_TEXT = {"location", "address", "query", "q", "term", "search_term", "destination"}
_START = re.compile(r"\b(?:in|for|at|of|about|from|between)\s+(?=[\"'A-Z0-9])")
_STOP = re.compile(r"[?.!;:\n]|\s(?:in|with|using|on|during|today|now|please)\b")


@dataclass(frozen=True)
class Item:
    """One thing the text lists: ``Dallas`` with ``region="Texas"``, ``Lyon`` with
    ``country="France"``."""

    name: str
    region: str | None = None
    country: str | None = None

    @property
    def full(self) -> str:
        return ", ".join(p for p in (self.name, self.region, self.country) if p)


def items_in(text: str) -> list[Item]:
    """The list that follows the first preposition naming something ("in Seoul and Paris")."""
    start = _START.search(text)
    if start is None:
        return []
    segment = text[start.end() :]
    stop = _STOP.search(segment)
    segment = segment[: stop.start()] if stop else segment
    items: list[Item] = []
    for chunk in re.split(r",?\s+(?:and|&|or)\s+", segment):
        for raw in chunk.split(","):
            part = raw.strip().strip("\"'").removeprefix("the ").strip()
            if not part or not (part[0].isupper() or part[0].isdigit()):
                return items  # the list has ended ("... and tell me a joke")
            if items and _is_region(part) and items[-1].region is None:
                items[-1] = Item(items[-1].name, _region_name(part), items[-1].country)
            elif items and part.lower() in _COUNTRIES and items[-1].country is None:
                items[-1] = Item(items[-1].name, items[-1].region, part)
            else:
                items.append(Item(part))
    return items


def _is_region(part: str) -> bool:
    return part.lower() in _STATES or part in _CODES


def _region_name(part: str) -> str:
    return _CODES[part].title() if part in _CODES else part


def plan_from_text(
    tools: Sequence[tuple[str, Mapping[str, Any]]], text: str
) -> list[tuple[str, dict[str, Any]]]:
    """One call per listed item to the tool the text is about, or none."""
    tool = _tool_for(tools, text)
    if tool is None:
        return []
    name, parameters = tool
    calls: list[tuple[str, dict[str, Any]]] = []
    items = items_in(text)
    for item in items:
        arguments = fill_for_item(parameters, item, text, items)
        if arguments is not None and (name, arguments) not in calls:
            calls.append((name, arguments))
    return calls


def _words(text: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w}


def _tool_for(
    tools: Sequence[tuple[str, Mapping[str, Any]]], text: str
) -> tuple[str, Mapping[str, Any]] | None:
    said = _words(text)

    def score(name: str) -> int:
        wanted = _words(name) - _GENERIC
        return sum(1 for w in wanted if any(s.startswith(w) for s in said))

    best = max(tools, key=lambda t: score(t[0]), default=None)
    if best is not None and score(best[0]) > 0:
        return best
    takers = [t for t in tools if any(_role(p, s) == "subject" for p, s in _properties(t[1]))]
    return takers[0] if len(tools) == 1 and takers else None


def _properties(parameters: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return [(p, s) for p, s in properties.items() if isinstance(s, Mapping)]


def _role(param: str, schema: Mapping[str, Any]) -> str | None:
    if schema.get("type", "string") != "string":
        return None
    name = param.lower()
    description = str(schema.get("description", "")).lower()
    if "enum" in schema:
        return "enum"
    if any(w in name for w in ("state", "province", "region")):
        return "region"
    if "country" in name:
        return "country"
    if name in _SUBJECTS or "city" in name or "location" in name or "city" in description:
        return "subject"
    return None


def fill_for_item(
    parameters: Mapping[str, Any], item: Item, text: str, items: Sequence[Item] = ()
) -> dict[str, Any] | None:
    """Arguments for ``item`` (one of ``items``, the whole list), or None when a required
    parameter has nothing that fits or an ``enum`` of the things listed does not list it."""
    properties = _properties(parameters)
    has_region = any(_role(p, s) == "region" for p, s in properties)
    arguments: dict[str, Any] = {}
    subject_taken = False
    for param, schema in properties:
        role = _role(param, schema)
        description = str(schema.get("description", "")).lower()
        if role == "enum":
            values = schema.get("enum") or []
            part = _part_listed(values, items or [item])
            if part is None:  # a choice the text makes for every item ("in Fahrenheit")
                value = _mentioned(values, text)
            else:  # the values of one part of the items: this item's own, in its listed spelling
                value = _listed(values, _parts(item)[part])
                if value is None and part == "name":
                    return None  # a thing this tool does not take
                subject_taken = subject_taken or (value is not None and part == "name")
            if value is not None:
                arguments[param] = value
        elif role == "region" and item.region:
            short = any(w in description for w in ("two-letter", "abbreviation", "code"))
            arguments[param] = (
                _STATES.get(item.region.lower(), item.region) if short else (item.region)
            )
        elif role == "country" and item.country:
            arguments[param] = item.country
        elif role == "subject" and not subject_taken:
            whole = param.lower() in _WHOLE_TEXT and not has_region
            arguments[param] = item.full if whole else item.name
            subject_taken = True
    required = parameters.get("required") or []
    if not subject_taken:  # give the item to the first required string parameter left
        spare = next(
            (p for p, s in properties if p in required and p not in arguments and _role(p, s)
             in (None, "subject")),
            None,
        )  # fmt: skip
        if spare is None:
            return None
        arguments[spare] = item.full
    schemas = dict(properties)
    for param in required:
        if param in arguments:
            continue
        schema = schemas.get(param, {})
        for key in ("default", "enum", "examples"):
            if key in schema and (key == "default" or schema[key]):
                value = schema[key]
                arguments[param] = (
                    value[0] if key != "default" and isinstance(value, list) else (value)
                )
                break
        else:
            return None
    return arguments


def _parts(item: Item) -> dict[str, list[str]]:
    """Each part of ``item`` in the spellings an ``enum`` may list it: a state by name or code."""
    region = [item.region, _STATES.get(item.region.lower(), item.region)] if item.region else []
    return {"name": [item.name], "region": region, "country": [item.country or ""]}


def _listed(values: Sequence[Any], spellings: Sequence[str]) -> Any:
    """The value in ``values`` that is one of ``spellings`` (case aside), or None."""
    wanted = {s.lower() for s in spellings if s}
    return next((v for v in values if isinstance(v, str) and v.lower() in wanted), None)


def _part_listed(values: Sequence[Any], items: Sequence[Item]) -> str | None:
    """Which part of the listed items an ``enum`` lists (``city: ["Dallas", ...]`` lists their
    names), or None when it lists none of them (``unit: ["celsius", "fahrenheit"]``)."""
    for part in ("name", "region", "country"):
        if any(_listed(values, _parts(item)[part]) is not None for item in items):
            return part
    return None


def _mentioned(values: Sequence[Any], text: str) -> Any:
    for value in values:
        if isinstance(value, str) and re.search(
            rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE
        ):
            return value
    return None
