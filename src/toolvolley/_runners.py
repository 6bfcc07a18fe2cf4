"""Where a call's body runs: the :class:`Runner` interface, and the event loop as a runner.

A runner takes a tool, its validated arguments and a deadline, runs the body somewhere (the
event loop, a worker thread, a worker process; later a Ray cluster or an MCP session) and returns
the value, with every lazy part of it (a generator, ``map(...)``, an async generator) consumed
where the body ran, inside the call's time. It keeps three promises the executor builds on:

* **Cancellation** of the awaiting task stops the body, or abandons it where it cannot be
  stopped (a thread), and the runner counts what it abandoned.
* **Nothing starts late**: a body never starts after ``deadline`` has passed or after its
  call was cancelled, even if a worker only becomes free then.
* **Failures are exceptions**: whatever the body raised, or the runner's own trouble (a worker
  that died), comes out of :meth:`Runner.run` as an exception, which the executor turns into the
  call's result. Only the runtime's own cancellation means "stopped".

The executor picks a tool's runner by name (``tool.run_in``: ``"thread"``, ``"process"``; async
tools run on ``"loop"``) from its table of runners, or uses the ``Runner`` object a tool names
directly; it has no list of kinds. Adding a runner is one new module.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Protocol

__all__ = ["PLAIN", "LoopRunner", "Runner", "ToolSpec", "consume", "settle"]


class ToolSpec(Protocol):
    """What a runner needs of a tool (a :class:`~toolvolley.Tool` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def func(self) -> Callable[..., Any]: ...

    @property
    def is_async(self) -> bool: ...

    @property
    def idempotent(self) -> bool: ...


# Values that are certainly not lazy: checked first, so the common case costs one lookup.
PLAIN: frozenset[type] = frozenset({str, int, float, bool, dict, list, tuple, type(None)})


class Runner(ABC):
    """Runs call bodies somewhere. Subclass it to add a place to run tools."""

    name: str = "runner"

    def check(self, tool: ToolSpec) -> None:
        """Refuse, with a :class:`~toolvolley.UserError`, a tool this runner cannot run.

        Called when a tool naming this runner is defined, so mistakes show up at import time.
        """
        return

    @property
    def abandoned(self) -> int:
        """Bodies still running whose calls were given up on (timed out or cancelled)."""
        return 0

    @abstractmethod
    async def run(self, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float) -> Any:
        """Run ``tool``'s body with ``kwargs`` and return its value, lazy parts consumed.

        ``deadline`` is a time on the core's clock (``_clock.now()``) after which the body must
        not start (``math.inf``: none). The executor's own timer stops the call at the deadline; the
        runner only has to make sure that work queued for a worker does not start after it.
        """


class LoopRunner(Runner):
    """Async tools run on the event loop, in the call's own task: cancelling the task stops
    them. An async generator is consumed there too, inside the call's time."""

    name = "loop"

    def check(self, tool: ToolSpec) -> None:
        from ._errors import UserError

        if not tool.is_async:
            raise UserError(f"Tool {tool.name!r} is not async; only async tools run on the loop.")

    async def run(self, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float) -> Any:
        return await settle(tool.func(**kwargs))


async def settle(value: Any) -> Any:
    """On the event loop: ``value`` awaited if it is awaitable, an async generator collected,
    and lazy iterators anywhere in it turned into lists (see :func:`consume`)."""
    if type(value) in PLAIN and type(value) not in _CONTAINERS:
        return value
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, AsyncIterator):
        value = [item async for item in value]
    return consume(value)


_CONTAINERS = (dict, list, tuple)


def consume(value: Any) -> Any:
    """``value`` with every lazy iterator in it (at the top, or inside dicts, lists and tuples)
    turned into the list of what it yields, so it runs here, inside the call's time, and its
    errors are the call's errors. Run it where the body ran."""
    kind = type(value)
    if kind in _CONTAINERS:
        if kind is dict:
            if any(type(item) not in _ATOMS for item in value.values()):
                return {key: consume(item) for key, item in value.items()}
            return value
        if any(type(item) not in _ATOMS for item in value):
            return kind(consume(item) for item in value)
        return value
    if kind not in PLAIN and isinstance(value, Iterator):
        return [consume(item) for item in value]
    return value


_ATOMS = frozenset({str, int, float, bool, type(None)})
