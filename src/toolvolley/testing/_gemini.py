"""Gemini's ``generateContent`` / ``streamGenerateContent`` (SSE, ``alt=sse``), as the offline
model speaks it.

The model and whether to stream are in the path (``/v1beta/models/offline:generateContent``),
not the body: :func:`with_path` puts them in the body, so the request goes through the engine
like the others. Like Gemini 2.x, calls carry no ``id``; like a thinking model, the first call of
a response carries a ``thoughtSignature``, which must come back on that call (Gemini 3 refuses a
turn without it). A follow-up must answer every call of the model's turn, or it is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from ._planner import Conversation, ToolSpec, declined
from ._wire import Frame, Generation, WireError, pieces, text_of

__all__ = ["error", "parse", "response_body", "stream_frames", "with_path"]

_STATUS = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
}
_MODES = {"NONE": "none", "ANY": "required", "AUTO": "auto", "VALIDATED": "auto"}


def error(status: int, message: str) -> WireError:
    """Google's error shape: ``{"error": {"code", "message", "status"}}``."""
    name = _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return WireError(status, {"error": {"code": status, "message": message, "status": name}})


def with_path(path: str, body: bytes) -> bytes:
    """The body with the ``model`` and ``stream`` its path names (left as it is if it is no JSON
    object: reading it refuses it then)."""
    name, _, action = path.rpartition("/")[2].partition(":")
    try:
        request = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return body
    if not isinstance(request, dict):
        return body
    request |= {"model": name, "stream": action == "streamGenerateContent"}
    return json.dumps(request).encode()


def parse(body: dict[str, Any]) -> Conversation:
    contents: list[dict[str, Any]] = body["contents"]  # checked by _requests
    tools = [
        ToolSpec(d["name"], _parameters(d), str(d.get("description") or ""))
        for tool in body.get("tools") or []
        for d in tool.get("functionDeclarations") or tool.get("function_declarations") or []
        if isinstance(d, dict) and isinstance(d.get("name"), str)
    ]
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = config.get("allowedFunctionNames") or []
    last_user = max(
        (i for i, c in enumerate(contents) if c.get("role", "user") == "user" and _text(c)),
        default=-1,
    )
    _check_turns(contents, last_user + 1)
    calls: list[tuple[str, dict[str, Any]]] = []
    results: list[tuple[str, str, bool]] = []
    for content in contents[last_user + 1 :]:
        for part in content["parts"]:
            if "functionCall" in part:
                call = part["functionCall"]
                calls.append((call.get("name", ""), dict(call.get("args") or {})))
            elif "functionResponse" in part:
                answer = part["functionResponse"]
                response = answer.get("response") or {}
                failed = "error" in response
                value = response.get("error" if failed else "output", response)
                text = value if isinstance(value, str) else json.dumps(value)
                results.append((answer.get("name", "tool"), text, failed))
    # A call the client declined (toolvolley's serial mode: only a response's first call runs)
    # is made again, as a model reading that answer would.
    kept = [(c, r) for c, r in zip(calls, results, strict=False) if not declined(r)]
    calls, results = [c for c, _ in kept], [r for _, r in kept]
    mode = _MODES.get(str(config.get("mode", "AUTO")).upper(), "auto")
    return Conversation(
        tools=tools,
        user_text=_text(contents[last_user]) if last_user >= 0 else "",
        calls_made=calls,
        results=results,
        parallel=True,  # the API has no switch
        tool_choice=mode,
        forced_tool=allowed[0] if mode == "required" and len(allowed) == 1 else None,
    )


def system_text(body: dict[str, Any]) -> str:
    instruction = body.get("systemInstruction") or body.get("system_instruction") or {}
    return text_of(instruction.get("parts") if isinstance(instruction, dict) else instruction)


def _parameters(declaration: dict[str, Any]) -> dict[str, Any]:
    for key in ("parametersJsonSchema", "parameters_json_schema", "parameters"):
        if isinstance(declaration.get(key), dict):
            return dict(declaration[key])
    return {}


