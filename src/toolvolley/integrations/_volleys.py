"""The calls of one model response run by one toolvolley batch, when a framework runs each call
in a task (or a thread) of its own and hands them over one at a time.

LangChain's ``create_agent``, Pydantic AI and the Agents SDK all start every tool call of a model
response on its own. :class:`Volleys` gathers the calls of one response - a *volley*, named by a
key the adapter finds in the framework's context - into one :class:`~toolvolley.Batch` of an
executor, so the executor's limit, serial mode, barriers and timeouts hold across those tasks:

* **Who holds the batch.** The first call of a response opens the batch in its own task
  (structured concurrency: nothing outlives the calls) and stays in it until no call of the
  volley is in flight; every later call is submitted to it and waits for its own result only,
  told by the batch's ``call_finished`` hook. A call from a thread with no event loop
  (:meth:`Volleys.run_sync`, LangChain's ``invoke``) that opens a volley runs its batch on an
  event loop in a thread of its own; the others submit to that loop.
* **When it ends.** When the last call in flight has its result, the volley leaves the registry
  at once (under the lock, atomically with calls joining it), so a call that arrives later opens
  a new one. Were a call to arrive only after the ones before it had finished, it gets a volley
  of its own: limits and barriers still hold, since the earlier one has nothing left running.
* A call whose id is already in the open volley gets a volley of its own, outside the registry
  (a batch answers one call per id).

Calls are submitted in the order they arrive, which is the model's order when the framework
starts them in that order. Under :meth:`Volleys.run` each call is submitted, and so its body
started, in the context of the task that made it (on asyncio a task starts in a copy of the
context it is started from): the framework's per-call context variables - its run context, its
tracing spans, LangGraph's config - are the call's own, not those of the call holding the batch.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Hashable
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from .._batch import Batch
from .._calls import ToolCall, ToolResult
from .._events import ExecutionHooks
from .._executor import Executor

__all__ = ["Volley", "Volleys"]


class Volleys:
    """The volleys of ``executor`` with calls in flight, by the key of their model response."""

    __slots__ = ("_executor", "_lock", "_open")

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._lock = threading.Lock()  # under invoke(), the framework's threads come at once
        self._open: dict[Hashable, Volley] = {}

    def __len__(self) -> int:
        """Responses with a call in flight (0 once every call has its result)."""
        return len(self._open)

    def __contains__(self, key: Hashable) -> bool:
        """Whether the response ``key`` names has a call in flight."""
        return key in self._open

    async def run(self, key: Hashable, call: ToolCall) -> ToolResult | None:
        """Run ``call`` in its response's volley (on this event loop) and return its result;
        ``None`` if no batch ran it (the volley's host failed or was cancelled first). One
        :class:`Volleys` serves one event loop, or (:meth:`run_sync`) threads with none."""
        volley, host, queued = self._join(key, call, _LoopWaiter(), contextvars.copy_context())
        if host:
            await volley.host(self._executor)
        elif queued or volley.submit(call):  # queued: the host submits it when the batch opens
            await volley.waiter(call).wait()
        return volley.take(call)

    def run_sync(self, key: Hashable, call: ToolCall) -> ToolResult | None:
        """:meth:`run` from a thread with no event loop running: a new volley's batch runs on a
        loop in a thread of its own, not in the caller's (each caller waits for its own call
        only, as it would without toolvolley)."""
        volley, host, queued = self._join(key, call, _ThreadWaiter(), None)
        if host:
            volley.thread = threading.Thread(
                target=anyio.run, args=(volley.host, self._executor), name="toolvolley-volley"
            )
            volley.thread.start()
        elif not queued and not volley.submit_from_thread(call):
            return None
        volley.waiter(call).wait_sync()
        if volley.ended.is_set() and volley.thread is not None:
            volley.thread.join()  # its loop is ending: nothing is left running behind the call
        return volley.take(call)

    def _join(
        self, key: Hashable, call: ToolCall, waiter: Waiter, context: contextvars.Context | None
    ) -> tuple[Volley, bool, bool]:
        """The volley ``call`` joins (counted in flight), or a new one it hosts; and whether
        the call is queued for the batch to open."""
        with self._lock:
            volley = self._open.get(key)
            if volley is not None and volley.has_room_for(call):
                return volley, False, volley.add(call, waiter, context)
            # A repeated call id cannot share a batch with the first: it gets one of its own,
            # outside the registry.
            volley = Volley(self, key, registered=volley is None)
            return volley, True, volley.add(call, waiter, context)

    def _retire(self, volley: Volley) -> None:
        """No call joins ``volley`` any more (under the lock)."""
        if volley.registered and self._open.get(volley.key) is volley:
            del self._open[volley.key]
        volley.registered = False


class _LoopWaiter:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    def wait_sync(self) -> None:
        raise AssertionError("a call made on an event loop is waited for there")


class _ThreadWaiter:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        raise AssertionError("a call made from a thread is waited for in its thread")

    def wait_sync(self) -> None:
        self._event.wait()


Waiter = _LoopWaiter | _ThreadWaiter


class Volley(ExecutionHooks):
    """The calls of one model response in flight, in one batch held by the first of them."""

    def __init__(self, owner: Volleys, key: Hashable, *, registered: bool) -> None:
        self._owner = owner
        self.key = key
        self.registered = registered
        if registered:
            owner._open[key] = self
        self._batch: Batch | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        # Joined before the batch was open, with the context to submit them in.
        self._queued: list[tuple[ToolCall, contextvars.Context | None]] = []
        self._waiting: dict[str, Waiter] = {}
        self._results: dict[str, ToolResult] = {}
        self._in_flight = 0
        self._idle: anyio.Event | None = None
        self._closed = False
        self.ended = threading.Event()  # every call has its result, or the batch has closed
        self.thread: threading.Thread | None = None  # run_sync's host: where the loop runs

    def has_room_for(self, call: ToolCall) -> bool:
        return call.id not in self._waiting and call.id not in self._results

    def add(self, call: ToolCall, waiter: Waiter, context: contextvars.Context | None) -> bool:
        """Count ``call`` in flight (under the owner's lock); True if it is queued for the
        batch to open (else the caller submits it)."""
        self._waiting[call.id] = waiter
        self._in_flight += 1
        if self._batch is None and not self._closed:
            self._queued.append((call, context))
            return True
        return False

    def waiter(self, call: ToolCall) -> Waiter:
        return self._waiting.get(call.id) or _DONE

    def submit(self, call: ToolCall) -> bool:
        """Submit a call that joined on the batch's own loop; False if the batch has closed
        (the call never ran)."""
        if self._closed or self._batch is None:
            return False
        self._batch.submit(call)  # may answer it at once (e.g. invalid arguments)
        return True

    def submit_from_thread(self, call: ToolCall) -> bool:
        """Submit a call that joined from another thread; False if the volley's loop is gone."""
        token = self._token
        if token is None:
            return False
        try:
            return bool(anyio.from_thread.run_sync(self.submit, call, token=token))
        except RuntimeError:  # the loop has ended
            return False

    async def host(self, executor: Executor) -> None:
        """Open the batch, run the volley's calls, close it once none is in flight."""
        batch: Batch | None = None
        self._idle = anyio.Event()
        try:
            batch = executor.batch(hooks=(self,))
            async with batch:
                with self._owner._lock:
                    self._batch = batch
                    self._token = anyio.lowlevel.current_token()
                    queued, self._queued = self._queued, []
                for call, context in queued:
                    if context is None:
                        batch.submit(call)
                    else:
                        context.run(batch.submit, call)
                await self._idle.wait()
        finally:
            self._end(batch)

    def call_finished(self, result: ToolResult) -> None:
        with self._owner._lock:
            waiter = self._waiting.pop(result.call_id, None)
            if waiter is None:
                return
            self._results[result.call_id] = result
            self._in_flight -= 1
            last = self._in_flight == 0
            if last:  # before any other call can join: a later one opens a new volley
                self._owner._retire(self)
                self.ended.set()
        if last:
            assert self._idle is not None
            self._idle.set()
        waiter.set()

    def take(self, call: ToolCall) -> ToolResult | None:
        return self._results.pop(call.id, None)

    def _end(self, batch: Batch | None) -> None:
        """The host left the batch: every call still waiting is told (with the batch's result
        for a submitted call, ``None`` for one it never ran)."""
        with self._owner._lock:
            self._owner._retire(self)
            self._closed = True
            submitted = batch is not None and self._batch is batch
            waiting, self._waiting = self._waiting, {}
            self.ended.set()
        if waiting:
            for result in batch.results() if batch is not None and submitted else ():
                if result.call_id in waiting:
                    self._results.setdefault(result.call_id, result)
            for waiter in waiting.values():
                waiter.set()


class _Done:
    """The waiter of a call that has its answer already."""

    def set(self) -> None:
        pass

    async def wait(self) -> None:
        pass

    def wait_sync(self) -> None:
        pass


_DONE: Any = _Done()
