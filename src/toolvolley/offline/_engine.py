"""The offline model: answers Chat Completions, Responses and Messages requests, paced like one."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from .._errors import UserError
from . import _anthropic, _chat, _responses
from ._planner import plan
from ._wire import Frame, Generation, WireError, bad_request, tokens_in

__all__ = ["OfflineModel", "OfflineResponse"]


@dataclass(frozen=True)
class OfflineResponse:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


class OfflineModel:
    """A deterministic stand-in model that speaks the three wire formats. It is a planner, not
    an LLM: see :mod:`toolvolley.offline` for what it answers.

    * ``token_rate``: tokens generated per second (default 50), streamed or not.
    * ``first_token_s``: seconds before the first token (default 0.2).

    Reach it in-process through an SDK (``OpenAIChat.offline(...)``) or over HTTP
    (``toolvolley serve-model``).
    """

    def __init__(
        self,
        *,
        token_rate: float = 50.0,
        first_token_s: float = 0.2,
        name: str = "toolvolley-offline",
    ) -> None:
        if not (isinstance(token_rate, (int, float)) and 0 < token_rate < math.inf):
            raise UserError("token_rate must be a positive number of tokens per second.")
        if not (isinstance(first_token_s, (int, float)) and 0 <= first_token_s < math.inf):
            raise UserError("first_token_s must be a number of seconds >= 0.")
        self.token_rate = float(token_rate)
        self.first_token_s = float(first_token_s)
        self.name = name

    def __repr__(self) -> str:
        return f"OfflineModel(token_rate={self.token_rate:g}, first_token_s={self.first_token_s:g})"

    async def handle(self, method: str, path: str, body: bytes) -> OfflineResponse:
        """Answer one HTTP request (the transport and the server both call this)."""
        try:
            return self._route(method, path.rstrip("/"), body)
        except WireError as exc:
            return _json_response(exc.status, exc.payload)

    def _route(self, method: str, path: str, body: bytes) -> OfflineResponse:
        if method == "GET" and path.endswith("/models"):
            model = {"id": self.name, "object": "model", "created": 0, "owned_by": "toolvolley"}
            return _json_response(200, {"object": "list", "data": [model]})
        kind = next((k for k, suffix in _ENDPOINTS if path.endswith(suffix)), None)
        if kind is None or method != "POST":
            raise WireError(
                404,
                {
                    "error": {
                        "message": f"No route for {method} {path}.",
                        "type": "invalid_request_error",
                    }
                },
            )
        try:
            request: Any = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(request, dict):
            raise bad_request("The request body must be a JSON object.")
        parse = {"chat": _chat.parse, "responses": _responses.parse, "anthropic": _anthropic.parse}[
            kind
        ]
        conversation = parse(request)
        generation = Generation(
            reply=plan(conversation),
            model=str(request.get("model") or self.name),
            seed=hashlib.sha256(body).hexdigest(),
            input_tokens=tokens_in(body.decode(errors="replace")),
        )
        if not request.get("stream"):
            payload = {
                "chat": _chat.response_body,
                "responses": lambda g: _responses.response_body(g, parallel=conversation.parallel),
                "anthropic": _anthropic.response_body,
            }[kind](generation)
            frame = Frame(json.dumps(payload).encode(), generation.output_tokens)
            return OfflineResponse(
                200, [("content-type", "application/json")], self._paced([frame])
            )
        if kind == "chat":
            options = request.get("stream_options") or {}
            frames = _chat.stream_frames(
                generation, include_usage=bool(options.get("include_usage"))
            )
        elif kind == "responses":
            frames = _responses.stream_frames(generation, parallel=conversation.parallel)
        else:
            frames = _anthropic.stream_frames(generation)
        headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        return OfflineResponse(200, headers, self._paced(frames))

    async def _paced(self, frames: Sequence[Frame]) -> AsyncIterator[bytes]:
        """Send each frame when its tokens would have been generated (no drift across frames)."""
        start = anyio.current_time() + self.first_token_s
        tokens = 0
        for frame in frames:
            tokens += frame.tokens
            delay = start + tokens / self.token_rate - anyio.current_time()
            if delay > 0:
                await anyio.sleep(delay)
            yield frame.data


_ENDPOINTS = (
    ("chat", "/chat/completions"),
    ("responses", "/responses"),
    ("anthropic", "/messages"),
)


def _json_response(status: int, payload: dict[str, Any]) -> OfflineResponse:
    async def body() -> AsyncIterator[bytes]:
        yield json.dumps(payload).encode()

    return OfflineResponse(status, [("content-type", "application/json")], body())
