"""What a submitted call must pass before it may run, and what ``Batch.fail`` accepts.

A call runs only with arguments that pass its tool's schema (or, with references, that name
earlier calls: those are checked once they resolve, see ``_references.py``). A call that does
not pass is not run: it ends at once, with the status and text :func:`rejected` gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from . import _wording as wording
from ._calls import ToolStatus
from ._errors import UserError, describe_exception, type_name
from ._schema import ArgumentsError

if TYPE_CHECKING:
    from ._tools import Tool

__all__ = ["FAILURES", "check_failure", "rejected"]

FAILURES: tuple[ToolStatus, ...] = tuple(s for s in get_args(ToolStatus) if s != "ok")


def rejected(tool: Tool, exc: Exception) -> tuple[ToolStatus, str, BaseException | None]:
    """What checking a call's arguments raised (:meth:`Arguments.validate`,
    :func:`~toolvolley._references.plan_references`), as the call's status, text and error:
    the call is not run. The developer's misuse the check found (a :class:`UserError`) is
    raised again, as it is not the call's."""
    if isinstance(exc, ArgumentsError):
        return "invalid_arguments", exc.message, exc.cause
    if isinstance(exc, UserError):
        raise exc
    # The check's own failure: this call's result, not the batch's.
    return "error", wording.argument_check_failed(tool.name, describe_exception(exc)), exc


def check_failure(status: ToolStatus, message: str) -> None:
    """What :meth:`Batch.fail` is given: a failed status and a text (else :class:`UserError`)."""
    if status == "ok":
        raise UserError("Batch.fail records a failure; its status cannot be 'ok'.")
    if status not in FAILURES:
        allowed = ", ".join(repr(s) for s in FAILURES)
        raise UserError(f"Batch.fail(): status must be one of {allowed}; got {status!r}.")
    if not isinstance(message, str):
        raise UserError(
            f"Batch.fail(): message must be a string (what the model reads), "
            f"not {type_name(message)}."
        )
