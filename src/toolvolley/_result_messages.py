"""Results written back in a provider's own message format, for a loop written with its SDK."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from ._calls import ToolResult
from ._content import sendable
from ._errors import UserError, type_name

__all__ = ["Provider", "result_messages"]

Provider = Literal["openai-chat", "openai-responses", "anthropic", "gemini", "bedrock"]


def result_messages(results: Iterable[ToolResult], provider: Provider) -> list[dict[str, Any]]:
    """What to append to the conversation after running a turn's calls, in ``provider``'s format:

    * ``"openai-chat"``: one ``{"role": "tool", "tool_call_id", "content"}`` message per result;
    * ``"openai-responses"``: one ``{"type": "function_call_output", "call_id", "output"}`` item
      per result;
    * ``"anthropic"``: the one user message of ``tool_result`` blocks (failures carry
      ``is_error``), or nothing for no results;
    * ``"gemini"``: the one user content of ``functionResponse`` parts (``{"output": ...}`` or
      ``{"error": ...}``; the call's id only where the model gave one).
    * ``"bedrock"``: the one user message of ``toolResult`` blocks (failures carry
      ``status: "error"``), or nothing for no results.

    ::

        results = await executor.run(message.tool_calls)
        messages += result_messages(results, "openai-chat")

    Each provider's module writes them (the adapters use the same code); no SDK is needed.
    """
    from .providers import PROVIDERS

    adapter = PROVIDERS.get(provider) if isinstance(provider, str) else None
    if adapter is None:
        names = ", ".join(repr(name) for name in PROVIDERS)
        raise UserError(f"result_messages() knows the providers {names}; got {provider!r}.")
    if isinstance(results, ToolResult) or not isinstance(results, Iterable):
        raise UserError(
            f"result_messages() takes the list of ToolResults executor.run() returned; "
            f"got {type_name(results)}."
        )
    checked = list(results)
    for result in checked:
        if not isinstance(result, ToolResult):
            raise UserError(
                "result_messages() takes the ToolResults executor.run() returned; "
                f"got {type_name(result)} among them."
            )
    messages: list[dict[str, Any]] = sendable(adapter.result_messages(checked))
    return messages
