"""The worker processes of :class:`~toolvolley.runners.processes.ProcessRunner`: one pool per
event loop (:func:`pool`), each worker a ``python -m toolvolley.runners.processes._worker``
spoken to in frames over its pipes.

A worker is killed and reaped whenever an exchange with it does not finish (a timeout, a
cancelled batch, its start included); one that dies before it answers is
:class:`~toolvolley.runners.WorkerLost`. Idle workers are reaped when their event loop ends,
and one idle for five minutes when a worker is next needed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
from typing import IO, Any

import anyio
from anyio.lowlevel import RunVar

from ... import _compat
from ... import _wording as wording
from ..._clock import now
from ..._errors import UserError, WorkerLost, describe_exception
from ..._runtime import running_library
from .. import _guard
from ._frames import HEADER, LOADING_MAIN, READY, frame

__all__ = ["pool"]

IDLE_SECONDS = 300.0
START_SECONDS = 20.0  # from spawning a worker to its READY line
WORKER = "toolvolley.runners.processes._worker"  # the module a worker runs


class _Worker:
    """One worker process and its two pipes, read and written without blocking the loop."""

    def __init__(self) -> None:
        command = [sys.executable, "-u", "-m", WORKER, str(os.getpid())]
        # A session of its own: kill() takes whatever the tool forked with the worker.
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        try:
            _guard.watch(self.process.pid)  # killed with the program, however it dies
        except BaseException:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process.stdin.close()  # type: ignore[union-attr]
            self.process.stdout.close()  # type: ignore[union-attr]
            raise
        self.requests: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self.answers: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        os.set_blocking(self.requests.fileno(), False)
        os.set_blocking(self.answers.fileno(), False)
        self.idle_since = 0.0
        self.started = False

    async def exchange(self, request: bytes) -> tuple[bool, Any]:
        """Send ``request`` and wait for the answer: ``(True, value)`` or ``(False, exception)``.
        Whatever stops it half way leaves the worker unusable (the caller kills it)."""
        if not self.started:
            await self._start()
            self.started = True
        await self._write(request)
        return await self._answer()

    async def _start(self) -> None:
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        path = getattr(main, "__file__", None)
        init = ("init", list(sys.path), getattr(spec, "name", None), path)
        await self._write(frame(init))
        with anyio.move_on_after(START_SECONDS) as start:
            ready = await self._read(len(READY))
        if start.cancelled_caught or ready != READY:
            self.kill()
            said = "nothing" if start.cancelled_caught else repr(ready)
            raise WorkerLost(
                f"The worker process did not start: it wrote {said} to its standard output "
                f"instead of {READY!r} (a sitecustomize or startup hook that prints?)."
            )
        ok, error = await self._answer()
        if not ok:
            self.kill()
            raise WorkerLost(
                f"The worker process could not load the main module "
                f"({path or getattr(spec, 'name', None)}): {describe_exception(error)}"
            )

    async def _answer(self) -> tuple[bool, Any]:
        (size,) = HEADER.unpack(await self._read(HEADER.size))
        data = await self._read(size)
        try:
            ok, value = pickle.loads(data)
        except Exception as exc:  # e.g. an exception class whose __init__ needs other arguments
            problem = f"The tool's answer could not be rebuilt from its process: {exc}"
            return False, TypeError(problem)
        return bool(ok), value

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.requests.fileno(), view)
            except BlockingIOError:
                await anyio.wait_writable(self.requests.fileno())
                continue
            except BrokenPipeError as exc:
                raise await self._broken() from exc
            view = view[written:]

    async def _read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        while size:
            try:
                chunk = os.read(self.answers.fileno(), min(size, 1 << 20))
            except BlockingIOError:
                await anyio.wait_readable(self.answers.fileno())
                continue
            if not chunk:
                raise await self._broken()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    async def _broken(self) -> WorkerLost:
        """Its pipe is closed: it is exiting, or gone. Its exit code, waited for off the loop's
        back (a worker that closed its pipe and kept running is killed after half a second)."""
        with anyio.move_on_after(0.5):
            # Popen has no awaitable exit, and a thread in wait() would hold the lock kill() needs
            while self.process.poll() is None:  # noqa: ASYNC110
                await anyio.sleep(0.005)
        code = self.process.returncode
        self.kill()
        shown = "none: killed" if code is None else code
        return WorkerLost(wording.worker_process_ended(shown))

    def kill(self) -> None:
        """Kill the worker and what it forked, reap it and close its pipes (SIGKILL: the wait
        is immediate). Its pid stays its group's id while any member lives, never reused.
        Once only: the pipes it closes last say it was done (its pid may be reused after)."""
        if self.answers.closed:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.requests.close()
        self.answers.close()
        _guard.forget(self.process.pid)


class _Pool:
    """The idle workers of one event loop, and the limit on busy ones."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.limiter = anyio.CapacityLimiter(os.cpu_count() or 2)
        self.closed = False

    async def call(self, request: bytes) -> Any:
        async with self.limiter:
            worker = self._checkout()
            try:
                ok, value = await worker.exchange(request)
            except BaseException:
                worker.kill()  # stopped half way (a timeout, a cancellation, a dead worker)
                raise
            if not ok and isinstance(value, SystemExit | KeyboardInterrupt):
                worker.kill()  # a worker told to stop is not handed to the next call
            else:
                self._checkin(worker)
        if not ok:
            raise value
        return value

    def _checkout(self) -> _Worker:
        moment = now()
        for stale in [
            w for w in self.idle if not _alive(w) or moment - w.idle_since > IDLE_SECONDS
        ]:
            self.idle.remove(stale)
            stale.kill()
        if self.idle:
            return self.idle.pop()
        # Spawned in the loop's thread (fork and exec: a few milliseconds, once per worker, as
        # asyncio's own subprocesses), not in a passing worker thread: the kernel's
        # parent-death signal follows the thread that forked, and would kill the worker with it.
        return _Worker()

    def _checkin(self, worker: _Worker) -> None:
        if self.closed:  # a call made while the run shuts down
            worker.kill()
            return
        worker.idle_since = now()
        self.idle.append(worker)

    def close(self) -> None:
        """Kill and reap the idle workers (the event loop ends)."""
        self.closed = True
        while self.idle:
            self.idle.pop().kill()

    def __del__(self) -> None:  # the event loop is gone: so are its idle workers
        self.close()


