"""Every kind of malformed request gets the provider's own status and error shape, never a 500,
and the server keeps answering afterwards. One server per module, under uvicorn on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from toolvolley import UserError
from toolvolley.testing import OfflineApp, OfflineModel
from toolvolley.testing._serving import serve_in_thread

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
    ("chat: properties a string", "/v1/chat/completions",
     _chat_tool(name="f", parameters={"type": "object", "properties": "x"}), 400),
    ("chat: required a number", "/v1/chat/completions",
     _chat_tool(name="f", parameters={"type": "object", "required": 3}), 400),
    ("chat: required a list of lists", "/v1/chat/completions",
     _chat_tool(name="f", parameters={"type": "object", "required": [["x"]]}), 400),
    ("chat: enum null", "/v1/chat/completions",
     _chat_tool(name="f", parameters={"type": "object", "properties": {"x": {"enum": None}}}),
     400),
    ("chat: a content part whose text is a list", "/v1/chat/completions",
     {"model": "offline", "messages": [{"role": "user", "content": [{"type": "text",
                                                                      "text": ["x"]}]}]}, 400),
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
    ("responses: function tool without a name", "/v1/responses",
     {**OK_RESPONSES, "tools": [{"type": "function", "parameters": {"type": "object"}}]}, 400),
    ("responses: examples a number", "/v1/responses",
     {**OK_RESPONSES, "tools": [{"type": "function", "name": "f", "parameters": {
         "type": "object", "properties": {"x": {"type": "string", "examples": 7}}}}]}, 400),
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
    ("anthropic: system block text a number", "/v1/messages",
     {**OK_ANTHROPIC, "system": [{"type": "text", "text": 7}]}, 400),
    ("anthropic: a property schema a list", "/v1/messages",
     {**OK_ANTHROPIC, "tools": [{"name": "f", "input_schema": {
         "type": "object", "properties": {"x": []}, "required": ["x"]}}]}, 400),
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


# --- Connections: idle and slow clients are timed out, and a protocol error is still a 4xx in
# the provider's shape. Raw sockets on loopback, against a server with short timeouts.

HEAD_S = 0.5  # to send a request's head, from the connection (or the last answer) on
BODY_S = 0.5  # to send its body, once the head is in


@pytest.fixture(scope="module")
def strict_url() -> Iterator[str]:
    model = OfflineModel(token_rate=10_000, first_token_s=0)
    app = OfflineApp(model, max_body_bytes=LIMIT, body_timeout_s=BODY_S)
    with serve_in_thread(app, head_timeout_s=HEAD_S, keep_alive_s=HEAD_S) as base:
        yield base


@pytest.mark.parametrize("seconds", [0, -1, True, None, float("nan"), "5"])
def test_timeouts_are_checked_when_given(seconds: Any) -> None:
    with pytest.raises(UserError, match="body_timeout_s must be a positive number of seconds"):
        OfflineApp(body_timeout_s=seconds)
    for name in ("head_timeout_s", "keep_alive_s"):
        with (
            pytest.raises(UserError, match=f"{name} must be a positive number of seconds"),
            serve_in_thread(OfflineApp(), **{name: seconds}),
        ):
            pass


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a 10 s socket timeout fails the test."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _json_of(response: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


def _good_request(path: str = "/v1/messages") -> bytes:
    body = json.dumps(_GOOD[path]).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Content-Type: application/json\r\n\r\n" + body


def test_idle_connections_are_closed_by_the_server(strict_url: str) -> None:
    sockets = [_connect(strict_url) for _ in range(20)]  # never send a byte
    try:
        assert [_until_closed(s) for s in sockets] == [b""] * 20
    finally:
        for s in sockets:
            s.close()
    assert httpx.post(f"{strict_url}/v1/messages", json=OK_ANTHROPIC).status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_its_answer(strict_url: str) -> None:
    with _connect(strict_url) as sock:
        sock.sendall(_good_request())
        response = _until_closed(sock)  # the answer, then the close
    assert response.startswith(b"HTTP/1.1 200")


def _trickle(sock: socket.socket, byte: bytes = b"a") -> bytes:
    """Send one byte every 50 ms (a slowloris) until the server answers or closes; 10 s at most."""
    deadline = time.monotonic() + 10
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            sock.sendall(byte)
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return b""
        sock.settimeout(10)
        return chunk + _until_closed(sock) if chunk else b""
    pytest.fail("the server never cut a client trickling its request")


def test_a_slowloris_request_head_is_cut_with_a_408(strict_url: str) -> None:
    with _connect(strict_url) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        response = _trickle(sock)
    status, payload = _json_of(response)
    assert status == 408
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"


def test_a_slowloris_after_an_answer_is_cut_too(strict_url: str) -> None:
    with _connect(strict_url) as sock:
        sock.sendall(_good_request("/v1/chat/completions"))
        sock.settimeout(10)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nX-Slow: ")
        response = _trickle(sock)
    if response:  # the rest of the first answer may come first
        assert b"408" in response


def test_a_body_that_stops_arriving_is_a_408_in_the_providers_shape(strict_url: str) -> None:
    with _connect(strict_url) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        status, payload = _json_of(_until_closed(sock))
    assert status == 408
    assert payload["type"] == "error"
    assert "body" in payload["error"]["message"]


def test_a_body_trickled_after_a_413_is_cut(strict_url: str) -> None:
    with _connect(strict_url) as sock:
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        size = LIMIT + 1
        sock.sendall(head + f"\r\n{size:x}\r\n".encode() + b"x" * size + b"\r\n")
        sock.settimeout(10)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 413")
        _trickle(sock, b"1\r\nx\r\n")  # more chunks, slowly, forever: cut


_FD_LIMITED_SERVER = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
from toolvolley.testing._serving import bind, serve_forever
from toolvolley.testing import OfflineApp, OfflineModel
sock = bind("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
app = OfflineApp(OfflineModel(token_rate=10_000, first_token_s=0))
serve_forever(app, sock=sock, head_timeout_s=0.5)
"""


