"""A :class:`ThreadRunner`'s threads behind ``concurrent.futures.Executor``, for frameworks that
take one to run their sync callables (Pydantic AI's ``Agent.using_thread_executor``).

The promises stay the runner's: cancelling the awaited future (a timeout, a cancelled caller)
drops a queued job or abandons its running thread at once, counted in
:attr:`ThreadRunner.abandoned`; a job whose deadline (:data:`job_deadline`, set by the caller
around the call that submits it) has passed never starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import math
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from anyio.lowlevel import current_token

from ..runners.threads import ThreadRunner, _Job, _Pool

__all__ = ["ThreadsExecutor", "job_deadline"]

job_deadline: ContextVar[float] = ContextVar("toolvolley_job_deadline", default=math.inf)
"""The deadline (on ``_clock.now()``) of the jobs submitted in this context."""


class _JobFuture(concurrent.futures.Future[Any]):
    """A job's future, and the job's waiter (what the pool tells when it is done)."""

    def __init__(self, pool: _Pool, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._pool = pool
        self._job = job
        self._loop = loop

    def cancel(self) -> bool:
        # asyncio cancels this the moment the awaiting task is cancelled (wrap_future).
        self._pool.give_up(self._job)
        return super().cancel()

    async def wait(self) -> None:
        await asyncio.wrap_future(self)

    def notify(self) -> None:
        job = self._job
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled meanwhile
            if job.error is not None:
                self.set_exception(job.error)
            else:
                self.set_result(job.value)

    def soon(self, func: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self._loop.call_soon_threadsafe(func)


class ThreadsExecutor(concurrent.futures.Executor):
    """``runner``'s pool as an executor; submit from the event loop's thread (asyncio)."""

    def __init__(self, runner: ThreadRunner) -> None:
        self.runner = runner

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        pool = self.runner._pool
        job = _Job(functools.partial(fn, *args, **kwargs), job_deadline.get(), current_token())
        future = _JobFuture(pool, job, asyncio.get_running_loop())
        job.waiter = future
        pool.submit(job)
        return future
