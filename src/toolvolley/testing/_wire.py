"""What the three wire formats share: errors, token pacing and server-sent events."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from ._planner import PlannedCall, Reply

__all__ = [
    "Frame",
    "Generation",
    "Kind",
    "WireError",
    "bad_request",
    "pieces",
    "reply_tokens",
    "sse",
    "tokens_in",
    "truncate",
    "wire_error",
]

Kind = Literal["chat", "responses", "anthropic", "gemini"]

CHARS_PER_TOKEN = 4


class WireError(Exception):
    """A request the real service would refuse: ``status`` and the provider's error ``payload``."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(json.dumps(payload))
        self.status = status
        self.payload = payload


@dataclass(frozen=True)
class Frame:
    """Bytes to send once ``tokens`` more tokens have been generated."""

    data: bytes
    tokens: int = 0


@dataclass(frozen=True)
class Generation:
    """A planned reply with everything the encoders need to write it out."""

    reply: Reply
    model: str
    seed: str  # makes ids deterministic: a fresh model gives the same ids in the same order
    input_tokens: int
    created: int = 1_700_000_000
    truncated: bool = False  # cut short by the request's max_tokens
    container: str | None = None  # the code container a request named (programmatic calls)

    def call_id(self, prefix: str, index: int) -> str:
        call = self.reply.calls[index]
        text = f"{self.seed}:{index}:{call.name}:{call.arguments_json}"
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))  # a script's "\ud800"
        return f"{prefix}{digest.hexdigest()[:24]}"

    def message_id(self, prefix: str) -> str:
        return f"{prefix}{hashlib.sha256(self.seed.encode()).hexdigest()[:24]}"

    @property
    def by_code(self) -> list[int]:
        """The indices of the calls made by code (programmatic tool calling)."""
        return [i for i, call in enumerate(self.reply.calls) if call.by_code]

    def code(self, language: str) -> str:
        """The code that makes the calls by code, in ``language``."""
        calls = [self.reply.calls[i] for i in self.by_code]
        if language == "python":
            awaited = ", ".join(f"{c.name}({c.arguments_json})" for c in calls)
            return f"import asyncio\nresults = await asyncio.gather({awaited})\nprint(results)\n"
        awaited = ", ".join(f"tools.{c.name}({c.arguments_json})" for c in calls)
        return f"const results = await Promise.all([{awaited}]);\ntext(JSON.stringify(results));\n"

    @property
    def output_tokens(self) -> int:
        return reply_tokens(self.reply)


def reply_tokens(reply: Reply) -> int:
    total = tokens_in(reply.text) if reply.text else 0
    for call in reply.calls:
        total += call_tokens(call)
    return total


def call_tokens(call: PlannedCall) -> int:
    return 1 + tokens_in(call.arguments_json)  # one for the call's name and id


def truncate(reply: Reply, max_tokens: int | None) -> tuple[Reply, bool]:
    """``reply`` within ``max_tokens``: the text cut at the limit, and only the tool calls that
    fit whole (a cut call would be unusable). The flag says whether anything was cut."""
    if max_tokens is None or reply_tokens(reply) <= max_tokens:
        return reply, False
    budget = max_tokens
    text = reply.text
    if text and tokens_in(text) > budget:
        return Reply(text=text[: budget * CHARS_PER_TOKEN]), True
    budget -= tokens_in(text) if text else 0
    calls: list[PlannedCall] = []
    for call in reply.calls:
        if call_tokens(call) > budget:
            break
        budget -= call_tokens(call)
        calls.append(call)
    return Reply(text=text, calls=calls), True


def tokens_in(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def pieces(text: str) -> list[str]:
    """``text`` cut into token-sized pieces, as a model streams it."""
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)] or [""]


def sse(data: Any, event: str | None = None) -> bytes:
    # ASCII, as every body is written: a lone surrogate (from a script) goes out as "\ud800",
    # where UTF-8 could not encode it.
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def bad_request(message: str, **extra: Any) -> WireError:
    """An OpenAI-style 400."""
    return WireError(
        400,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
            | extra
        },
    )


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    500: "api_error",
}


def wire_error(
    kind: Kind, status: int, message: str, *, param: str | None = None, code: str | None = None
) -> WireError:
    """The provider's own error: Anthropic's ``{"type": "error", ...}`` or OpenAI's."""
    if kind == "gemini":
        from ._gemini import error  # Google's {"error": {"code", "message", "status"}}

        return error(status, message)
    if kind == "anthropic":
        kind_name = _ANTHROPIC_TYPES.get(status, "invalid_request_error")
        return WireError(
            status, {"type": "error", "error": {"type": kind_name, "message": message}}
        )
    return (
        bad_request(message, param=param, code=code)
        if status == 400
        else WireError(
            status,
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": param,
                    "code": code,
                }
            },
        )
    )
