"""Exceptions raised by toolvolley.

A tool that fails is not an exception here: it becomes a :class:`~toolvolley.ToolResult` that is
sent back to the model. Exceptions are for the developer::

    ToolvolleyError              root of everything toolvolley raises
    ├── UserError                the library was used wrongly (bad tool definition, bad setting)
    │   └── SchemaError          one tool's JSON Schema cannot be used (invalid, or a remote $ref)
    ├── ToolError                raised *by a tool* to tell the model what failed, in its own words
    ├── ModelError               the model call failed; ``__cause__`` is the SDK's own exception
    │   └── StreamCutError       the response stream ended without its finish signal
    ├── MaxTurnsExceeded         the model still asked for tools after ``max_turns`` model calls
    ├── WorkerLost               the worker running a call (a thread, a process, a Ray worker or
    │                            actor) died or never started: that call's error, whatever runner
    ├── MCPServerError           (toolvolley.mcp) an MCP server could not be started, reached or
    │                            listed, outside a tool call (inside one: that call's error result)
    └── ToolTimeoutError         (toolvolley.langgraph) a LangGraph ToolNode call timed out and
                                 ``handle_tool_errors`` did not answer it; also a TimeoutError

``ToolError`` is the one exception meant to be raised inside tools: its message becomes the
result's content verbatim, without the "raised ..." prefix other exceptions get.

``ModelError`` is the one exception to catch around :func:`~toolvolley.run_loop` for "the model
failed" (HTTP errors, refused connections, cut streams); ``exc.__cause__`` is what the SDK raised,
e.g. ``openai.BadRequestError``, with its status code and body.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

if sys.version_info < (3, 11):  # anyio's own dependency there
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "MaxTurnsExceeded",
    "ModelError",
    "SchemaError",
    "StreamCutError",
    "ToolError",
    "ToolvolleyError",
    "UserError",
    "WorkerLost",
]


class ToolvolleyError(Exception):
    """Root of every exception toolvolley raises."""


class UserError(ToolvolleyError):
    """The library was used in a way it does not support; the message says how to fix it."""


class SchemaError(UserError):
    """One tool's parameters schema cannot be used: that tool cannot be built, nothing else is
    affected. ``tool_name`` names it; ``reason`` says what is wrong with its schema.

    A source of many tools (an MCP server) catches this per tool and leaves that tool out.
    """

    def __init__(self, tool_name: str, reason: str) -> None:
        super().__init__(f"Tool {tool_name!r} cannot be used: its parameters schema {reason}")
        self.tool_name = tool_name
        self.reason = reason


class WorkerLost(ToolvolleyError):
    """The worker running a call died before it answered, or could not be started: a worker
    process that exited, was killed or never became ready, a Ray worker, node or actor lost, a
    worker thread the system refused. A runner's own trouble, not the body's: it is the call's
    error, as any failure (``status="error"``), and ``__cause__`` is what the runner saw when it
    has one (e.g. Ray's ``WorkerCrashedError``). Every runner raises this one class."""


class ToolError(ToolvolleyError):
    """Raise inside a tool to send ``message`` to the model as the failed call's content.

    Example::

        @tool
        def get_weather(city: str) -> str:
            if city not in KNOWN:
                raise ToolError(f"Unknown city {city!r}; ask the user to check the spelling.")
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelError(ToolvolleyError):
    """The model call failed: the provider answered with an error, the connection failed, or
    the response could not be read. ``__cause__`` is the SDK's exception; ``provider`` names the
    adapter (``"openai-chat"``, ``"openai-responses"``, ``"anthropic"`` ...).

    The calls of a turn that had already started still get their results (the batch finishes
    before this is raised); ``transcript`` is the conversation up to the failed model call.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        transcript: Sequence[dict[str, Any]] = (),
        turns: Sequence[Any] = (),  # TurnStats (not imported: _events depends on this module)
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.transcript = list(transcript)
        self.turns = tuple(turns)


class StreamCutError(ModelError):
    """The response stream ended (or broke) before the provider's finish signal, so its text is
    not a whole answer. Calls whose arguments were complete still ran and have their results."""


class MaxTurnsExceeded(ToolvolleyError):
    """The model was still asking for tools after ``max_turns`` model calls.

    ``transcript`` and ``turns`` hold the conversation so far (every call has its result).
    """

    def __init__(
        self, max_turns: int, transcript: Sequence[dict[str, Any]], turns: Sequence[Any]
    ) -> None:
        super().__init__(
            f"The model still asked for tools after {max_turns} model calls (max_turns). "
            "Raise max_turns if the task needs more steps, or look at the tool results in "
            ".transcript: a model that repeats a call is often reacting to a failure."
        )
        self.max_turns = max_turns
        self.transcript = list(transcript)
        self.turns = tuple(turns)


@contextmanager
def user_error_unwrapped() -> Iterator[None]:
    """Around a task group: an exception group holding nothing but :class:`UserError` comes out
    as the (first) UserError itself, so ``except UserError`` catches misuse whichever task it
    was found in. A group holding anything else (a failure, a cancellation) is left whole."""
    try:
        yield
    except BaseExceptionGroup as group:
        misuse = _only_user_errors(group)
        if misuse is None:
            raise
        raise misuse from misuse.__cause__  # not "during handling of" the group around it


def _only_user_errors(group: BaseExceptionGroup[BaseException]) -> UserError | None:
    first = None
    for exc in group.exceptions:
        found = _only_user_errors(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if not isinstance(found, UserError):
            return None
        first = first or found
    return first


def type_name(value: object) -> str:
    """``value``'s class as a developer would look it up: ``dict``, ``openai.AsyncOpenAI``."""
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


_MAX_TEXT = 500


def describe_exception(exc: BaseException, limit: int | None = _MAX_TEXT) -> str:
    """``"TypeName: message"``, cut to ``limit`` characters (``None``: whole); never fails,
    even for an exception whose ``__str__`` raises."""
    name = type(exc).__name__
    try:
        text = str(exc)
    except Exception:
        try:
            text = repr(exc)
        except Exception:
            text = "(its message could not be read)"
    text = f"{name}: {text}" if text else name
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
