"""The worker side of the Ray runners: what runs in Ray's workers and actors (the body of a
task, the actor of a :class:`~toolvolley.ray.RayActorRunner`, the cluster-wide limiter), and
:func:`actor_state`. Nothing here imports ray: :mod:`._connect` makes these remote.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from ..._errors import UserError
from .._base import START_MARGIN, consume

__all__ = ["NAMESPACE", "Limiter", "TooLate", "ToolActor", "actor_state", "body", "limiter_name"]

T = TypeVar("T")

NAMESPACE = "toolvolley"


class TooLate(Exception):
    """The call's deadline passed before a worker could start it; it did not start."""


def limiter_name(tool_name: str) -> str:
    """The name of the cluster-wide limiter actor of ``tool_name`` (namespace ``toolvolley``)."""
    return f"toolvolley-limit:{tool_name}"


def body(func: Callable[..., Any], kwargs: dict[str, Any], wall_deadline: float) -> Any:
    """Run the body where the task landed, lazy parts consumed, unless it is already too late."""
    if time.time() >= wall_deadline - START_MARGIN:
        raise TooLate
    value = func(**kwargs)
    if inspect.isawaitable(value) or isinstance(value, AsyncIterator):
        return asyncio.run(_settle(value))
    return consume(value)


async def _settle(value: Any) -> Any:
    if isinstance(value, AsyncIterator):
        return [item async for item in value]
    value = await value
    if isinstance(value, AsyncIterator):
        return [item async for item in value]
    return consume(value)


_STATE: Any = None
_STATE_SET = False


def actor_state(kind: type[T]) -> T:
    """Inside a tool running on a :class:`RayActorRunner`: the actor's state object (what its
    factory made), checked to be a ``kind``::

        counter = RayActorRunner(Counter)

        @tool(run_in=counter)
        def add(k: int) -> int:
            return actor_state(Counter).add(k)
    """
    if not _STATE_SET:
        raise UserError("actor_state() is only available in a tool running on a RayActorRunner.")
    if not isinstance(_STATE, kind):
        raise UserError(f"The actor's state is a {type(_STATE).__name__}, not a {kind.__name__}.")
    return _STATE


class ToolActor:
    """The actor of a :class:`RayActorRunner`: holds the state and runs the tools' bodies."""

    def __init__(self, factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]):
        global _STATE, _STATE_SET
        _STATE = factory(*args, **kwargs)
        _STATE_SET = True

    def call(self, func: Callable[..., Any], kwargs: dict[str, Any], wall_deadline: float) -> Any:
        return body(func, kwargs, wall_deadline)

    def pid(self) -> int:
        return os.getpid()


class Limiter:
    """A cluster-wide counting semaphore (an async actor: many waiters at once).

    ``release(token)`` for a token that has not acquired yet (its caller gave up while
    waiting) makes that ``acquire`` return False whenever it arrives, so no slot leaks.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: set[str] = set()
        self.dropped: set[str] = set()
        self.peak = 0
        self.cond = asyncio.Condition()

    async def acquire(self, token: str) -> bool:
        async with self.cond:
            while len(self.held) >= self.limit and token not in self.dropped:
                await self.cond.wait()
            if token in self.dropped:
                self.dropped.discard(token)
                return False
            self.held.add(token)
            self.peak = max(self.peak, len(self.held))
            return True

    async def release(self, token: str) -> None:
        async with self.cond:
            if token in self.held:
                self.held.discard(token)
            else:
                self.dropped.add(token)
            self.cond.notify_all()

    async def wait_idle(self) -> None:
        """Return once no slot is held (e.g. every release sent has landed)."""
        async with self.cond:
            while self.held:
                await self.cond.wait()

    async def stats(self) -> dict[str, int]:
        return {"limit": self.limit, "held": len(self.held), "peak": self.peak}
