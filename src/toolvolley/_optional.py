"""Optional dependencies: imported when needed, with the install command when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise ImportError naming ``pip install 'toolvolley[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module!r} is needed for this feature; install it with "
            f"pip install 'toolvolley[{extra}]'"
        ) from exc
