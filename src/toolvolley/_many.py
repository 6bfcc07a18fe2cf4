"""Many conversations at once: :func:`run_many`.

Conversations run on ``concurrency`` workers that take the next prompt when they finish one
(no task per prompt, so 10,000 prompts cost 10,000 results, not 10,000 tasks), all sharing one
executor and one model client. A conversation that fails is an :class:`Outcome` with its
``error``; it never stops the others. Cancellation stops them all and propagates.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ._errors import UserError, user_error_unwrapped
from ._executor import Executor
from ._loop import check_max_turns, run_loop
from ._model import ModelAdapter, check_adapter
from ._options import check_count
from ._sources import Combined, ToolSource, resolve_tools
from ._toolbox import Toolbox
from ._tools import Tool
from .stores.journal import Journal

__all__ = ["Outcome", "Prompt", "run_many"]

Prompt = str | Sequence[Mapping[str, Any]]


@dataclass(slots=True)
class Outcome:
    """How one conversation of :func:`run_many` ended (``error`` is None when it answered)."""

    id: Any
    final_text: str | None
    error: str | None
    transcript: list[Any] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    model_s: float = 0.0
    tools_s: float = 0.0
    calls_sequential_s: float = 0.0  # the calls' durations added up: one after another
    # (track, label, start, end) in wall-clock seconds (time.time(), comparable across
    # machines): the model's turns on track "model", each call on its own; not in as_json().
    spans: list[tuple[str, str, float, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ok": self.ok,
            "final_text": self.final_text,
            "error": self.error,
            "wall_s": round(self.wall_s, 6),
            "model_s": round(self.model_s, 6),
            "tools_s": round(self.tools_s, 6),
            "calls_sequential_s": round(self.calls_sequential_s, 6),
            "turns": self.turns,
            "tool_calls": self.tool_calls,
            "transcript": self.transcript,
        }


Tools = Executor | ToolSource | Iterable[Tool | ToolSource]


async def run_many(
    model: ModelAdapter | Callable[[], ModelAdapter],
    prompts: Iterable[Prompt] | Iterable[tuple[Any, Prompt]] | AsyncIterator[tuple[Any, Prompt]],
    tools: Tools | Callable[[], Any],
    *,
    concurrency: int = 16,
    max_turns: int = 10,
    stream: bool = True,
    parallel_tool_calls: bool = True,
    on_result: Callable[[Outcome], None] | None = None,
    keep: bool = True,
    ray: str | None = None,
    journal: Journal | None = None,
) -> list[Outcome]:
    """Run a conversation per prompt, ``concurrency`` at a time, and return their outcomes in
    the order they finished (``keep=False``: an empty list; use ``on_result``).

    ``prompts`` are texts or transcripts (ids 0, 1, 2 ...), or ``(id, prompt)`` pairs, from a
    list, a generator or an async iterator (read lazily: only ``concurrency`` are in memory).
    ``on_result`` is called on the event loop with each outcome as soon as it ends; if it
    raises, the batch stops and the exception propagates (e.g. the output disk is full).
    Misuse (one prompt text instead of a list, a malformed pair, a bad option) raises
    :class:`UserError` itself, even when a worker meets it; a prompt that is neither text nor
    a transcript is that conversation's ``error``::

        outcomes = await run_many(OpenAIChat.offline(), ["Weather in Paris?"], [get_weather])

    ``ray="auto"`` (``RAY_ADDRESS``, or a new local Ray on 127.0.0.1) or ``ray=ADDRESS`` runs
    the conversations on a Ray cluster (see the module docstring). ``model`` is then a factory
    (e.g. ``functools.partial(OpenAIChat, model="gpt-4.1-mini")``), and ``tools`` the tools
    themselves (shipped with cloudpickle) or a factory returning them or an async context
    manager of them, called on the worker::

        await run_many(OpenAIChat.offline, prompts, [get_weather], ray="auto", keep=False,
                       on_result=write)

    ``journal``: each conversation is recorded under its id (as JSON text, ``json.dumps(id)``),
    and one run again continues from it (see ``run_loop``). With ``ray=`` the journal is shipped
    to the workers (its path or connection string), each writing there: a SQLite file for a
    Ray on one machine, PostgreSQL for a cluster.
    """
    check_count("concurrency", concurrency)
    if concurrency is None:
        raise UserError("concurrency must be an integer >= 1.")
    check_max_turns(max_turns)
    if isinstance(prompts, (str, Mapping)) or not (
        hasattr(prompts, "__aiter__") or isinstance(prompts, Iterable)
    ):
        one = f" For one prompt, pass [{prompts!r}]." if isinstance(prompts, str) else ""
        raise UserError(
            "run_many takes a list of prompts (or of (id, prompt) pairs), an iterator or an "
            f"async iterator of them; got {type(prompts).__name__}.{one}"
        )
    if ray is not None:
        return await _on_ray(
            ray,
            model,
            prompts,
            tools,
            concurrency,
            functools.partial(
                _ChunkSettings,
                max_turns=max_turns,
                stream=stream,
                parallel_tool_calls=parallel_tool_calls,
                journal=journal,
            ),
            on_result,
            keep,
        )
    if callable(model) and not isinstance(model, ModelAdapter):
        raise UserError("run_many takes a ModelAdapter (a factory only with ray=).")
    check_adapter(model, "run_many()")
    if callable(tools) and not isinstance(tools, (Executor, Toolbox, Tool)):
        raise UserError(
            "run_many takes tools, an Executor, a Toolbox or tool sources "
            "(a factory only with ray=)."
        )
    executor, sources = resolve_tools(tools, None, "run_many()")
    source = _pairs(prompts)
    lock = anyio.Lock()
    kept: list[Outcome] = []

    async def next_prompt() -> tuple[Any, Prompt] | None:
        async with lock:  # an async iterator may not be read by two tasks at once
            try:
                return await source.__anext__()
            except StopAsyncIteration:
                return None

    async def worker() -> None:
        while (item := await next_prompt()) is not None:
            outcome = await _one(
                model,
                item[0],
                item[1],
                executor,
                sources,
                max_turns,
                stream,
                parallel_tool_calls,
                journal,
            )
            if keep:
                kept.append(outcome)
            if on_result is not None:
                on_result(outcome)

    with user_error_unwrapped():  # misuse a worker meets (a malformed pair) stops them all
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
    return kept


async def _pairs(prompts: Any) -> AsyncIterator[tuple[Any, Prompt]]:
    if hasattr(prompts, "__aiter__"):
        async for item in prompts:
            yield _pair(item)
        return
    for index, item in enumerate(prompts):
        yield _pair(item) if isinstance(item, tuple) else (index, item)


def _pair(item: Any) -> tuple[Any, Prompt]:
    if isinstance(item, tuple) and len(item) == 2:
        return item
    kind = f"tuple of {len(item)}" if isinstance(item, tuple) else type(item).__name__
    raise UserError(
        "run_many's prompts are texts, transcripts or (id, prompt) pairs (an async iterator "
        f"yields (id, prompt) pairs); got a {kind}: {item!r:.80}"
    )


async def _one(
    model: ModelAdapter,
    id_: Any,
    prompt: Prompt,
    executor: Executor,
    sources: Combined | None,
    max_turns: int,
    stream: bool,
    parallel_tool_calls: bool,
    journal: Journal | None = None,
) -> Outcome:
    started = time.perf_counter()
    try:
        result = await run_loop(
            model,
            prompt,
            executor if sources is None else sources,
            executor=None if sources is None else executor,
            max_turns=max_turns,
            stream=stream,
            parallel_tool_calls=parallel_tool_calls,
            journal=journal,
            conversation_id=None if journal is None else json.dumps(id_, sort_keys=True),
        )
    except Exception as exc:  # recorded; cancellation (not an Exception) propagates
        turns = tuple(getattr(exc, "turns", ()) or ())
        transcript = list(getattr(exc, "transcript", None) or [])
        message = getattr(exc, "message", None) or str(exc)
        outcome = Outcome(id_, None, f"{type(exc).__name__}: {message}", transcript)
        _fill(outcome, turns)
    else:
        outcome = Outcome(id_, result.final_text, None, result.transcript)
        _fill(outcome, result.turns)
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _fill(outcome: Outcome, turns: Sequence[Any]) -> None:
    wall = time.time() - time.perf_counter()  # turns and results are stamped by perf_counter
    for turn in turns:
        outcome.spans.append(
            (
                "model",
                f"model turn {turn.index}",
                wall + turn.started_at,
                wall + turn.model_ended_at,
            )
        )
        outcome.model_s += turn.model_s
        outcome.tools_s += turn.tools_s
        outcome.turns.append(
            {
                "index": turn.index,
                "calls": turn.calls,
                "model_s": round(turn.model_s, 6),
                "tools_s": round(turn.tools_s, 6),
                "wall_s": round(turn.wall_s, 6),
            }
        )
        for r in turn.results:
            outcome.calls_sequential_s += r.ended_at - r.started_at
            outcome.tool_calls.append(
                {"id": r.call_id, "name": r.name, "status": r.status, "turn": turn.index}
            )
            outcome.spans.append(
                (
                    f"{r.name} {r.call_id}",
                    f"{r.name} ({r.status})",
                    wall + r.started_at,
                    wall + r.ended_at,
                )
            )


# --- conversations on a Ray cluster --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChunkSettings:
    concurrency: int
    max_turns: int
    stream: bool
    parallel_tool_calls: bool
    journal: Journal | None = None  # pickled as its path or connection string


def _run_chunk(
    model: Callable[[], ModelAdapter],
    tools: Any,
    items: list[tuple[Any, Prompt]],
    settings: _ChunkSettings,
) -> list[Outcome]:
    """On a Ray worker: one chunk of conversations, on an event loop of its own."""
    return anyio.run(_chunk, model, tools, items, settings)


async def _chunk(
    model_factory: Callable[[], ModelAdapter],
    tools: Any,
    items: list[tuple[Any, Prompt]],
    settings: _ChunkSettings,
) -> list[Outcome]:
    made = (
        tools() if callable(tools) and not isinstance(tools, (Executor, Toolbox, Tool)) else tools
    )
    async with contextlib.AsyncExitStack() as stack:
        toolset = await stack.enter_async_context(made) if hasattr(made, "__aenter__") else made
        model = await stack.enter_async_context(model_factory())
        journal = settings.journal
        if journal is not None:
            await stack.enter_async_context(journal)
        return await run_many(
            model,
            items,
            toolset,
            concurrency=settings.concurrency,
            max_turns=settings.max_turns,
            stream=settings.stream,
            parallel_tool_calls=settings.parallel_tool_calls,
            journal=journal,
        )
    raise AssertionError("unreachable")  # pragma: no cover (mypy: the stack may swallow)


async def _on_ray(
    address: str,
    model: Any,
    prompts: Any,
    tools: Any,
    concurrency: int,
    settings: Callable[..., _ChunkSettings],
    on_result: Callable[[Outcome], None] | None,
    keep: bool,
) -> list[Outcome]:
    from .runners.ray import RayApi, connect_ray, in_ray_thread

    if isinstance(model, ModelAdapter) or not callable(model):
        raise UserError("With ray=, model must be a factory (a callable returning the adapter).")
    # Never on the loop; in the one thread that lives as long as the Ray it may start
    ray = await in_ray_thread(RayApi.get)
    cpus = await in_ray_thread(connect_ray, ray, address)
    tasks = max(1, min(concurrency, int(cpus)))
    per_task = math.ceil(concurrency / tasks)
    chunk_settings = settings(concurrency=per_task)
    remote = ray.ray.remote(_run_chunk).options(max_retries=0, retry_exceptions=False)
    model_ref, tools_ref = ray.ray.put(model), ray.ray.put(tools)  # shipped once, not per chunk
    source = _pairs(prompts)
    lock = anyio.Lock()
    kept: list[Outcome] = []

    async def next_chunk() -> list[tuple[Any, Prompt]]:
        chunk: list[tuple[Any, Prompt]] = []
        async with lock:
            with contextlib.suppress(StopAsyncIteration):
                while len(chunk) < per_task:
                    chunk.append(await source.__anext__())
        return chunk

    def cancel(ref: Any) -> None:
        with contextlib.suppress(Exception):  # already finished, or Ray is shutting down
            ray.ray.cancel(ref, force=True)

    async def dispatcher() -> None:
        while chunk := await next_chunk():
            ref = remote.remote(model_ref, tools_ref, chunk, chunk_settings)
            try:
                outcomes = await ray.wait(ref, functools.partial(cancel, ref))
            except ray.lost as exc:
                first = str(exc).splitlines()[0] if str(exc) else ""
                error = (
                    "WorkerLost: the Ray worker running this conversation was lost before it "
                    f"answered ({type(exc).__name__}: {first}); not run again"
                )
                outcomes = [Outcome(id_, None, error) for id_, _ in chunk]
            except Exception as exc:  # the chunk could not run (e.g. a factory raised)
                error = f"{type(exc).__name__}: {exc}"
                outcomes = [Outcome(id_, None, error) for id_, _ in chunk]
            for outcome in outcomes:
                if keep:
                    kept.append(outcome)
                if on_result is not None:
                    on_result(outcome)

    with user_error_unwrapped():
        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(dispatcher)
    return kept
