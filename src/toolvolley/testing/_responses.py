"""The OpenAI Responses API, as the offline model speaks it."""

from __future__ import annotations

from typing import Any

from ._chat import _choice, _loads
from ._planner import Conversation, ToolSpec
from ._wire import Frame, Generation, bad_request, pieces, sse, text_of

__all__ = ["parse", "response_body", "stream_frames"]


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    return [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])


def output_items(gen: Generation) -> list[dict[str, Any]]:
    """The response's output as input items, to store for ``previous_response_id``."""
    return _items(gen, done=True)


def parse(body: dict[str, Any]) -> Conversation:
    items = input_items(body)
    if not items:
        raise bad_request("'input' must be a string or a non-empty array of items.", param="input")
    tools = [
        ToolSpec(t["name"], t.get("parameters") or {}, code_only=_code_only(t))
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    calls = {i["call_id"]: i for i in items if i.get("type") == "function_call"}
    _check_programs(items)
    if body.get("store") is False:
        _check_reasoning(items)
    outputs = {i["call_id"]: i for i in items if i.get("type") == "function_call_output"}
    for call_id in calls:
        if call_id not in outputs:
            raise bad_request(f"No tool output found for function call {call_id}.", param="input")
    for call_id in outputs:
        if call_id not in calls:
            raise bad_request(
                f"No tool call found for function call output with call_id {call_id}.",
                param="input",
            )
    last_user = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
    made: list[tuple[str, dict[str, Any]]] = []
    results: list[tuple[str, str, bool]] = []
    for item in items[last_user + 1 :]:
        if item.get("type") == "function_call":
            made.append((item["name"], _loads(item.get("arguments"))))
        elif item.get("type") == "function_call_output":
            output = text_of(item.get("output"))
            results.append((calls[item["call_id"]]["name"], output, False))  # no error flag
    return Conversation(
        tools=tools,
        user_text=text_of(items[last_user].get("content")) if last_user >= 0 else "",
        calls_made=made,
        results=results,
        parallel=body.get("parallel_tool_calls", True) is not False,
        **_choice(body.get("tool_choice")),
    )


def _code_only(tool: dict[str, Any]) -> bool:
    callers = tool.get("allowed_callers")
    return isinstance(callers, list) and bool(callers) and "direct" not in callers


def _check_programs(items: list[dict[str, Any]]) -> None:
    """A call made by code goes back with the program that made it (a stateless request)."""
    programs = {i.get("call_id") for i in items if i.get("type") == "program"}
    for item in items:
        caller = item.get("caller") if item.get("type") == "function_call" else None
        if not isinstance(caller, dict) or caller.get("type") != "program":
            continue
        if caller.get("caller_id") not in programs:
            raise bad_request(
                f"No program item found for function call {item.get('call_id')} made by "
                f"program {caller.get('caller_id')}: send the program item back with its calls.",
                param="input",
            )


def _check_reasoning(items: list[dict[str, Any]]) -> None:
    """Statelessly (``store: false``), a reasoning item comes back with its encrypted content:
    nothing was stored under its id (the API's own 400)."""
    for item in items:
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            raise bad_request(
                f"Item with id '{item.get('id')}' not found. Items are not persisted when "
                "`store` is set to false. Try again with `store` set to true, or remove this "
                "item from your input.",
                param="input",
            )


def _program(gen: Generation) -> dict[str, Any]:
    return {
        "type": "program",
        "id": gen.message_id("cm_"),
        "call_id": gen.message_id("call_"),
        "code": gen.code("javascript"),
        "fingerprint": gen.message_id("fp_"),
    }


def _items(gen: Generation, *, done: bool) -> list[dict[str, Any]]:
    status = "completed" if done else "in_progress"
    items: list[dict[str, Any]] = []
    if gen.by_code:  # the code the model wrote, which makes the calls below
        items.append(_program(gen))
    if gen.reply.text:
        items.append(
            {
                "type": "message",
                "id": gen.message_id("msg_"),
                "role": "assistant",
                "status": status,
                "content": [
                    {
                        "type": "output_text",
                        "text": gen.reply.text if done else "",
                        "annotations": [],
                        "logprobs": [],
                    }
                ]
                if done
                else [],
            }
        )
    for index, call in enumerate(gen.reply.calls):
        item: dict[str, Any] = {
            "type": "function_call",
            "id": gen.call_id("fc_", index),
            "call_id": gen.call_id("call_", index),
            "name": call.name,
            "arguments": call.arguments_json if done else "",
            "status": status,
        }
        if call.by_code:
            item["caller"] = {"type": "program", "caller_id": _program(gen)["call_id"]}
        items.append(item)
    return items


def _status(gen: Generation) -> str:
    return "incomplete" if gen.truncated else "completed"


def response_body(gen: Generation, *, done: bool = True, parallel: bool = True) -> dict[str, Any]:
    out = gen.output_tokens
    return {
        "id": gen.message_id("resp_"),
        "object": "response",
        "created_at": gen.created,
        "status": _status(gen) if done else "in_progress",
        "model": gen.model,
        "output": _items(gen, done=True) if done else [],
        "parallel_tool_calls": parallel,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if done and gen.truncated else None,
        "usage": {
            "input_tokens": gen.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": gen.input_tokens + out,
        }
        if done
        else None,
    }


def stream_frames(gen: Generation, *, parallel: bool = True) -> list[Frame]:
    sequence = 0

    def event(kind: str, tokens: int = 0, **fields: Any) -> Frame:
        nonlocal sequence
        frame = Frame(sse({"type": kind, "sequence_number": sequence} | fields, event=kind), tokens)
        sequence += 1
        return frame

    frames = [
        event("response.created", response=response_body(gen, done=False, parallel=parallel)),
        event("response.in_progress", response=response_body(gen, done=False, parallel=parallel)),
    ]
    final_items = _items(gen, done=True)
    for output_index, (started, finished) in enumerate(
        zip(_items(gen, done=False), final_items, strict=True)
    ):
        frames.append(event("response.output_item.added", output_index=output_index, item=started))
        if finished["type"] == "message":
            text = gen.reply.text
            where = {"item_id": finished["id"], "output_index": output_index, "content_index": 0}
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            frames.append(event("response.content_part.added", **where, part=empty))
            frames += [
                event("response.output_text.delta", 1, **where, delta=piece, logprobs=[])
                for piece in pieces(text)
            ]
            frames.append(event("response.output_text.done", **where, text=text, logprobs=[]))
            frames.append(event("response.content_part.done", **where, part=finished["content"][0]))
        elif finished["type"] == "program":
            pass  # whole in its added and done events
        else:
            where = {"item_id": finished["id"], "output_index": output_index}
            frames[-1] = Frame(frames[-1].data, 1)  # the call's name and id cost a token
            frames += [
                event("response.function_call_arguments.delta", 1, **where, delta=piece)
                for piece in pieces(finished["arguments"])
            ]
            frames.append(
                event(
                    "response.function_call_arguments.done",
                    **where,
                    name=finished["name"],
                    arguments=finished["arguments"],
                )
            )
        frames.append(event("response.output_item.done", output_index=output_index, item=finished))
    final = "response.incomplete" if gen.truncated else "response.completed"
    frames.append(event(final, response=response_body(gen, parallel=parallel)))
    return frames
