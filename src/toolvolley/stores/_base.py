"""The seam where a store of call results plugs in: :class:`ResultStore`.

A batch consults its store for the calls the store chooses to keep: before such a call runs the
store may answer it with a result it holds (a result recorded earlier, an identical call's),
and the batch tells it when the call's body starts and what its result was. A store can be a
cache, the dedupe of one batch (:class:`~toolvolley.stores.MemoryStore`,
``Executor(dedupe=True)``) or a durable journal of calls. Without a store (the default) a batch
does none of this and pays nothing for it.

What one batch does with its store, in order:

1. ``await store.open_batch(scope)`` when the batch opens: a :class:`StoreBatch`, the store's
   view of this batch. A journal loads what it holds for the conversation here.
2. At :meth:`Batch.submit`, synchronously and in submission order, for each call that names a
   known tool and has a fresh id:

   * ``key(tool, call)``: the key its result is kept under, or None: the store does not keep
     this call, which then runs as if there were no store, and the store hears no more of it;
   * ``recorded(key)``: an awaitable of the result to answer the call with instead of running
     it, or None: the call runs. The batch gives the call that result's status, content, value,
     error and attempts under the call's own id, with its own times;
   * ``running(key, call)``: the call is to run (its arguments passed their check).

3. ``await started(calls)`` before the bodies of ``calls`` (``(key, call)`` pairs) start: the
   calls that start together, as one list. When it returns, the record that they started must
   be durable: a journal commits it here, in one transaction, so that after a crash a call that
   started and has no result is known, and the cost is per batch, not per call. The calls of a
   parallel batch submitted together (with no wait for limits, barriers or references) are
   handed over in one list before any of them starts, none waiting on its own; a call that
   waited is handed over alone when its wait is over, and several such ``started`` may be
   awaited at once (a journal may commit them together: group commit). The calls' timeouts
   count from here.
4. ``await finished(key, result)`` once the call has its result (not for a call that was
   cancelled: it has none).
5. ``await close()`` when the batch closes, every call ended: commit what is pending.

All methods are called on the event loop's thread; the async ones in the calls' own tasks (3,
4), a task that starts calls together (3) or the batch's (1, 5), so a store that does blocking
I/O (``sqlite3``) runs it in a worker thread. What ``started`` raises ends its calls with an
``error`` result, their bodies not run: a journal that cannot record a call must not run it; so
does what the awaitable ``recorded`` gave raises. What the other methods raise is a bug in the
store, and fails the batch.

A durable journal fits as one new module (SQLite or PostgreSQL behind it): a ``ResultStore``
bound to one conversation id, handed to that conversation's batches
(``executor.batch(store=journal.conversation(cid))``). ``open_batch`` loads the conversation's
records (a batch is one model response; the loop records each call before it submits it, and
the response once it ends, through the journal's own methods: not the batch's business); ``key``
is the call's id (every call kept); ``recorded`` answers a call with its recorded result or, for
a call that started and has none, re-runs it (None) if its tool is idempotent, or answers it
with a result saying its outcome is unknown; ``started`` (group-committed) and ``finished`` write
the records, ``close`` commits the last of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._errors import UserError

if TYPE_CHECKING:
    from .._calls import ToolCall, ToolResult
    from .._tools import Tool

__all__ = ["BatchScope", "ResultStore", "StoreBatch", "check_store"]


@dataclass(frozen=True, slots=True)
class BatchScope:
    """What a store is told of the batch it serves.

    ``ordered``: every call to a tool that is not ``read_only`` runs after the calls submitted
    before it (``mode="serial"`` or ``side_effects="strict"``), so a later call may see what an
    earlier one changed.
    """

    ordered: bool


@runtime_checkable
class ResultStore(Protocol):
    """Where results of calls are kept: consulted before a call runs, told after (see the
    module's docstring for the order)."""

    async def open_batch(self, scope: BatchScope) -> StoreBatch: ...


class StoreBatch(Protocol):
    """One batch's view of a :class:`ResultStore`."""

    def key(self, tool: Tool, call: ToolCall) -> Hashable | None: ...

    def recorded(self, key: Hashable) -> Awaitable[ToolResult] | None: ...

    def running(self, key: Hashable, call: ToolCall) -> None: ...

    async def started(self, calls: Sequence[tuple[Hashable, ToolCall]]) -> None: ...

    async def finished(self, key: Hashable, result: ToolResult) -> None: ...

    async def close(self) -> None: ...


def check_store(store: object, dedupe: bool) -> None:
    """``Executor(store=...)``: a :class:`ResultStore` or None, and not with ``dedupe=True``."""
    if store is None:
        return
    if not isinstance(store, ResultStore):
        raise UserError(
            f"store must be a ResultStore (an object with 'async def open_batch(scope)'), "
            f"not {store!r}."
        )
    if dedupe:
        raise UserError(
            "dedupe=True is store=MemoryStore(), and store is given too: pass one of them."
        )
