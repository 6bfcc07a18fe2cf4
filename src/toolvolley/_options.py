"""The rules every option of toolvolley is checked by, wherever it is given (a tool, an executor,
a runner): one wording, and ``True`` is never taken for ``1``; and :data:`UNSET`, the default
of an option whose ``None`` means something (e.g. "no limit")."""

from __future__ import annotations

import enum
import math
from typing import Final, Literal

from ._errors import UserError

__all__ = ["UNSET", "Unset", "check_count", "check_flag", "check_seconds"]


class _Unset(enum.Enum):
    """The type of :data:`UNSET` (an enum of one, so type checkers narrow ``x is UNSET``)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""An option that was not given (``None`` may be a value the caller chose)."""

Unset = Literal[_Unset.UNSET]


def check_seconds(label: str, value: object) -> None:
    """``value`` is ``None`` or a positive, finite number of seconds."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < math.inf  # NaN fails this too
    ):
        raise UserError(f"{label} must be a positive number of seconds or None, not {value!r}.")


def check_count(label: str, value: object) -> None:
    """``value`` is ``None`` or an integer of at least 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{label} must be an integer >= 1 or None, not {value!r}.")


def check_scheduling(mode: object, side_effects: object) -> None:
    """A ``mode`` and a ``side_effects`` policy, as the Executor and every adapter take them."""
    if mode not in ("parallel", "serial"):
        raise UserError(f"mode must be 'parallel' or 'serial', not {mode!r}.")
    if side_effects not in ("declared", "strict"):
        raise UserError(f"side_effects must be 'declared' or 'strict', not {side_effects!r}.")


def check_flag(label: str, value: object) -> None:
    """``value`` is ``True`` or ``False`` (not a truthy stand-in)."""
    if not isinstance(value, bool):
        raise UserError(f"{label} must be True or False, not {value!r}.")
