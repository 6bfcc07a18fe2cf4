"""A server's tool listing that is partly or wholly unusable: a bad tool is left out (its calls
say why), and a listing the SDK cannot read fails the connection at once."""

from __future__ import annotations

import json
import logging

import anyio
import pytest

import toolvolley.mcp._server
from mcp_servers.fixtures import HERE, PYTHON, SDK_TRIO_WARNINGS, http_server
from toolvolley import Executor, ToolCall
from toolvolley.mcp import MCPServer, MCPServerError

pytestmark = [SDK_TRIO_WARNINGS, pytest.mark.anyio]

LISTING = str(HERE / "listing.py")
BAD = ("twice", "bad_pattern", "listed_properties", "dangling_ref")


async def test_bad_tools_are_left_out_and_their_calls_say_why(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="toolvolley.mcp"):
        async with MCPServer.stdio(PYTHON, [LISTING], env={"LISTING": "malformed"}) as server:
            tools = await server.tools()
            assert [t.name for t in tools] == ["echo", "change"]
            calls = [
                ToolCall("echo", "echo", json.dumps({"text": "hi"})),
                *(ToolCall(name, name, "{}") for name in BAD),
            ]
            echo, twice, pattern, listed, ref = await Executor(tools, timeout=10).run(calls)
    assert (echo.status, echo.content) == ("ok", "hi")
    for result in (twice, pattern, listed, ref):
        assert result.status == "unknown_tool"
        assert f"{result.name!r} was left out:" in result.content
    assert "listed 2 tools named 'twice'" in twice.content
    assert "pattern" in pattern.content
    assert "/$defs/Nowhere" in ref.content  # the dangling pointer is named
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for name in ("''", *map(repr, BAD)):
        assert f"left out the tool {name}" in logged


async def test_a_listing_the_sdk_cannot_read_fails_at_once(anyio_backend: str) -> None:
    with anyio.fail_after(10):  # the handshake's own limit is 30 s
        with pytest.raises(MCPServerError, match="not JSON-RPC"):
            async with MCPServer.stdio(PYTHON, [LISTING], env={"LISTING": "garbage"}):
                pass


async def test_a_listing_that_never_comes_fails_in_time(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toolvolley.mcp._server, "_LISTING_TIMEOUT", 0.5)
    env = {"LISTING": "silent_relisting"}
    async with MCPServer.stdio(PYTHON, [LISTING], env=env) as server:
        [changed] = await Executor(await server.tools(), timeout=10).run(
            [ToolCall("c", "change", "{}")]
        )
        assert changed.status == "ok"
        # once the notification is in, the next tools() lists again, and must not wait forever
        with anyio.fail_after(10), pytest.raises(MCPServerError, match=r"within 0\.5 s"):
            await list_until_it_fails(server)


async def list_until_it_fails(server: MCPServer) -> None:
    while True:
        await server.tools()
        await anyio.sleep(0.01)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_refused_listing_is_the_servers_answer(anyio_backend: str, transport: str) -> None:
    with anyio.fail_after(10), http_server(LISTING, env={"LISTING": "refused"}) as served:
        if transport == "stdio":
            opened = MCPServer.stdio(PYTHON, [LISTING], env={"LISTING": "refused"})
        else:
            opened = MCPServer.http(served.url)
        with pytest.raises(MCPServerError) as raised:
            async with opened:
                pass
    message = str(raised.value)
    assert "answered tools/list with an error: down for maintenance (code -32000)" in message
