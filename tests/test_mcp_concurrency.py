"""Calls to an MCP server run at once over one session, and every way a call stops early reaches
the server as ``notifications/cancelled``.

What reached the server is read from the server itself: ``counting.py`` counts, per group, the
``slow`` handlers running now, the most that ran at once, and how many were cancelled. A handler
only leaves the count when it returns or is cancelled, so "0 running" after timed-out calls means
the cancellations arrived; wall time is never used to infer overlap.
"""

from __future__ import annotations

import json
import uuid

import anyio
import pytest

from mcp_servers.fixtures import SDK_TRIO_WARNINGS, module_fixtures
from toolvolley import Executor, ToolCall, ToolResult
from toolvolley.mcp import MCPServer

pytestmark = [SDK_TRIO_WARNINGS, pytest.mark.anyio]


# One server per module, backend and transport (see mcp_servers.fixtures).
anyio_backend, counting_url, server = module_fixtures()


@pytest.fixture
def group() -> str:
    return uuid.uuid4().hex


def slow(seconds: float, group: str, call_id: str) -> ToolCall:
    return ToolCall(call_id, "slow", json.dumps({"seconds": seconds, "group": group}))


async def stats(server: MCPServer, group: str) -> dict[str, int]:
    [result] = await Executor(await server.tools()).run(
        [ToolCall("stats", "stats", json.dumps({"group": group}))]
    )
    assert result.status == "ok", result.content
    value: dict[str, int] = json.loads(result.content)
    return value


async def settled(server: MCPServer, group: str) -> dict[str, int]:
    """The group's counts once no handler is running, or as they stand after 10 s."""
    with anyio.move_on_after(10):
        while (counts := await stats(server, group))["running"]:  # noqa: ASYNC110
            await anyio.sleep(0.05)
    return counts


async def test_64_calls_overlap_on_one_server(server: MCPServer, group: str) -> None:
    # Each handler waits until 64 of them have run at once: forced, not timed (a client that
    # held any call back would leave the first ones waiting into their timeout).
    executor = Executor(await server.tools(), timeout=60)
    calls = [
        ToolCall(f"c{i}", "look", json.dumps({"group": group, "until": 64, "tag": f"c{i}"}))
        for i in range(64)
    ]
    results = await executor.run(calls)
    assert [(r.status, r.content) for r in results] == [("ok", "looked")] * 64
    assert (await stats(server, group))["most"] == 64  # all 64 handlers ran at the same moment


async def test_two_parallel_calls_both_answer(server: MCPServer, group: str) -> None:
    executor = Executor(await server.tools(), timeout=60)
    calls = [
        ToolCall(tag, "look", json.dumps({"group": group, "until": 2, "tag": tag}))
        for tag in ("a", "b")
    ]
    first, second = await executor.run(calls)  # each waits until both have run at once
    assert (first.status, first.content) == ("ok", "looked")
    assert (second.status, second.content) == ("ok", "looked")
    assert (await stats(server, group))["most"] == 2


# A timeout these tests wait out, long enough for every call to reach the server first on a
# loaded machine (at 0.5 s, one of 50 calls over HTTP once arrived after its timeout).
ARRIVED = 3.0


async def test_50_timed_out_calls_leave_no_handler_running(server: MCPServer, group: str) -> None:
    executor = Executor(await server.tools(), timeout=ARRIVED)
    results = await executor.run([slow(60, group, f"c{i}") for i in range(50)])
    assert [r.status for r in results] == ["timeout"] * 50
    counts = await settled(server, group)
    assert counts["running"] == 0
    assert counts["cancelled"] == 50
    assert counts["most"] == 50  # they did all start: the cancellations stopped them


async def test_batch_deadline_cancels_on_the_server(server: MCPServer, group: str) -> None:
    executor = Executor(await server.tools(), deadline=ARRIVED)
    results = await executor.run([slow(60, group, f"c{i}") for i in range(5)])
    assert [r.status for r in results] == ["timeout"] * 5
    assert (await settled(server, group))["cancelled"] == 5


async def test_a_cancelled_batch_cancels_its_calls_on_the_server(
    server: MCPServer, group: str
) -> None:
    executor = Executor(await server.tools())
    batch = executor.batch()
    with anyio.fail_after(30), anyio.CancelScope() as scope:
        async with batch:
            for i in range(10):
                batch.submit(slow(60, group, f"c{i}"))
            while (await stats(server, group))["running"] < 10:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            scope.cancel()  # once all 10 run on the server: forced, not timed
    assert [r.status for r in batch.results()] == ["cancelled"] * 10
    counts = await settled(server, group)
    assert (counts["running"], counts["cancelled"]) == (0, 10)


async def test_a_timeout_never_fails_a_sibling(server: MCPServer, group: str) -> None:
    tools = {tool.name: tool for tool in await server.tools()}
    tools["slow"] = tools["slow"].with_options(timeout=0.3)
    executor = Executor(list(tools.values()), timeout=30)
    results = await executor.run(
        [
            slow(60, group, "stuck"),
            ToolCall("echo", "echo", '{"text": "still here"}'),
            ToolCall("forecast", "forecast", '{"city": "Oslo"}'),
        ]
    )
    assert [r.status for r in results] == ["timeout", "ok", "ok"]
    assert results[1].content == "still here"
    # and the session goes on serving
    [again] = await executor.run([ToolCall("echo", "echo", '{"text": "again"}')])
    assert again.content == "again"


async def test_an_http_error_never_fails_a_sibling(
    server: MCPServer, group: str, request: pytest.FixtureRequest
) -> None:
    if "stdio" in request.node.callspec.id:
        pytest.skip("HTTP status codes exist only over HTTP")
    executor = Executor(await server.tools(), timeout=30)
    results: list[ToolResult] = await executor.run(
        [
            ToolCall("bad", "http_500", "{}"),
            slow(0.2, group, "slow"),
            ToolCall("echo", "echo", '{"text": "fine"}'),
        ]
    )
    assert [r.status for r in results] == ["error", "ok", "ok"]
    assert "MCP server 'counting' (http: " in results[0].content
    # a 500 without a JSON-RPC answer says nothing of whether the call ran
    assert "answered HTTP 500 instead of a result" in results[0].content
    assert results[0].content.endswith("the call may or may not have taken effect")
