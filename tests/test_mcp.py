"""MCP servers as a source of tools: listing, annotations, results, list changes.

Every test talks to a real server written with the MCP SDK's server API (tests/mcp_servers/),
over stdio (a subprocess the client starts) and streamable HTTP (uvicorn in a subprocess, started
once per module). The servers are opened once per module and backend.
"""

from __future__ import annotations

import json
import uuid

import anyio
import pytest

import toolvolley.mcp
from mcp_servers.fixtures import COUNTING, PYTHON, SDK_TRIO_WARNINGS, module_fixtures
from toolvolley import Executor, Tool, ToolCall, ToolResult
from toolvolley.mcp import MCPServer, MCPServerError

pytestmark = SDK_TRIO_WARNINGS


# One server per module, backend and transport (see mcp_servers.fixtures).
anyio_backend, counting_url, server = module_fixtures()


async def run(server: MCPServer, *calls: tuple[str, dict[str, object]]) -> list[ToolResult]:
    executor = Executor(await server.tools(), timeout=30)
    return await executor.run(
        [ToolCall(f"call_{i}", name, json.dumps(args)) for i, (name, args) in enumerate(calls)]
    )


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}


def test_exports() -> None:
    assert sorted(toolvolley.mcp.__all__) == ["MCPServer", "MCPServerError"]
    for name in toolvolley.mcp.__all__:
        assert getattr(toolvolley.mcp, name).__module__.startswith("toolvolley.mcp")


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    prefixes = ("mcp.", "toolvolley.mcp")
    for module in [m for m in sys.modules if m == "mcp" or m.startswith(prefixes)]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "mcp", None)  # makes `import mcp` fail
    with pytest.raises(ImportError, match=r"pip install 'toolvolley\[mcp\]'"):
        importlib.import_module("toolvolley.mcp")


def flags(tool: Tool) -> tuple[bool, bool, bool]:
    return (tool.read_only, tool.destructive, tool.idempotent)


@pytest.mark.anyio
async def test_tools_carry_schema_description_and_trusted_annotations(server: MCPServer) -> None:
    server.trust_hints = True
    try:
        tools = by_name(await server.tools())
    finally:
        server.trust_hints = False
    assert {"echo", "slow", "stats", "fail", "forecast", "picture"} <= tools.keys()
    echo = tools["echo"]
    assert echo.description == "Say the text back."
    assert echo.parameters["properties"]["text"]["type"] == "string"
    assert echo.parameters["required"] == ["text"]
    # readOnlyHint
    assert flags(echo) == (True, False, False)
    # destructiveHint false, idempotentHint true
    assert flags(tools["slow"]) == (False, False, True)
    # no annotations: no claims either way
    assert flags(tools["fail"]) == (False, False, False)
    assert server.name == "counting"


@pytest.mark.anyio
async def test_untrusted_hints_are_kept_but_not_flags(server: MCPServer) -> None:
    assert server.trust_hints is False  # the default
    tools = by_name(await server.tools())
    assert all(flags(tool) == (False, False, False) for tool in tools.values())
    hints = server.hints
    assert hints["echo"] == {"read_only": True, "destructive": False, "idempotent": False}
    assert hints["slow"] == {"read_only": False, "destructive": False, "idempotent": True}
    assert hints["fail"] == {"read_only": False, "destructive": False, "idempotent": False}


@pytest.mark.anyio
async def test_prefix_renames_but_calls_the_servers_own_name(server: MCPServer) -> None:
    tools = by_name(await server.tools(prefix="counting_"))
    assert "counting_echo" in tools
    assert "echo" not in tools
    executor = Executor(list(tools.values()))
    [result] = await executor.run([ToolCall("c", "counting_echo", '{"text": "hi"}')])
    assert (result.status, result.content) == ("ok", "hi")


@pytest.mark.anyio
async def test_results(server: MCPServer) -> None:
    echo, forecast, fail, picture, missing = await run(
        server,
        ("echo", {"text": "hello"}),
        ("forecast", {"city": "Paris"}),
        ("fail", {"message": "no such file: a.txt"}),
        ("picture", {}),
        ("echo", {}),
    )
    assert (echo.status, echo.content) == ("ok", "hello")
    # structuredContent is the value
    assert forecast.status == "ok"
    assert forecast.value == {"city": "Paris", "celsius": 21.5}
    assert json.loads(forecast.content) == {"city": "Paris", "celsius": 21.5}
    # isError: the server's own text
    assert fail.status == "error"
    assert fail.content == "Error executing tool fail: no such file: a.txt"
    # images become text the model can read about, not silence
    assert picture.status == "ok"
    assert picture.content == "a tiny picture\n[image: image/png, 4 bytes]"
    # arguments are checked against the server's schema before anything is sent
    assert missing.status == "invalid_arguments"


@pytest.mark.anyio
async def test_progress_notifications_do_not_disturb_the_call(server: MCPServer) -> None:
    [result] = await run(server, ("progress", {"steps": 20}))
    assert (result.status, result.content) == ("ok", "done")


@pytest.mark.anyio
async def test_tool_list_changed_refreshes_the_list(server: MCPServer) -> None:
    name = f"added_{uuid.uuid4().hex[:8]}"
    assert name not in by_name(await server.tools())
    [result] = await run(server, ("add_tool", {"name": name}))
    assert result.status == "ok", result.content
    # The notification travels beside the call's answer, not before it: wait for it to land.
    with anyio.fail_after(30):  # guards a hang only
        while name not in (tools := by_name(await server.tools())):  # noqa: ASYNC110
            await anyio.sleep(0.01)
    executor = Executor(list(tools.values()))
    [added] = await executor.run([ToolCall("c", name, "{}")])
    assert added.content == f"I am {name}"


@pytest.mark.anyio
async def test_unopened_server_is_a_user_error(anyio_backend: str) -> None:
    server = MCPServer.stdio(PYTHON, [COUNTING])
    with pytest.raises(toolvolley.UserError, match="Open the server first"):
        await server.tools()


@pytest.mark.anyio
async def test_a_server_that_cannot_start_raises_on_enter(anyio_backend: str) -> None:
    with pytest.raises(MCPServerError, match=r"could not be started.*exited with code 2"):
        async with MCPServer.stdio(PYTHON, ["-c", "import sys; sys.exit(2)"], name="broken"):
            pass
    with pytest.raises(MCPServerError, match="could not be started"):
        async with MCPServer.stdio("/nonexistent/server"):
            pass
