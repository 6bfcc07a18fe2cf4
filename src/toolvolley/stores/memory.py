"""Identical calls in one batch, run once: :class:`MemoryStore`, ``Executor(dedupe=True)``.

Two calls are identical when they name the same tool with the same arguments (compared as
parsed JSON, so key order and spacing do not matter). For a tool marked ``idempotent`` the
later ones wait for the first and each gets its own copy of its result, with its own call id.
A timeout is the first call's: a call sharing it says so ("Same call as c0 ...; its result:").

What may have changed state in between ends the sharing: a ``sequential`` or ``destructive``
tool's call, or, in ``serial`` mode (where calls run in order), any call to a tool that is not
``read_only``. An identical call after one of those runs again.

The results are kept in memory for one batch: each batch starts with none.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .. import _wording as wording
from .._calls import ToolCall, ToolResult
from ._base import BatchScope, StoreBatch

if TYPE_CHECKING:
    from .._tools import Tool

__all__ = ["MemoryStore", "dedupe_key", "ends_sharing"]


class MemoryStore:
    """Identical calls of one batch run once (see the module's docstring)::

    Executor(tools, store=MemoryStore())            # what dedupe=True does
    """

    async def open_batch(self, scope: BatchScope) -> StoreBatch:
        return _Shared(scope.ordered)

    def __repr__(self) -> str:
        return "MemoryStore()"


def dedupe_key(tool: Tool, call: ToolCall) -> tuple[str, str] | None:
    """What identical calls of ``tool`` share, or None when ``call`` is not to be shared."""
    if not tool.idempotent:
        return None
    raw = call.arguments
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return tool.name, json.dumps(parsed, sort_keys=True, default=repr)
    except ValueError:
        return None  # not JSON: validation will say so, call by call


def ends_sharing(tool: Tool, ordered: bool) -> bool:
    """Whether a call to ``tool`` may change what identical calls before it saw. ``ordered``:
    every call that is not read-only runs after the calls before it (serial mode, or
    ``side_effects="strict"``)."""
    return tool.sequential or tool.destructive or (ordered and not tool.read_only)


class _First:
    """The first of identical calls: the one that runs."""

    __slots__ = ("call_id", "done", "result")

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.result: ToolResult | None = None
        self.done: Any = None  # an event, made when a later call waits for the result

    async def shared(self) -> ToolResult:
        if self.result is None:
            if self.done is None:
                self.done = anyio.Event()
            await self.done.wait()
        result = self.result
        assert result is not None
        if result.status == "timeout":  # the time ran out on the first call's run, not this one
            content = wording.shared_result(self.call_id, result.content)
            return dataclasses.replace(result, content=content, error=TimeoutError(content))
        return result


class _Shared:
    """One batch's identical calls: the first of each kind, until a call ends the sharing."""

    __slots__ = ("_firsts", "_ordered", "_running")

    def __init__(self, ordered: bool) -> None:
        self._ordered = ordered
        self._firsts: dict[Hashable, _First] = {}  # those later identical calls share
        self._running: dict[str, _First] = {}  # by call id, shared or no longer

    def key(self, tool: Tool, call: ToolCall) -> Hashable | None:
        if ends_sharing(tool, self._ordered):
            self._firsts.clear()
        return dedupe_key(tool, call)

    def recorded(self, key: Hashable) -> Awaitable[ToolResult] | None:
        first = self._firsts.get(key)
        return None if first is None else first.shared()

    def running(self, key: Hashable, call: ToolCall) -> None:
        self._firsts[key] = self._running[call.id] = _First(call.id)

    async def started(self, calls: Sequence[tuple[Hashable, ToolCall]]) -> None:
        pass

    async def finished(self, key: Hashable, result: ToolResult) -> None:
        first = self._running.pop(result.call_id, None)
        if first is not None:
            first.result = result
            if first.done is not None:
                first.done.set()

    async def close(self) -> None:
        pass
