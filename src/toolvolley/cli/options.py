"""The ``toolvolley`` commands' options: those several commands take, defined once, and the
checks the commands run on their values before any work: each raises a ``UserError`` of one
line naming the option as the user typed it (``--latency``, not the ``latency_s`` it becomes
inside)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from .._errors import UserError
from .._optional import require

__all__ = [
    "FirstToken",
    "ModelName",
    "TokenRate",
    "TraceFile",
    "check_at_least",
    "check_extra",
    "check_output",
    "check_port",
    "check_positive",
    "check_seconds",
    "json_flag",
]


def check_positive(flag: str, value: float, what: str = "number") -> None:
    """A finite number above 0 (a rate, a scale)."""
    if not 0 < value < math.inf:  # NaN fails this too
        raise UserError(f"{flag} must be a positive {what}, not {value}.")


def check_seconds(flag: str, value: float, *, at_most: tuple[str, float] | None = None) -> None:
    """A finite number of seconds, 0 included; ``at_most`` names another option it may not pass."""
    if not 0 <= value < math.inf:
        raise UserError(f"{flag} must be a number of seconds >= 0, not {value}.")
    if at_most is not None and value > at_most[1]:
        other, limit = at_most
        raise UserError(f"{flag} must be at most {other} ({limit}), not {value}.")


def check_at_least(flag: str, value: int, least: int = 1) -> None:
    if value < least:
        raise UserError(f"{flag} must be at least {least}, not {value}.")


def check_port(flag: str, value: int) -> None:
    if not 0 <= value <= 65535:
        raise UserError(f"{flag} must be between 0 and 65535, not {value}.")


def check_output(flag: str, path: str | None, suffixes: Sequence[str] = ()) -> None:
    """A file the command will write: ending in one of ``suffixes`` if given (they choose the
    format), in a directory that exists and can be written, and not a directory itself."""
    if path is None:
        return
    target = Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {path}: the file must end in {' or '.join(suffixes)}.")
    directory = target.parent
    if not directory.is_dir():
        raise UserError(f"{flag} {path}: the directory {str(directory)!r} does not exist.")
    if target.is_dir():
        raise UserError(f"{flag} {path}: that is a directory.")
    if not os.access(directory, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UserError(f"{flag} {path}: cannot write there (permission denied).")


def check_extra(what: str, module: str, extra: str) -> None:
    """``module`` imports, or ``what`` (an option, a part of a command) needs
    ``pip install 'toolvolley[extra]'``."""
    try:
        require(module, extra)
    except ImportError:
        raise UserError(
            f"{what} needs the {extra} extra: pip install 'toolvolley[{extra}]'"
        ) from None


# Options more than one command takes, spelled once (their --help text is the same everywhere).
ModelName = Annotated[str | None, typer.Option(help="The model name.")]
TokenRate = Annotated[float, typer.Option(help="Offline model: tokens a second.")]
FirstToken = Annotated[float, typer.Option(help="Offline model: seconds to first token.")]
TraceFile = Annotated[
    str | None,
    typer.Option(help="Also write a Chrome trace (chrome://tracing, Perfetto) to this .json."),
]


def json_flag(what: str) -> Any:
    """``--json``: print ``what`` (the report, the summary) as JSON instead of text."""
    return typer.Option("--json", help=f"Print the {what} as JSON.")
