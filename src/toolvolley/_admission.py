"""What a submitted call must pass before it may run, and what ``Batch.fail`` accepts.

A call runs only with arguments that pass its tool's schema (or, with references, that name
earlier calls: those are checked once they resolve, see ``_references.py``). A call that does
not pass is not run: it ends at once with a :class:`Rejected` call's status and text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from . import _wording as wording
from ._calls import ToolCall, ToolStatus
from ._errors import UserError, describe_exception, type_name
from ._references import plan_references
from ._schema import ArgumentsError

if TYPE_CHECKING:
    from ._tools import Tool

__all__ = ["FAILURES", "Rejected", "check_failure", "checked_arguments"]

FAILURES: tuple[ToolStatus, ...] = tuple(s for s in get_args(ToolStatus) if s != "ok")


class Rejected(Exception):
    """A call that ends before it runs, with ``status`` and ``message`` (what the model reads)."""

    def __init__(self, status: ToolStatus, message: str, error: BaseException | None) -> None:
        super().__init__(message)
        self.status: ToolStatus = status
        self.message = message
        self.error = error


def checked_arguments(
    tool: Tool, call: ToolCall, index: int, references: bool
) -> tuple[dict[str, Any] | None, tuple[dict[str, Any], tuple[int, ...]] | None]:
    """``call``'s validated arguments, or, when it refers to earlier calls (``references``:
    the executor allows it), None and its plan: the parsed arguments and the indices of the
    calls they name (see :func:`plan_references`). ``index``: the call's place in its batch.

    Raises :class:`Rejected` for arguments that cannot be run, and :class:`UserError` for the
    developer's misuse the check found.
    """
    plan = None
    try:
        if references:
            plan = plan_references(call, index)
        return (tool.arguments.validate(call.arguments) if plan is None else None), plan
    except ArgumentsError as exc:
        raise Rejected("invalid_arguments", exc.message, exc.cause) from None
    except UserError:
        raise
    except Exception as exc:  # the check's own failure: this call's result, not the batch's
        message = wording.argument_check_failed(tool.name, describe_exception(exc))
        raise Rejected("error", message, exc) from None


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
