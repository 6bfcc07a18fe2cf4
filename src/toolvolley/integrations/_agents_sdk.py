"""Toolvolley tools as OpenAI Agents SDK ``FunctionTool``s (the public side: ``toolvolley.agents``).

The SDK runs each function call of a model response in its own asyncio task and calls the tool's
``on_invoke_tool(ctx, arguments)`` from there. Here the calls of one response meet in one
toolvolley batch, so the executor's limit, timeouts and barriers hold across those tasks.

* **Which calls are one response.** Every ``ToolContext`` of a run carries the run's own ``Usage``
  object (the SDK hands it over by reference from the run's ``RunContextWrapper``, never a copy)
  and the agent whose response the call is from; and the SDK answers every function call of a
  response before it asks the model again. So the calls of one run and one agent in flight at
  any moment are calls of one response: a response is "the calls of this run and agent since
  they last had none in flight". Two runs never share a batch, nor does an agent used as a tool
  with the agent that called it (its run shares the parent's usage, not its agent).
* **Who holds the batch.** The first call of a response opens the batch in its own task (structured
  concurrency: no task outlives the calls) and stays in it until no call is in flight; every
  later call is submitted to it and waits for its own result, told by the batch's
  ``call_finished`` hook, so it answers the SDK the moment it has it. (The first call's own
  answer reaches the SDK with the last one's; the SDK waits for all of them anyway.)
* **When it ends.** When the last call in flight has its result, the response leaves the registry
  at once (all of this runs on the event loop's thread, between two awaits), so a call that
  arrives later opens a new batch, and nothing of a response outlives its calls. Were a call
  to arrive only after the ones before it had finished, it gets a batch of its own: limits and
  barriers still hold, since the earlier batch has nothing left running.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable
from typing import Any

import anyio
from agents import FunctionTool, default_tool_error_function
from agents import Tool as AgentsTool
from agents.exceptions import UserError as AgentsUserError
from agents.strict_schema import ensure_strict_json_schema
from agents.tool import ToolErrorFunction
from agents.tool_context import ToolContext

from .._batch import Batch
from .._calls import ToolCall, ToolResult
from .._content import UnserializableResult
from .._errors import ToolError, UserError
from .._events import ExecutionHooks
from .._executor import Executor
from .._scheduling import Mode, SideEffectsPolicy
from .._toolbox import Toolbox
from .._tools import Tool

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
    """The tools as Agents SDK ``FunctionTool``\\ s whose calls run in one toolvolley batch per
    model response::

        agent = Agent(name="assistant", tools=function_tools([get_weather], timeout=10))

    ``mode``, ``timeout``, ``max_concurrency`` and ``side_effects`` are the :class:`Executor`'s
    (per response); or pass an ``Executor`` instead of the tools. Make all of an agent's
    toolvolley tools with one call: tools from two calls do not share a batch.

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
                on_invoke_tool=_Invoke(responses, box.wire_name(item.name)),
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


_Run = tuple[object, object]  # a run's usage object and the agent answering in it


def _key(run: _Run) -> tuple[int, int]:
    usage, agent = run
    return id(usage), id(agent)


class _Invoke:
    """One tool's ``on_invoke_tool``."""

    __slots__ = ("_name", "_responses")

    def __init__(self, responses: _Responses, name: str) -> None:
        self._responses = responses
        self._name = name

    @property
    def responses(self) -> _Responses:
        """The responses with calls in flight (shared by the tools of one ``function_tools``)."""
        return self._responses

    async def __call__(self, ctx: ToolContext[Any], arguments: str) -> Any:
        return await self._responses.invoke(ctx, ToolCall(ctx.tool_call_id, self._name, arguments))


class _Responses:
    """The responses with calls in flight, one per run, for the tools of one ``function_tools``."""

    __slots__ = ("_executor", "_failure", "_open")

    def __init__(self, executor: Executor, failure: ToolErrorFunction | None) -> None:
        self._executor = executor
        self._failure = failure
        self._open: dict[tuple[int, int], _Response] = {}

    def __len__(self) -> int:
        return len(self._open)

    async def invoke(self, ctx: ToolContext[Any], call: ToolCall) -> Any:
        run = (ctx.usage, ctx.agent)
        response = self._open.get(_key(run))
        if response is not None and response.has_room_for(call):
            result = await response.join(call)
        else:
            # A repeated call id cannot share a batch with the first: it gets one of its own,
            # outside the registry.
            registry = self._open if response is None else None
            result = await _Response(run, registry).own(self._executor, call)
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


class _Response(ExecutionHooks):
    """The calls of one model response in flight, in one batch held by the first of them."""

    def __init__(self, run: _Run, registry: dict[tuple[int, int], _Response] | None) -> None:
        self._run = run  # the key's objects, alive while they are a key
        self._registry = registry
        self._batch: Batch | None = None
        self._queued: list[ToolCall] = []  # joined before the owner's batch was open
        self._waiting: dict[str, anyio.Event] = {}
        self._results: dict[str, ToolResult] = {}
        self._in_flight = 0
        self._idle = anyio.Event()
        if registry is not None:
            registry[_key(run)] = self

    def has_room_for(self, call: ToolCall) -> bool:
        return call.id not in self._waiting and call.id not in self._results

    async def own(self, executor: Executor, call: ToolCall) -> ToolResult:
        self._add(call)
        batch = executor.batch(hooks=(self,))
        try:
            async with batch:
                self._batch = batch
                for queued in self._queued:
                    batch.submit(queued)
                self._queued.clear()
                await self._idle.wait()
        finally:
            self._end(batch)
        return self._take(call)

    async def join(self, call: ToolCall) -> ToolResult:
        done = self._add(call)
        await done.wait()
        return self._take(call)

    def _add(self, call: ToolCall) -> anyio.Event:
        done = self._waiting[call.id] = anyio.Event()
        self._in_flight += 1
        if self._batch is None:
            self._queued.append(call)
        else:
            self._batch.submit(call)  # may answer it at once (e.g. invalid arguments)
        return done

    def _take(self, call: ToolCall) -> ToolResult:
        result = self._results.pop(call.id, None)
        if result is None:  # the batch never ran it (it could not open)
            result = ToolResult(
                call.id,
                call.name,
                "cancelled",
                f"The call to {call.name!r} was cancelled before it started; no result is "
                "available.",
            )
        return result

    def call_finished(self, result: ToolResult) -> None:
        self._results[result.call_id] = result
        self._waiting.pop(result.call_id).set()
        self._in_flight -= 1
        if self._in_flight == 0:
            self._retire()  # before any other call can arrive: a later one opens a new batch
            self._idle.set()

    def _end(self, batch: Batch) -> None:
        """The owner left the batch: every call still waiting gets its result (``cancelled`` if
        the batch was cancelled before it had one)."""
        self._retire()
        if self._waiting:
            closed = batch.results() if self._batch is not None else []
            for result in closed:
                self._results.setdefault(result.call_id, result)
            for done in self._waiting.values():
                done.set()
            self._waiting.clear()

    def _retire(self) -> None:
        registry = self._registry
        if registry is not None and registry.get(_key(self._run)) is self:
            del registry[_key(self._run)]
        self._registry = None
