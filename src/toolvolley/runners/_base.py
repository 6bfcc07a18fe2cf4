"""Where a call's body runs: the :class:`Runner` interface, what it gets for one call
(:class:`CallContext`), and the event loop as a runner (:class:`LoopRunner`).

A runner takes one call (its tool, validated arguments and deadline), runs the body somewhere
(the event loop, a worker thread, a worker process, a Ray cluster) and returns the value, with
every lazy part of it (a generator, ``map(...)``, an async generator) consumed where the body
ran, inside the call's time. It keeps three promises the executor builds on:

* **Cancellation** of the awaiting task stops the body, or abandons it where it cannot be
  stopped (a thread), and the runner counts what it abandoned.
* **Nothing starts late**: a body never starts after ``deadline`` has passed or after its
  call was cancelled, even if a worker only becomes free then.
* **Failures are exceptions**: whatever the body raised, or the runner's own trouble, comes out
  of :meth:`Runner.run` as an exception, which the executor turns into the call's result. A
  worker that died before it answered is :class:`~toolvolley.runners.WorkerLost`, whatever the
  runner. Only the runtime's own cancellation means "stopped".

The executor picks a tool's runner by name (``tool.run_in``: ``"thread"``, ``"process"``; async
tools run on ``"loop"``) from the runners it was given, else from the built-in names
(:mod:`toolvolley.runners._registry`, each made on first use), or uses the ``Runner`` object a
tool names directly. Adding a runner is one new module (plus its line in the registry, for a
built-in name).
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Protocol

from .._errors import UserError

__all__ = [
    "PLAIN",
    "START_MARGIN",
    "Attempts",
    "CallContext",
    "LoopRunner",
    "Runner",
    "ToolSpec",
    "consume",
    "settle",
]

# A body with less time left than this does not start: its call is about to time out, and
# starting it would only make a body run after its call was reported stopped.
START_MARGIN = 0.002


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


class Attempts:
    """How many times one call's body was started, and why each start that did not give the
    answer failed (in the order they ended): the call's ``attempts`` and ``attempt_errors``."""

    __slots__ = ("count", "errors")

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[str] = []


class CallContext:
    """One call, as a runner gets it: the ``tool``, its validated ``arguments`` and its
    ``deadline``, a time on the core's clock (``_clock.now()``) after which the body must not start
    (``math.inf``: none).

    A runner that starts the body more than once (retries, hedges) records each start in
    ``attempts``; left ``None``, the call had one. A runner that leaves the body running when
    the call ends (an abandoned thread) sets ``abandoned``: what the body does may still take
    effect, and the call's result says so.
    """

    __slots__ = ("abandoned", "arguments", "attempts", "deadline", "tool")

    def __init__(
        self, tool: ToolSpec, arguments: Mapping[str, Any], deadline: float = math.inf
    ) -> None:
        self.tool = tool
        self.arguments = arguments
        self.deadline = deadline
        self.attempts: Attempts | None = None
        self.abandoned = False

    def __repr__(self) -> str:
        return f"CallContext({self.tool.name!r}, deadline={self.deadline!r})"


class Runner(ABC):
    """Runs call bodies somewhere. Subclass it to add a place to run tools::

    class Inline(Runner):
        async def run(self, call: CallContext) -> Any:
            return consume(call.tool.func(**call.arguments))
    """

    name: str = "runner"

    @classmethod
    def default(cls, *, max_threads: int) -> Runner:
        """The runner an executor makes for this kind's built-in name when it was given none
        (``max_threads``: the executor's setting, for runners with threads): ``cls()``."""
        return cls()

    @classmethod
    def check_named(cls, tool: ToolSpec) -> None:
        """Refuse, with a :class:`~toolvolley.UserError`, a tool this kind of runner cannot run,
        when the tool names it by name (``run_in="process"``): called as the tool is defined,
        so mistakes show up at import time."""
        return

    def check(self, tool: ToolSpec) -> None:
        """:meth:`check_named`, for a tool that names this runner object."""
        type(self).check_named(tool)

    @property
    def abandoned(self) -> int:
        """Bodies still running whose calls were given up on (timed out or cancelled)."""
        return 0

    @abstractmethod
    async def run(self, call: CallContext) -> Any:
        """Run ``call.tool``'s body with ``call.arguments`` and return its value, lazy parts
        consumed.

        The executor's own timer stops the call at ``call.deadline``; the runner only has to
        make sure that work queued for a worker does not start after it.
        """


class LoopRunner(Runner):
    """Async tools run on the event loop, in the call's own task: cancelling the task stops
    them. An async generator is consumed there too, inside the call's time."""

    name = "loop"

    def check(self, tool: ToolSpec) -> None:
        if not tool.is_async:
            raise UserError(f"Tool {tool.name!r} is not async; only async tools run on the loop.")

    async def run(self, call: CallContext) -> Any:
        return await settle(call.tool.func(**call.arguments))


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
