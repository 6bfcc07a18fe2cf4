"""Side effects drive scheduling: ``Executor(side_effects="declared" | "strict")``.

Flags declared on Python tools always count; an MCP server's annotations only when the server
is trusted (``trust_hints=True``). Overlap is forced, never timed: a call that must run beside
others waits until they are all running (and would time out if the schedule kept them apart),
and a barrier records who was running when it started.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio
import pytest

from mcp_servers.fixtures import SDK_TRIO_WARNINGS, module_fixtures
from toolvolley import Executor, SideEffectsPolicy, Tool, ToolCall, UserError, tool
from toolvolley.mcp import MCPServer

pytestmark = [SDK_TRIO_WARNINGS, pytest.mark.anyio]


# --- Python tools: declared flags always count ----------------------------------------------------


class Board:
    """Who is running: each call logs its start (with who else was running) and its end."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.log: list[tuple[str, str, frozenset[str]]] = []
        self.waiting: list[anyio.Event] = []
        self.peak: dict[str, int] = {}

    async def visit(self, tag: str, together: int) -> str:
        """Run until ``together`` calls (this one included) are running at once."""
        self.running.add(tag)
        self.log.append(("start", tag, frozenset(self.running)))
        for other in self.running:  # the most calls each running call has run beside
            self.peak[other] = max(self.peak.get(other, 0), len(self.running))
        for event in self.waiting:
            event.set()
        self.waiting.clear()
        try:
            with anyio.fail_after(30):  # kept apart by the schedule: an error result, not a hang
                while self.peak[tag] < together:
                    event = anyio.Event()
                    self.waiting.append(event)
                    await event.wait()
        finally:
            self.running.discard(tag)
            self.log.append(("end", tag, frozenset(self.running)))
        return tag

    def started_with(self, tag: str) -> frozenset[str]:
        return next(seen for kind, t, seen in self.log if kind == "start" and t == tag)

    def index(self, kind: str, tag: str) -> int:
        return next(i for i, (k, t, _) in enumerate(self.log) if k == kind and t == tag)


def board_tools(board: Board) -> list[Tool]:
    async def body(tag: str, together: int) -> str:
        return await board.visit(tag, together)

    schema = {
        "type": "object",
        "properties": {"tag": {"type": "string"}, "together": {"type": "integer"}},
        "required": ["tag", "together"],
    }
    return [
        Tool.from_schema("look", "Reads.", schema, body, read_only=True),
        Tool.from_schema("plain", "Declares nothing.", schema, body),
        Tool.from_schema("wipe", "Destroys.", schema, body, destructive=True),
    ]


def visits(*calls: tuple[str, str, int]) -> list[ToolCall]:
    return [
        ToolCall(tag, name, json.dumps({"tag": tag, "together": together}))
        for name, tag, together in calls
    ]


async def test_declared_destructive_is_a_barrier(anyio_backend: Any) -> None:
    board = Board()
    executor = Executor(board_tools(board))  # side_effects="declared" is the default
    assert executor.side_effects == "declared"
    results = await executor.run(
        visits(
            ("look", "a", 2),
            ("plain", "b", 2),
            ("wipe", "c", 1),
            ("look", "d", 2),
            ("plain", "e", 2),
        )
    )
    assert [r.status for r in results] == ["ok"] * 5, [r.content for r in results]
    assert board.started_with("c") == {"c"}  # alone
    assert board.index("start", "c") > max(board.index("end", "a"), board.index("end", "b"))
    assert board.index("start", "d") > board.index("end", "c")
    assert board.index("start", "e") > board.index("end", "c")


async def test_strict_runs_only_read_only_calls_together(anyio_backend: Any) -> None:
    board = Board()
    executor = Executor(board_tools(board), side_effects="strict")
    results = await executor.run(
        visits(
            ("look", "a", 2),
            ("look", "b", 2),
            ("plain", "c", 1),  # undeclared: a barrier under "strict"
            ("look", "d", 1),
            ("wipe", "e", 1),
            ("look", "f", 2),
            ("look", "g", 2),
        )
    )
    assert [r.status for r in results] == ["ok"] * 7, [r.content for r in results]
    for barrier in ("c", "e"):
        assert board.started_with(barrier) == {barrier}
    assert board.index("start", "c") > board.index("end", "b")
    assert board.index("start", "d") > board.index("end", "c")
    assert board.index("start", "e") > board.index("end", "d")
    assert board.index("start", "f") > board.index("end", "e")


