"""CPU-bound sync tools in worker processes: :class:`ProcessRunner`.

Calls go to a pool of worker processes, one pool per event loop with at most one busy worker
per CPU (as anyio's ``to_process``, whose pool this replaces: it leaves a worker running, and
on trio its ``Popen`` to the garbage collector, when the caller is cancelled while that worker
starts). Here a worker is killed and reaped whenever an exchange with it does not finish: a
timeout or a cancelled batch at any point, its start included, so CPU-bound work that timed out
really stops and nothing is left behind. A worker that answered with ``SystemExit`` or
``KeyboardInterrupt`` is retired too. Idle workers are reaped when their event loop ends, and
one idle for five minutes when a worker is next needed. A worker's process group (the worker
and what its tool started) dies with the program, even a SIGKILLed one
(:mod:`toolvolley.runners._guard`); on Linux the worker also dies with its parent.

The worker checks the call's deadline before it starts the body (``_clock.now()`` is one
clock for every process of the machine), so a call that waited for a free worker past its
deadline never starts; a generator result is consumed in the worker, since only its values can
cross back. The pool is POSIX: process groups, and pipes awaited with
``anyio.wait_readable``/``wait_writable``. On Windows calls go to anyio's ``to_process``, as
before this pool (its start-up leak included).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import anyio
import anyio.to_process

from ..._clock import now
from ..._errors import UserError, WorkerLost
from .._base import START_MARGIN, CallContext, Runner, ToolSpec, consume
from ._frames import frame
from ._pool import pool

__all__ = ["ProcessRunner", "call_by_reference"]

OWN_POOL = sys.platform != "win32"  # else anyio's to_process (a test flips it)


class _TooLate(Exception):
    """The call's deadline passed while it waited for a worker process; it did not start."""


class ProcessRunner(Runner):
    """Runs module-level sync functions in worker processes."""

    name = "process"

    @classmethod
    def check_named(cls, tool: ToolSpec) -> None:
        if tool.is_async:
            raise UserError(
                f"Tool {tool.name!r} is async; run_in='process' is for CPU-bound sync functions."
            )
        if "<" in getattr(tool.func, "__qualname__", "<"):
            raise UserError(
                f"Tool {tool.name!r}: run_in='process' needs a function defined at module level, "
                "so that the worker process can import it by name."
            )
        # __main__ only for a tool defined there; absent while some workers load a script
        main = sys.modules.get("__main__") if tool.func.__module__ == "__main__" else None
        if main is not None and not (
            getattr(main, "__file__", None)
            or getattr(getattr(main, "__spec__", None), "name", None)
        ):
            raise UserError(
                f"Tool {tool.name!r}: run_in='process' needs the tool in a file the worker process "
                "can load; `python -c`, a REPL or a notebook has none. Put it in a module."
            )

    async def run(self, call: CallContext) -> Any:
        func = call.tool.func
        args = (func.__module__, func.__qualname__, dict(call.arguments), call.deadline)
        try:
            if not OWN_POOL:
                return await anyio.to_process.run_sync(call_by_reference, *args, cancellable=True)
            return await pool().call(_request(args))
        except _TooLate:
            await anyio.sleep_forever()  # the call's own timer ends it, as a timeout
        except anyio.BrokenWorkerProcess as exc:  # anyio's pool lost its worker
            raise WorkerLost(str(exc)) from exc


def _request(args: tuple[Any, ...]) -> bytes:
    """The frame of one call, made before a worker is taken: a healthy worker is not lost to
    arguments that cannot be pickled."""
    try:
        return frame((list(sys.path), call_by_reference, args))
    except Exception as exc:
        raise TypeError(f"The arguments cannot be sent to the worker process: {exc}") from exc


def call_by_reference(
    module: str, qualname: str, kwargs: dict[str, Any], deadline: float = float("inf")
) -> Any:
    """Import ``module``, find ``qualname`` and call it: the worker-process side of a call.

    ``@tool`` replaces a module's function with a ``Tool``, so the function itself cannot be
    pickled by name; the tool is looked up instead and its function called.
    """
    if now() >= deadline - START_MARGIN:
        raise _TooLate
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    func = getattr(target, "func", target)
    if now() >= deadline - START_MARGIN:  # the import itself may have been slow
        raise _TooLate
    return consume(func(**kwargs))
