"""Pydantic AI's own tools with toolvolley's guarantees: ``ToolvolleyToolset`` and the
``Toolvolley`` capability (the public side: ``toolvolley.pydantic_ai``)."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import anyio

try:
    from pydantic_ai import Agent, RunContext, ToolDefinition
    from pydantic_ai import exceptions as _pai_exceptions
    from pydantic_ai.capabilities import AbstractCapability
    from pydantic_ai.exceptions import ToolFailed
    from pydantic_ai.tools import AgentDepsT
    from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset
except ImportError as exc:  # pragma: no cover - exercised with pydantic_ai hidden
    raise ImportError(
        "toolvolley.pydantic_ai needs Pydantic AI; install it with "
        "pip install 'toolvolley[pydantic-ai]'"
    ) from exc

from .. import _wording as wording
from .._clock import now
from .._errors import UserError, describe_exception
from .._options import check_count, check_scheduling, check_seconds
from .._scheduling import Mode, SideEffectsPolicy
from ..runners.threads import ThreadRunner
from ._futures import ThreadsExecutor, job_deadline
from ._response_turns import ResponseTurns

__all__ = ["CONTROL", "Toolvolley", "ToolvolleyToolset", "response_of"]

# What a tool raises to steer Pydantic AI itself (ask for a retry, defer, need approval ...):
# passed on as raised, never turned into a failed result.
CONTROL: tuple[type[BaseException], ...] = tuple(
    getattr(_pai_exceptions, name)
    for name in (
        "ModelRetry",
        "ToolFailed",
        "CallDeferred",
        "ApprovalRequired",
        "SkipToolExecution",
        "RunCancelled",
        "ToolRetryError",
        "ToolFailedError",
        "UserError",
    )
    if hasattr(_pai_exceptions, name)
)


@dataclass(frozen=True, slots=True)
class _Flags:
    """A Pydantic AI tool as the scheduler sees it."""

    name: str
    sequential: bool
    read_only: bool
    destructive: bool
    max_concurrency: int | None = None


_FLAGS: dict[tuple[str, bool, bool, bool], _Flags] = {}  # a few per tool: made once


def _flags(tool_def: ToolDefinition) -> _Flags:
    metadata = tool_def.metadata
    read_only = destructive = False
    if metadata:
        read_only = metadata.get("read_only") is True
        destructive = metadata.get("destructive") is True
    key = (tool_def.name, tool_def.sequential, read_only, destructive)
    flags = _FLAGS.get(key)
    if flags is None:
        flags = _FLAGS.setdefault(key, _Flags(*key))
    return flags


def _awaited_on_the_loop(tool: ToolsetTool[Any]) -> bool:
    """Whether Pydantic AI awaits ``tool``'s function on the event loop, so that no thread
    executor is needed: a ``FunctionToolset`` tool says so (``is_async``), also seen through a
    ``CombinedToolset``'s (``source_tool``: what a capability's toolset is handed). False when
    it cannot tell: the executor is then set, as for a sync tool."""
    seen: object = tool
    for _ in range(3):
        is_async = getattr(seen, "is_async", None)
        if is_async is not None:
            return is_async is True
        seen = getattr(seen, "source_tool", None)
        if seen is None:
            return False
    return False


def response_of(ctx: RunContext[Any]) -> Hashable:
    """The model response a call belongs to: its run and the run's step."""
    return (ctx.run_id, ctx.run_step)


def _turns(
    mode: Mode, max_concurrency: int | None, side_effects: SideEffectsPolicy
) -> ResponseTurns:
    check_scheduling(mode, side_effects)
    check_count("max_concurrency", max_concurrency)
    return ResponseTurns(
        serial=mode == "serial", max_concurrency=max_concurrency, side_effects=side_effects
    )


