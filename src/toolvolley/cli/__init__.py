"""The ``toolvolley`` command's entry point. It imports nothing optional itself, so an install
without the ``cli`` extra gets one line saying what to install instead of a traceback."""

from __future__ import annotations

import sys

__all__ = ["main"]

# What the command line is built with (the cli extra); anything else missing is a real error.
_CLI_EXTRA = frozenset({"typer", "rich", "click"})


def main() -> None:
    try:
        from .app import app
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _CLI_EXTRA:
            raise
        sys.stderr.write(
            "toolvolley: the command line needs the cli extra: pip install 'toolvolley[cli]'\n"
        )
        raise SystemExit(1) from None
    app()
