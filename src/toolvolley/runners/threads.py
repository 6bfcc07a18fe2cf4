"""Sync tools in worker threads: :class:`ThreadRunner`.

Its own small pool of daemon threads, rather than anyio's worker threads, for three reasons:

* **A program can always exit.** A thread cannot be killed; a call that times out abandons it.
  Daemon threads do not hold the interpreter open at exit, so a CLI that hit one hung tool
  still returns to the shell.
* **Nothing starts late.** A queued job is taken off the queue the moment its call ends, and a
  worker that picks a job checks the call's deadline first: a call reported ``timeout`` or
  ``cancelled`` never starts its body afterwards, whenever a thread becomes free.
* **Lazy results are consumed in the thread**, inside the call's time, and any exception the
  body raises (``BaseException`` included) is carried back to the call, never left in a thread.

``max_threads`` caps the threads running calls that are still wanted; an abandoned thread no
longer counts (it is in :attr:`ThreadRunner.abandoned` until its body returns), so hung tools
cannot starve the calls after them.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from anyio.lowlevel import current_token

from .. import _compat
from .._clock import now
from .._errors import WorkerLost
from .._options import check_count
from ._base import PLAIN, START_MARGIN, CallContext, Runner, consume, settle
from ._waiters import Waiter, waiter_for

__all__ = ["ThreadRunner"]

_IDLE_SECONDS = 10.0  # how long a worker waits for more work before its thread ends

_QUEUED, _RUNNING, _DONE, _DROPPED = range(4)


class _Job:
    __slots__ = ("abandoned", "deadline", "error", "func", "state", "token", "value", "waiter")

    def __init__(self, func: Callable[[], Any], deadline: float, token: Any) -> None:
        self.func = func
        self.token = token
        self.deadline = deadline
        self.waiter: Waiter | None = None
        self.state = _QUEUED
        self.abandoned = False
        self.value: Any = None
        self.error: BaseException | None = None


class _Pool:
    """Daemon worker threads fed from one queue; every field is guarded by ``_lock``."""

    def __init__(self, max_threads: int) -> None:
        self._max = max_threads
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[_Job] = deque()
        self._workers = 0  # threads serving the queue (busy or idle), abandoned ones not counted
        self._idle = 0  # waiting for a job
        self._starting = 0  # started, not yet looking for a job
        self.abandoned = 0

    def submit(self, job: _Job) -> None:
        with self._lock:
            self._queue.append(job)
            refused = self._staff()
            if refused is not None and not self._workers:  # no thread will ever take it
                self._queue.remove(job)
                job.state = _DROPPED
                raise WorkerLost(f"no worker thread could be started ({refused})") from refused

    def give_up(self, job: _Job) -> None:
        """The call ended (timed out or cancelled): drop the job, or abandon its thread."""
        with self._lock:
            if job.state == _QUEUED:
                job.state = _DROPPED
                # A worker may have just taken it: it will see it dropped.
                with contextlib.suppress(ValueError):
                    self._queue.remove(job)
            elif job.state == _RUNNING and not job.abandoned:
                job.abandoned = True
                self.abandoned += 1
                self._workers -= 1  # its thread leaves the pool when the body returns
                # Replace the thread once the loop has run on: a whole batch cancelled at once
                # drops its queued jobs first, so the new thread finds none of them.
                assert job.waiter is not None
                job.waiter.soon(self._restaff)

    def _restaff(self) -> None:
        with self._lock:
            # A refused thread here leaves the jobs queued for a thread still serving, or for
            # the next call's submit to start one (or fail).
            self._staff()

    def _staff(self) -> RuntimeError | None:
        """Wake idle workers for the queued jobs, and start threads for the rest (up to the
        ceiling): every queued job has a thread on its way while there is room. The system's
        refusal to start a thread is returned, the thread not counted."""
        pending = len(self._queue)
        if self._idle:
            self._wake.notify(min(self._idle, pending))
        free = self._idle + self._starting
        while free < pending and self._workers < self._max:
            self._workers += 1
            self._starting += 1
            free += 1
            try:
                threading.Thread(target=self._work, name="toolvolley worker", daemon=True).start()
            except RuntimeError as exc:  # "can't start new thread": too many, or no memory
                self._workers -= 1
                self._starting -= 1
                return exc
        return None

    def _next(self) -> _Job | None:
        """The next job to run (marked running), or None when the thread should end."""
        with self._lock:
            while True:
                while not self._queue:
                    self._idle += 1
                    woken = self._wake.wait(_IDLE_SECONDS)
                    self._idle -= 1
                    if not woken and not self._queue:
                        self._workers -= 1
                        return None
                job = self._queue.popleft()
                if job.state != _QUEUED:
                    continue
                if now() >= job.deadline - START_MARGIN:
                    # Its call's timer is due: it will end the call; the body never starts.
                    job.state = _DROPPED
                    continue
                job.state = _RUNNING
                return job

    def _work(self) -> None:
        with self._lock:
            self._starting -= 1
        while (job := self._next()) is not None:
            # On asyncio a tool may call back into the event loop with anyio.from_thread
            # without a token, as in anyio's own worker threads, which carry it the same way
            # (trio keeps its own per-thread record: there, pass token=current_token()).
            _compat.set_thread_token(job.token)
            try:
                job.value = consume(job.func())
            except BaseException as exc:  # carried to the call, whatever it is
                job.error = exc
            finally:
                _compat.set_thread_token(None)
            with self._lock:
                job.state = _DONE
                if job.abandoned:
                    self.abandoned -= 1
            if job.abandoned:
                return  # the pool already replaced this thread
            assert job.waiter is not None
            job.waiter.notify()
            del job  # an idle thread keeps nothing of its last call (its value, its error)


class ThreadRunner(Runner):
    """Runs sync tools in daemon worker threads, at most ``max_threads`` at once.

    Example::

        executor = Executor(tools, runners={"thread": ThreadRunner(max_threads=32)})
    """

    name = "thread"

    def __init__(self, max_threads: int = 256) -> None:
        check_count("max_threads", max_threads)
        self.max_threads = max_threads
        self._pool = _Pool(max_threads)

    def __repr__(self) -> str:
        return f"ThreadRunner(max_threads={self.max_threads})"

    @property
    def abandoned(self) -> int:
        with self._pool._lock:
            return self._pool.abandoned

    @classmethod
    def default(cls, *, max_threads: int) -> ThreadRunner:
        return cls(max_threads)

    async def run(self, call: CallContext) -> Any:
        pool = self._pool
        body = functools.partial(call.tool.func, **call.arguments)
        job = _Job(body, call.deadline, current_token())
        waiter = job.waiter = waiter_for(lambda: pool.give_up(job))
        pool.submit(job)
        try:
            await waiter.wait()
        except BaseException:
            pool.give_up(job)  # already done by the waiter if it was cancelled; harmless
            call.abandoned = job.abandoned
            raise
        if job.error is not None:
            raise job.error
        value = job.value
        if type(value) in PLAIN:
            return value
        return await settle(value)  # a sync handler that hands back a coroutine or async gen
