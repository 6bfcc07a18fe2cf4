"""What the planner reads from a request beyond the conversation: whether the system prompt
allows references between calls, and each tool's description."""

from __future__ import annotations

import dataclasses
from typing import Any

from .._references import references_prompt
from . import _gemini
from ._planner import Conversation
from ._wire import Kind, text_of

__all__ = ["system_text", "with_hints"]


def with_hints(conversation: Conversation, kind: Kind, request: dict[str, Any]) -> Conversation:
    """``conversation`` with ``references`` set when the system prompt contains the text of
    :func:`toolvolley.references_prompt` (whitespace aside), and the tools' descriptions."""
    allowed = _squeezed(references_prompt()) in _squeezed(system_text(kind, request))
    described = _descriptions(kind, request)
    tools = [
        dataclasses.replace(t, description=described.get(t.name, "")) for t in conversation.tools
    ]
    return dataclasses.replace(conversation, references=allowed, tools=tools)


def system_text(kind: Kind, request: dict[str, Any]) -> str:
    """Every system (and developer) instruction of the request, joined."""
    parts: list[str] = []
    if kind == "chat":
        messages = request.get("messages") or []
        parts = [
            text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
        ]
    elif kind == "responses":
        parts = [str(request.get("instructions") or "")]
        items = request.get("input")
        if isinstance(items, list):
            parts += [
                text_of(i.get("content"))
                for i in items
                if isinstance(i, dict) and i.get("role") in ("system", "developer")
            ]
    elif kind == "gemini":
        parts = [_gemini.system_text(request)]
    else:
        parts = [text_of(request.get("system"))]
    return "\n".join(parts)


def _descriptions(kind: Kind, request: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for tool in request.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        specs = [tool.get("function") if kind == "chat" else tool]
        if kind == "gemini":
            specs = tool.get("functionDeclarations") or tool.get("function_declarations") or []
        for spec in specs:
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                found[spec["name"]] = str(spec.get("description") or "")
    return found


def _squeezed(text: str) -> str:
    return " ".join(text.split())
