"""The Anthropic Messages API, as the offline model speaks it."""

from __future__ import annotations

import json
from typing import Any

from ._planner import Conversation, ToolSpec
from ._wire import Frame, Generation, WireError, pieces, sse, text_of

__all__ = ["parse", "response_body", "stream_frames"]


def error(message: str, status: int = 400) -> WireError:
    return WireError(
        status, {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    )


def parse(body: dict[str, Any]) -> Conversation:
    messages: list[dict[str, Any]] = body["messages"]  # checked by _requests
    tools = [
        ToolSpec(t["name"], t.get("input_schema") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and "name" in t
    ]
    choice = body.get("tool_choice") or {}
    _check_tool_results(messages)
    last_user = max(
        (i for i, m in enumerate(messages) if m.get("role") == "user" and _has_text(m)),
        default=-1,
    )
    names: dict[str, str] = {}
    calls: list[tuple[str, dict[str, Any]]] = []
    results: list[tuple[str, str, bool]] = []
    for message in messages[last_user + 1 :]:
        for block in _blocks(message):
            if block.get("type") == "tool_use":
                names[block["id"]] = block["name"]
                calls.append((block["name"], dict(block.get("input") or {})))
            elif block.get("type") == "tool_result":
                name = names.get(block.get("tool_use_id", ""), "tool")
                content = text_of(block.get("content"))
                results.append((name, content, bool(block.get("is_error"))))
    return Conversation(
        tools=tools,
        user_text=text_of(messages[last_user].get("content")) if last_user >= 0 else "",
        calls_made=calls,
        results=results,
        parallel=not choice.get("disable_parallel_tool_use", False),
        tool_choice={"none": "none", "any": "required", "tool": "required"}.get(
            str(choice.get("type")), "auto"
        ),
        forced_tool=choice.get("name") if choice.get("type") == "tool" else None,
    )


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _has_text(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "text" for b in _blocks(message))


def _check_tool_results(messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        ids = [b["id"] for b in _blocks(message) if b.get("type") == "tool_use"]
        if not ids:
            continue
        following = messages[index + 1] if index + 1 < len(messages) else {}
        answered = {
            b.get("tool_use_id")
            for b in _blocks(following)
            if following.get("role") == "user" and b.get("type") == "tool_result"
        }
        missing = [i for i in ids if i not in answered]
        if missing:
            raise error(
                f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )


def _content(gen: Generation) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if gen.reply.text:
        blocks.append({"type": "text", "text": gen.reply.text})
    for index, call in enumerate(gen.reply.calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": gen.call_id("toolu_", index),
                "name": call.name,
                "input": call.arguments,
            }
        )
    return blocks


def _stop_reason(gen: Generation) -> str:
    if gen.truncated:
        return "max_tokens"
    return "tool_use" if gen.reply.calls else "end_turn"


def _message(gen: Generation, *, done: bool) -> dict[str, Any]:
    return {
        "id": gen.message_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": gen.model,
        "content": _content(gen) if done else [],
        "stop_reason": _stop_reason(gen) if done else None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": gen.input_tokens,
            "output_tokens": gen.output_tokens if done else 1,
        },
    }


def response_body(gen: Generation) -> dict[str, Any]:
    return _message(gen, done=True)


def stream_frames(gen: Generation) -> list[Frame]:
    def event(kind: str, tokens: int = 0, **fields: Any) -> Frame:
        return Frame(sse({"type": kind} | fields, event=kind), tokens)

    frames = [event("message_start", message=_message(gen, done=False))]
    for index, block in enumerate(_content(gen)):
        if block["type"] == "text":
            frames.append(
                event(
                    "content_block_start", index=index, content_block={"type": "text", "text": ""}
                )
            )
            frames += [
                event(
                    "content_block_delta",
                    1,
                    index=index,
                    delta={"type": "text_delta", "text": piece},
                )
                for piece in pieces(block["text"])
            ]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            frames.append(event("content_block_start", 1, index=index, content_block=start))
            frames += [
                event(
                    "content_block_delta",
                    1,
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": piece},
                )
                for piece in pieces(json.dumps(block["input"], ensure_ascii=False))
            ]
        frames.append(event("content_block_stop", index=index))
    stop = _stop_reason(gen)
    frames.append(
        event(
            "message_delta",
            delta={"stop_reason": stop, "stop_sequence": None},
            usage={"output_tokens": gen.output_tokens},
        )
    )
    frames.append(event("message_stop"))
    return frames
