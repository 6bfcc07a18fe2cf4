"""MCP tool annotations as toolvolley's side-effect flags."""

from __future__ import annotations

from typing import TypedDict

import mcp_types

__all__ = ["NO_SIDE_EFFECTS", "SideEffects", "may_resend", "side_effects"]


class SideEffects(TypedDict):
    read_only: bool
    destructive: bool
    idempotent: bool


NO_SIDE_EFFECTS = SideEffects(read_only=False, destructive=False, idempotent=False)


def side_effects(annotations: mcp_types.ToolAnnotations | None) -> SideEffects:
    """The flags for a tool's annotations, with MCP's defaults for hints left out.

    A tool without annotations claims nothing, so it gets none of the flags. With annotations,
    an absent hint takes the spec's default: ``readOnlyHint`` false, then ``destructiveHint``
    true and ``idempotentHint`` false (both meaningful only for a tool that is not read-only).
    """
    if annotations is None:
        return NO_SIDE_EFFECTS.copy()
    if annotations.read_only_hint:
        return SideEffects(read_only=True, destructive=False, idempotent=False)
    return SideEffects(
        read_only=False,
        destructive=annotations.destructive_hint is not False,
        idempotent=annotations.idempotent_hint is True,
    )


def may_resend(annotations: mcp_types.ToolAnnotations | None) -> bool:
    """Whether a call lost with its connection may be sent again on a new one: only when the
    server said so (``readOnlyHint`` or ``idempotentHint``)."""
    return annotations is not None and bool(
        annotations.read_only_hint or annotations.idempotent_hint
    )
