"""CPU-bound sync tools in worker processes: :class:`ProcessRunner`.

Calls go to anyio's worker process pool. Cancellation (a timeout, a cancelled batch) kills the
worker, so CPU-bound work that timed out really stops. The worker checks the call's deadline
before it starts the body (``time.monotonic()`` is one clock for every process of the machine),
so a call that waited for a free worker past its deadline never starts; a generator result is
consumed in the worker, since only its values can cross back.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from typing import Any

import anyio.to_process

from ._errors import UserError
from ._runners import Runner, ToolSpec, consume
from ._threads import START_MARGIN

__all__ = ["ProcessRunner", "call_by_reference"]


class _TooLate(Exception):
    """The call's deadline passed while it waited for a worker process; it did not start."""


class ProcessRunner(Runner):
    """Runs module-level sync functions in anyio's worker process pool."""

    name = "process"

    def check(self, tool: ToolSpec) -> None:
        if tool.is_async:
            raise UserError(
                f"Tool {tool.name!r} is async; run_in='process' is for CPU-bound sync functions."
            )
        if "<" in getattr(tool.func, "__qualname__", "<"):
            raise UserError(
                f"Tool {tool.name!r}: run_in='process' needs a function defined at module level, "
                "so that the worker process can import it by name."
            )

    async def run(self, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float) -> Any:
        func = tool.func
        try:
            return await anyio.to_process.run_sync(
                call_by_reference,
                func.__module__,
                func.__qualname__,
                dict(kwargs),
                deadline,
                cancellable=True,
            )
        except _TooLate:
            await anyio.sleep_forever()  # the call's own timer ends it, as a timeout


def call_by_reference(
    module: str, qualname: str, kwargs: dict[str, Any], deadline: float = float("inf")
) -> Any:
    """Import ``module``, find ``qualname`` and call it: the worker-process side of a call.

    ``@tool`` replaces a module's function with a ``Tool``, so the function itself cannot be
    pickled by name; the tool is looked up instead and its function called.
    """
    if time.monotonic() >= deadline - START_MARGIN:
        raise _TooLate
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    func = getattr(target, "func", target)
    return consume(func(**kwargs))
