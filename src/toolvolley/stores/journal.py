"""A durable journal of a conversation's calls: :class:`Journal`, and what ``run_loop`` reads
back from it to continue a conversation after a crash instead of starting it again.

Per conversation (an id the caller gives) it records, in this order:

1. each call of a model response as the stream finishes it, before it is dispatched (with its
   ``started`` record, in one transaction), so a resumed conversation replays the calls the model
   asked for and never samples different ones; and the whole response once it has ended;
2. that a call started, committed before its body starts: the calls of one response that start
   together are committed in one transaction (group commit, see :class:`_GroupCommit`), so the
   cost is per batch, not per call;
3. each call's result.

Resuming (``run_loop(..., journal=j, conversation_id=cid)``), a recorded response is replayed
instead of asking the model; a response the crash cut short (calls recorded, the response not) is
replayed as a stream cut after its last recorded call: an assistant turn holding exactly those
calls. Each call is answered by the first that applies:

* its recorded result, replayed (the call is not run again);
* it never started: it runs;
* it started and has no result (the process died in between), and its tool has a reconcile
  check (``@tool(reconcile=check)``): ``check(call)`` says what happened: a value (the call's
  result, ``ok``), :data:`NOT_DONE` (the call runs) or :data:`UNKNOWN`;
* it started and has no result, and its tool is ``idempotent``: it runs again;
* otherwise it is answered ``in_doubt``: it may or may not have taken effect, and the model is
  told to check before repeating it. It is never silently run again.

That is at-most-once-or-reported: a call to a tool that is not idempotent runs at most once, or
its answer says its outcome is unknown. Exactly-once needs the receiving service's help (an
idempotency key: the call's id is a good one).

A journal backend implements :meth:`Journal._load` and :meth:`Journal._write` (one transaction);
:class:`~toolvolley.stores.SQLiteJournal` is the embedded one.
"""

from __future__ import annotations

import inspect
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.lowlevel

from .. import _wording as wording
from .._calls import ToolCall, ToolResult
from .._content import to_content
from .._errors import UserError, describe_exception
from ._base import BatchScope, StoreBatch
from ._records import (
    Record,
    call_from_json,
    ready_call_to_json,
    response_from_json,
    response_to_json,
    result_from_json,
    result_to_json,
)

if TYPE_CHECKING:
    from .._model import ModelResponse
    from .._tools import Tool

__all__ = ["NOT_DONE", "UNKNOWN", "Conversation", "Journal", "Reconciled", "replayed"]

logger = logging.getLogger("toolvolley")


class Reconciled:
    """What a reconcile check returns when it found no result: :data:`NOT_DONE` or
    :data:`UNKNOWN`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_DONE = Reconciled("NOT_DONE")
"""A reconcile check's answer: the call had no effect; it is run now."""
UNKNOWN = Reconciled("UNKNOWN")
"""A reconcile check's answer: it cannot tell; the call is answered ``in_doubt``."""