async def test_flags_change_nothing_in_serial_mode_or_without_them(anyio_backend: Any) -> None:
    """Tools that declare nothing run at once under the default, as before the policy."""
    board = Board()
    executor = Executor(board_tools(board))
    results = await executor.run(visits(("plain", "a", 3), ("plain", "b", 3), ("look", "c", 3)))
    assert [r.status for r in results] == ["ok"] * 3


def test_bad_policy_is_a_user_error() -> None:
    with pytest.raises(UserError, match="side_effects must be"):
        Executor([], side_effects="loose")  # type: ignore[arg-type]


def test_tool_decorator_flags_reach_the_tool() -> None:
    @tool(destructive=True)
    def rm(path: str) -> None:
        """Remove a file."""

    assert (rm.read_only, rm.destructive) == (False, True)


# --- MCP tools: hints count only from a trusted server ----------------------------------------


# One server per module, backend and transport (see mcp_servers.fixtures).
anyio_backend, counting_url, server = module_fixtures()


async def run_mcp(
    server: MCPServer,
    trusted: bool,
    policy: SideEffectsPolicy,
    *calls: tuple[str, int],
) -> tuple[list[str], str]:
    """Run ``(tool, until)`` calls, tagged 0, 1 ... in one fresh group; their contents and the
    group's history on the server (``+0 +1 -1 -0 ...``: starts and ends)."""
    group = uuid.uuid4().hex
    server.trust_hints = trusted
    try:
        tools = await server.tools()
    finally:
        server.trust_hints = False
    executor = Executor(tools, timeout=30, side_effects=policy)  # guards a hang only
    results = await executor.run(
        ToolCall(f"c{i}", name, json.dumps({"group": group, "until": until, "tag": str(i)}))
        for i, (name, until) in enumerate(calls)
    )
    assert [r.status for r in results] == ["ok"] * len(calls), [r.content for r in results]
    [history] = await Executor(tools).run([ToolCall("h", "history", json.dumps({"group": group}))])
    return [r.content for r in results], history.content


def phases(history: str) -> list[set[str]]:
    """The history cut where nothing was running: the calls of each such stretch."""
    cuts: list[set[str]] = [set()]
    running = 0
    for event in history.split():
        cuts[-1].add(event[1:])
        running += 1 if event[0] == "+" else -1
        if running == 0:
            cuts.append(set())
    return cuts[:-1]


async def test_trusted_destructive_hint_is_a_barrier(server: MCPServer) -> None:
    contents, history = await run_mcp(
        server, True, "declared", ("look", 2), ("look", 2), ("wipe", 1), ("look", 2), ("look", 2)
    )
    assert contents[2] == "0 running before"
    assert phases(history) == [{"0", "1"}, {"2"}, {"3", "4"}], history


async def test_untrusted_hints_schedule_nothing_under_declared(server: MCPServer) -> None:
    _, history = await run_mcp(server, False, "declared", ("look", 3), ("wipe", 3), ("look", 3))
    # the destructive hint did not hold the others back
    assert phases(history) == [{"0", "1", "2"}], history


async def test_untrusted_tools_are_barriers_under_strict(server: MCPServer) -> None:
    _, history = await run_mcp(server, False, "strict", ("look", 1), ("look", 1), ("wipe", 1))
    # read-only by the server's word only: one at a time, in order
    assert history == "+0 -0 +1 -1 +2 -2"


async def test_trusted_read_only_runs_together_under_strict(server: MCPServer) -> None:
    _, history = await run_mcp(
        server, True, "strict", ("look", 2), ("look", 2), ("wipe", 1), ("look", 1)
    )
    assert phases(history) == [{"0", "1"}, {"2"}, {"3"}], history
