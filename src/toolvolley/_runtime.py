"""Which event loop runs, and how a batch spawns its calls and bounds them in time on it.

:func:`running_library` is the one place toolvolley asks which event loop runs (``"asyncio"``,
``"trio"`` or none); :func:`run_new_loop` starts one where none runs.

Both runtimes are structured: every call task is owned by a task group that the batch awaits.
On asyncio (Python 3.11+) the standard library's ``asyncio.TaskGroup`` is used, with a timeout
guard that has ``asyncio.timeout``'s semantics at a fraction of its cost, because spawning an
anyio task costs several times a native one and the per-call overhead is what a batch of many
fast tools pays (see ``benchmarks/executor.py``, scenario D). Elsewhere
(trio, Python 3.10) anyio's task groups and cancel scopes do the same job. Either way a spawned
call starts on a later loop iteration, never inside :meth:`Runtime.spawn`, even under a task
factory that starts tasks eagerly.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

import anyio

sniffio: Any
try:
    import sniffio
except ModuleNotFoundError:  # anyio 4.16 does without it; trio cannot: no trio either
    sniffio = None

__all__ = ["Guard", "Runtime", "current_runtime", "run_new_loop", "running_library"]

T = TypeVar("T")

CallFunc = Callable[..., Coroutine[Any, Any, None]]


class Guard(Protocol):
    """A deadline around one call: it can be moved, and tells afterwards whether it expired.

    A synchronous context manager (cheaper than an async one; nothing in it awaits).
    ``deadline`` is where it stands now, on the runtime's clock.
    """

    def __enter__(self) -> Guard: ...

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool: ...

    def reschedule(self, deadline: float) -> None: ...

    @property
    def deadline(self) -> float: ...

    @property
    def expired(self) -> bool: ...


class Runtime(Protocol):
    def now(self) -> float: ...

    def event(self) -> Any: ...  # an object with set() and ``await wait()``

    def guard(self, deadline: float, timeout: float | None = None) -> Guard:
        """A guard for ``deadline``, or for ``timeout`` seconds from now if that is sooner."""
        ...

    async def open(self) -> None: ...

    def host_cancelling(self) -> bool:
        """In the task that opened the batch: whether a cancellation of it is on its way."""
        ...

    def cancelling(self) -> bool:
        """In a call's task that caught the runtime's cancellation exception: whether the task
        really is being cancelled (a tool may raise ``asyncio.CancelledError`` on its own)."""
        ...

    def spawn(self, func: CallFunc, *args: Any, name: str) -> None:
        """Start ``func(*args)`` in a task of the group, soon: never inside this call, so a
        caller that spawns and is then cancelled (before it awaits) starts no body."""
        ...

    async def close(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...


def run_new_loop(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``anyio.run(func, *args)`` from code with no loop running in this thread.

    Run in a copy of the context with sniffio's answer cleared: a thread whose context was copied
    from an asyncio task (a framework's worker thread) says "asyncio" there, and anyio.run would
    refuse to start although no loop runs in it.
    """
    context = contextvars.copy_context()
    if sniffio is not None:
        context.run(sniffio.current_async_library_cvar.set, None)
    return context.run(anyio.run, func, *args)


def running_library() -> Literal["asyncio", "trio"] | None:
    """The event loop running in this thread: ``"asyncio"``, ``"trio"`` or None (none, or one
    anyio does not run on). The one place toolvolley asks.

    Asked of the running loop, as anyio 4.16's ``_core._eventloop.current_async_library`` does
    (sniffio's answer, else asyncio's running loop), never of ``sys.modules``: while another
    thread imports trio, ``sys.modules["trio"]`` is a module whose body has not run yet.
    """
    if sniffio is not None:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = None
        if library == "trio":
            return "trio"
        if library not in (None, "asyncio"):
            return None
    # sniffio misses a loop's callbacks (no current task), and its "asyncio" can be a context
    # copied into a thread where no loop runs (a framework's worker thread): ask asyncio itself.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "asyncio"


def current_runtime() -> Runtime:
    """The asyncio runtime when running on asyncio 3.11+, else the anyio one."""
    if sys.version_info >= (3, 11) and running_library() == "asyncio":
        return _AsyncioRuntime()
    return _AnyioRuntime()


