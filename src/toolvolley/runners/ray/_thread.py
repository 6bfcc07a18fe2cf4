"""The one thread that imports Ray and connects to it (``ray.init``), off the event loop.

``import ray`` takes about a second, and ``ray.init`` seconds more when it starts a local Ray:
on the event loop they stalled every other call of the program, their timeouts included. They
run instead in one daemon thread per process, started on first use, that never ends: Ray starts
the processes of a local instance with ``PR_SET_PDEATHSIG`` (Linux), which the kernel fires
when the *thread* that forked them ends, so a passing thread (anyio's idle workers end after
10 s) took the raylet and GCS down with it, and left Ray's dashboard and runtime-env agents
running as orphans. A daemon thread is still there when Ray's own ``atexit`` shutdown stops
that instance in order. Jobs run one at a time, so concurrent first calls connect once.

Called from the main thread, ``ray.init`` itself makes SIGTERM raise ``SystemExit`` (so that
its shutdown runs); from another thread it cannot, and says so. The main thread that hands it
a job does it instead, unless the program has a SIGTERM handler of its own: killed by the
signal outright, the program would skip Ray's shutdown (then only the process guard stops what
is left, on Linux: :mod:`toolvolley.runners._guard`).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from ... import _compat
from .._waiters import waiter_for

__all__ = ["in_ray_thread", "in_ray_thread_blocking", "wait_future"]

T = TypeVar("T")

_jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
_started = threading.Lock()
_thread: threading.Thread | None = None


def _serve() -> None:
    while True:
        func, future = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(func())
        except BaseException as exc:  # carried to the caller, whatever it is
            future.set_exception(exc)


def _after_fork_in_child() -> None:
    """A forked child has no Ray thread (only the forking thread goes on): its own on first
    use, not a queue nobody reads."""
    global _jobs, _started, _thread
    _jobs, _started, _thread = queue.SimpleQueue(), threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _exit(signum: int, frame: Any) -> None:
    sys.exit(signum)  # as ray.init's own handler


class _SaidElsewhere(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


def _exit_on_sigterm() -> None:
    """In the main thread: what ``ray.init`` would do there, unless the program has its own."""
    if threading.current_thread() is not threading.main_thread():
        return
    signum = getattr(signal, "SIGBREAK", None) if sys.platform == "win32" else signal.SIGTERM
    if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
        signal.signal(signum, _exit)
        # done here, not by ray.init, whose warning would say it is not done
        logging.getLogger(_compat.RAY_WORKER_LOGGER).addFilter(_SaidElsewhere())


def _submit(func: Callable[..., T], *args: Any) -> Future[T]:
    global _thread
    _exit_on_sigterm()
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_serve, name="toolvolley ray", daemon=True)
            _thread.start()
    future: Future[T] = Future()
    _jobs.put((functools.partial(func, *args), future))
    return future


async def in_ray_thread(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in the Ray thread, awaited without blocking the loop (asyncio or trio).
    A cancelled caller stops waiting; the job itself runs to its end (``ray.init`` cannot be
    stopped half way), and the next caller finds its work done."""
    return await wait_future(_submit(func, *args), lambda: None)


def in_ray_thread_blocking(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in the Ray thread, for sync code (it blocks the calling thread)."""
    return _submit(func, *args).result()


async def wait_future(future: Future[T], on_cancel: Callable[[], None]) -> T:
    """The result of a ``concurrent.futures.Future`` completed by another thread (a Ray
    ``ObjectRef.future()`` too); if the waiting task is cancelled, ``on_cancel`` runs at once
    and the cancellation propagates."""
    waiter = waiter_for(on_cancel)
    future.add_done_callback(lambda _: waiter.notify())
    await waiter.wait()
    return future.result()
