"""`toolvolley serve-model` serves the offline model over HTTP on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

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
    args = ["serve-model", "--port", str(port), "--token-rate", "5000", "--first-token-s", "0"]
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
