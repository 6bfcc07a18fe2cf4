"""A :class:`Toolbox` holds the tools of a conversation and speaks their names on the wire."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._errors import UserError, type_name
from ._tools import Tool, ToolList

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Toolbox", "assign_wire_names"]

_WIRE_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


class Toolbox:
    """An immutable set of tools with unique names; the simplest
    :class:`~toolvolley.ToolSource` (``async with`` does nothing, ``list_tools()`` gives them).

    Providers accept tool names matching ``^[a-zA-Z0-9_-]{1,64}$`` only. A name such as
    ``spotify.play`` is sent as ``spotify_play``; should that clash with another tool's name, both
    changed names get a short hash suffix. Calls that come back under a wire name find their tool
    through :meth:`get`::

        box = Toolbox([get_weather, get_time])
        box.openai_chat_tools()     # [{"type": "function", "function": {...}}, ...]
    """

    __slots__ = ("_by_name", "_by_wire", "_tools", "_wire", "_withheld")

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        given: object = tools  # what a caller may pass, whatever the annotation says
        if isinstance(given, Tool):
            raise UserError(f"Tools come as a list of tools; got one Tool: pass [{given.name}].")
        if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise UserError(f"Tools come as a list of tools; got {type_name(given)}.")
        withheld = tools.withheld if isinstance(tools, ToolList) else {}
        self._tools: tuple[Tool, ...] = tuple(tools)
        for item in self._tools:
            if not isinstance(item, Tool):
                raise UserError(
                    f"Toolbox holds Tool objects; got {type(item).__name__}. "
                    "Decorate functions with @tool or use Tool.from_schema()."
                )
        counts = Counter(t.name for t in self._tools)
        duplicated = sorted(name for name, n in counts.items() if n > 1)
        if duplicated:
            raise UserError(f"Two tools share the name(s) {', '.join(map(repr, duplicated))}.")
        self._by_name = {t.name: t for t in self._tools}
        self._wire = assign_wire_names([t.name for t in self._tools])
        self._by_wire = {self._wire[t.name]: t for t in self._tools}
        self._withheld = {n: why for n, why in withheld.items() if n not in self._by_name}

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name or name in self._by_wire

    def __repr__(self) -> str:
        return f"Toolbox([{', '.join(t.name for t in self._tools)}])"

    @property
    def names(self) -> tuple[str, ...]:
        """The tools' own names, in the order given."""
        return tuple(t.name for t in self._tools)

    @property
    def wire_names(self) -> tuple[str, ...]:
        """The names providers see, in the order given."""
        return tuple(self._wire[t.name] for t in self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name`` on the wire or in Python, or ``None``."""
        return self._by_wire.get(name) or self._by_name.get(name)

    def wire_name(self, name: str) -> str:
        """The name sent to providers for the tool called ``name``."""
        try:
            return self._wire[name]
        except KeyError:
            raise UserError(f"No tool named {name!r} in {self!r}.") from None

    @property
    def withheld(self) -> dict[str, str]:
        """Tools their source left out (a :class:`~toolvolley.ToolList`'s), by name: why."""
        return dict(self._withheld)

    def with_tools(self, *tools: Tool) -> Toolbox:
        """A new toolbox with ``tools`` added."""
        return Toolbox(ToolList((*self._tools, *tools), self._withheld))

    # --- a tool source (see _sources.py): nothing to open, the same tools every time ---------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def list_tools(self) -> ToolList:
        """These tools (a :class:`~toolvolley.ToolSource` lists them at each turn)."""
        return ToolList(self._tools, self._withheld)

    # --- definitions in each wire format: each provider module renders its own ------------

    def openai_chat_tools(self) -> list[dict[str, Any]]:
        """Definitions for OpenAI Chat Completions (and OpenAI-compatible servers)."""
        from .providers import OpenAIChat

        return OpenAIChat.tool_definitions(self)

    def openai_responses_tools(self) -> list[dict[str, Any]]:
        """Definitions for the OpenAI Responses API (flat, with ``strict`` stated explicitly)."""
        from .providers import OpenAIResponses

        return OpenAIResponses.tool_definitions(self)

    def anthropic_tools(self) -> list[dict[str, Any]]:
        """Definitions for the Anthropic Messages API."""
        from .providers import AnthropicMessages

        return AnthropicMessages.tool_definitions(self)


def assign_wire_names(names: Sequence[str]) -> dict[str, str]:
    """Map each name to a provider-safe one, unique across ``names`` by construction and the same
    whatever order the names come in.

    Valid names are kept. Others have unsafe characters replaced by ``_``; when that result is
    longer than 64 characters, or equals any tool's own name or another name's changed one, it
    ends with 8 hex digits of a SHA-256 of the name instead. Should that too be taken (names can
    be chosen to collide: ``a.b``, ``a:b`` and ``a_b_2e7336dc``), the hash is taken again with a
    counter until the result is free.
    """
    taken = set(names)  # a wire name is its own tool's name or no tool's name at all
    changed = sorted(n for n in taken if not _WIRE_NAME.match(n))
    safe = {n: _UNSAFE.sub("_", n) for n in changed}
    clashes = Counter(safe.values())
    result = {n: n for n in names if n not in safe}
    hashed: list[str] = []
    for name in changed:
        candidate = safe[name]
        if len(candidate) > 64 or candidate in taken or clashes[candidate] > 1:
            hashed.append(name)
        else:
            result[name] = candidate
            taken.add(candidate)
    for name in hashed:  # sorted, so which name gets a counter does not depend on the order
        attempt = 0
        while True:
            salt = name if attempt == 0 else f"{name}\x00{attempt}"
            digest = hashlib.sha256(salt.encode()).hexdigest()[:8]
            candidate = f"{safe[name][:55]}_{digest}"
            if candidate not in taken:
                break
            attempt += 1
        result[name] = candidate
        taken.add(candidate)
    return result
