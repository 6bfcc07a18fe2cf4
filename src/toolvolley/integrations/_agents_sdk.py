"""Toolvolley tools as OpenAI Agents SDK ``FunctionTool``s (the public side: ``toolvolley.agents``).

The SDK runs each function call of a model response in its own asyncio task and calls the tool's
``on_invoke_tool(ctx, arguments)`` from there. Here the calls of one response share one
schedule, so the executor's limit, serial mode and barriers hold across those tasks, and its
timeouts hold for every call.

* **Which calls are one response.** Every ``ToolContext`` of a run carries the run's own ``Usage``
  object (the SDK hands it over by reference from the run's ``RunContextWrapper``, never a copy)
  and the agent whose response the call is from; and the SDK answers every function call of a
  response before it asks the model again. So the calls of one run and one agent in flight at
  any moment are calls of one response: a response is "the calls of this run and agent since
  they last had none in flight". Two runs never share a schedule, nor does an agent used as a
  tool with the agent that called it (its run shares the parent's usage, not its agent).
* **Where each call runs.** In the SDK's own task for it, its turn taken in the response's
  schedule (:mod:`._alone`): nothing waits for it in another task. An executor that asks for
  what only a batch gives (hooks, tracing spans, a deadline, references, a result store) has the
  calls of a response meet in one batch instead (:class:`~toolvolley.integrations._volleys.Volleys`:
  the first call holds it until none is in flight; each answers the SDK the moment it has its
  own result).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable
from typing import Any

from agents import FunctionTool, default_tool_error_function
from agents import Tool as AgentsTool
from agents.exceptions import UserError as AgentsUserError
from agents.strict_schema import ensure_strict_json_schema
from agents.tool import ToolErrorFunction
from agents.tool_context import ToolContext

from .. import _wording as wording
from .._calls import ToolCall, ToolResult
from .._content import UnserializableResult
from .._errors import ToolError, UserError
from .._executor import Executor
from .._scheduling import Mode, SideEffectsPolicy
from .._toolbox import Toolbox
from .._tools import Tool
from ._alone import run_alone, runs_alone
from ._response_turns import ResponseTurns
from ._volleys import Volleys

__all__ = ["function_tools"]


def function_tools(
    tools: Executor | Toolbox | Iterable[Tool],
    *,
    mode: Mode = "parallel",
    timeout: float | None = None,
    max_concurrency: int | None = None,
    side_effects: SideEffectsPolicy = "declared",
    failure_error_function: ToolErrorFunction | None = default_tool_error_function,
) -> list[AgentsTool]:
    """The tools as Agents SDK ``FunctionTool``\\ s whose calls of one model response share
    one schedule (each in the SDK's own task for it)::

        agent = Agent(name="assistant", tools=function_tools([get_weather], timeout=10))

    ``mode``, ``timeout``, ``max_concurrency`` and ``side_effects`` are the :class:`Executor`'s
    (per response); or pass an ``Executor`` instead of the tools (one with hooks, tracing, a
    deadline, references or a store runs a response's calls in one batch). Make all of an
    agent's toolvolley tools with one call: tools from two calls do not share a schedule.

    A tool that raises is answered, its siblings go on: ``failure_error_function(ctx, error)``
    gives the text the model reads, as in the SDK's ``function_tool`` (its default, the SDK's
    own, hides the exception from the model; ``None`` lets it fail the run). What toolvolley
    writes itself - a timeout, invalid arguments, a :class:`ToolError`'s message, an MCP
    server's error - goes to the model as written.
    """
    if isinstance(tools, Executor):
        if (mode, timeout, max_concurrency, side_effects) != ("parallel", None, None, "declared"):
            raise UserError(
                "function_tools() got an Executor and executor options: give mode, timeout, "
                "max_concurrency and side_effects to the Executor."
            )
        executor = tools
    else:
        executor = Executor(
            tools,
            mode=mode,
            timeout=timeout,
            max_concurrency=max_concurrency,
            side_effects=side_effects,
        )
    if failure_error_function is not None and not callable(failure_error_function):
        raise UserError(
            "failure_error_function must be a function (ctx, error) -> str, or None to let a "
            f"raising tool fail the run; got {failure_error_function!r}."
        )
    responses = _Responses(executor, failure_error_function)
    box = executor.toolbox
    made: list[AgentsTool] = []
    for item in box:
        schema = copy.deepcopy(item.parameters)
        made.append(
            FunctionTool(
                name=box.wire_name(item.name),
                description=item.description,
                params_json_schema=schema,
                on_invoke_tool=_Invoke(responses, box.wire_name(item.name), item),
                strict_json_schema=_strict_compatible(schema),
            )
        )
    return made


def _strict_compatible(schema: dict[str, Any]) -> bool:
    """Whether the SDK's strict mode would leave ``schema`` as it is (every property required, no
    others allowed): only then is the tool strict, so strict mode never changes what it accepts."""
    try:
        return ensure_strict_json_schema(copy.deepcopy(schema)) == schema
    except AgentsUserError:
        return False


class _Run:
    """A response's key: the run's usage object and the agent answering in it (see above), by
    identity, and alive while they are a key."""

    __slots__ = ("_agent", "_usage")

    def __init__(self, usage: object, agent: object) -> None:
        self._usage = usage
        self._agent = agent

    def __hash__(self) -> int:
        return hash((id(self._usage), id(self._agent)))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Run) and other._usage is self._usage and other._agent is self._agent
        )


class _Invoke:
    """One tool's ``on_invoke_tool``."""

    __slots__ = ("_name", "_responses", "_tool")

    def __init__(self, responses: _Responses, name: str, tool: Tool) -> None:
        self._responses = responses
        self._name = name
        self._tool = tool

    @property
    def responses(self) -> int:
        """Responses with calls in flight (of the tools of one ``function_tools``): 0 once
        every call has its answer."""
        return len(self._responses.turns) + len(self._responses.volleys)

    async def __call__(self, ctx: ToolContext[Any], arguments: str) -> Any:
        call = ToolCall(ctx.tool_call_id, self._name, arguments)
        return await self._responses.invoke(ctx, self._tool, call)


