"""The offline model's "brain": a deterministic planner, not a language model.

For each tool, each string parameter that lists its values (``enum`` or ``examples``) is matched
against the latest user message; every mention becomes one call, in the order mentioned. When the
planned calls have all been answered, it replies with a short text built from the results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Conversation", "PlannedCall", "Reply", "ToolSpec", "plan"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Conversation:
    """What the planner needs from a request, whatever the wire format."""

    tools: Sequence[ToolSpec]
    user_text: str
    calls_made: Sequence[tuple[str, dict[str, Any]]] = ()  # since the latest user message
    results: Sequence[tuple[str, str, bool]] = ()  # (tool name, content, is_error), same span
    parallel: bool = True


@dataclass(frozen=True)
class PlannedCall:
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    calls: list[PlannedCall] = field(default_factory=list)


def plan(conversation: Conversation) -> Reply:
    planned = _planned_calls(conversation.tools, conversation.user_text)
    made = [(name, _canonical(args)) for name, args in conversation.calls_made]
    remaining = [c for c in planned if (c.name, _canonical(c.arguments)) not in made]
    if remaining:
        return Reply(calls=remaining if conversation.parallel else remaining[:1])
    if conversation.results:
        return Reply(text=_summary(conversation.results))
    if conversation.tools:
        names = ", ".join(t.name for t in conversation.tools)
        return Reply(
            text=(
                "I am toolvolley's offline planner, not a language model: I call a tool when your "
                f"message names one of the values its parameters list. Tools available: {names}."
            )
        )
    return Reply(text=f"You said: {conversation.user_text}")


def _planned_calls(tools: Sequence[ToolSpec], text: str) -> list[PlannedCall]:
    mentions: list[tuple[int, int, int, PlannedCall]] = []  # start, end, tool order, call
    for order, spec in enumerate(tools):
        properties: Mapping[str, Any] = spec.parameters.get("properties", {})
        for param, schema in properties.items():
            for value in _listed_strings(schema):
                for match in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE):
                    arguments = _fill_required(spec.parameters, {param: value})
                    if arguments is not None:
                        call = PlannedCall(spec.name, arguments)
                        mentions.append((match.start(), match.end(), order, call))
    # "York" inside a mention of "New York" is not a mention of its own.
    mentions = [
        m
        for m in mentions
        if not any(o[0] <= m[0] and m[1] <= o[1] and o[1] - o[0] > m[1] - m[0] for o in mentions)
    ]
    mentions.sort(key=lambda m: (m[0], m[2]))
    calls: list[PlannedCall] = []
    seen: set[tuple[str, str]] = set()
    for _, _, _, call in mentions:
        key = (call.name, _canonical(call.arguments))
        if key not in seen:
            seen.add(key)
            calls.append(call)
    return calls


def _listed_strings(schema: Any) -> list[str]:
    if not isinstance(schema, Mapping) or schema.get("type") not in ("string", None):
        return []
    values = list(schema.get("enum") or []) + list(schema.get("examples") or [])
    return sorted({v for v in values if isinstance(v, str) and v.strip()})


def _fill_required(
    parameters: Mapping[str, Any], arguments: dict[str, Any]
) -> dict[str, Any] | None:
    """Give every other required parameter a listed or default value, or give up (None)."""
    properties: Mapping[str, Any] = parameters.get("properties", {})
    filled = dict(arguments)
    for name in parameters.get("required", ()):
        if name in filled:
            continue
        schema = properties.get(name, {})
        for key in ("default", "enum", "examples"):
            if key in schema:
                value = schema[key]
                filled[name] = value[0] if key != "default" and isinstance(value, list) else value
                break
        else:
            return None
    return filled


def _summary(results: Sequence[tuple[str, str, bool]]) -> str:
    lines = ["Here is what the tools returned:"]
    for name, content, is_error in results:
        shown = _readable(content)
        shown = shown if len(shown) <= 300 else shown[:297] + "..."
        lines.append(f"- {name}{' failed' if is_error else ''}: {shown}")
    return "\n".join(lines)


def _readable(content: str) -> str:
    """A JSON object as ``key value, ...``; anything else as it is."""
    try:
        value = json.loads(content)
    except ValueError:
        return content
    if not isinstance(value, dict):
        return content
    return ", ".join(f"{k} {v}" for k, v in value.items())


def _canonical(arguments: Mapping[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False)
