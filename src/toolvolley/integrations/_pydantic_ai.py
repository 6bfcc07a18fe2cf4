"""Pydantic AI's side of the adapter (the public side: ``toolvolley.pydantic_ai``)."""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Hashable, Iterable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

try:
    from pydantic_ai import Agent, RunContext, ToolDefinition
    from pydantic_ai import exceptions as _pai_exceptions
    from pydantic_ai.capabilities import AbstractCapability
    from pydantic_ai.exceptions import ModelRetry, ToolFailed
    from pydantic_ai.tools import AgentDepsT
    from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset
    from pydantic_core import SchemaValidator, core_schema
except ImportError as exc:  # pragma: no cover - exercised with pydantic_ai hidden
    raise ImportError(
        "toolvolley.pydantic_ai needs Pydantic AI; install it with "
        "pip install 'toolvolley[pydantic-ai]'"
    ) from exc

from .._calls import ToolCall, ToolResult
from .._errors import UserError, describe_exception
from .._executor import Executor
from .._options import check_count, check_scheduling, check_seconds
from .._scheduling import Mode, SideEffectsPolicy
from .._schema import arguments_from_function
from .._threads import ThreadRunner
from .._toolbox import Toolbox
from .._tools import Tool
from ._futures import ThreadsExecutor, job_deadline
from ._volleys import Volleys

__all__ = ["ToolboxToolset", "Toolvolley", "ToolvolleyToolset", "toolset"]

