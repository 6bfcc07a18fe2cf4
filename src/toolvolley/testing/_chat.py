"""OpenAI Chat Completions, as the offline model speaks it."""

from __future__ import annotations

import json
from typing import Any

from ._planner import Conversation, ToolSpec
from ._wire import Frame, Generation, bad_request, pieces, sse, text_of

__all__ = ["parse", "response_body", "stream_frames"]


def parse(body: dict[str, Any]) -> Conversation:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array.", param="messages")
    tools = [
        ToolSpec(t["function"]["name"], t["function"].get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    _check_tool_answers(messages)
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    names: dict[str, str] = {}
    calls: list[tuple[str, dict[str, Any]]] = []
    results: list[tuple[str, str, bool]] = []
    for message in messages[last_user + 1 :]:
        for call in message.get("tool_calls") or []:
            names[call["id"]] = call["function"]["name"]
            calls.append((call["function"]["name"], _loads(call["function"].get("arguments"))))
        if message.get("role") == "tool":
            content = text_of(message.get("content"))
            name = names.get(message.get("tool_call_id", ""), "tool")
            results.append((name, content, False))  # the format has no error flag
    return Conversation(
        tools=tools,
        user_text=text_of(messages[last_user].get("content")) if last_user >= 0 else "",
        calls_made=calls,
        results=results,
        parallel=body.get("parallel_tool_calls", True) is not False,
        **_choice(body.get("tool_choice")),
    )


def _choice(choice: Any) -> dict[str, Any]:
    """``tool_choice`` ("none", "auto", "required" or a named function) as planner settings."""
    if isinstance(choice, dict):
        named = choice.get("function") or choice  # Chat nests the name, Responses does not
        return {"tool_choice": "required", "forced_tool": named.get("name")}
    return {"tool_choice": choice or "auto"}


def _check_tool_answers(messages: list[dict[str, Any]]) -> None:
    """Every assistant ``tool_calls`` id needs a ``tool`` message right after it, as OpenAI says."""
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool" and (index == 0 or not _answers_calls(messages, index)):
            raise bad_request(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                "message with 'tool_calls'.",
                param=f"messages.[{index}].role",
            )
        if role != "assistant" or not message.get("tool_calls"):
            continue
        expected = [call["id"] for call in message["tool_calls"]]
        answered: set[str] = set()
        for later in messages[index + 1 :]:
            if later.get("role") != "tool":
                break
            answered.add(later.get("tool_call_id", ""))
        missing = [i for i in expected if i not in answered]
        if missing:
            raise bad_request(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(missing)}",
                param=f"messages.[{index}].role",
            )


def _answers_calls(messages: list[dict[str, Any]], index: int) -> bool:
    for earlier in reversed(messages[:index]):
        if earlier.get("role") == "tool":
            continue
        return earlier.get("role") == "assistant" and bool(earlier.get("tool_calls"))
    return False


def _loads(arguments: Any) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _usage(gen: Generation) -> dict[str, int]:
    out = gen.output_tokens
    return {
        "prompt_tokens": gen.input_tokens,
        "completion_tokens": out,
        "total_tokens": gen.input_tokens + out,
    }


def _finish_reason(gen: Generation) -> str:
    if gen.truncated:
        return "length"
    return "tool_calls" if gen.reply.calls else "stop"


def response_body(gen: Generation) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": gen.reply.text or None,
        "refusal": None,
    }
    if gen.reply.calls:
        message["tool_calls"] = [
            {
                "id": gen.call_id("call_", i),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for i, call in enumerate(gen.reply.calls)
        ]
    return {
        "id": gen.message_id("chatcmpl-"),
        "object": "chat.completion",
        "created": gen.created,
        "model": gen.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": _finish_reason(gen), "logprobs": None}
        ],
        "usage": _usage(gen),
    }


def stream_frames(gen: Generation, *, include_usage: bool = False) -> list[Frame]:
    head = {
        "id": gen.message_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": gen.created,
        "model": gen.model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return sse(head | {"choices": [choice]})

    frames = [Frame(chunk({"role": "assistant", "content": ""}))]
    if gen.reply.text:
        frames += [Frame(chunk({"content": piece}), 1) for piece in pieces(gen.reply.text)]
    for index, call in enumerate(gen.reply.calls):
        start = {
            "index": index,
            "id": gen.call_id("call_", index),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        frames.append(Frame(chunk({"tool_calls": [start]}), 1))
        frames += [
            Frame(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}), 1)
            for piece in pieces(call.arguments_json)
        ]
    frames.append(Frame(chunk({}, _finish_reason(gen))))
    if include_usage:
        frames.append(Frame(sse(head | {"choices": [], "usage": _usage(gen)})))
    frames.append(Frame(sse("[DONE]")))
    return frames
