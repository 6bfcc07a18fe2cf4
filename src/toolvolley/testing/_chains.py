"""Dependent calls: "the weather in the capitals of France, Japan and Peru".

Still a planner, not a language model. A request reads as a chain when it asks for one tool's
subject ("weather") in "the <noun>s of <list>" and another tool is named after the noun
(``get_capital``): each listed item first goes to that tool (``get_capital(country="France")``),
and each answer then goes to the subject parameter of the tool the text is about
(``get_weather(city=...)``).

How the second step is written depends on what the request allows:

* **Flat** (no references): the look-ups in one response; once their results are in, the
  dependent calls with the values read from them (the result's field named after the noun,
  ``"capital"``, or the whole result when it is plain text); then the answer. Three model turns.
* **Planned**: when the system prompt carries :func:`toolvolley.references_prompt`'s text (what a
  real model would be told) and parallel calls are on, every call in one response, each
  dependent call referring to its look-up by position: ``"$1.capital"`` when the look-up tool's
  description names a ``"capital"`` field, ``"$1"`` otherwise. Then the answer. Two model turns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._freetext import _GENERIC, _STOP, _properties, _role, _words

__all__ = ["Chain", "find_chain", "value_from"]

_OF = re.compile(r"\bthe\s+([a-z]+)\s+of\s+(?=[\"'A-Z0-9])")


@dataclass(frozen=True)
class Chain:
    source: str  # the look-up tool, e.g. get_capital
    source_param: str  # country
    items: tuple[str, ...]  # France, Japan, Peru
    field: str  # capital: what the look-up gives
    target: str  # the tool the text is about, e.g. get_weather
    target_param: str  # city
    by_field: bool  # refer to "$n.capital" (the look-up's description names it), else "$n"

    def reference(self, position: int) -> str:
        """The reference to the look-up at 1-based ``position`` in the same response."""
        return f"${position}.{self.field}" if self.by_field else f"${position}"


def find_chain(tools: Sequence[tuple[str, Mapping[str, Any], str]], text: str) -> Chain | None:
    """The chain ``text`` asks for, given (name, parameters, description) of each tool."""
    match = _OF.search(text)
    if match is None:
        return None
    noun = _singular(match.group(1))
    source = next((t for t in tools if noun in {_singular(w) for w in _names(t[0])}), None)
    if source is None:
        return None
    source_param = _only_required_string(source[1])
    items = _listed(text[match.end() :])
    if source_param is None or not items:
        return None
    said = _words(text[: match.start()])
    for name, parameters, _ in tools:
        if name == source[0] or not any(any(s.startswith(w) for s in said) for w in _names(name)):
            continue
        target_param = _only_required_string(parameters)
        if (
            target_param is not None
            and _role(target_param, dict(_properties(parameters))[target_param]) != "enum"
        ):
            by_field = re.search(rf"[\"']{re.escape(noun)}[\"']", source[2]) is not None
            return Chain(source[0], source_param, items, noun, name, target_param, by_field)
    return None


def value_from(content: str, field: str) -> Any:
    """What a look-up's result gives the dependent call: its ``field`` when it is a JSON object
    that has one, the text itself otherwise (None for an object without the field)."""
    try:
        value = json.loads(content)
    except ValueError:
        return content.strip()
    if isinstance(value, dict):
        return value.get(field)
    return value


def _names(tool: str) -> set[str]:
    return _words(tool) - _GENERIC


def _singular(word: str) -> str:
    word = word.lower()
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _only_required_string(parameters: Mapping[str, Any]) -> str | None:
    """The tool's one required parameter, when it is a string (a chain fills nothing else)."""
    required = parameters.get("required") or []
    properties = dict(_properties(parameters))
    if len(required) != 1 or required[0] not in properties:
        return None
    schema = properties[required[0]]
    return required[0] if schema.get("type", "string") == "string" else None


def _listed(segment: str) -> tuple[str, ...]:
    stop = _STOP.search(segment)
    segment = segment[: stop.start()] if stop else segment
    items: list[str] = []
    for part in re.split(r",?\s+(?:and|&)\s+|,", segment):
        part = part.strip().strip("\"'")
        if not part or not (part[0].isupper() or part[0].isdigit()):
            break
        if part not in items:
            items.append(part)
    return tuple(items)