def _answered_within(url: str, seconds: float) -> bool:
    """Whether a good request is answered (200) within ``seconds``, retrying as clients do."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return httpx.post(f"{url}/v1/messages", json=OK_ANTHROPIC, timeout=5).is_success
        except httpx.TransportError:  # refused or shed while the server has no fd to spare
            time.sleep(0.1)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
def test_idle_connections_past_the_fd_limit_do_not_lock_everyone_out() -> None:
    # 100 idle sockets against a server allowed 64 file descriptors: it cannot accept them all
    # and sheds new connections (uvloop) or leaves them queued (asyncio). Before idle
    # connections were timed out, every later client was locked out for good.
    process = subprocess.Popen(
        [sys.executable, "-c", _FD_LIMITED_SERVER],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    idle: list[socket.socket] = []
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{int(process.stdout.readline())}"
        assert _answered_within(url, 30)  # the server is up
        idle = [_connect(url) for _ in range(100)]
        assert _answered_within(url, 20)
    finally:
        for s in idle:
            s.close()
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


_HEAD = "POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
# Requests HTTP itself refuses, each sent whole on a fresh connection: (name, bytes, status).
BROKEN_HTTP: list[tuple[str, bytes, int]] = [
    ("a head that grows past 16 KiB", (_HEAD + "X-Big: " + "a" * 100_000).encode(), 431),
    ("Content-Length abc", (_HEAD + "Content-Length: abc\r\n\r\n{}").encode(), 400),
    ("Content-Length -1", (_HEAD + "Content-Length: -1\r\n\r\n{}").encode(), 400),
    ("Content-Length 1e30", (_HEAD + "Content-Length: " + "9" * 30 + "\r\n\r\n{}").encode(), 400),
    ("two Content-Lengths", (_HEAD + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}").encode(),
     400),
    ("a chunk size that is not hex", (_HEAD + "Transfer-Encoding: chunked\r\n\r\nzz\r\n").encode(),
     400),
    ("Transfer-Encoding gzip", (_HEAD + "Transfer-Encoding: gzip\r\n\r\n{}").encode(), 501),
    ("a NUL in a header", (_HEAD + "X-A: a\x00b\r\n\r\n").encode(), 400),
    ("no Host", b"POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400),
    ("a byte past ASCII in the path", b"POST /v1/mess\xffages HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("a TLS hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
     400),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "status"), BROKEN_HTTP, ids=[b[0] for b in BROKEN_HTTP])
def test_broken_http_is_answered_in_the_providers_shape(
    strict_url: str, name: str, raw: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with _connect(strict_url) as sock:
        sock.sendall(raw)
        got, payload = _json_of(_until_closed(sock))  # answered, then closed: never a hang
    assert got == status
    if b"/v1/messages" in raw.split(b"\r\n")[0]:
        assert payload["type"] == "error"
        assert payload["error"]["type"] == "invalid_request_error"
    else:  # no path to go by: OpenAI's shape
        assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert httpx.post(f"{strict_url}/v1/messages", json=OK_ANTHROPIC).status_code == 200
    # The app reading the body saw the connection close: nothing failed ("Exception in ASGI").
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("toolvolley")]
