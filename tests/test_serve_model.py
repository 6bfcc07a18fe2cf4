"""`toolvolley serve-model` serves the offline model over HTTP on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from toolvolley.providers import OpenAIChat


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[str]:
    port = _free_port()
    args = ["serve-model", "--port", str(port), "--token-rate", "5000", "--first-token", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "toolvolley", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/models", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"serve-model did not start:\n{output}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_sdk_against_the_served_model(served: str) -> None:
    from toolvolley import Toolbox, run_loop
    from toolvolley.demo import weather_tool

    async with OpenAIChat(base_url=f"{served}/v1", api_key="unused", model="offline") as model:
        tool = weather_tool(forecast_url="http://127.0.0.1:9", geocoding_url="http://127.0.0.1:9")
        outcome = await run_loop(model, "Weather in Seoul and Lima?", Toolbox([tool]))
    assert [t.calls for t in outcome.turns] == [2, 0]
    # The weather service is not running: both calls fail, and the model hears why.
    assert all(r.status == "error" for r in outcome.turns[0].results)
    assert all("ConnectError" in r.content for r in outcome.turns[0].results)
    assert outcome.final_text.count("ConnectError") == 2  # quoted back by the model


def test_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "toolvolley", "serve-model", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""  # no banner for a server that never started
    assert result.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


SLOW_CHAT = {
    "model": "offline",
    "messages": [{"role": "user", "content": "x" * 4000}],  # echoed back: 1,000+ tokens
}


def test_a_client_that_disconnects_stops_its_generation() -> None:
    from toolvolley.testing import OfflineApp, OfflineModel
    from toolvolley.testing._serving import serve_in_thread

    model = OfflineModel(token_rate=20, first_token_s=0)  # about a minute for the whole answer
    with serve_in_thread(OfflineApp(model)) as url, httpx.Client(timeout=10) as client:
        for stream in (False, True):
            request = SLOW_CHAT | {"stream": stream}
            with client.stream("POST", f"{url}/v1/chat/completions", json=request) as r:
                assert r.status_code == 200
                assert model.active_generations == 1
            # Closed before the answer is complete: the generation stops.
            deadline = time.monotonic() + 10
            while model.active_generations and time.monotonic() < deadline:
                time.sleep(0.01)
            assert model.active_generations == 0


def test_sigterm_ends_the_server_while_a_stream_is_open(served_slow: tuple[str, Any]) -> None:
    url, process = served_slow
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{url}/v1/chat/completions", json=SLOW_CHAT | {"stream": True}) as r,
    ):
        next(r.iter_raw())  # the stream is open and generating (about a minute to go)
        process.send_signal(signal.SIGTERM)
        # uvicorn alone would wait for the stream to finish; the server cuts it after 0.5 s.
        started = time.monotonic()
        # uvicorn ends by raising the signal again once it has shut down: -SIGTERM is a clean end.
        assert process.wait(10) in (0, -signal.SIGTERM)
        print(f"SIGTERM to exit: {time.monotonic() - started:.2f} s")


@pytest.fixture
def served_slow() -> Iterator[tuple[str, Any]]:
    port = _free_port()
    args = ["serve-model", "--port", str(port), "--token-rate", "20", "--first-token", "0"]
    process = subprocess.Popen([sys.executable, "-m", "toolvolley", *args])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/models", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("serve-model did not start")
                time.sleep(0.05)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_local_server_needs_no_api_key(
    served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolvolley import Toolbox, run_loop
    from toolvolley.demo import weather_tool

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with OpenAIChat(base_url=f"{served}/v1", model="offline") as model:
        tool = weather_tool(forecast_url="http://127.0.0.1:9", geocoding_url="http://127.0.0.1:9")
        outcome = await run_loop(model, "Weather in Seoul?", Toolbox([tool]))
    assert [t.calls for t in outcome.turns] == [1, 0]
