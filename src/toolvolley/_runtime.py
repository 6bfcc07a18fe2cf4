"""How a batch spawns its calls and bounds them in time, on whichever event loop is running.

Both runtimes are structured: every call task is owned by a task group that the batch awaits.
On asyncio (Python 3.11+) the standard library's ``asyncio.TaskGroup`` is used, with a timeout
guard that has ``asyncio.timeout``'s semantics at a fraction of its cost, because spawning an
anyio task costs several times a native one and the per-call overhead is what a batch of many
fast tools pays (see ``benchmarks/executor.py``, scenario D). Elsewhere
(trio, Python 3.10) anyio's task groups and cancel scopes do the same job.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import sys
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol

import anyio

__all__ = ["Guard", "Runtime", "current_runtime"]

CallFunc = Callable[..., Coroutine[Any, Any, None]]


class Guard(Protocol):
    """A deadline around one call: it can be moved, and tells afterwards whether it expired.

    A synchronous context manager (cheaper than an async one; nothing in it awaits).
    """

    def __enter__(self) -> Guard: ...

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool: ...

    def reschedule(self, deadline: float) -> None: ...

    @property
    def expired(self) -> bool: ...


class Runtime(Protocol):
    def now(self) -> float: ...

    def event(self) -> Any: ...  # an object with set() and ``await wait()``

    def guard(self, deadline: float) -> Guard: ...

    async def open(self) -> None: ...

    def spawn(self, func: CallFunc, *args: Any, name: str) -> None: ...

    async def close(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


def current_runtime() -> Runtime:
    """The asyncio runtime when running on asyncio 3.11+, else the anyio one."""
    if sys.version_info >= (3, 11):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return _AsyncioRuntime()
    return _AnyioRuntime()


class _AnyioGuard:
    __slots__ = ("_scope",)

    def __init__(self, deadline: float) -> None:
        self._scope = anyio.CancelScope(deadline=deadline)

    def __enter__(self) -> _AnyioGuard:
        self._scope.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return bool(self._scope.__exit__(et, e, tb))

    def reschedule(self, deadline: float) -> None:
        self._scope.deadline = deadline

    @property
    def expired(self) -> bool:
        return self._scope.cancel_called


class _AnyioRuntime:
    __slots__ = ("_group",)

    def __init__(self) -> None:
        self._group = anyio.create_task_group()

    def now(self) -> float:
        return anyio.current_time()

    def event(self) -> anyio.Event:
        return anyio.Event()

    def guard(self, deadline: float) -> Guard:
        return _AnyioGuard(deadline)

    async def open(self) -> None:
        await self._group.__aenter__()

    def spawn(self, func: CallFunc, *args: Any, name: str) -> None:
        self._group.start_soon(func, *args, name=name)

    async def close(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._group.__aexit__(et, e, tb)


if sys.version_info >= (3, 11):

    class _Deadlines:
        """One loop timer for every call of a batch.

        Deadlines wait in a heap and the timer is armed for the earliest, instead of a timer
        handle per call (the per-call cost is what a batch of many fast tools pays). Entries of
        guards that finished or moved their deadline are dropped when they reach the top.
        """

        __slots__ = ("_armed", "_count", "_handle", "_heap", "_loop")

        def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
            self._loop = loop
            self._heap: list[tuple[float, int, _AsyncioGuard]] = []
            self._handle: asyncio.TimerHandle | None = None
            self._armed = math.inf
            self._count = 0

        def add(self, when: float, guard: _AsyncioGuard) -> None:
            self._count += 1
            heapq.heappush(self._heap, (when, self._count, guard))
            if when < self._armed:
                self._arm(when)

        def _arm(self, when: float) -> None:
            if self._handle is not None:
                self._handle.cancel()
            self._armed = when
            self._handle = self._loop.call_at(when, self._fire)

        def _fire(self) -> None:
            due, self._armed, self._handle = self._armed, math.inf, None
            heap = self._heap
            while heap and heap[0][0] <= due:
                when, _, guard = heapq.heappop(heap)
                guard.expire(when)
            while heap and not heap[0][2].waiting_for(heap[0][0]):
                heapq.heappop(heap)
            if heap:
                self._arm(heap[0][0])

        def close(self) -> None:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self._heap.clear()

    class _AsyncioGuard:
        """``asyncio.timeout`` semantics on the batch's shared timer.

        On expiry the task is cancelled; on exit that cancellation is absorbed only if it was
        ours (``uncancel`` brings the count back to where it was), so a cancellation from
        outside still propagates, as in the standard library.
        """

        __slots__ = ("_cancelling", "_deadlines", "_done", "_expired", "_task", "_when")

        def __init__(self, deadlines: _Deadlines, deadline: float) -> None:
            self._deadlines = deadlines
            self._when = deadline
            self._expired = False
            self._done = False

        def __enter__(self) -> _AsyncioGuard:
            task = asyncio.current_task()
            assert task is not None, "a call runs in a task"
            self._task = task
            self._cancelling = task.cancelling()
            if self._when != math.inf:
                self._deadlines.add(self._when, self)
            return self

        def waiting_for(self, when: float) -> bool:
            return not (self._done or self._expired) and self._when == when

        def expire(self, when: float) -> None:
            if self.waiting_for(when):
                self._expired = True
                self._task.cancel()

        def reschedule(self, deadline: float) -> None:
            if self._expired or self._done:
                return
            self._when = deadline
            if deadline != math.inf:
                self._deadlines.add(deadline, self)

        def __exit__(
            self,
            et: type[BaseException] | None,
            e: BaseException | None,
            tb: TracebackType | None,
        ) -> bool:
            self._done = True
            if not self._expired:
                return False
            if et is None:  # the tool swallowed our cancellation: balance the count anyway
                self._task.uncancel()
                return False
            if issubclass(et, asyncio.CancelledError):
                return self._task.uncancel() <= self._cancelling
            return False

        @property
        def expired(self) -> bool:
            return self._expired

    class _AsyncioRuntime:
        __slots__ = ("_deadlines", "_group", "_loop")

        def __init__(self) -> None:
            self._loop = asyncio.get_running_loop()
            self._group = asyncio.TaskGroup()
            self._deadlines = _Deadlines(self._loop)

        def now(self) -> float:
            return self._loop.time()

        def event(self) -> asyncio.Event:
            return asyncio.Event()

        def guard(self, deadline: float) -> Guard:
            return _AsyncioGuard(self._deadlines, deadline)

        async def open(self) -> None:
            await self._group.__aenter__()

        def spawn(self, func: CallFunc, *args: Any, name: str) -> None:
            self._group.create_task(func(*args), name=name)

        async def close(
            self,
            et: type[BaseException] | None,
            e: BaseException | None,
            tb: TracebackType | None,
        ) -> bool | None:
            try:
                return await self._group.__aexit__(et, e, tb)
            finally:
                self._deadlines.close()
