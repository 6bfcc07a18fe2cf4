"""The offline model's "brain": a deterministic planner, not a language model.

For each tool, each string parameter that lists its values (``enum`` or ``examples``) is matched
against the latest user message; every mention becomes one call, in the order mentioned, unless
reading the text as a list (:mod:`._freetext`) makes calls that use every value mentioned. When the
planned calls have all been answered, it replies with a short text built from the results.
A request for something about "the capitals of France, Japan and Peru" with a tool named after
the noun plans dependent calls, flat or with references (see :mod:`._chains`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._model import NOT_RUN_SERIAL
from ._chains import Chain, find_chain, value_from
from ._freetext import Item, fill_for_item, plan_from_text

__all__ = ["Conversation", "PlannedCall", "Reply", "ToolSpec", "plan"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    parameters: Mapping[str, Any]
    description: str = ""
    code_only: bool = False  # its allowed_callers leave the model out: code calls it


@dataclass(frozen=True)
class Conversation:
    """What the planner needs from a request, whatever the wire format."""

    tools: Sequence[ToolSpec]
    user_text: str
    calls_made: Sequence[tuple[str, dict[str, Any]]] = ()  # since the latest user message
    results: Sequence[tuple[str, str, bool]] = ()  # (tool name, content, is_error), same span
    parallel: bool = True
    tool_choice: str = "auto"  # "none", "auto" or "required"
    forced_tool: str | None = None  # a tool the request names in tool_choice
    references: bool = False  # the system prompt allows "$1" references between calls


def declined(result: tuple[str, str, bool]) -> bool:
    """Whether a result is the client's answer to a call it did not run (toolvolley's serial
    mode runs only a response's first call): the call counts as not made, and is made again."""
    return result[2] and result[1] == NOT_RUN_SERIAL


@dataclass(frozen=True)
class PlannedCall:
    name: str
    arguments: dict[str, Any]
    by_code: bool = False  # made by the code the model wrote (programmatic tool calling)

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    calls: list[PlannedCall] = field(default_factory=list)


def plan(conversation: Conversation) -> Reply:
    tools = list(conversation.tools)
    if conversation.tool_choice == "none":
        tools = []
    elif conversation.forced_tool is not None:
        tools = [t for t in tools if t.name == conversation.forced_tool]
    chain = find_chain(
        [(t.name, t.parameters, t.description) for t in tools], conversation.user_text
    )
    if chain is not None:
        chained = _chained(chain, tools, conversation)
        if chained is not None:
            return chained
    planned = _best_plan(tools, conversation.user_text)
    remaining = _unanswered(planned, conversation.calls_made)
    if remaining:
        return Reply(calls=remaining if conversation.parallel else remaining[:1])
    if conversation.results:
        return Reply(text=_summary(conversation.results))
    if conversation.tool_choice == "required" and tools:
        forced = _forced_call(tools[0], conversation.user_text)
        if forced is not None:
            return Reply(calls=[forced])
    if conversation.tools:
        names = ", ".join(t.name for t in conversation.tools)
        return Reply(
            text=(
                "I am toolvolley's offline planner, not a language model: I call a tool when your "
                "message names one of the values its parameters list, or lists places or things "
                f'its parameters take ("in Seoul, Tokyo and Paris"). Tools available: {names}.'
            )
        )
    return Reply(text=f"You said: {conversation.user_text}")


def _chained(chain: Chain, tools: Sequence[ToolSpec], conversation: Conversation) -> Reply | None:
    """The next step of a chain: the look-ups, then the dependent calls (in the same response
    with references when allowed), then the answer from the results."""
    specs = {t.name: t for t in tools}
    lookups = [
        PlannedCall(chain.source, arguments)
        for item in chain.items
        if (arguments := _fill_required(specs[chain.source].parameters, {chain.source_param: item}))
    ]
    made = conversation.calls_made
    if conversation.references and conversation.parallel and not made:
        referring = [
            _dependent(chain, specs, chain.reference(position))
            for position in range(1, len(lookups) + 1)
        ]
        return Reply(calls=lookups + [d for d in referring if d is not None])
    remaining = _unanswered(lookups, made)
    if remaining:
        return Reply(calls=remaining if conversation.parallel else remaining[:1])
    dependents: list[PlannedCall] = []
    for value in _looked_up(chain, conversation):
        call = _dependent(chain, specs, value)
        if call is not None and call not in dependents:
            dependents.append(call)
    remaining = _unanswered(dependents, made)
    if remaining:
        return Reply(calls=remaining if conversation.parallel else remaining[:1])
    return Reply(text=_summary(conversation.results)) if conversation.results else None