def _alive(worker: _Worker) -> bool:
    """Still running (not killed from outside, or by the kernel with its parent)."""
    return worker.process.poll() is None


_POOLS: RunVar[_Pool] = RunVar("toolvolley_process_pool")


def pool() -> _Pool:
    try:
        return _POOLS.get()
    except LookupError:
        if os.environ.get(LOADING_MAIN):  # only a new loop's first call can meet this
            raise UserError(
                "A worker process loading the main script was asked to start worker processes "
                "itself: the script runs its tools at import. Put that code under "
                "`if __name__ == '__main__':`."
            ) from None
        made = _Pool()
        _POOLS.set(made)
        # Values pickled from classes of a script are named after __mp_main__ in the worker
        if "__main__" in sys.modules:
            sys.modules.setdefault("__mp_main__", sys.modules["__main__"])
        _close_at_run_end(made)
        return made


async def _close_at_the_end(pool: _Pool) -> None:
    try:
        # On asyncio one of the loop's timers holds this task, so nothing else has to (an Event
        # would not); a trio system task is cancelled as the run ends either way.
        while True:  # noqa: ASYNC110
            await anyio.sleep(3600)
    finally:
        pool.close()


def _close_at_run_end(pool: _Pool) -> None:
    """Start a task that lives as long as the run and closes the pool as the run ends. On trio
    it is a system task, cancelled as the run ends. On asyncio ``asyncio.run`` and
    ``anyio.run`` cancel it, and ``loop.close()`` drops it with the loop's timers. Without it
    the pool would wait for its loop to be garbage, which anything holding a traceback of the
    loop delays. The pool must not hold the task: the task holds the loop, which would then
    never be freed. anyio's own pool does the same."""
    if running_library() == "trio":
        import trio

        trio.lowlevel.spawn_system_task(_close_at_the_end, pool)
        return
    import asyncio

    task = asyncio.get_running_loop().create_task(
        _close_at_the_end(pool), name="toolvolley: close the process pool at the end"
    )
    # Dropped pending with a loop closed without cancelling its tasks (run_until_complete):
    # expected of this one, so not logged as "Task was destroyed but it is pending!".
    _compat.drop_quietly(task)
