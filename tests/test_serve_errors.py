"""Every kind of malformed request gets the provider's own status and error shape, never a 500,
and the server keeps answering afterwards. One server per module, under uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from toolvolley._serving import serve_in_thread
from toolvolley.offline import OfflineApp, OfflineModel

LIMIT = 64 * 1024
OK_CHAT = {"model": "offline", "messages": [{"role": "user", "content": "hi"}]}
OK_RESPONSES = {"model": "offline", "input": "hi"}
OK_ANTHROPIC = {
    "model": "offline",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    model = OfflineModel(token_rate=10_000, first_token_s=0)
    with serve_in_thread(OfflineApp(model, max_body_bytes=LIMIT)) as base:
        yield base


def _chat_tool(**function: Any) -> dict[str, Any]:
    return {**OK_CHAT, "tools": [{"type": "function", "function": function}]}


# (name, path, body: dict or raw bytes, expected status)
CASES: list[tuple[str, str, Any, int]] = [
    # --- Chat Completions
    ("chat: not JSON", "/v1/chat/completions", b"{not json", 400),
    ("chat: not UTF-8", "/v1/chat/completions", b'{"model": "\xff\xfe"}', 400),
    ("chat: body is a list", "/v1/chat/completions", b"[1, 2]", 400),
    ("chat: no messages", "/v1/chat/completions", {"model": "offline"}, 400),
    ("chat: parameters not an object", "/v1/chat/completions",
     _chat_tool(name="f", parameters="nope"), 400),
    ("chat: parameters of type array", "/v1/chat/completions",
     _chat_tool(name="f", parameters={"type": "array"}), 400),
    ("chat: function without a name", "/v1/chat/completions", _chat_tool(parameters={}), 400),
    ("chat: tools as an object", "/v1/chat/completions",
     {**OK_CHAT, "tools": {"type": "function"}}, 400),
    ("chat: role wizard", "/v1/chat/completions",
     {"model": "offline", "messages": [{"role": "wizard", "content": "hi"}]}, 400),
    ("chat: content 42", "/v1/chat/completions",
     {"model": "offline", "messages": [{"role": "user", "content": 42}]}, 400),
    ("chat: temperature 5", "/v1/chat/completions", {**OK_CHAT, "temperature": 5}, 400),
    ("chat: n 3", "/v1/chat/completions", {**OK_CHAT, "n": 3}, 400),
    ("chat: max_tokens 0", "/v1/chat/completions", {**OK_CHAT, "max_tokens": 0}, 400),
    ("chat: unknown model", "/v1/chat/completions", {**OK_CHAT, "model": "gpt-9"}, 404),
    ("chat: too large", "/v1/chat/completions", b"x" * (LIMIT + 1), 413),
    ("chat: GET", "/v1/chat/completions", None, 405),
    # --- Responses
    ("responses: input 42", "/v1/responses", {"model": "offline", "input": 42}, 400),
    ("responses: not JSON", "/v1/responses", b"{", 400),
    ("responses: not UTF-8", "/v1/responses", b"\xff", 400),
    ("responses: parameters not an object", "/v1/responses",
     {**OK_RESPONSES, "tools": [{"type": "function", "name": "f", "parameters": 3}]}, 400),
    ("responses: function_call without call_id", "/v1/responses",
     {"model": "offline", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
     400),
    ("responses: unknown previous_response_id", "/v1/responses",
     {**OK_RESPONSES, "previous_response_id": "resp_nope"}, 400),
    ("responses: unknown model", "/v1/responses", {**OK_RESPONSES, "model": "gpt-9"}, 404),
    ("responses: too large", "/v1/responses", b"x" * (LIMIT + 1), 413),
    # --- Anthropic Messages
    ("anthropic: not JSON", "/v1/messages", b"{not json", 400),
    ("anthropic: not UTF-8", "/v1/messages", b"\xff", 400),
    ("anthropic: no max_tokens", "/v1/messages",
     {"model": "offline", "messages": [{"role": "user", "content": "hi"}]}, 400),
    ("anthropic: input_schema nope", "/v1/messages",
     {**OK_ANTHROPIC, "tools": [{"name": "f", "input_schema": "nope"}]}, 400),
    ("anthropic: tool without a name", "/v1/messages",
     {**OK_ANTHROPIC, "tools": [{"input_schema": {"type": "object"}}]}, 400),
    ("anthropic: content 42", "/v1/messages",
     {**OK_ANTHROPIC, "messages": [{"role": "user", "content": 42}]}, 400),
    ("anthropic: role wizard", "/v1/messages",
     {**OK_ANTHROPIC, "messages": [{"role": "wizard", "content": "hi"}]}, 400),
    ("anthropic: temperature 5", "/v1/messages", {**OK_ANTHROPIC, "temperature": 5}, 400),
    ("anthropic: tool_use without id", "/v1/messages",
     {**OK_ANTHROPIC, "messages": [{"role": "user", "content": "hi"},
      {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}, 400),
    ("anthropic: unknown block type", "/v1/messages",
     {**OK_ANTHROPIC, "messages": [{"role": "user", "content": [{"type": "banana"}]}]}, 400),
    ("anthropic: unknown block type in a tool result", "/v1/messages",
     {**OK_ANTHROPIC, "messages": [{"role": "user", "content": "hi"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                    "content": [{"type": "banana", "text": "x"}]}]}]}, 400),
    ("anthropic: unknown model", "/v1/messages", {**OK_ANTHROPIC, "model": "claude-9"}, 404),
    ("anthropic: too large", "/v1/messages", b"x" * (LIMIT + 1), 413),
    ("anthropic: GET", "/v1/messages", None, 405),
    ("no such route", "/v1/nowhere", {}, 404),
]  # fmt: skip


def _check_shape(path: str, status: int, payload: Any) -> str:
    if path.endswith("/messages"):
        assert payload["type"] == "error"
        assert set(payload["error"]) == {"type", "message"}
        expected = {400: "invalid_request_error", 404: "not_found_error", 413: "request_too_large"}
        if status in expected:
            assert payload["error"]["type"] == expected[status]
        return str(payload["error"]["message"])
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["type"] == "invalid_request_error"
    return str(payload["error"]["message"])


@pytest.mark.parametrize(("name", "path", "body", "status"), CASES, ids=[c[0] for c in CASES])
def test_malformed_request_gets_the_providers_error(
    url: str, name: str, path: str, body: Any, status: int
) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        if body is None:
            response = client.get(path)
        else:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert _check_shape(path, status, response.json())
        if status == 404 and name.endswith("unknown model"):
            if not path.endswith("/messages"):
                assert response.json()["error"]["code"] == "model_not_found"
            assert "offline" in response.text  # says which models are served
        # ... and the server still answers a good request.
        good = {"/v1/responses": OK_RESPONSES, "/v1/messages": OK_ANTHROPIC}.get(path, OK_CHAT)
        target = path if path != "/v1/nowhere" else "/v1/chat/completions"
        assert client.post(target, json=good).status_code == 200


def test_an_unknown_anthropic_block_type_is_named(url: str) -> None:
    body = {**OK_ANTHROPIC, "messages": [{"role": "user", "content": [{"type": "banana"}]}]}
    error = httpx.post(f"{url}/v1/messages", json=body, timeout=10).json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("messages.0.content.0"), error
    assert "'banana'" in error["message"]
    assert "'tool_result'" in error["message"]  # says which types there are


def test_bad_field_is_named(url: str) -> None:
    body = _chat_tool(name="f", parameters="nope")
    error = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10).json()["error"]
    assert error["param"] == "tools.0.function.parameters"
    error = httpx.post(f"{url}/v1/chat/completions", json=OK_CHAT | {"n": 2}, timeout=10).json()
    assert "generates one choice: n must be 1" in error["error"]["message"]


def test_a_body_past_the_limit_is_refused_without_a_content_length(url: str) -> None:
    def chunks() -> Iterator[bytes]:  # chunked transfer: only reading in chunks can catch it
        for _ in range(LIMIT // 1024 + 2):
            yield b"x" * 1024

    response = httpx.post(f"{url}/v1/chat/completions", content=chunks(), timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_models_lists_what_is_served(url: str) -> None:
    data = httpx.get(f"{url}/v1/models", timeout=10).json()["data"]
    assert [m["id"] for m in data] == ["toolvolley-offline", "offline"]


_GOOD = {
    "/v1/chat/completions": OK_CHAT,
    "/v1/responses": OK_RESPONSES,
    "/v1/messages": OK_ANTHROPIC,
}


def _with_raw(body: dict[str, Any], stream: bool, raw_field: str) -> bytes:
    """``body`` with ``stream`` and one more top-level field spelled as raw JSON text."""
    text = json.dumps(body | {"stream": stream})
    return f'{text[:-1]}, "metadata_x": {raw_field}}}'.encode()


# Bodies a strict JSON parser refuses (as the real services' do), each 400 and never a 500.
UNDECODABLE: list[tuple[str, Any]] = [
    ("nested 30,000 deep", lambda body, stream: _with_raw(
        body, stream, "[" * 30_000 + "]" * 30_000)),
    ("nested 200 deep", lambda body, stream: _with_raw(body, stream, "[" * 200 + "]" * 200)),
    ("an integer of 5,000 digits", lambda body, stream: _with_raw(body, stream, "7" * 5000)),
    ("a number past a double's range", lambda body, stream: _with_raw(body, stream, "1e999")),
    ("NaN", lambda body, stream: _with_raw(body, stream, "NaN")),
    ("a lone surrogate in a message", lambda body, stream: json.dumps(
        body | {"stream": stream}).replace('"hi"', '"Par\\ud800is"').encode()),
    ("a lone low surrogate in a key", lambda body, stream: _with_raw(
        body, stream, '{"\\udc00": 1}')),
]  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("path", list(_GOOD))
@pytest.mark.parametrize(("what", "make"), UNDECODABLE, ids=[u[0] for u in UNDECODABLE])
def test_a_body_no_strict_json_parser_accepts_is_a_400(
    url: str, what: str, make: Any, path: str, stream: bool
) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        response = client.post(
            path, content=make(_GOOD[path], stream), headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/json")
        message = _check_shape(path, 400, response.json())
        assert "not valid JSON" in message, message
        assert client.post(path, json=_GOOD[path]).status_code == 200


def test_a_surrogate_pair_escaped_in_json_is_fine(url: str) -> None:
    # "\ud83d\ude00" is one character (an emoji), not a lone surrogate; echoed back intact.
    raw = json.dumps(OK_CHAT | {"stream": True}).replace('"hi"', '"hi \\ud83d\\ude00"').encode()
    response = httpx.post(f"{url}/v1/chat/completions", content=raw, timeout=10)
    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
    deltas = [json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events]
    assert "hi \U0001f600" in "".join(deltas)
