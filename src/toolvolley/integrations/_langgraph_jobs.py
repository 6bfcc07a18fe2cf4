"""The calls of a message of toolvolley's LangGraph ``ToolNode`` as a toolvolley batch runs
them: one job per call (LangGraph's ``_run_one`` in a thread, or ``_arun_one`` on the loop, and
what it gave), the node's tools for the batch, and what the batch reads of the executor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import Context
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import ToolCall as LangChainToolCall
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import ToolRuntime
from langgraph.types import Command

from .._executor import Executor
from .._scheduling import Mode, SideEffectsPolicy
from .._toolbox import Toolbox
from .._tools import Tool
from ..runners._base import Runner
from ._in_process import InProcessArguments
from ._lc_tools import declared_options

if TYPE_CHECKING:
    from ._langgraph import ToolNode

__all__ = ["InputType", "Job", "Output", "Settings", "in_thread", "node_tool", "on_loop"]

Output = ToolMessage | Command[Any] | list[Command[Any] | ToolMessage]
InputType = Literal["list", "dict", "tool_calls"]

# The per-tool options a LangChain tool may give in ``metadata["toolvolley"]``.
_TOOL_OPTIONS = frozenset({"timeout", "max_concurrency", "sequential", "read_only", "destructive"})


class Job:
    """One call of the message: how LangGraph runs it (``_run_one`` in the context it was made
    in, when ``context`` is set, else ``_arun_one``), and what it gave. One object a call: a
    message's jobs live until its last call ends."""

    __slots__ = ("call", "context", "done", "error", "input_type", "node", "output", "runtime")

    def __init__(
        self,
        node: ToolNode,
        call: LangChainToolCall,
        input_type: InputType,
        runtime: ToolRuntime[Any, Any],
        context: Context | None,
    ) -> None:
        self.node = node
        self.call = call
        self.input_type = input_type
        self.runtime = runtime
        self.context = context
        self.output: Output | None = None  # what LangGraph's _run_one returned, even None
        self.done = False
        self.error: Exception | None = None


def in_thread(job: Any) -> str:
    """The body of a call run in one of the executor's threads (``_run_one``). What LangGraph
    returned stays on the job; the batch's own result gets an empty text (kept as it is)."""
    try:
        assert job.context is not None
        job.output = job.context.run(job.node._run_one, job.call, job.input_type, job.runtime)
        job.done = True
    except Exception as exc:  # LangGraph's to raise (or not) once every call has finished
        job.error = exc
    return ""


async def on_loop(job: Any) -> str:
    """The body of a call run on the event loop (``_arun_one``)."""
    try:
        job.output = await job.node._arun_one(job.call, job.input_type, job.runtime)
        job.done = True
    except Exception as exc:
        job.error = exc
    return ""


JOB_ARGUMENTS = InProcessArguments("job")


class Settings:
    """What a batch reads of an executor (``BatchSettings``), with the node's own tools."""

    __slots__ = ("_executor", "max_concurrency", "toolbox")

    references = False
    dedupe = False

    def __init__(self, executor: Executor, toolbox: Toolbox, max_concurrency: int | None) -> None:
        self._executor = executor
        self.toolbox = toolbox
        self.max_concurrency = max_concurrency

    @property
    def mode(self) -> Mode:
        return self._executor.mode

    @property
    def timeout(self) -> float | None:
        return self._executor.timeout

    @property
    def deadline(self) -> float | None:
        return self._executor.deadline

    @property
    def side_effects(self) -> SideEffectsPolicy:
        return self._executor.side_effects

    def route(self, tool: Tool) -> Runner | None:
        return None if tool.is_async else self._executor.runner_for(tool)


def node_tool(
    name: str, tool: BaseTool | None, body: Callable[[Any], Awaitable[str] | str]
) -> Tool:
    """The toolvolley tool that runs the calls of ``name``, with the options its LangChain
    tool gives in ``metadata["toolvolley"]``."""
    made = Tool(
        name=name,
        description=tool.description if tool is not None else "",
        func=body,
        is_async=body is on_loop,
        arguments=JOB_ARGUMENTS,
    )
    options = declared_options(name, tool, _TOOL_OPTIONS)
    if not options:
        return made
    return made.with_options(**options)
