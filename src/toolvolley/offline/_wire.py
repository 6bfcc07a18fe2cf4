"""What the three wire formats share: errors, token pacing and server-sent events."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from ._planner import Reply

__all__ = ["Frame", "Generation", "WireError", "pieces", "sse", "tokens_in"]

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
    seed: str  # makes ids deterministic for the same request
    input_tokens: int
    created: int = 1_700_000_000

    def call_id(self, prefix: str, index: int) -> str:
        call = self.reply.calls[index]
        digest = hashlib.sha256(f"{self.seed}:{index}:{call.name}:{call.arguments_json}".encode())
        return f"{prefix}{digest.hexdigest()[:24]}"

    def message_id(self, prefix: str) -> str:
        return f"{prefix}{hashlib.sha256(self.seed.encode()).hexdigest()[:24]}"

    @property
    def output_tokens(self) -> int:
        total = tokens_in(self.reply.text) if self.reply.text else 0
        for call in self.reply.calls:
            total += 1 + tokens_in(call.arguments_json)  # one for the call's name and id
        return total


def tokens_in(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def pieces(text: str) -> list[str]:
    """``text`` cut into token-sized pieces, as a model streams it."""
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)] or [""]


def sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and "text" in part
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
