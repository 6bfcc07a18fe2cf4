"""Amazon Bedrock Converse and ConverseStream, as the offline model speaks them.

``POST /model/{modelId}/converse`` answers one JSON body; ``/converse-stream`` the binary event
stream (see :mod:`._eventstream`), paced like the other formats. Errors are Bedrock's own:
a status, the ``x-amzn-ErrorType`` header and ``{"message": ...}``, which boto3 raises as
``ValidationException`` and its kin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ._eventstream import event_message
from ._hints import with_hints
from ._planner import Conversation, ToolSpec, declined, plan
from ._wire import Frame, Generation, WireError, pieces, text_of, tokens_in, truncate

if TYPE_CHECKING:
    from ._engine import OfflineModel, OfflineResponse

__all__ = ["is_converse", "respond"]


class ConverseError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def is_converse(path: str) -> bool:
    """Whether ``path`` is a Converse operation (``/model/{modelId}/converse[-stream]``)."""
    head, _, operation = path.rstrip("/").rpartition("/")
    return operation in ("converse", "converse-stream") and "/model/" in head + "/"


def _model_id(path: str) -> str:
    """The model id of a Converse path (an ARN may hold slashes)."""
    head = path.rstrip("/").rpartition("/")[0]
    return unquote(head.partition("/model/")[2])


async def respond(model: OfflineModel, method: str, path: str, body: bytes) -> OfflineResponse:
    """Answer one Converse or ConverseStream request."""
    from ._engine import OfflineResponse

    try:
        if method != "POST":
            raise ConverseError(405, "ValidationException", f"No route for {method} {path}.")
        return _respond(model, path, body)
    except ConverseError as exc:
        headers = [("content-type", "application/json"), ("x-amzn-errortype", exc.error_type)]
        return OfflineResponse(exc.status, headers, _once(json.dumps({"message": exc.message})))


def _respond(model: OfflineModel, path: str, body: bytes) -> OfflineResponse:
    from ._engine import OfflineResponse

    model_id, streamed = _model_id(path), path.rstrip("/").endswith("/converse-stream")
    if model_id not in model.models:
        raise _invalid("The provided model identifier is invalid.")
    try:
        request = json.loads(body or b"{}")
    except ValueError as exc:
        raise ConverseError(400, "SerializationException", f"Invalid JSON: {exc}") from exc
    conversation = parse(request)
    # whether the system prompt allows references between calls, in Anthropic's shape
    tools = [{"name": t.name, "description": t.description} for t in conversation.tools]
    hints = {"system": request.get("system"), "tools": tools}
    conversation = with_hints(conversation, "anthropic", hints)
    seed = f"{hashlib.sha256(body).hexdigest()}:{next(model._counter)}"
    cut_after: int | None = None
    if model.script is not None:
        try:
            turn = model.script.next_turn("anthropic")
        except WireError as exc:  # the script's error, in Bedrock's words
            raise ConverseError(
                exc.status,
                _ERROR_TYPES.get(exc.status, "ValidationException"),
                exc.payload["error"]["message"],
            ) from exc
        reply, cut_after = turn.reply, turn.cut_after
    else:
        reply = plan(conversation)
    limit = (request.get("inferenceConfig") or {}).get("maxTokens")
    reply, truncated = truncate(reply, limit if isinstance(limit, int) else None)
    generation = Generation(
        reply=reply,
        model=model_id,
        seed=seed,
        input_tokens=tokens_in(json.dumps(request.get("messages"))),
        truncated=truncated,
    )
    if streamed:
        frames = stream_frames(generation)
        headers = [("content-type", "application/vnd.amazon.eventstream")]
    else:
        frames = [Frame(json.dumps(response_body(generation)).encode(), generation.output_tokens)]
        headers = [("content-type", "application/json")]
    if cut_after is not None:
        from ._engine import _CUT

        frames = [*frames[:cut_after], _CUT]
    return OfflineResponse(200, headers, model._paced(frames))


_ERROR_TYPES = {
    400: "ValidationException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _invalid(message: str) -> ConverseError:
    return ConverseError(400, "ValidationException", message)


def parse(request: Any) -> Conversation:
    """What the planner needs from a Converse request, refusing what Bedrock refuses."""
    if not isinstance(request, dict):
        raise _invalid("The request body must be a JSON object.")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("A conversation must start with a user message (messages is empty).")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{index}.role must be 'user' or 'assistant'.")
        if not isinstance(message.get("content"), list):
            raise _invalid(f"messages.{index}.content must be a list of content blocks.")
    _check_tool_results(messages)
    config = request.get("toolConfig") or {}
    if not isinstance(config, dict) or not isinstance(config.get("tools") or [], list):
        raise _invalid("toolConfig must be an object whose tools are a list.")
    tools = [
        ToolSpec(
            spec["name"],
            (spec.get("inputSchema") or {}).get("json") or {},
            spec.get("description") or "",
        )
        for tool in config.get("tools") or []
        if isinstance(spec := (tool or {}).get("toolSpec"), dict) and "name" in spec
    ]
    choice = config.get("toolChoice") or {}
    last_user = max(
        (i for i, m in enumerate(messages) if m["role"] == "user" and _texts(m)), default=-1
    )
    names: dict[str, str] = {}
    calls: list[tuple[str, tuple[str, dict[str, Any]]]] = []  # (toolUseId, call)
    results: list[tuple[str, str, bool]] = []
    not_run: set[str] = set()  # calls the client declined, which the model makes again
    for message in messages[last_user + 1 :]:
        for block in _blocks(message):
            if isinstance(use := block.get("toolUse"), dict) and not _server(use):
                names[use.get("toolUseId", "")] = use.get("name", "")
                call = (use.get("name", ""), dict(use.get("input") or {}))
                calls.append((use.get("toolUseId", ""), call))
            elif isinstance(result := block.get("toolResult"), dict) and "type" not in result:
                name = names.get(result.get("toolUseId", ""), "tool")
                content = text_of(result.get("content"))
                answer = (name, content, result.get("status") == "error")
                if declined(answer):
                    not_run.add(result.get("toolUseId", ""))
                else:
                    results.append(answer)
    return Conversation(
        tools=tools,
        user_text=" ".join(_texts(messages[last_user])) if last_user >= 0 else "",
        calls_made=[call for use_id, call in calls if use_id not in not_run],
        results=results,
        tool_choice="required" if ("any" in choice or "tool" in choice) else "auto",
        forced_tool=(choice.get("tool") or {}).get("name") if "tool" in choice else None,
    )


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message.get("content") or [] if isinstance(b, dict)]


def _texts(message: dict[str, Any]) -> list[str]:
    return [b["text"] for b in _blocks(message) if isinstance(b.get("text"), str)]


def _server(use: dict[str, Any]) -> bool:
    return use.get("type") == "server_tool_use"


def _check_tool_results(messages: list[dict[str, Any]]) -> None:
    """Every toolUse of an assistant turn answered by a toolResult in the next user message."""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        ids = [
            use.get("toolUseId")
            for b in _blocks(message)
            if isinstance(use := b.get("toolUse"), dict) and not _server(use)
        ]
        if not ids:
            continue
        following = messages[index + 1] if index + 1 < len(messages) else {"content": []}
        answered = {
            result.get("toolUseId")
            for b in _blocks(following)
            if following.get("role") == "user" and isinstance(result := b.get("toolResult"), dict)
        }
        missing = [str(i) for i in ids if i not in answered]
        if missing:
            raise _invalid(
                f"Expected toolResult blocks at messages.{index + 1}.content for the following "
                f"Ids: {', '.join(missing)}"
            )


def _content(gen: Generation) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"text": gen.reply.text}] if gen.reply.text else []
    for index, call in enumerate(gen.reply.calls):
        use = {"toolUseId": gen.call_id("tooluse_", index), "name": call.name}
        blocks.append({"toolUse": use | {"input": call.arguments}})
    return blocks


def _stop_reason(gen: Generation) -> str:
    if gen.truncated:
        return "max_tokens"
    return "tool_use" if gen.reply.calls else "end_turn"


def _usage(gen: Generation) -> dict[str, int]:
    total = gen.input_tokens + gen.output_tokens
    return {
        "inputTokens": gen.input_tokens,
        "outputTokens": gen.output_tokens,
        "totalTokens": total,
    }


def response_body(gen: Generation) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": _content(gen)}},
        "stopReason": _stop_reason(gen),
        "usage": _usage(gen),
        "metrics": {"latencyMs": 0},
    }


def stream_frames(gen: Generation) -> list[Frame]:
    def event(kind: str, tokens: int = 0, **payload: Any) -> Frame:
        return Frame(event_message(kind, payload), tokens)

    frames = [event("messageStart", role="assistant")]
    for index, block in enumerate(_content(gen)):
        if "text" in block:  # a text block has deltas and a stop, no start
            frames += [
                event("contentBlockDelta", 1, contentBlockIndex=index, delta={"text": piece})
                for piece in pieces(block["text"])
            ]
        else:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            frames.append(event("contentBlockStart", 1, contentBlockIndex=index, start=start))
            frames += [
                event(
                    "contentBlockDelta",
                    1,
                    contentBlockIndex=index,
                    delta={"toolUse": {"input": piece}},
                )
                for piece in pieces(json.dumps(use["input"], ensure_ascii=False))
            ]
        frames.append(event("contentBlockStop", contentBlockIndex=index))
    frames.append(event("messageStop", stopReason=_stop_reason(gen)))
    frames.append(event("metadata", usage=_usage(gen), metrics={"latencyMs": 0}))
    return frames


async def _once(text: str) -> AsyncIterator[bytes]:
    yield text.encode()
