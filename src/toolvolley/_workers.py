"""Running sync tools off the event loop: worker threads, or worker processes for CPU-bound work.

A thread cannot be killed. When a call times out or is cancelled while its thread runs, the thread
is abandoned: the batch moves on and :class:`AbandonedThreads` counts it until it returns. A call
cancelled before its thread began never runs at all.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_process
import anyio.to_thread

__all__ = ["AbandonedThreads", "call_by_reference", "run_in_process", "run_in_thread"]


class AbandonedThreads:
    """A thread-safe count of worker threads still running calls that were given up on."""

    __slots__ = ("_count", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


class _Job:
    __slots__ = ("abandoned", "cancelled", "done", "started")

    def __init__(self) -> None:
        self.started = self.done = self.cancelled = self.abandoned = False


class _NeverStarted(Exception):
    pass


async def run_in_thread(
    func: Callable[..., Any],
    kwargs: Mapping[str, Any],
    *,
    limiter: anyio.CapacityLimiter,
    abandoned: AbandonedThreads,
) -> Any:
    """Run ``func(**kwargs)`` in a worker thread; cancellation abandons the thread at once."""
    job = _Job()
    lock = abandoned._lock

    def work() -> Any:
        with lock:
            if job.cancelled:
                raise _NeverStarted
            job.started = True
        try:
            return func(**kwargs)
        finally:
            with lock:
                job.done = True
                if job.abandoned:
                    abandoned._count -= 1

    try:
        result = await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=limiter)
    except BaseException:
        with lock:
            job.cancelled = True
            if job.started and not job.done:
                job.abandoned = True
                abandoned._count += 1
        raise
    if inspect.isawaitable(result):  # a sync handler that hands back a coroutine
        return await result
    return result


async def run_in_process(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """Run a module-level ``func(**kwargs)`` in anyio's worker process pool.

    Cancellation kills the worker process, so a CPU-bound call that times out really stops.
    """
    module, qualname = func.__module__, func.__qualname__
    return await anyio.to_process.run_sync(
        call_by_reference, module, qualname, dict(kwargs), cancellable=True
    )


def call_by_reference(module: str, qualname: str, kwargs: dict[str, Any]) -> Any:
    """Import ``module``, find ``qualname`` and call it: the worker-process side of a call.

    ``@tool`` replaces a module's function with a ``Tool``, so the function itself cannot be
    pickled by name; the tool is looked up instead and its function called.
    """
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    func = getattr(target, "func", target)
    return func(**kwargs)