def _dependent(chain: Chain, specs: Mapping[str, ToolSpec], value: Any) -> PlannedCall | None:
    arguments = _fill_required(specs[chain.target].parameters, {chain.target_param: value})
    return PlannedCall(chain.target, arguments) if arguments is not None else None


def _looked_up(chain: Chain, conversation: Conversation) -> list[Any]:
    """The values the look-ups returned, in the order of their results (failed ones left out).
    A value counts only as one short line of text: Chat Completions has no error flag, and an
    error's message is no capital."""
    values = []
    for name, content, is_error in conversation.results:
        value = None if is_error or name != chain.source else value_from(content, chain.field)
        if isinstance(value, str) and value and _short_line(value):
            values.append(value)
    return values


def _short_line(text: str) -> bool:
    return len(text) <= 80 and "\n" not in text


def _best_plan(tools: Sequence[ToolSpec], text: str) -> list[PlannedCall]:
    """The plan from listed values, unless reading the text as a list finds more calls, or
    calls that use every listed value the text mentions: "Dallas, Texas and Orlando, Florida in
    Fahrenheit" is two calls with city, state and unit, not one call per value named."""
    mentions = _mentions(tools, text)
    listed = _planned_calls(mentions)
    free = [
        PlannedCall(name, arguments)
        for name, arguments in plan_from_text([(t.name, t.parameters) for t in tools], text)
    ]
    covered = bool(free) and all(
        any(c.name == m.call.name and c.arguments.get(m.param) == m.value for c in free)
        for m in mentions
    )
    return free if covered or len(free) > len(listed) else listed


def _unanswered(
    planned: Sequence[PlannedCall], made: Sequence[tuple[str, dict[str, Any]]]
) -> list[PlannedCall]:
    """The planned calls not made yet. A call the transcript made with other arguments (another
    model wrote it, or the arguments were edited) counts for the next planned call of that tool."""
    remaining = list(planned)
    others: list[str] = []
    for name, arguments in made:
        key = (name, _canonical(arguments))
        match = next((c for c in remaining if (c.name, _canonical(c.arguments)) == key), None)
        if match is not None:
            remaining.remove(match)
        else:
            others.append(name)
    for name in others:
        match = next((c for c in remaining if c.name == name), None)
        if match is not None:
            remaining.remove(match)
    return remaining


def _forced_call(tool: ToolSpec, text: str) -> PlannedCall | None:
    """One call to ``tool`` when the request insists on a call and the text gives none."""
    arguments = _fill_required(tool.parameters, {})
    if arguments is None:
        arguments = fill_for_item(tool.parameters, Item(text.strip(" ?.!"), None, None), text)
    return PlannedCall(tool.name, arguments) if arguments is not None else None


@dataclass(frozen=True)
class _Mention:
    """A value a parameter lists, named in the text, and the call it makes."""

    start: int
    end: int
    order: int  # the tool's place in the request
    param: str
    value: str
    call: PlannedCall


def _mentions(tools: Sequence[ToolSpec], text: str) -> list[_Mention]:
    mentions: list[_Mention] = []
    for order, spec in enumerate(tools):
        properties: Mapping[str, Any] = spec.parameters.get("properties", {})
        for param, schema in properties.items():
            for value in _listed_strings(schema):
                for match in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE):
                    arguments = _fill_required(spec.parameters, {param: value})
                    if arguments is not None:
                        call = PlannedCall(spec.name, arguments)
                        mentions.append(
                            _Mention(match.start(), match.end(), order, param, value, call)
                        )
    # "York" inside a mention of "New York" is not a mention of its own.
    mentions = [
        m
        for m in mentions
        if not any(
            o.start <= m.start and m.end <= o.end and o.end - o.start > m.end - m.start
            for o in mentions
        )
    ]
    mentions.sort(key=lambda m: (m.start, m.order))
    return mentions


def _planned_calls(mentions: Sequence[_Mention]) -> list[PlannedCall]:
    calls: list[PlannedCall] = []
    seen: set[tuple[str, str]] = set()
    for mention in mentions:
        key = (mention.call.name, _canonical(mention.call.arguments))
        if key not in seen:
            seen.add(key)
            calls.append(mention.call)
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
        schema = properties.get(name)
        for key in ("default", "enum", "examples"):
            if isinstance(schema, Mapping) and key in schema and (key == "default" or schema[key]):
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
