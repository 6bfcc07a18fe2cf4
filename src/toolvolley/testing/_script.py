"""Scripted turns: the offline model replays given answers instead of planning them.

A script is a list of turns, one per request, in order. Each turn is a mapping with any of:

* ``"text"``: the assistant's text;
* ``"tool_calls"``: a list of ``{"name": ..., "arguments": {...}}``, all in the one response;
  ``"caller": "code"`` in a call makes it a programmatic call (made by code the model wrote:
  a ``server_tool_use`` and its container on Anthropic, a ``program`` item on Responses);
* ``"error"``: ``{"status": 500, "message": "..."}``, sent as the provider's own error instead;
* ``"cut_after"``: stream only this many events (or, unstreamed, nothing) and then drop the
  connection, as a broken stream does.

::

    model = OfflineModel(script=[
        {"tool_calls": [{"name": "f", "arguments": {"x": 1}}, {"name": "g"}]},
        {"text": "Done."},
    ])

A request after the last turn gets a 500 that says the script ran out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UserError
from ._planner import PlannedCall, Reply
from ._wire import Kind, wire_error

__all__ = ["Script", "ScriptedTurn"]


@dataclass(frozen=True)
class ScriptedTurn:
    reply: Reply
    error: tuple[int, str] | None = None
    cut_after: int | None = None


class Script:
    """Turns to replay, one per request: from a list of mappings or a JSON file holding one."""

    def __init__(self, turns: Sequence[Any] | str | os.PathLike[str]) -> None:
        if isinstance(turns, (str, os.PathLike)):
            path = Path(turns)
            try:
                turns = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UserError(f"Cannot read the script {str(path)!r}: {exc}") from exc
        if not isinstance(turns, Sequence) or isinstance(turns, (str, bytes)):
            raise UserError("A script is a list of turns.")
        self.turns = [_turn(i, t) for i, t in enumerate(turns)]
        self.position = 0

    def __repr__(self) -> str:
        return f"Script({len(self.turns)} turns, {self.position} played)"

    def next_turn(self, kind: Kind) -> ScriptedTurn:
        """The next turn; its error, if it has one, is raised as the provider's own error."""
        if self.position >= len(self.turns):
            raise wire_error(
                kind, 500, f"The script has no turn {self.position + 1}: it has {len(self.turns)}."
            )
        turn = self.turns[self.position]
        self.position += 1
        if turn.error is not None:
            raise wire_error(kind, *turn.error)
        return turn


def _turn(index: int, raw: Any) -> ScriptedTurn:
    where = f"Script turn {index + 1}"
    if not isinstance(raw, Mapping):
        raise UserError(f"{where} must be a mapping, not {type(raw).__name__}.")
    unknown = set(raw) - {"text", "tool_calls", "error", "cut_after"}
    if unknown:
        raise UserError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
    text = raw.get("text", "")
    if not isinstance(text, str):
        raise UserError(f"{where}: text must be a string.")
    calls: list[PlannedCall] = []
    for call in raw.get("tool_calls") or []:
        if not (
            isinstance(call, Mapping)
            and isinstance(call.get("name"), str)
            and isinstance(call.get("arguments", {}), Mapping)
        ):
            raise UserError(f"{where}: each tool call needs a name and an arguments mapping.")
        if call.get("caller", "direct") not in ("direct", "code"):
            raise UserError(f'{where}: a tool call\'s caller is "direct" or "code".')
        by_code = call.get("caller") == "code"
        calls.append(PlannedCall(call["name"], dict(call.get("arguments", {})), by_code))
    error = raw.get("error")
    if error is not None and not (
        isinstance(error, Mapping)
        and isinstance(error.get("status"), int)
        and 400 <= error["status"] <= 599
        and isinstance(error.get("message", ""), str)
    ):
        raise UserError(f"{where}: error needs a status from 400 to 599 and a message.")
    cut = raw.get("cut_after")
    if cut is not None and not (isinstance(cut, int) and cut >= 0):
        raise UserError(f"{where}: cut_after must be a number of events >= 0.")
    if not (text or calls or error):
        raise UserError(f"{where} needs text, tool_calls or an error.")
    return ScriptedTurn(
        reply=Reply(text=text, calls=calls),
        error=(error["status"], error.get("message", "scripted error")) if error else None,
        cut_after=cut,
    )