def _text(content: dict[str, Any]) -> str:
    return text_of([p for p in content["parts"] if not p.get("thought")])


def _check_turns(contents: list[dict[str, Any]], current: int) -> None:
    """What Gemini refuses: a call turn not followed by one answer per call, and a current turn
    whose first call lost its thought signature."""
    for index, content in enumerate(contents):
        calls = [p for p in content["parts"] if "functionCall" in p]
        if content.get("role") != "model" or not calls:
            continue
        answers = []
        for later in contents[index + 1 :]:
            found = [p["functionResponse"] for p in later["parts"] if "functionResponse" in p]
            if later.get("role", "user") != "user" or not found:
                break
            answers += found
        names = [c["functionCall"].get("name") for c in calls]
        if [a.get("name") for a in answers] != names:
            raise error(
                400,
                f"contents[{index}]: Please ensure that the number of function response parts "
                "is equal to the number of function call parts of the function call turn "
                f"(calls {names}, answered {[a.get('name') for a in answers]}).",
            )
        first = calls[0]
        name = first["functionCall"].get("name", "")
        if index >= current and "thoughtSignature" not in first:
            raise error(
                400,
                "Function call is missing a thought_signature in functionCall parts. This is "
                f"required for tools to work correctly. Function call `{name}`, position "
                f"{index + 1}.",
            )
        expected = _bytes(signature_of(name, first["functionCall"]))
        if index >= current and _bytes(first["thoughtSignature"]) != expected:
            raise error(400, f"contents[{index}]: Thought signature is not valid.")


def signature_of(name: str, call: dict[str, Any]) -> str:
    """The offline model's thought signature for a call: a digest of it, so a signature moved to
    another call, or changed, is found."""
    text = json.dumps([name, call.get("args") or {}], sort_keys=True)
    return base64.b64encode(hashlib.sha256(text.encode()).digest()[:24]).decode()


def _bytes(signature: Any) -> bytes:
    try:
        return base64.urlsafe_b64decode(str(signature).replace("+", "-").replace("/", "_"))
    except ValueError:
        return b""


def _parts(gen: Generation) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": gen.reply.text}] if gen.reply.text else []
    for index, call in enumerate(gen.reply.calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
        if index == 0:
            part["thoughtSignature"] = signature_of(call.name, part["functionCall"])
        parts.append(part)
    return parts


def _usage(gen: Generation, *, done: bool) -> dict[str, Any]:
    output = gen.output_tokens if done else 0
    return {
        "promptTokenCount": gen.input_tokens,
        "candidatesTokenCount": output,
        "totalTokenCount": gen.input_tokens + output,
    }


def _chunk(gen: Generation, parts: list[dict[str, Any]], *, done: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if done:
        candidate["finishReason"] = "MAX_TOKENS" if gen.truncated else "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(gen, done=done),
        "modelVersion": gen.model,
        "responseId": gen.message_id(""),
    }


def response_body(gen: Generation) -> dict[str, Any]:
    return _chunk(gen, _parts(gen), done=True)


def stream_frames(gen: Generation) -> list[Frame]:
    """Text in token-sized chunks, then each call whole in a chunk of its own; the last chunk
    carries the finish reason."""
    parts = _parts(gen)
    chunks: list[tuple[list[dict[str, Any]], int]] = []
    for part in parts:
        if "text" in part:
            chunks += [([{"text": piece}], 1) for piece in pieces(part["text"])]
        else:
            call = part["functionCall"]
            chunks.append(([part], max(1, len(json.dumps(call)) // 4)))
    if not chunks:
        chunks = [([{"text": ""}], 0)]
    frames = []
    for index, (chunk_parts, tokens) in enumerate(chunks):
        chunk = _chunk(gen, chunk_parts, done=index == len(chunks) - 1)
        frames.append(Frame(f"data: {json.dumps(chunk)}\r\n\r\n".encode(), tokens))
    return frames
