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

    class _AsyncioGuard:
        """``asyncio.timeout`` semantics with one timer handle and no coroutine per use.

        On expiry the task is cancelled; on exit that cancellation is absorbed only if it was
        ours (``uncancel`` brings the count back to where it was), so a cancellation from
        outside still propagates, as in the standard library.
        """

        __slots__ = ("_cancelling", "_expired", "_handle", "_loop", "_task", "_when")

        def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
            self._loop = loop
            self._when = deadline
            self._handle: asyncio.TimerHandle | None = None
            self._expired = False

        def __enter__(self) -> _AsyncioGuard:
            task = asyncio.current_task()
            assert task is not None, "a call runs in a task"
            self._task = task
            self._cancelling = task.cancelling()
            if self._when != math.inf:
                self._handle = self._loop.call_at(self._when, self._fire)
            return self

        def _fire(self) -> None:
            self._handle = None
            self._expired = True
            self._task.cancel()

        def reschedule(self, deadline: float) -> None:
            if self._expired:
                return
            if self._handle is not None:
                self._handle.cancel()
            self._when = deadline
            self._handle = (
                self._loop.call_at(deadline, self._fire) if deadline != math.inf else None
            )

        def __exit__(
            self,
            et: type[BaseException] | None,
            e: BaseException | None,
            tb: TracebackType | None,
        ) -> bool:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
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
        __slots__ = ("_group", "_loop")

        def __init__(self) -> None:
            self._loop = asyncio.get_running_loop()
            self._group = asyncio.TaskGroup()

        def now(self) -> float:
            return self._loop.time()

        def event(self) -> asyncio.Event:
            return asyncio.Event()

        def guard(self, deadline: float) -> Guard:
            return _AsyncioGuard(self._loop, deadline)

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
            return await self._group.__aexit__(et, e, tb)
