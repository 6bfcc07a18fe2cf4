"""Exceptions raised by toolvolley.

A tool that fails is not an exception here: it becomes a :class:`~toolvolley.ToolResult` that is
sent back to the model. Exceptions are for the developer::

    ToolvolleyError            root of everything toolvolley raises
    ├── UserError              the library was used wrongly (bad tool definition, bad setting)
    └── ToolError              raised *by a tool* to report a failure to the model in its own words

``ToolError`` is the one exception meant to be raised inside tools: its message becomes the
result's content verbatim, without the "raised ..." prefix other exceptions get.
"""

from __future__ import annotations

__all__ = ["ToolError", "ToolvolleyError", "UserError"]


class ToolvolleyError(Exception):
    """Root of every exception toolvolley raises."""


class UserError(ToolvolleyError):
    """The library was used in a way it does not support; the message says how to fix it."""


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
