"""Where tools' bodies run: the :class:`Runner` interface and the built-in runners.

* :mod:`._base`: :class:`Runner`, :class:`CallContext` (one call, as a runner gets it),
  :class:`LoopRunner` (async tools, on the event loop).
* :mod:`._registry`: the built-in names (``"loop"``, ``"thread"``, ``"process"``, ``"ray"``)
  and the executor's table of runners by name, each made on first use.
* :mod:`.threads`: :class:`ThreadRunner`, sync tools in worker threads.
* :mod:`.processes`: :class:`ProcessRunner`, CPU-bound sync tools in worker processes.
* :mod:`.ray`: :class:`RayRunner` and :class:`RayActorRunner` (also :mod:`toolvolley.ray`).
* :mod:`.policies`: :class:`PolicyRunner`, retries and hedges around any runner.

Importing this package loads none of the runners' modules: ``ThreadRunner``, ``ProcessRunner``
and ``PolicyRunner`` load on first use. A worker that dies before it answers is
:class:`WorkerLost`, whatever the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._errors import WorkerLost
from ._base import CallContext, LoopRunner, Runner, ToolSpec, consume

if TYPE_CHECKING:
    from .policies import PolicyRunner
    from .processes import ProcessRunner
    from .threads import ThreadRunner

__all__ = [
    "CallContext",
    "LoopRunner",
    "PolicyRunner",
    "ProcessRunner",
    "Runner",
    "ThreadRunner",
    "ToolSpec",
    "WorkerLost",
    "consume",
]

_LAZY = {"PolicyRunner": ".policies", "ProcessRunner": ".processes", "ThreadRunner": ".threads"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted({*__all__, *(name for name in globals() if name.startswith("_"))})
