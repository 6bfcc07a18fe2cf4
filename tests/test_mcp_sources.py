"""An MCP server as a tool source: a list the server changes mid-conversation reaches the next
turn (added tools offered, removed ones answered ``unknown_tool``), and renamed tools still call
the server by its own names. Over stdio and streamable HTTP, a fresh server per test (the
changing server's list is per process)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from mcp_servers.fixtures import HERE, PYTHON, SDK_TRIO_WARNINGS, http_server
from toolvolley import Executor, Toolbox, ToolCall, UserError, run_loop, run_many, tool
from toolvolley.mcp import MCPServer
from toolvolley.providers import OpenAIChat
from toolvolley.sources import ToolSource, prefixed, renamed
from toolvolley.testing import OfflineModel

pytestmark = [SDK_TRIO_WARNINGS, pytest.mark.anyio]

CHANGING = str(HERE / "changing.py")
TRANSPORTS = pytest.mark.parametrize("transport", ["stdio", "http"])


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class OfferedModel(OfflineModel):
    """The offline model, keeping the names of the tools each request offered."""

    def __init__(self, script: Sequence[Any]) -> None:
        super().__init__(token_rate=10_000, first_token_s=0, script=script)
        self.offered: list[list[str]] = []

    async def respond(self, kind: Any, body: bytes) -> Any:
        tools = json.loads(body).get("tools") or []
        self.offered.append([t["function"]["name"] for t in tools])
        return await super().respond(kind, body)


def calls(*called: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in called]}


@contextlib.asynccontextmanager
async def changing(transport: str) -> AsyncIterator[MCPServer]:
    with http_server(CHANGING) as served:
        if transport == "stdio":
            opened = MCPServer.stdio(PYTHON, [CHANGING])
        else:
            opened = MCPServer.http(served.url)
        async with opened:
            yield opened


@TRANSPORTS
async def test_a_list_changed_mid_conversation_reaches_the_next_turn(
    anyio_backend: str, transport: str
) -> None:
    model = OfferedModel(
        [calls(("swap", {})), calls(("added", {}), ("doomed", {})), {"text": "done"}]
    )
    async with changing(transport) as server, OpenAIChat.offline(model) as agent:
        assert isinstance(server, ToolSource)
        outcome = await run_loop(agent, "go", server)
    assert model.offered == [
        ["echo", "doomed", "swap", "crash"],
        ["echo", "swap", "crash", "added"],
        ["echo", "swap", "crash", "added"],
    ]
    [swapped] = outcome.turns[0].results
    assert (swapped.status, swapped.content) == ("ok", "swapped")
    added, doomed = outcome.turns[1].results
    assert (added.status, added.content) == ("ok", "added ran")
    assert doomed.status == "unknown_tool"
    assert "Unknown tool 'doomed'" in doomed.content


@TRANSPORTS
async def test_renamed_tools_call_the_server_by_its_own_names(
    anyio_backend: str, transport: str
) -> None:
    model = OfferedModel(
        [calls(("fs_echo", {"text": "a"}), ("say", {"text": "b"})), {"text": "done"}]
    )
    async with changing(transport) as server, OpenAIChat.offline(model) as agent:
        outcome = await run_loop(
            agent,
            "go",
            [prefixed(server, "fs_"), renamed(server, {"echo": "say", "doomed": "d", "swap": "s"})],
        )
    assert model.offered[0] == [
        "fs_echo",
        "fs_doomed",
        "fs_swap",
        "fs_crash",
        "say",
        "d",
        "s",
        "crash",
    ]
    first, second = outcome.turns[0].results
    assert (first.name, first.status, first.content) == ("fs_echo", "ok", "echo: a")
    assert (second.name, second.status, second.content) == ("say", "ok", "echo: b")
    assert [first.call_id, second.call_id] == [c.id for c in outcome.turns[0].tool_calls]


async def test_listing_again_costs_nothing_until_the_list_changes(anyio_backend: str) -> None:
    async with changing("stdio") as server:
        first = await server.list_tools()
        again = await server.list_tools()
        assert list(again) == list(first)  # the same Tool objects: no round trip, no rebuild
        await Executor(again).run([ToolCall("c", "swap", "{}")])
        # the notification came before the answer, so the very next listing is new
        changed = await server.list_tools()
    assert [t.name for t in changed] == ["echo", "swap", "crash", "added"]
    assert changed[0] is not first[0]


async def test_a_name_a_server_and_a_toolbox_both_give_is_a_user_error(
    anyio_backend: str,
) -> None:
    @tool
    def echo(text: str) -> str:
        """A local echo."""
        return text

    async with changing("stdio") as server, OpenAIChat.offline(OfferedModel([])) as agent:
        with pytest.raises(UserError, match="Two tool sources list a tool named 'echo'"):
            await run_loop(agent, "go", [Toolbox([echo]), server])


async def test_run_many_lists_a_server_for_each_conversation(anyio_backend: str) -> None:
    model = OfferedModel([calls(("echo", {"text": "x"})), {"text": "done"}])
    async with changing("stdio") as server, OpenAIChat.offline(model) as agent:
        [outcome] = await run_many(agent, ["go"], server, concurrency=1)
    assert outcome.ok
    assert outcome.final_text == "done"
    assert model.offered[0] == ["echo", "doomed", "swap", "crash"]
    assert [c["status"] for c in outcome.tool_calls] == ["ok"]


async def test_a_server_that_lists_otherwise_after_a_restart_is_listed_anew(
    anyio_backend: str,
) -> None:
    model = OfferedModel(
        [calls(("swap", {})), calls(("crash", {})), calls(("doomed", {})), {"text": "done"}]
    )
    async with changing("stdio") as server, OpenAIChat.offline(model) as agent:
        outcome = await run_loop(agent, "go", server)
    # the crash ends the process with its changed list; the next turn starts a new one
    assert model.offered[1] == ["echo", "swap", "crash", "added"]
    assert model.offered[2] == ["echo", "doomed", "swap", "crash"]
    [crashed] = outcome.turns[1].results
    assert crashed.status == "error"
    assert "exited with code 3" in crashed.content
    [doomed] = outcome.turns[2].results
    assert (doomed.status, doomed.content) == ("ok", "doomed ran")