class _Group:
    __slots__ = ("done", "error", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        # Set once the group is committed (or failed): made on the event loop by the group's
        # leader, and the one thing every writer of the group waits on.
        self.done: anyio.Event | None = None
        self.error: BaseException | None = None


class _GroupCommit:
    """Records that arrive together go in one transaction: the first writer that waits leads
    (it lets the others that are ready join, then commits them all); writers that arrive while a
    commit is under way join the next one. A record :meth:`add` ed without waiting goes with the
    next commit (or :meth:`flush`)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._open = _Group()
        self._busy: _Group | None = None  # the group being committed

    def add(self, record: Record) -> None:
        self._open.records.append(record)

    async def write(self, records: Sequence[Record]) -> None:
        group = self._open
        group.records.extend(records)
        if group.done is None:
            await self._lead(group)
        else:  # joined a group another writer leads: one wait, nothing else
            await group.done.wait()
        if group.error is not None:
            raise group.error

    async def flush(self) -> None:
        """Wait until every record added so far is committed."""
        group = self._open
        if group.done is not None:
            await group.done.wait()
        elif group.records:
            await self._lead(group)
        elif self._busy is not None:
            group = self._busy
            assert group.done is not None
            await group.done.wait()
        if group.error is not None:
            raise group.error

    async def _lead(self, group: _Group) -> None:
        done = group.done = anyio.Event()
        # Committed whatever happens to the leader: the others wait for it. anyio's shield
        # does not hold off asyncio's own task.cancel() (a timeout guard's, a TaskGroup's): a
        # leader cancelled all the same fails its group, which is closed to new writers.
        try:
            with anyio.CancelScope(shield=True):
                busy = self._busy
                if busy is not None:
                    assert busy.done is not None
                    await busy.done.wait()
                else:
                    await anyio.lowlevel.checkpoint()  # the calls starting now join in
                self._open = _Group()
                self._busy = group
                try:
                    await self._journal._write(group.records)
                except Exception as exc:
                    group.error = exc
        except BaseException:
            group.error = RuntimeError("the journal's commit was interrupted")
            raise
        finally:
            if self._open is group:
                self._open = _Group()
            if self._busy is group:
                self._busy = None
            done.set()


class Journal(ABC):
    """Where a conversation's model responses, call starts and results are recorded, durably.

    ``run_loop(model, prompt, tools, journal=journal, conversation_id="order-42")`` records the
    conversation and, run again with the same id after a crash, continues it (see the module's
    docstring for what a resumed call gets). A backend implements :meth:`_load` and
    :meth:`_write`; the journal is an async context manager (``async with SQLiteJournal(path)
    as journal:``), and :meth:`aclose` closes it.
    """

    def __init__(self) -> None:
        self._commits = _GroupCommit(self)

    @abstractmethod
    async def _load(self, conversation: str) -> list[Record]:
        """Every record of ``conversation``."""

    @abstractmethod
    async def _write(self, records: Sequence[Record]) -> None:
        """Write ``records`` in one transaction, durable when this returns. A record whose key
        (conversation, turn, call_id, kind) exists replaces it."""

    async def aclose(self) -> None:  # noqa: B027 - a backend without a connection has none
        """Release the journal's connection."""

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def conversation(self, conversation_id: str) -> Conversation:
        """The conversation ``conversation_id``, with what the journal holds of it."""
        if not isinstance(conversation_id, str) or not conversation_id:
            raise UserError(f"conversation_id must be a non-empty string, not {conversation_id!r}.")
        return Conversation(self, conversation_id, await self._load(conversation_id))

    async def write(self, record: Record) -> None:
        """Record ``record``, group-committed with the records written at the same time: durable
        when this returns."""
        await self._commits.write((record,))

    def add(self, record: Record) -> None:
        """Record ``record`` with the next commit (a :meth:`write`, or :meth:`flush`)."""
        self._commits.add(record)

    async def flush(self) -> None:
        """Commit every record added so far."""
        await self._commits.flush()


class Conversation:
    """One conversation of a :class:`Journal`: what it holds, and the store for each turn."""

    def __init__(self, journal: Journal, conversation_id: str, records: Sequence[Record]) -> None:
        self.journal = journal
        self.id = conversation_id
        self._responses: dict[int, str] = {}
        # Per turn, by call id: the calls recorded as the stream finished them, the calls that
        # started, their results (JSON text).
        self._calls: dict[int, dict[str, str]] = {}
        self._started: dict[int, set[str]] = {}
        self._results: dict[int, dict[str, str]] = {}
        for r in records:
            if r.kind == "response":
                self._responses[r.turn] = r.data
            elif r.kind == "started":
                self._started.setdefault(r.turn, set()).add(r.call_id)
            else:
                kind = self._calls if r.kind == "call" else self._results
                kind.setdefault(r.turn, {})[r.call_id] = r.data

    @property
    def turns(self) -> int:
        """Model responses recorded, whole or cut short by a crash (see :meth:`interrupted`)."""
        return len({*self._responses, *(t for t, calls in self._calls.items() if calls)})

    def response(self, turn: int, provider: str) -> ModelResponse | None:
        """Turn ``turn``'s recorded model response, or None: the model is to be asked (or the
        turn was :meth:`interrupted`)."""
        data = self._responses.get(turn)
        return None if data is None else response_from_json(data, provider)

    def interrupted(self, turn: int) -> list[ToolCall]:
        """The calls recorded of turn ``turn``'s response, in order, if a crash cut the response
        short (no whole response recorded); else none."""
        return [call_from_json(c) for c in self._cut(turn)]

    def interrupted_parts(self, turn: int) -> list[Any]:
        """The parts of the model's turn its :meth:`interrupted` calls carried (see
        ``CallReady.parts``), in order; none unless every one of them carried its own."""
        found = self._cut(turn)
        if not found or not all(c.get("parts") for c in found):
            return []
        return [part for c in found for part in c["parts"]]

    def _cut(self, turn: int) -> list[dict[str, Any]]:
        """The records of the calls of turn ``turn``, in their order in the response, if a
        crash cut it short; else none."""
        if turn in self._responses:
            return []
        return sorted((json.loads(d) for d in self._calls.get(turn, {}).values()), key=_at)

    def record_call(
        self, turn: int, position: int, call: ToolCall, parts: Sequence[Any] = ()
    ) -> None:
        """Record a call of turn ``turn`` as the stream finishes it: committed with its start
        (so before its body runs), or with the response. ``parts``: what of the model's turn
        goes back with it (``CallReady.parts``)."""
        data = ready_call_to_json(position, call, parts)
        self.journal.add(Record(self.id, turn, call.id, "call", data))
        self._calls.setdefault(turn, {})[call.id] = data

    async def record_response(self, turn: int, response: ModelResponse) -> None:
        """Record turn ``turn``'s whole response, once its stream has ended."""
        data = response_to_json(response)
        await self.journal.write(Record(self.id, turn, "", "response", data))
        self._responses[turn] = data

    def store(self, turn: int, tools: _Tools) -> _TurnStore:
        """The :class:`ResultStore` for turn ``turn``'s batch; ``tools`` (a
        :class:`~toolvolley.Toolbox`): where the reconcile checks of its unfinished calls are."""
        return _TurnStore(self, turn, tools)

    def unfinished(self, turn: int) -> list[ToolCall]:
        """Calls of ``turn`` that started and have no recorded result (the calls themselves are
        in the turn's response)."""
        data = self._responses.get(turn)
        open_ids = self._started.get(turn, set()) - self._results.get(turn, {}).keys()
        if not open_ids:
            return []  # the common case: the response is not parsed again
        calls = self.interrupted(turn) if data is None else response_from_json(data, "").calls
        return [c for c in calls if c.id in open_ids]

    async def _reconcile(self, turn: int, tools: _Tools) -> dict[str, ToolResult]:
        """Turn ``turn``'s unfinished calls settled by their tools' reconcile checks: the result
        found (recorded now), or an ``in_doubt`` one; a call found not done is forgotten, so it
        runs."""
        settled: dict[str, ToolResult] = {}
        for call in self.unfinished(turn):
            tool = tools.get(call.name)
            if tool is None or tool.reconcile is None:
                continue
            try:
                found = await _check(tool, call)
            except Exception as exc:
                logger.error("The reconcile check of %r raised.", tool.name, exc_info=exc)
                settled[call.id] = in_doubt(call, describe_exception(exc))
                continue
            if found is NOT_DONE:
                self._started[turn].discard(call.id)
            elif found is UNKNOWN:
                settled[call.id] = in_doubt(call)
            else:
                result = _found(call, found)
                await self.journal.write(
                    Record(self.id, turn, call.id, "result", result_to_json(result))
                )
                self._results.setdefault(turn, {})[call.id] = result_to_json(result)
        return settled


def _at(call: dict[str, Any]) -> int:
    """A recorded call's place in its response."""
    at: int = call["at"]
    return at


async def _check(tool: Tool, call: ToolCall) -> Any:
    check = tool.reconcile
    assert check is not None
    if _is_async(check):
        return await check(call)
    return await anyio.to_thread.run_sync(check, call)


def _is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004
    )


