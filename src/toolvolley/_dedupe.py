"""Identical calls in one batch, run once: ``Executor(dedupe=True)``.

Two calls are identical when they name the same tool with the same arguments (compared as
parsed JSON, so key order and spacing do not matter). For a tool marked ``idempotent`` the
later ones wait for the first and each gets its own copy of its result, with its own call id.
A timeout is the first call's: a call sharing it says so ("Same call as c0 ...; its result:").

What may have changed state in between ends the sharing: a ``sequential`` or ``destructive``
tool's call, or, in ``serial`` mode (where calls run in order), any call to a tool that is not
``read_only``. An identical call after one of those runs again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._calls import ToolCall
    from ._tools import Tool

__all__ = ["dedupe_key", "ends_sharing"]


def dedupe_key(tool: Tool, call: ToolCall) -> tuple[str, str] | None:
    """What identical calls of ``tool`` share, or None when ``call`` is not to be shared."""
    if not tool.idempotent:
        return None
    raw = call.arguments
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return tool.name, json.dumps(parsed, sort_keys=True, default=repr)
    except ValueError:
        return None  # not JSON: validation will say so, call by call


def ends_sharing(tool: Tool, ordered: bool) -> bool:
    """Whether a call to ``tool`` may change what identical calls before it saw. ``ordered``:
    every call that is not read-only runs after the calls before it (serial mode, or
    ``side_effects="strict"``)."""
    return tool.sequential or tool.destructive or (ordered and not tool.read_only)
