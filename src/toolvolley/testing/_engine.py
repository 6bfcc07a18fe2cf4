"""The offline model: answers Chat Completions, Responses and Messages requests, paced like one."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from .._errors import UserError
from . import _anthropic, _chat, _gemini, _responses
from ._body import parse_body
from ._hints import with_hints
from ._planner import Conversation, Reply, plan
from ._requests import validate
from ._script import Script
from ._wire import Frame, Generation, Kind, WireError, tokens_in, truncate, wire_error

__all__ = ["OfflineModel", "OfflineResponse", "StreamCut", "kind_of"]


@dataclass(frozen=True)
class OfflineResponse:
    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


class OfflineModel:
    """A deterministic stand-in model that speaks the three wire formats. It is a planner, not
    an LLM: see :mod:`toolvolley.testing` for what it answers.

    * ``token_rate``: tokens generated per second (default 50), streamed or not.
    * ``first_token_s``: seconds before the first token (default 0.2).
    * ``name`` and ``aliases``: the model names it answers to (others get 404
      ``model_not_found``).
    * ``script``: turns to replay instead of planning (see :class:`Script`): text, tool calls,
      errors and cut streams, one turn a request.
    * ``stored_responses``: how many Responses API responses to keep for
      ``previous_response_id`` (the oldest are forgotten first).

    Reach it in-process through an SDK (``OpenAIChat.offline(...)``) or over HTTP
    (``toolvolley serve-model``).
    """

    def __init__(
        self,
        *,
        token_rate: float = 50.0,
        first_token_s: float = 0.2,
        name: str = "toolvolley-offline",
        aliases: Sequence[str] = ("offline",),
        script: Script | Sequence[Any] | str | os.PathLike[str] | None = None,
        stored_responses: int = 1000,
    ) -> None:
        if not (isinstance(token_rate, (int, float)) and 0 < token_rate < math.inf):
            raise UserError("token_rate must be a positive number of tokens per second.")
        if not (isinstance(first_token_s, (int, float)) and 0 <= first_token_s < math.inf):
            raise UserError("first_token_s must be a number of seconds >= 0.")
        if stored_responses < 0:
            raise UserError("stored_responses must be >= 0.")
        self.token_rate = float(token_rate)
        self.first_token_s = float(first_token_s)
        self.name = name
        self.models = (name, *(a for a in aliases if a != name))
        self.script = script if isinstance(script, Script) or script is None else Script(script)
        self.active_generations = 0  # streams being generated right now
        self._stored: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._stored_max = stored_responses
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return f"OfflineModel(token_rate={self.token_rate:g}, first_token_s={self.first_token_s:g})"

    async def handle(self, method: str, path: str, body: bytes) -> OfflineResponse:
        """Answer one HTTP request (the in-process transport calls this; the server routes
        with Starlette and calls :meth:`models_list` and :meth:`respond`)."""
        path = path.rstrip("/")
        from . import _bedrock  # Converse names its model and operation in the path

        if _bedrock.is_converse(path):
            return await _bedrock.respond(self, method, path, body)
        if method == "GET" and path.endswith("/models"):
            return _json_response(200, self.models_list())
        kind = kind_of(path)
        if kind is None or method != "POST":
            status = 404 if kind is None else 405
            error = wire_error(kind or "chat", status, f"No route for {method} {path}.")
            return _json_response(error.status, error.payload)
        if kind == "gemini":
            body = _gemini.with_path(path, body)  # the model and the stream are in the path
        return await self.respond(kind, body)

    def models_list(self) -> dict[str, Any]:
        """The body of ``GET /v1/models``: every name this model answers to."""
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "toolvolley"}
            for name in self.models
        ]
        return {"object": "list", "data": data}

    async def respond(self, kind: Kind, body: bytes) -> OfflineResponse:
        """Answer one request body sent to ``kind``'s endpoint."""
        try:
            return self._respond(kind, body)
        except WireError as exc:
            return _json_response(exc.status, exc.payload)

    def _respond(self, kind: Kind, body: bytes) -> OfflineResponse:
        text, request = parse_body(kind, body)
        validate(kind, request)
        if request["model"] not in self.models:
            message = (
                f"The model `{request['model']}` does not exist. This server answers to: "
                f"{', '.join(self.models)}."
            )
            raise wire_error(kind, 404, message, param="model", code="model_not_found")
        if kind == "responses":
            request = self._with_previous(request)
        conversation = with_hints(_PARSERS[kind](request), kind, request)
        seed = f"{hashlib.sha256(body).hexdigest()}:{next(self._counter)}"
        cut_after: int | None = None
        if self.script is not None:
            turn = self.script.next_turn(kind)
            reply, cut_after = turn.reply, turn.cut_after
        else:
            reply = by_code(plan(conversation), conversation)
        reply, truncated = truncate(reply, _max_tokens(kind, request))
        generation = Generation(
            reply=reply,
            model=request["model"],
            seed=seed,
            input_tokens=tokens_in(text),
            truncated=truncated,
            container=_container_id(request.get("container")),
        )
        if kind == "responses" and request.get("store", True) is not False:
            self._store(generation, request)
        if not request.get("stream"):
            payload = {
                "chat": _chat.response_body,
                "responses": lambda g: _responses.response_body(g, parallel=conversation.parallel),
                "anthropic": _anthropic.response_body,
                "gemini": _gemini.response_body,
            }[kind](generation)
            frame = Frame(json.dumps(payload).encode(), generation.output_tokens)
            frames = [frame]
            headers = [("content-type", "application/json")]
        else:
            if kind == "chat":
                options = request.get("stream_options") or {}
                frames = _chat.stream_frames(
                    generation, include_usage=bool(options.get("include_usage"))
                )
            elif kind == "responses":
                frames = _responses.stream_frames(generation, parallel=conversation.parallel)
            elif kind == "gemini":
                frames = _gemini.stream_frames(generation)
            else:
                frames = _anthropic.stream_frames(generation)
            headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        if cut_after is not None:
            frames = [*frames[:cut_after], _CUT]
        return OfflineResponse(200, headers, self._paced(frames))

    def _with_previous(self, request: dict[str, Any]) -> dict[str, Any]:
        previous = request.get("previous_response_id")
        if not previous:
            return request
        if previous not in self._stored:
            raise wire_error(
                "responses",
                400,
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return request | {"input": self._stored[previous] + _responses.input_items(request)}

    def _store(self, generation: Generation, request: dict[str, Any]) -> None:
        if self._stored_max == 0:
            return
        items = _responses.input_items(request) + _responses.output_items(generation)
        self._stored[generation.message_id("resp_")] = items
        while len(self._stored) > self._stored_max:
            self._stored.popitem(last=False)

    async def _paced(self, frames: Sequence[Frame]) -> AsyncIterator[bytes]:
        """Send each frame when its tokens would have been generated (no drift across frames)."""
        self.active_generations += 1
        try:
            start = anyio.current_time() + self.first_token_s
            tokens = 0
            for frame in frames:
                if frame is _CUT:
                    raise StreamCut("the script cuts the stream here")
                tokens += frame.tokens
                delay = start + tokens / self.token_rate - anyio.current_time()
                if delay > 0:
                    await anyio.sleep(delay)
                yield frame.data
        finally:
            self.active_generations -= 1


class StreamCut(Exception):
    """The scripted stream ends here without its last event, as a dropped connection does."""


_CUT = Frame(b"")
_PARSERS: dict[Kind, Callable[[dict[str, Any]], Conversation]] = {
    "chat": _chat.parse,
    "responses": _responses.parse,
    "anthropic": _anthropic.parse,
    "gemini": _gemini.parse,
}


def by_code(reply: Reply, conversation: Conversation) -> Reply:
    """The planned calls of tools only code may call, made by code."""
    code_only = {t.name for t in conversation.tools if t.code_only}
    if not code_only:
        return reply
    calls = [dataclasses.replace(c, by_code=c.name in code_only) for c in reply.calls]
    return dataclasses.replace(reply, calls=calls)


def _container_id(container: Any) -> str | None:
    """The code container a request names (an id, or ``{"id": ...}``), to go on using."""
    if isinstance(container, dict):
        container = container.get("id")
    return container if isinstance(container, str) and container else None


def kind_of(path: str) -> Kind | None:
    """Which API a path belongs to (``/v1/chat/completions`` -> ``"chat"``)."""
    return next((k for k, suffix in _ENDPOINTS if path.rstrip("/").endswith(suffix)), None)


def _max_tokens(kind: Kind, request: dict[str, Any]) -> int | None:
    if kind == "chat":
        value = request.get("max_completion_tokens") or request.get("max_tokens")
    elif kind == "responses":
        value = request.get("max_output_tokens")
    elif kind == "gemini":
        value = (request.get("generationConfig") or {}).get("maxOutputTokens")
    else:
        value = request.get("max_tokens")
    return value if isinstance(value, int) else None


_ENDPOINTS: tuple[tuple[Kind, str], ...] = (
    ("chat", "/chat/completions"),
    ("responses", "/responses"),
    ("anthropic", "/messages"),
    ("gemini", ":generateContent"),
    ("gemini", ":streamGenerateContent"),
)


def _json_response(status: int, payload: dict[str, Any]) -> OfflineResponse:
    async def body() -> AsyncIterator[bytes]:
        yield json.dumps(payload).encode()

    return OfflineResponse(status, [("content-type", "application/json")], body())
