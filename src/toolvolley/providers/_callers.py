"""Who may call each tool (``allowed_callers``), in a wire format's own words.

A tool states its callers neutrally: ``"direct"`` (the model) and ``"code"`` (code the model
wrote, run by the provider: programmatic tool calling). Each format says what ``"code"`` is
called on its wire; any other name goes out as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._toolbox import Toolbox

__all__ = ["allowed_callers", "wants_code"]


def allowed_callers(toolbox: Toolbox, *, code: str) -> dict[str, list[str]]:
    """Each tool's callers by its wire name, for the tools that state them."""
    return {
        toolbox.wire_name(t.name): [code if c == "code" else c for c in t.allowed_callers]
        for t in toolbox
        if t.allowed_callers is not None
    }


def wants_code(callers: Mapping[str, list[str]], code: str) -> bool:
    """Whether some tool may be called from code (so the request must offer the code tool)."""
    return any(code in names for names in callers.values())
