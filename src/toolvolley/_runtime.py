"""How a batch spawns its calls and bounds them in time, on whichever event loop is running.

Both runtimes are structured: every call task is owned by a task group that the batch awaits.
On asyncio (Python 3.11+) the standard library's ``asyncio.TaskGroup`` and ``asyncio.timeout`` are
used, because spawning an anyio task costs several times a native one and the per-call overhead
is what a batch of many fast tools pays (see ``benchmarks/executor.py``, scenario D). Elsewhere
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
    """A deadline around one call: it can be moved, and tells afterwards whether it expired."""

    async def __aenter__(self) -> Guard: ...

    async def __aexit__(
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

    async def __aenter__(self) -> _AnyioGuard:
        self._scope.__enter__()
        return self

    async def __aexit__(
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
        __slots__ = ("_timeout",)

        def __init__(self, deadline: float) -> None:
            self._timeout = asyncio.timeout_at(deadline if deadline != math.inf else None)

        async def __aenter__(self) -> _AsyncioGuard:
            await self._timeout.__aenter__()
            return self

        async def __aexit__(
            self,
            et: type[BaseException] | None,
            e: BaseException | None,
            tb: TracebackType | None,
        ) -> bool:
            try:
                return bool(await self._timeout.__aexit__(et, e, tb))
            except TimeoutError:
                if self._timeout.expired():
                    return True  # the caller reads `expired`; a tool's own TimeoutError propagates
                raise

        def reschedule(self, deadline: float) -> None:
            self._timeout.reschedule(deadline if deadline != math.inf else None)

        @property
        def expired(self) -> bool:
            return self._timeout.expired()

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
            return _AsyncioGuard(deadline)

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