# What a tool raises to steer Pydantic AI itself (ask for a retry, defer, need approval ...):
# passed on as raised, never turned into a failed result.
_CONTROL: tuple[type[BaseException], ...] = tuple(
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


def _response(ctx: RunContext[Any]) -> Hashable:
    """The model response a call belongs to: its run and the run's step."""
    return (ctx.run_id, ctx.run_step)


def _check(mode: Mode, max_concurrency: int | None, side_effects: SideEffectsPolicy) -> None:
    check_scheduling(mode, side_effects)
    check_count("max_concurrency", max_concurrency)


class _Job:
    """One call of the wrapped toolset: run in the context of Pydantic AI's task for it (its
    run context, spans and thread executor are per call), and what it gave."""

    __slots__ = ("args", "context", "ctx", "name", "owner", "tool", "value")

    def __init__(
        self,
        owner: ToolvolleyToolset[Any],
        name: str,
        args: dict[str, Any],
        ctx: RunContext[Any],
        tool: ToolsetTool[Any],
    ) -> None:
        self.owner = owner
        self.name = name
        self.args = args
        self.ctx = ctx
        self.tool = tool
        self.context = contextvars.copy_context()
        self.value: Any = None

    async def body(self) -> None:
        owner = self.owner
        timeout = owner.timeout
        job_deadline.set(math.inf if timeout is None else time.monotonic() + timeout)
        with Agent.using_thread_executor(owner._pool):
            self.value = await owner.wrapped.call_tool(self.name, self.args, self.ctx, self.tool)

    def answer(self, result: ToolResult | None) -> Any:
        """The value, or the exception that tells Pydantic AI what happened."""
        name = self.name
        if result is None:
            raise ToolFailed(f"Tool {name!r} was cancelled before it started.")
        if result.status == "ok":
            return self.value
        error = result.error
        if isinstance(error, _CONTROL):
            raise error
        if result.status == "timeout":
            raise ToolFailed(
                f"Tool {name!r} did not finish within its {self.owner.timeout:g} s timeout and "
                "was stopped. Continue without this result, or call it again if it is worth "
                "the wait."
            ) from error
        if isinstance(error, Exception):
            raise ToolFailed(f"Tool {name!r} failed with {describe_exception(error)}") from error
        raise ToolFailed(result.content)


async def _run_job(job: Any) -> None:  # a _Job (Any: no JSON Schema for it)
    # Pydantic AI runs on asyncio: a task in the call's own context, awaited here (cancelling
    # this cancels it).
    await asyncio.get_running_loop().create_task(job.body(), context=job.context)


_JOB_ARGUMENTS = arguments_from_function(_run_job)


class _Tools(Toolbox):
    """The wrapped toolset's tools as toolvolley schedules them, made as their calls come:
    a tool with ``sequential=True`` or ``metadata={"destructive": True}`` is a barrier,
    ``metadata={"read_only": True}`` never is."""

    __slots__ = ("made",)

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[str, Tool] = {}

    def get(self, name: str) -> Tool | None:
        return self.made.get(name)

    def key(self, tool_def: ToolDefinition) -> str:
        metadata = tool_def.metadata or {}
        sequential = tool_def.sequential
        read_only = metadata.get("read_only") is True
        destructive = metadata.get("destructive") is True
        key = f"{tool_def.name}#{sequential:d}{read_only:d}{destructive:d}"
        if key not in self.made:
            self.made[key] = Tool(
                name=key, description="", func=_run_job, is_async=True, arguments=_JOB_ARGUMENTS
            ).with_options(sequential=sequential, read_only=read_only, destructive=destructive)
        return key


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
    _volleys: Volleys = field(init=False, repr=False, compare=False)
    _tools: _Tools = field(init=False, repr=False, compare=False)
    _pool: ThreadsExecutor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_seconds("timeout", self.timeout)
        if not isinstance(self.threads, ThreadRunner):
            raise UserError(f"threads must be a ThreadRunner, not {self.threads!r}.")
        _check(self.mode, self.max_concurrency, self.side_effects)
        self._tools = _Tools()
        executor = Executor(
            self._tools,
            mode=self.mode,
            timeout=self.timeout,
            max_concurrency=self.max_concurrency,
            side_effects=self.side_effects,
            runners={"thread": self.threads},
            tracing=False,  # Pydantic AI traces its tool calls itself
        )
        self._volleys = Volleys(executor)
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
        job = _Job(self, name, tool_args, ctx, tool)
        call = ToolCall(ctx.tool_call_id or name, self._tools.key(tool.tool_def), {"job": job})
        return job.answer(await self._volleys.run(_response(ctx), call))


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
        _check(self.mode, self.max_concurrency, self.side_effects)  # fail now, not per run

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


_ANY_OBJECT = SchemaValidator(
    core_schema.dict_schema(
        keys_schema=core_schema.str_schema(), values_schema=core_schema.any_schema()
    )
)
"""Pydantic AI's own argument check, left open: the executor validates against the tool's
JSON Schema and answers ``invalid_arguments`` itself."""


class ToolboxToolset(AbstractToolset[Any]):
    """toolvolley tools as a Pydantic AI toolset; each call runs through ``executor``, whose
    options (``timeout``, ``max_concurrency``, ``mode``, ``side_effects``, threads ...) hold per
    model response. Make one with :func:`toolset`."""

    def __init__(self, executor: Executor, *, id: str | None = None, max_retries: int = 1) -> None:
        if not isinstance(executor, Executor):
            raise UserError(f"ToolboxToolset runs calls through an Executor, not {executor!r}.")
        check_count("max_retries", max_retries)
        self.executor = executor
        self._id = id
        self._volleys = Volleys(executor)
        toolbox = executor.toolbox
        self._tools: dict[str, ToolsetTool[Any]] = {
            wire: ToolsetTool(
                toolset=self,
                tool_def=ToolDefinition(
                    name=wire,
                    parameters_json_schema=dict(tool.parameters),
                    description=tool.description,
                    sequential=tool.sequential,
                ),
                max_retries=max_retries,
                args_validator=_ANY_OBJECT,
            )
            for wire, tool in zip(toolbox.wire_names, toolbox, strict=True)
        }

    def __repr__(self) -> str:
        return f"ToolboxToolset({self.executor!r})"

    @property
    def id(self) -> str | None:
        return self._id

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        return dict(self._tools)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        found = self.executor.toolbox.get(name)
        if found is None:
            raise ToolFailed(f"Unknown tool {name!r}.")
        call = ToolCall(ctx.tool_call_id or name, name, tool_args)
        result = await self._volleys.run(_response(ctx), call)
        if result is None:  # the batch never ran it (it could not open)
            raise ToolFailed(f"Tool {name!r} was cancelled before it started.")
        return _answer(result)


def _answer(result: ToolResult) -> Any:
    """A result as Pydantic AI takes it: the value, or the exception that says what failed."""
    if result.status == "ok":
        return result.value
    if isinstance(result.error, _CONTROL):  # the tool steers Pydantic AI: let it
        raise result.error
    if result.status == "invalid_arguments":  # Pydantic AI's way: ask the model to fix them
        raise ModelRetry(result.content)
    raise ToolFailed(result.content)


def toolset(
    tools: Toolbox | Iterable[Tool] | Executor, *, id: str | None = None, max_retries: int = 1
) -> ToolboxToolset:
    """toolvolley tools (or an :class:`Executor` with its options) as a Pydantic AI toolset::

        agent = Agent(model, toolsets=[toolset(Executor([get_weather], timeout=10))])

    Arguments are checked against each tool's JSON Schema by the executor; an invalid call is
    a ``ModelRetry`` (``max_retries`` per tool, Pydantic AI's default of 1), a failed or timed
    out one a ``ToolFailed`` the model reads.
    """
    executor = tools if isinstance(tools, Executor) else Executor(tools)
    return ToolboxToolset(executor, id=id, max_retries=max_retries)
