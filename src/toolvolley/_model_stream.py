"""How the loop reads a model's turn: one async iterator, streamed or not.

``ModelAdapter.stream()`` yields updates and ends with the :class:`ModelResponse`; a
non-streamed turn is :meth:`ModelAdapter.respond` made into the same iterator. The loop pulls
from it and submits each ready call itself, so an exception out of ``__anext__`` is the model's
and any other is the caller's: no bookkeeping of whose is whose.

A custom adapter written against the earlier ``async def stream(..., on_update)``, which pushed
its updates and returned the response, still works: it runs in a task of its own and its updates
go through a channel the loop pulls from.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import anyio

from ._errors import UserError, type_name
from ._events import StreamUpdate
from ._model import ModelAdapter, ModelResponse, ModelStream, whole
from ._toolbox import Toolbox

__all__ = ["model_stream"]


@asynccontextmanager
async def model_stream(
    model: ModelAdapter,
    transcript: Sequence[Mapping[str, Any]],
    toolbox: Toolbox,
    *,
    parallel_tool_calls: bool,
    stream: bool,
) -> AsyncIterator[ModelStream]:
    """The turn's updates then its response, closed (the SDK's stream with it) on the way out."""
    if not stream:
        items: ModelStream = whole(
            functools.partial(
                model.respond, transcript, toolbox, parallel_tool_calls=parallel_tool_calls
            )
        )
    elif _pushes(model):
        async with _pushed(model, transcript, toolbox, parallel_tool_calls) as items:
            yield items
        return
    else:
        made: object = model.stream(transcript, toolbox, parallel_tool_calls=parallel_tool_calls)
        if not hasattr(made, "__anext__"):
            if inspect.iscoroutine(made):
                made.close()  # never awaited: no warning about it
            raise UserError(
                f"{type_name(model)}.stream() returns an async iterator of updates (TextDelta, "
                f"CallReady) ending with the ModelResponse; got {type_name(made)}. Write it "
                "as an async generator, or leave it out to stream the whole respond()."
            )
        items = cast(ModelStream, made)
    try:
        yield items
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


def _pushes(model: ModelAdapter) -> bool:
    """Whether ``model.stream`` is the old kind: it takes ``on_update`` and returns the response."""
    try:
        return "on_update" in inspect.signature(model.stream).parameters
    except (TypeError, ValueError):  # no signature to read: take it as the new kind
        return False


@dataclass(frozen=True)
class _Raised:
    error: Exception


@asynccontextmanager
async def _pushed(
    model: ModelAdapter,
    transcript: Sequence[Mapping[str, Any]],
    toolbox: Toolbox,
    parallel_tool_calls: bool,
) -> AsyncIterator[ModelStream]:
    """An old-style ``stream(..., on_update)``, run in a task of its own, as an iterator."""
    send, receive = anyio.create_memory_object_stream[Any](math.inf)

    async def produce() -> None:
        with send:
            try:
                response = await model.stream(  # type: ignore[call-arg,misc]
                    transcript,
                    toolbox,
                    parallel_tool_calls=parallel_tool_calls,
                    on_update=send.send_nowait,
                )
            except Exception as exc:  # the model's: raised where the loop reads
                send.send_nowait(_Raised(exc))
            else:
                send.send_nowait(response)

    async def items() -> AsyncGenerator[StreamUpdate | ModelResponse, None]:
        async for item in receive:
            if isinstance(item, _Raised):
                raise item.error
            yield item
            if isinstance(item, ModelResponse):
                return

    async with anyio.create_task_group() as tasks, receive:
        tasks.start_soon(produce)
        reader = items()
        try:
            yield reader
        finally:
            await reader.aclose()
            tasks.cancel_scope.cancel()  # the stream ends with its response; nothing is left