def _found(call: ToolCall, value: Any) -> ToolResult:
    content = to_content(value)
    return ToolResult(call_id=call.id, name=call.name, status="ok", content=content, value=value)


def in_doubt(call: ToolCall, why: str | None = None) -> ToolResult:
    """The answer to a call whose outcome is unknown after a crash."""
    content = wording.in_doubt(call.name, why)
    return ToolResult(
        call_id=call.id,
        name=call.name,
        status="in_doubt",
        content=content,
        error=RuntimeError(content),
        may_still_take_effect=True,
    )


async def _ready(result: ToolResult) -> ToolResult:
    return result


class _Tools(Protocol):
    def get(self, name: str) -> Tool | None: ...


class _TurnStore:
    """One turn's :class:`ResultStore`: every call kept, by its id."""

    def __init__(self, conversation: Conversation, turn: int, tools: _Tools) -> None:
        self._conversation = conversation
        self._turn = turn
        self._tools = tools

    async def open_batch(self, scope: BatchScope) -> StoreBatch:
        settled = await self._conversation._reconcile(self._turn, self._tools)
        return _TurnBatch(self._conversation, self._turn, settled)


class _TurnBatch:
    """One turn's calls, as the journal sees them (see the module's docstring)."""

    def __init__(
        self, conversation: Conversation, turn: int, settled: dict[str, ToolResult]
    ) -> None:
        self._c = conversation
        self._turn = turn
        self._settled = settled  # by a reconcile check: a result found, or in doubt
        self._started = conversation._started.setdefault(turn, set())
        self._results = conversation._results.setdefault(turn, {})
        # The call last given to key(): recorded(key) is asked of that call, at once.
        self._tool: Tool | None = None
        self._call: ToolCall | None = None

    def key(self, tool: Tool, call: ToolCall) -> Hashable | None:
        self._tool, self._call = tool, call
        return call.id

    def recorded(self, key: Hashable) -> Awaitable[ToolResult] | None:
        tool, call = self._tool, self._call
        assert tool is not None
        assert call is not None
        assert key == call.id
        data = self._results.get(call.id)
        if data is not None:
            return _ready(result_from_json(call, data))
        if key in self._settled:
            return _ready(self._settled[key])
        if key not in self._started or tool.idempotent:
            return None  # never started, or safe to run again: it runs
        return _ready(in_doubt(call))

    def running(self, key: Hashable, call: ToolCall) -> None:
        pass

    async def started(self, calls: Sequence[tuple[Hashable, ToolCall]]) -> None:
        c, turn = self._c, self._turn
        records = [Record(c.id, turn, call.id, "started", "") for _, call in calls]
        await c.journal._commits.write(records)
        self._started.update(call.id for _, call in calls)

    async def finished(self, key: Hashable, result: ToolResult) -> None:
        # Committed with the next group (a later call's start) or when the batch closes, so a
        # call does not wait for its own result's commit; a crash before then leaves the call
        # in doubt, never run again.
        c = self._c
        data = result_to_json(result)
        c.journal.add(Record(c.id, self._turn, result.call_id, "result", data))
        self._results[result.call_id] = data

    async def close(self) -> None:
        await self._c.journal.flush()


@asynccontextmanager
async def replayed(response: ModelResponse) -> AsyncIterator[AsyncIterator[ModelResponse]]:
    """A recorded response, as the loop reads a model's stream: the response, and nothing else."""

    async def items() -> AsyncGenerator[ModelResponse, None]:
        yield response

    stream = items()
    try:
        yield stream
    finally:
        await stream.aclose()