@dataclass
class ToolvolleyToolset(WrapperToolset[AgentDepsT]):
    """Runs the wrapped toolset's calls with toolvolley's guarantees, per model response:

    * ``max_concurrency``: calls of one response in flight at once; ``mode="serial"``: one at a
      time; a tool with ``sequential=True`` or ``metadata={"destructive": True}`` is a barrier
      (``side_effects="strict"``: every tool without ``metadata={"read_only": True}``).
    * ``timeout``: seconds a call may run once it has its turn, sync tools included: their
      bodies run in toolvolley's worker threads (``threads``), abandoned at the deadline.
    * A tool that raises is a failed result the model reads (Pydantic AI's ``ToolFailed``);
      its siblings finish. ``ModelRetry`` and Pydantic AI's other signals pass as raised.

    Calls take their places in the order they reach the toolset: the model's order, as
    Pydantic AI starts them, unless a hook before the toolset makes one wait.

    Example::

        agent = Agent(model, toolsets=[ToolvolleyToolset(my_toolset, max_concurrency=3)])
    """

    _: KW_ONLY
    timeout: float | None = None
    max_concurrency: int | None = None
    mode: Mode = "parallel"
    side_effects: SideEffectsPolicy = "declared"
    threads: ThreadRunner = field(default_factory=ThreadRunner)
    _turns: ResponseTurns = field(init=False, repr=False, compare=False)
    _pool: ThreadsExecutor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_seconds("timeout", self.timeout)
        if not isinstance(self.threads, ThreadRunner):
            raise UserError(f"threads must be a ThreadRunner, not {self.threads!r}.")
        self._turns = _turns(self.mode, self.max_concurrency, self.side_effects)
        self._pool = ThreadsExecutor(self.threads)

    @property
    def abandoned_threads(self) -> int:
        """Worker threads still running sync calls that timed out or were cancelled."""
        return self.threads.abandoned

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[AgentDepsT],
        tool: ToolsetTool[AgentDepsT],
    ) -> Any:
        place = self._turns.enter(response_of(ctx), _flags(tool.tool_def))
        try:
            if place.waits:
                await place.wait()
            if self.timeout is not None:
                return await self._run_with_timeout(name, tool_args, ctx, tool, self.timeout)
            # The common case, inline: one coroutine less per call.
            token = job_deadline.set(math.inf) if job_deadline.get() != math.inf else None
            try:
                # No thread executor to set for a coroutine function. A sync one gets it even
                # in the capability's run: a capability inside ours (Pydantic AI's
                # UseThreadExecutor) may have set another for the run.
                if _awaited_on_the_loop(tool):
                    return await self.wrapped.call_tool(name, tool_args, ctx, tool)
                with Agent.using_thread_executor(self._pool):
                    return await self.wrapped.call_tool(name, tool_args, ctx, tool)
            except CONTROL:
                raise
            except Exception as exc:
                raise ToolFailed(wording.tool_failed(name, describe_exception(exc))) from exc
            finally:
                if token is not None:
                    job_deadline.reset(token)
        finally:
            place.leave()

    async def _run_with_timeout(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[AgentDepsT],
        tool: ToolsetTool[AgentDepsT],
        seconds: float,
    ) -> Any:
        timeout = seconds
        failure: Exception | None = None
        value: Any = None
        token = job_deadline.set(now() + timeout)
        try:
            with (
                anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope,
                Agent.using_thread_executor(self._pool),
            ):
                try:
                    value = await self.wrapped.call_tool(name, tool_args, ctx, tool)
                except CONTROL:
                    raise
                except Exception as exc:
                    failure = exc
        finally:
            job_deadline.reset(token)
        if scope.cancel_called:  # our deadline, whatever the tool made of it
            raise ToolFailed(wording.timed_out(name, timeout)) from failure
        if failure is not None:
            message = wording.tool_failed(name, describe_exception(failure))
            raise ToolFailed(message) from failure
        return value


@dataclass
class Toolvolley(AbstractCapability[Any]):
    """:class:`ToolvolleyToolset` around all of an agent's tools (output tools aside), as a
    capability: ``Agent(model, capabilities=[Toolvolley(timeout=30, max_concurrency=8)])``.
    One pool of worker threads (``threads``) serves every run of the agent."""

    _: KW_ONLY
    timeout: float | None = None
    max_concurrency: int | None = None
    mode: Mode = "parallel"
    side_effects: SideEffectsPolicy = "declared"
    threads: ThreadRunner = field(default_factory=ThreadRunner)

    def __post_init__(self) -> None:
        check_seconds("timeout", self.timeout)
        _turns(self.mode, self.max_concurrency, self.side_effects)  # fail now, not per run
        if not isinstance(self.threads, ThreadRunner):
            raise UserError(f"threads must be a ThreadRunner, not {self.threads!r}.")

    @property
    def abandoned_threads(self) -> int:
        """Worker threads still running sync calls that timed out or were cancelled."""
        return self.threads.abandoned

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None  # holds a thread pool: not part of an agent spec

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any] | None:
        return ToolvolleyToolset(
            toolset,
            timeout=self.timeout,
            max_concurrency=self.max_concurrency,
            mode=self.mode,
            side_effects=self.side_effects,
            threads=self.threads,
        )
