"""Scripted mode: the offline model replays given turns, so a test can pin down how an agent
handles two parallel calls, a failing model call or a broken stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

from toolvolley import ModelError, StreamCutError, Toolbox, UserError, run_loop, tool
from toolvolley.providers import AnthropicMessages, OpenAIChat, OpenAIResponses
from toolvolley.testing import OfflineModel, Script

ON_ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])

TWO_CALLS = {
    "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Oslo"}},
        {"name": "get_weather", "arguments": {"city": "Nowhere"}},
    ]
}


@tool
async def get_weather(city: Annotated[str, Field(description="City name")]) -> str:
    """Current weather for a city."""
    if city == "Nowhere":
        raise ValueError("no such city")
    return f"{city}: 3 C"


ADAPTERS = [OpenAIChat, OpenAIResponses, AnthropicMessages]


@pytest.mark.anyio
@ON_ASYNCIO
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_two_parallel_calls_one_failing_then_text(adapter: Any) -> None:
    script = [TWO_CALLS, {"text": "Oslo is cold; I could not find Nowhere."}]
    model = OfflineModel(token_rate=10_000, first_token_s=0, script=script)
    async with adapter.offline(model) as agent_model:
        outcome = await run_loop(agent_model, "anything at all", Toolbox([get_weather]))
    assert [t.calls for t in outcome.turns] == [2, 0]
    assert [r.status for r in outcome.turns[0].results] == ["ok", "error"]
    assert outcome.final_text == "Oslo is cold; I could not find Nowhere."
    assert model.script is not None
    assert model.script.position == 2


@pytest.mark.anyio
@ON_ASYNCIO
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_scripted_error_is_a_model_error(adapter: Any) -> None:
    model = OfflineModel(
        token_rate=10_000, first_token_s=0, script=[{"error": {"status": 503, "message": "busy"}}]
    )
    async with adapter.offline(model) as agent_model:
        with pytest.raises(ModelError) as caught:
            await run_loop(agent_model, "hi", Toolbox([get_weather]))
    assert "busy" in str(caught.value)


@pytest.mark.anyio
@ON_ASYNCIO
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_cut_stream_is_a_stream_cut_error(adapter: Any) -> None:
    model = OfflineModel(
        token_rate=10_000,
        first_token_s=0,
        script=[{"text": "A long answer that never ends", "cut_after": 3}],
    )
    async with adapter.offline(model) as agent_model:
        with pytest.raises(StreamCutError):
            await run_loop(agent_model, "hi", Toolbox([get_weather]))


def test_bad_scripts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="turn 1"):
        Script([{"tool_calls": [{"arguments": {}}]}])
    with pytest.raises(UserError, match="unknown keys"):
        Script([{"txt": "typo"}])
    with pytest.raises(UserError, match="Cannot read"):
        Script(tmp_path / "missing.json")


@pytest.mark.anyio
@ON_ASYNCIO
async def test_running_out_of_turns_is_a_500_that_says_so() -> None:
    model = OfflineModel(token_rate=10_000, first_token_s=0, script=[{"text": "one"}])
    body = json.dumps({"model": "offline", "messages": [{"role": "user", "content": "x"}]})
    first = await model.handle("POST", "/v1/chat/completions", body.encode())
    assert first.status == 200
    second = await model.handle("POST", "/v1/chat/completions", body.encode())
    assert second.status == 500
    payload = json.loads(b"".join([c async for c in second.body]))
    assert "no turn 2" in payload["error"]["message"]


def test_serve_model_script_flag_refuses_a_missing_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toolvolley", "serve-model", "--port", "0", "--script",
         str(tmp_path / "nope.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2  # an input error
    assert result.stderr.count("\n") == 1
    assert "--script" in result.stderr
    assert "Cannot read the script" in result.stderr


@pytest.mark.anyio
@ON_ASYNCIO
async def test_the_readme_example_makes_its_three_calls_offline() -> None:
    """The README's tool (``city: Annotated[str, Field(description="City name")]``), planned
    from free text: no listed values needed."""
    async with OpenAIChat.offline(OfflineModel(token_rate=10_000, first_token_s=0)) as model:
        outcome = await run_loop(
            model, "What's the weather in Seoul, Tokyo and Paris?", Toolbox([get_weather])
        )
    assert [t.calls for t in outcome.turns] == [3, 0]
    assert [r.content for r in outcome.turns[0].results] == [
        "Seoul: 3 C",
        "Tokyo: 3 C",
        "Paris: 3 C",
    ]
    assert "Paris: 3 C" in outcome.final_text


def test_serve_model_replays_a_script_file(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    script = tmp_path / "turns.json"
    script.write_text(json.dumps([TWO_CALLS, {"text": "Done."}]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["serve-model", "--port", str(port), "--first-token", "0", "--token-rate", "5000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "toolvolley", *args, "--script", str(script)],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = {"model": "offline", "messages": [{"role": "user", "content": "x"}]}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                first = httpx.post(url, json=body, timeout=5).json()
                break
            except httpx.TransportError:
                assert process.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.05)
        calls = first["choices"][0]["message"]["tool_calls"]
        assert [json.loads(c["function"]["arguments"]) for c in calls] == [
            {"city": "Oslo"},
            {"city": "Nowhere"},
        ]
        second = httpx.post(url, json=body, timeout=5).json()
        assert second["choices"][0]["message"]["content"] == "Done."
    finally:
        process.terminate()
        process.wait(10)
