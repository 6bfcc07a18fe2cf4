"""How a task on the event loop waits for work another thread finishes: :func:`waiter_for`.

A worker thread tells the waiter when its job is done; the waiting task hears of its own
cancellation at once (not when it next runs), so a queued job is dropped before any worker
could start it. asyncio and trio each get their own; the thread runner and the Ray runner
(whose results complete ``concurrent.futures`` futures in Ray's threads) wait this way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from .._runtime import running_library

__all__ = ["Waiter", "waiter_for"]


class Waiter(Protocol):
    """The call's side of a job: wait for the worker, and hear of cancellation at once.

    ``on_cancel`` runs the moment the waiting task is cancelled (a timeout, or its batch being
    cancelled), not when the task next runs, so a queued job is dropped before any worker
    could start it. ``notify`` and ``soon`` never block and do nothing once the loop has gone.
    """

    async def wait(self) -> None: ...

    def notify(self) -> None:
        """From a worker thread: the job is done."""

    def soon(self, func: Callable[[], None]) -> None:
        """Run ``func`` on the event loop once the callbacks already due have run."""


def waiter_for(on_cancel: Callable[[], None]) -> Waiter:
    if running_library() == "trio":
        return _TrioWaiter(on_cancel)
    return _AsyncioWaiter(asyncio.get_running_loop(), on_cancel)


class _CancelAwareFuture(asyncio.Future[None]):
    """``Task.cancel()`` cancels the future its task awaits synchronously: the hook is here."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_cancel: Callable[[], None]) -> None:
        super().__init__(loop=loop)
        self._on_cancel = on_cancel

    def cancel(self, msg: Any = None) -> bool:
        if not self.done():
            self._on_cancel()
        return super().cancel(msg)


class _AsyncioWaiter:
    def __init__(self, loop: asyncio.AbstractEventLoop, on_cancel: Callable[[], None]) -> None:
        self._loop = loop
        self._future = _CancelAwareFuture(loop, on_cancel)

    async def wait(self) -> None:
        await self._future

    def _settle(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    def notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._settle)

    def soon(self, func: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(func)


class _TrioWaiter:
    """trio calls a waiting task's abort function synchronously when its scope is cancelled."""

    def __init__(self, on_cancel: Callable[[], None]) -> None:
        import trio

        self._trio = trio
        self._token = trio.lowlevel.current_trio_token()
        self._on_cancel = on_cancel
        self._task: Any = None
        self._done = False

    async def wait(self) -> None:
        lowlevel = self._trio.lowlevel
        if self._done:
            await lowlevel.checkpoint()
            return
        self._task = lowlevel.current_task()

        def abort(raise_cancel: Any) -> Any:
            self._task = None
            self._on_cancel()
            return lowlevel.Abort.SUCCEEDED

        await lowlevel.wait_task_rescheduled(abort)

    def _wake(self) -> None:
        self._done = True
        task, self._task = self._task, None
        if task is not None:
            self._trio.lowlevel.reschedule(task)

    def notify(self) -> None:
        with contextlib.suppress(self._trio.RunFinishedError):
            self._token.run_sync_soon(self._wake)

    def soon(self, func: Callable[[], None]) -> None:
        with contextlib.suppress(self._trio.RunFinishedError):
            self._token.run_sync_soon(func)
