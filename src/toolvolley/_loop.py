"""The turn loop: ask the model, run every call it asks for at once, send all results back in one
follow-up request, and repeat until it answers without tools.

Turns stream by default, and each call starts the moment the stream has finished its arguments,
while the model is still writing the others (early dispatch).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ._batch import Batch
from ._content import sendable
from ._errors import (
    MaxTurnsExceeded,
    ModelError,
    StreamCutError,
    ToolvolleyError,
    UserError,
    describe_exception,
    type_name,
)
from ._events import CallReady, Observer, TurnFinished, TurnStats
from ._executor import Executor
from ._expiry import answer_by, too_late
from ._model import Message, ModelAdapter, ModelResponse, Usage, check_adapter
from ._model_stream import model_stream
from ._report import BatchReport
from ._sources import ToolSource, executor_for_turn, resolve_tools
from ._toolbox import Toolbox
from ._tools import Tool
from ._tracing import resolve_tracer, turn_span
from .stores.journal import Conversation, Journal, replayed

__all__ = ["LoopResult", "check_max_turns", "check_prompt", "run_loop", "run_turn"]


@dataclass(frozen=True, slots=True)
class LoopResult:
    """How a conversation ended: the final text and everything that led to it.

    ``transcript`` is in the provider's own message format: append a user message and pass it
    back to :func:`run_loop` to continue the conversation.
    """

    final_text: str
    transcript: list[Message]
    usage: Usage
    turns: tuple[TurnStats, ...] = field(default=())

    @property
    def model_turns(self) -> int:
        """How many times the model was called."""
        return len(self.turns)

    @property
    def tool_calls(self) -> int:
        return sum(t.calls for t in self.turns)

    @property
    def model_s(self) -> float:
        return sum(t.model_s for t in self.turns)

    @property
    def tools_s(self) -> float:
        return sum(t.tools_s for t in self.turns)

    @property
    def wall_s(self) -> float:
        return sum(t.wall_s for t in self.turns)


async def run_turn(
    model: ModelAdapter,
    transcript: list[Message],
    executor: Executor,
    *,
    index: int = 0,
    stream: bool = True,
    parallel_tool_calls: bool = True,
    on_event: Observer | None = None,
    tools: ToolSource | Sequence[ToolSource] | None = None,
    conversation: Conversation | None = None,
) -> tuple[ModelResponse, TurnStats]:
    """One model call and the batch that answers it; appends both to ``transcript``.

    ``tools``: sources listed now, whose tools this turn offers and runs under ``executor``'s
    settings (which then holds no tools of its own; see :class:`ToolSource`).
    With ``stream=True`` each call goes to the executor as soon as its arguments are complete,
    while the model goes on writing; a call whose arguments the stream cut off gets an error
    result. Every call gets exactly one result, in the order the model wrote them.
    """
    if tools is not None:
        executor = await executor_for_turn(executor, tools, "run_turn()")
    started = time.perf_counter()
    with turn_span(resolve_tracer(executor.tracing), index, model.provider):
        response, batch, model_ended, expired = await _turn(
            model, transcript, executor, stream, parallel_tool_calls, on_event, conversation, index
        )
    ended = time.perf_counter()
    results = batch.results()
    if expired and response.expires_at is not None:  # calls made by code, answered in time
        results = [too_late(r, response.expires_at) for r in results]
    transcript.extend(response.messages)
    if results:
        # A call id the model sent with a lone surrogate is echoed in its result: U+FFFD, as in
        # the model's own turn (see the adapters' ``ModelResponse.messages``).
        transcript.extend(sendable(model.result_messages(results)))
    report = BatchReport.from_results(results) if results else None
    stats = TurnStats(
        index=index,
        calls=len(results),
        model_s=model_ended - started,
        tools_s=report.wall_s if report else 0.0,
        text=response.text,
        tool_calls=(*response.calls, *(c for c, _ in response.declined), *response.incomplete),
        results=tuple(results),
        report=report,
        wall_s=ended - started,
        started_at=started,
        model_ended_at=model_ended,
        streamed=stream,
        stream_error=response.stream_error,
        hook_errors=tuple(batch.hook_errors),
    )
    batch.notify(TurnFinished(stats))
    return response, stats


async def _turn(
    model: ModelAdapter,
    transcript: list[Message],
    executor: Executor,
    stream: bool,
    parallel_tool_calls: bool,
    on_event: Observer | None,
    journal: Conversation | None,
    index: int,
) -> tuple[ModelResponse, Batch, float, bool]:
    # Calls made by code must be answered before its container expires: the batch stops
    # waiting for them then (see _expiry.py), and those still running get a timeout result.
    # on_event is one more of the batch's hooks: it hears the batch's events and, through
    # batch.notify, the stream's, each guarded as every hook is.
    # With a journal: the recorded response is replayed instead of asking the model (one a
    # crash cut short: as a stream cut after its last recorded call), and each call is recorded
    # as the stream finishes it, before it is submitted (so early dispatch is kept).
    recorded = None if journal is None else _recorded(model, journal, index)
    store = None if journal is None else journal.store(index, executor.toolbox)
    expiry = anyio.CancelScope()
    with expiry:
        hooks = (on_event,) if on_event else ()
        async with executor.batch(hooks=hooks, store=store) as batch:
            response, failed, ours = await _read(
                model,
                transcript,
                executor.toolbox,
                batch,
                stream,
                parallel_tool_calls,
                journal=journal,
                index=index,
                recorded=recorded,
            )
            model_ended = time.perf_counter()
            if response is not None and response.expires_at is not None:
                due = answer_by(response.expires_at, response.calls)
                if due is not None:
                    expiry.deadline = due
    if ours is not None:
        raise ours
    if failed is not None:
        if isinstance(failed, ToolvolleyError):
            raise failed
        raise ModelError(
            f"The model call failed ({model.provider}): {describe_exception(failed, limit=None)}",
            provider=model.provider,
            transcript=transcript,
        ) from failed
    assert response is not None
    return response, batch, model_ended, expiry.cancelled_caught


async def _read(
    model: ModelAdapter,
    transcript: list[Message],
    toolbox: Toolbox,
    batch: Batch,
    stream: bool,
    parallel_tool_calls: bool,
    *,
    journal: Conversation | None,
    index: int,
    recorded: ModelResponse | None,
) -> tuple[ModelResponse | None, Exception | None, Exception | None]:
    """Read the model's turn, submitting each call as it is ready (with a journal: once it is
    recorded; or replaying the ``recorded`` response): the response, what the model raised
    (reading its stream), and what the executor or a hook raised, not the model."""
    failed: Exception | None = None
    ours: Exception | None = None
    response: ModelResponse | None = None
    ready = 0  # calls the stream has finished
    # A failed model call must not fail the batch's task group: the calls it already
    # started finish and keep their results, and the error is raised once the batch closes.
    try:
        reading = (
            replayed(recorded)
            if recorded is not None
            else model_stream(
                model, transcript, toolbox, parallel_tool_calls=parallel_tool_calls, stream=stream
            )
        )
        async with reading as updates:
            while response is None:
                try:
                    item = await updates.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    failed = exc
                    break
                if isinstance(item, ModelResponse):
                    response = item
                    continue
                if isinstance(item, CallReady):
                    if journal is not None:  # committed with its start, before its body runs
                        journal.record_call(index, ready, item.call, item.parts)
                        ready += 1
                    batch.submit(item.call)
                batch.notify(item)
        if journal is not None and response is not None:
            if recorded is None:
                await journal.record_response(index, response)
            else:
                for call in response.calls:
                    batch.submit(call)
    except Exception as exc:
        ours = exc
    if failed is None and ours is None:
        if response is None:
            ours = UserError(
                f"{type_name(model)}.stream() ended without its ModelResponse (its last "
                "item must be the response)."
            )
        else:
            for call, why in response.declined:
                batch.fail(call, why)
            for call in response.incomplete:
                batch.fail(
                    call,
                    f"The response stream ended before the arguments of {call.name!r} were "
                    "complete, so the call was not run. Call it again with complete "
                    "arguments.",
                )
    return response, failed, ours


def _recorded(model: ModelAdapter, journal: Conversation, index: int) -> ModelResponse | None:
    """Turn ``index``'s recorded response; if a crash cut it short, the turn as a stream cut
    after its last recorded call: an assistant turn holding exactly those calls."""
    recorded = journal.response(index, model.provider)
    calls = () if recorded is not None else tuple(journal.interrupted(index))
    if not calls:
        return recorded
    turn = getattr(model, "_assistant_messages", None)
    if turn is None:
        raise UserError(
            f"{type_name(model)} cannot rebuild the turn a crash cut short (it has no "
            "_assistant_messages): resume this conversation with a toolvolley.providers adapter."
        )
    # The turn as the model wrote it, where its calls carried their parts (Gemini's thought
    # signatures), else as the calls alone write it.
    parts = journal.interrupted_parts(index)
    from_parts = getattr(model, "_turn_from_parts", None)
    messages = from_parts(parts) if parts and from_parts is not None else turn("", calls)
    return ModelResponse(
        text="",
        calls=calls,
        messages=sendable(messages),
        stream_error=StreamCutError(
            f"The process stopped while the {model.provider} response was streaming, after "
            f"{len(calls)} recorded tool calls.",
            provider=model.provider,
        ),
    )


async def run_loop(
    model: ModelAdapter,
    prompt: str | Sequence[Mapping[str, Any]],
    tools: Executor | ToolSource | Iterable[Tool | ToolSource],
    *,
    executor: Executor | None = None,
    parallel_tool_calls: bool = True,
    stream: bool = True,
    max_turns: int = 10,
    on_event: Observer | None = None,
    journal: Journal | None = None,
    conversation_id: str | None = None,
) -> LoopResult:
    """Run a conversation until the model answers without asking for tools.

    ``prompt`` is the user's text, or a transcript in the provider's format to continue.
    ``tools`` is an :class:`Executor` (its mode, timeouts and limits apply) or the tools to run
    with a default one, or ``executor``'s settings (an ``Executor()`` without tools). Tools are
    a :class:`~toolvolley.Toolbox`, a list of tools, or tool sources (an MCP server; a list of
    sources and tools), which are listed again at each turn (see :class:`ToolSource`).
    ``parallel_tool_calls=False`` asks the model for one call per response.
    ``stream=True`` (default) starts each call while the model is still writing the rest;
    ``on_event`` hears every event (``toolvolley.events``): text deltas, calls ready, started
    and finished, each batch's start and end, and each turn's end.

    A failed model call raises :class:`ModelError` (``__cause__`` is the SDK's exception) after
    the calls already started in that turn have finished. A stream that ends without its finish
    signal raises :class:`StreamCutError` if the turn made no calls: its text is not an answer.
    If the cut turn made calls, every call has a result (the cut-off ones an error saying so),
    so the conversation goes on and the model sees what happened; the turn's ``stream_error``
    records the cut.

    ``journal`` and ``conversation_id``: the conversation is recorded, and run again with the
    same id (and prompt) it continues where the journal leaves it: recorded model responses are
    not asked again, recorded results are not run again, and a call a crash interrupted is run
    again only if its tool is idempotent (see ``toolvolley.stores.journal``).
    """
    check_adapter(model, "run_loop()")
    conversation = await _conversation(journal, conversation_id)
    check_prompt(prompt)
    check_max_turns(max_turns)
    executor, sources = resolve_tools(tools, executor, "run_loop()")
    transcript: list[Message] = (
        [model.user_message(prompt)] if isinstance(prompt, str) else [dict(m) for m in prompt]
    )
    usage = Usage()
    turns: list[TurnStats] = []
    for index in range(max_turns):
        before = len(transcript)
        try:
            response, stats = await run_turn(
                model,
                transcript,
                executor,
                index=index,
                stream=stream,
                parallel_tool_calls=parallel_tool_calls,
                on_event=on_event,
                tools=sources,
                conversation=conversation,
            )
        except ModelError as exc:
            exc.turns = tuple(turns)
            raise
        usage += response.usage
        turns.append(stats)
        if not stats.calls:
            if response.stream_error is not None:  # a final answer cut short is no answer
                raise _cut(model, response.stream_error, transcript[:before], turns)
            return LoopResult(response.text, transcript, usage, tuple(turns))
    raise MaxTurnsExceeded(max_turns, transcript, turns)


async def _conversation(
    journal: Journal | None, conversation_id: str | None
) -> Conversation | None:
    if journal is None and conversation_id is None:
        return None
    if journal is None or conversation_id is None:
        raise UserError("run_loop(): give journal and conversation_id together.")
    if not isinstance(journal, Journal):
        raise UserError(f"journal must be a toolvolley.stores.Journal, not {journal!r}.")
    return await journal.conversation(conversation_id)


def check_prompt(prompt: object) -> None:
    """Misuse: a prompt that is neither the user's text nor a transcript."""
    if isinstance(prompt, str):
        return
    if isinstance(prompt, Sequence) and not isinstance(prompt, bytes):
        if all(isinstance(message, Mapping) for message in prompt):
            return
        kind = f"a {type(prompt).__name__} holding {_kinds(prompt)}"
    else:
        kind = f"a {type(prompt).__name__}"
    raise UserError(
        "A prompt is the user's text or a transcript (a list of message dicts in the "
        f"provider's format); got {kind}."
    )


def _kinds(items: Sequence[object]) -> str:
    return ", ".join(sorted({type(item).__name__ for item in items}))


def check_max_turns(max_turns: object) -> None:
    if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
        raise UserError(f"max_turns must be an integer >= 1, not {max_turns!r}.")


def _cut(
    model: ModelAdapter,
    error: BaseException,
    transcript: list[Message],
    turns: list[TurnStats],
) -> StreamCutError:
    """The cut turn's error, carrying the conversation before it and every turn's stats."""
    if not isinstance(error, StreamCutError):  # an adapter's own record of a broken stream
        cut = StreamCutError(
            f"The {model.provider} response stream broke before its finish signal "
            f"({describe_exception(error, limit=None)}): what it said is not a whole answer.",
            provider=model.provider,
        )
        cut.__cause__ = error
        error = cut
    error.transcript = list(transcript)
    error.turns = tuple(turns)
    return error