class _AnyioGuard:
    __slots__ = ("_scope",)

    def __init__(self, deadline: float, timeout: float | None) -> None:
        if timeout is not None:
            deadline = min(deadline, anyio.current_time() + timeout)
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
    def deadline(self) -> float:
        return self._scope.deadline

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

    def guard(self, deadline: float, timeout: float | None = None) -> Guard:
        return _AnyioGuard(deadline, timeout)

    async def open(self) -> None:
        await self._group.__aenter__()

    def cancelling(self) -> bool:
        return True  # trio's Cancelled cannot be raised by hand; asyncio 3.10 cannot tell

    def host_cancelling(self) -> bool:
        return anyio.current_effective_deadline() == -math.inf

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

        A new deadline goes into the heap one loop iteration later, by then only if its call is
        still running: a call that finishes without suspending (a cache hit, a quick
        computation) costs the heap nothing. No timer can fire while a call runs without
        suspending, so no deadline is missed.
        """

        __slots__ = ("_armed", "_count", "_flush", "_handle", "_heap", "_new", "loop", "time")

        def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
            self.loop = loop
            # time.monotonic, not loop.time: the same clock as asyncio's, but uvloop's loop.time
            # is cached per iteration and cut to milliseconds, which made deadlines early.
            # A timer that fires early anyway (uvloop rounds delays) expires nothing: _fire
            # re-arms for the deadline still ahead.
            self.time = time.monotonic
            self._heap: list[tuple[float, int, _AsyncioGuard]] = []
            self._new: list[tuple[float, _AsyncioGuard]] = []
            self._flush: asyncio.Handle | None = None
            self._handle: asyncio.TimerHandle | None = None
            self._armed = math.inf
            self._count = 0

        def add(self, when: float, guard: _AsyncioGuard) -> None:
            self._new.append((when, guard))
            if self._flush is None:
                self._flush = self.loop.call_soon(self._take_new)

        def _take_new(self) -> None:
            self._flush = None
            new, self._new = self._new, []
            heap = self._heap
            for when, guard in new:
                if guard.waiting_for(when):
                    self._count += 1
                    heapq.heappush(heap, (when, self._count, guard))
            if heap and heap[0][0] < self._armed:
                self._arm(heap[0][0])

        def _arm(self, when: float) -> None:
            if self._handle is not None:
                self._handle.cancel()
            self._armed = when
            self._handle = self.loop.call_at(when, self._fire)

        def _fire(self) -> None:
            # Every deadline that has passed by now, not only the one the timer was armed
            # for: a call whose deadline passed must not go on to start its body.
            self._armed, self._handle = math.inf, None
            due = self.time()
            heap = self._heap
            while heap and heap[0][0] <= due:
                when, _, guard = heapq.heappop(heap)
                guard.expire(when)
            while heap and not heap[0][2].waiting_for(heap[0][0]):
                heapq.heappop(heap)
            if heap:
                self._arm(heap[0][0])

        def close(self) -> None:
            for handle in (self._handle, self._flush):
                if handle is not None:
                    handle.cancel()
            self._handle = self._flush = None
            self._heap.clear()
            self._new.clear()

    class _AsyncioGuard:
        """``asyncio.timeout`` semantics on the batch's shared timer.

        On expiry the task is cancelled; on exit that cancellation is absorbed only if it was
        ours (``uncancel`` brings the count back to where it was), so a cancellation from
        outside still propagates, as in the standard library.
        """

        __slots__ = ("_cancelling", "_deadlines", "_done", "_task", "deadline", "expired")

        def __init__(self, deadlines: _Deadlines, deadline: float, timeout: float | None) -> None:
            if timeout is not None:
                call_deadline = deadlines.time() + timeout
                if call_deadline < deadline:
                    deadline = call_deadline
            self._deadlines = deadlines
            self.deadline = deadline
            self.expired = self._done = False

        def __enter__(self) -> _AsyncioGuard:
            task = self._task = asyncio.current_task(self._deadlines.loop)
            assert task is not None, "a call runs in a task"
            self._cancelling = task.cancelling()
            if self.deadline != math.inf:
                self._deadlines.add(self.deadline, self)
            return self

        def waiting_for(self, when: float) -> bool:
            return not (self._done or self.expired) and self.deadline == when

        def expire(self, when: float) -> None:
            if self.waiting_for(when):
                self.expired = True
                self._task.cancel()

        def reschedule(self, deadline: float) -> None:
            if self.expired or self._done:
                return
            self.deadline = deadline
            if deadline != math.inf:
                self._deadlines.add(deadline, self)

        def __exit__(
            self,
            et: type[BaseException] | None,
            e: BaseException | None,
            tb: TracebackType | None,
        ) -> bool:
            self._done = True
            if not self.expired:
                return False
            if et is None:  # the tool swallowed our cancellation: balance the count anyway
                self._task.uncancel()
                return False
            if issubclass(et, asyncio.CancelledError):
                return self._task.uncancel() <= self._cancelling
            return False

    async def _after_a_step(func: CallFunc, *args: Any) -> None:
        await asyncio.sleep(0)  # give the loop back first: see _AsyncioRuntime.spawn
        await func(*args)

    class _AsyncioRuntime:
        __slots__ = ("_deadlines", "_eager", "_group", "_loop")

        def __init__(self) -> None:
            self._loop = asyncio.get_running_loop()
            self._group = asyncio.TaskGroup()
            self._deadlines = _Deadlines(self._loop)
            # A task factory may run a new task at once, inside create_task, up to its first
            # suspension (asyncio.eager_task_factory, Python 3.12+): a call's body would start
            # inside submit(), before a cancellation right after it could stop it. Any factory
            # is taken for one that may (a custom factory can be eager too); without one
            # (the default) a task starts on a later loop iteration and nothing is added.
            self._eager = self._loop.get_task_factory() is not None

        def now(self) -> float:
            return time.monotonic()

        def event(self) -> asyncio.Event:
            return asyncio.Event()

        def guard(self, deadline: float, timeout: float | None = None) -> Guard:
            return _AsyncioGuard(self._deadlines, deadline, timeout)

        async def open(self) -> None:
            await self._group.__aenter__()

        def cancelling(self) -> bool:
            task = asyncio.current_task()
            return task is None or task.cancelling() > 0

        def host_cancelling(self) -> bool:
            task = asyncio.current_task()
            if task is not None and task.cancelling() > 0:
                return True  # asyncio's own task.cancel(), e.g. a TaskGroup or wait_for
            return anyio.current_effective_deadline() == -math.inf  # an anyio scope's

        def spawn(self, func: CallFunc, *args: Any, name: str) -> None:
            if self._eager:
                self._group.create_task(_after_a_step(func, *args), name=name)
            else:
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
