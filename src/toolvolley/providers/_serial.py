"""Serial mode kept on the client, for an API with no switch for parallel tool calls (Gemini,
Bedrock Converse): only the first call of a response runs; each later one is declined, answered
with :data:`~toolvolley._model.NOT_RUN_SERIAL` (see ``ModelResponse.declined``), so every call
the model wrote still gets exactly one answer, in order, and the model can call it again. The
turn keeps every call the model wrote, so signatures over it (Gemini's thought signatures,
Converse's signed reasoning) stay valid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from .._events import CallReady
from .._model import NOT_RUN_SERIAL, ModelResponse, ModelStream

__all__ = ["first_call_only", "one_call_at_a_time"]


def first_call_only(response: ModelResponse) -> ModelResponse:
    """``response`` with its calls after the first declined."""
    if len(response.calls) < 2:
        return response
    first, *rest = response.calls
    declined = tuple((call, NOT_RUN_SERIAL) for call in rest)
    return replace(response, calls=(first,), declined=declined)


async def one_call_at_a_time(updates: ModelStream) -> AsyncIterator[Any]:
    """The stream with only its first call dispatched; the others are declined at the end."""
    dispatched = False
    try:
        async for item in updates:
            if isinstance(item, CallReady):
                if dispatched:
                    continue
                dispatched = True
            elif isinstance(item, ModelResponse):
                item = first_call_only(item)
            yield item
    finally:
        await updates.aclose()  # type: ignore[attr-defined]