class _Responses:
    """The responses with calls in flight, one per run, for the tools of one ``function_tools``."""

    __slots__ = ("_executor", "_failure", "turns", "volleys")

    def __init__(self, executor: Executor, failure: ToolErrorFunction | None) -> None:
        self._executor = executor
        self.turns = ResponseTurns(
            serial=executor.mode == "serial",
            max_concurrency=executor.max_concurrency,
            side_effects=executor.side_effects,
        )
        self.volleys = Volleys(executor)
        self._failure = failure

    async def invoke(self, ctx: ToolContext[Any], tool: Tool, call: ToolCall) -> Any:
        executor = self._executor
        response = _Run(ctx.usage, ctx.agent)
        # Asked per response, not per call: a tracer provider may be set at any time, and the
        # calls of one response must share one schedule (or batch) whatever it does meanwhile.
        if response in self.turns or (response not in self.volleys and runs_alone(executor)):
            result = await run_alone(executor, self.turns, response, tool, call)
        else:
            found = await self.volleys.run(response, call)
            if found is None:  # the batch never ran it (it could not open)
                message = wording.cancelled_before_start(call.name)
                found = ToolResult(call.id, call.name, "cancelled", message)
            result = found
        return await self._output(ctx, result)

    async def _output(self, ctx: ToolContext[Any], result: ToolResult) -> str:
        error = result.error
        if (
            result.ok
            or result.status != "error"
            or not isinstance(error, Exception)
            or isinstance(error, (ToolError, UnserializableResult))
        ):
            return result.content  # the value, or what toolvolley wrote for the model
        if self._failure is None:
            raise error
        message = self._failure(ctx, error)
        if inspect.isawaitable(message):
            message = await message
        return message
