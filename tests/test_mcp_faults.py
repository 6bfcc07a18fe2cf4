"""A server that fails mid-batch: every call in flight gets a result naming the server and what
happened, and the next batch reconnects. Each test starts its own ``faulty.py`` server, since
most of them end it."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from mcp_servers.fixtures import COUNTING, FAULTY, PYTHON, SDK_TRIO_WARNINGS, http_server
from toolvolley import Executor, ToolCall, ToolResult
from toolvolley.mcp import MCPServer

pytestmark = [SDK_TRIO_WARNINGS, pytest.mark.anyio]

WHO = "MCP server 'faulty' (stdio: "


@pytest.fixture
async def faulty(anyio_backend: str) -> AsyncIterator[MCPServer]:
    async with MCPServer.stdio(PYTHON, [FAULTY]) as server:
        yield server


def call(call_id: str, tool: str, /, **arguments: object) -> ToolCall:
    return ToolCall(call_id, tool, json.dumps(arguments))


async def run(server: MCPServer, *calls: ToolCall, limit: float = 30) -> list[ToolResult]:
    return await Executor(await server.tools(), timeout=limit).run(calls)


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
async def test_crash_mid_call(faulty: MCPServer, trusted: bool) -> None:
    faulty.trust_hints = trusted
    wait, peek, crash = await run(
        faulty,
        call("wait", "wait", seconds=30),
        call("peek", "peek", seconds=0.5),
        call("crash", "crash", code=3, when_running=2),
    )
    for result in (wait, crash):
        assert result.status == "error"
        assert result.content.startswith(WHO)
        assert "exited with code 3" in result.content
        assert "boom: crashing on purpose" in result.content  # its last stderr line
        assert result.content.endswith("the call may or may not have taken effect")
    if trusted:  # peek is read-only, so it was sent again to the restarted server
        assert (peek.status, peek.content) == ("ok", "peeked 0.5")
    else:  # an untrusted server's hints decide nothing: peek is lost like the others
        assert peek.status == "error"
        assert peek.content.endswith("the call may or may not have taken effect")
    [after] = await run(faulty, call("after", "wait", seconds=0))
    assert (after.status, after.content) == ("ok", "waited 0.0")


async def test_garbage_on_stdout_fails_every_call_in_flight(faulty: MCPServer) -> None:
    results = await run(
        faulty,
        call("a", "wait", seconds=30),
        call("b", "wait", seconds=30),
        call("garbage", "garbage", when_running=2),
    )
    for result in results:
        assert result.status == "error"
        assert result.content.startswith(WHO)
        assert "wrote a line to stdout that is not JSON-RPC" in result.content
        assert "Traceback (most recent call last): oops" in result.content
    [after] = await run(faulty, call("after", "wait", seconds=0))
    assert after.status == "ok"


async def test_a_hung_server_times_out_and_still_closes(anyio_backend: str) -> None:
    with anyio.fail_after(30):  # closing stops the wedged process (stdin, SIGTERM, SIGKILL)
        async with MCPServer.stdio(PYTHON, [FAULTY]) as server:
            [hung] = await run(server, call("hang", "hang"), limit=0.5)
            assert hung.status == "timeout"


async def test_a_server_that_ignores_cancellation(faulty: MCPServer) -> None:
    [stubborn] = await run(faulty, call("s", "stubborn", group="g"), limit=0.2)
    assert stubborn.status == "timeout"
    # the server kept running it (it ignores the cancellation) ...
    [running] = await run(faulty, call("r", "stubborn_running", group="g"))
    assert running.content == "1"
    # ... and its late answer, dropped by the client, disturbs nothing
    [released] = await run(faulty, call("l", "release", group="g"))
    assert released.content == "released"
    with anyio.fail_after(10):
        while (await run(faulty, call("r", "stubborn_running", group="g")))[0].content != "0":  # noqa: ASYNC110
            await anyio.sleep(0.05)
    [after] = await run(faulty, call("after", "wait", seconds=0))
    assert after.status == "ok"


async def test_malformed_results_are_errors_and_spare_siblings(faulty: MCPServer) -> None:
    malformed, off_schema, wait = await run(
        faulty,
        call("m", "malformed"),
        call("o", "off_schema"),
        call("w", "wait", seconds=0.1),
    )
    assert malformed.status == "error"
    assert malformed.content.startswith(WHO)
    assert "answered with a malformed result" in malformed.content
    assert off_schema.status == "error"
    assert "Invalid structured content returned by tool off_schema" in off_schema.content
    assert (wait.status, wait.content) == ("ok", "waited 0.1")


async def test_http_server_crash_then_a_new_session(anyio_backend: str) -> None:
    with http_server(FAULTY) as served:
        async with MCPServer.http(served.url) as server:
            wait, crash = await run(
                server,
                call("wait", "wait", seconds=30),
                call("crash", "crash", code=1, when_running=1),
            )
            for result in (wait, crash):
                assert result.status == "error"
                assert result.content.startswith(f"MCP server 'faulty' (http: {served.url})")
                assert "the call may or may not have taken effect" in result.content
            await anyio.to_thread.run_sync(served.restart)
            [after] = await run(server, call("after", "wait", seconds=0))
            assert (after.status, after.content) == ("ok", "waited 0.0")


async def test_http_server_restart_between_calls_then_a_new_session(anyio_backend: str) -> None:
    with http_server(COUNTING) as served:
        async with MCPServer.http(served.url) as server:
            [added] = await run(server, call("add", "add_tool", name="before_restart"))
            assert added.status == "ok"
            with anyio.fail_after(10):  # its list_changed notification comes on a stream of its own
                while "before_restart" not in {t.name for t in await server.tools()}:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(served.restart)
            # The new process does not know the session (HTTP 404): the call never ran, so it is
            # sent on a new session, though add_tool claims nothing (safe only because unseen).
            again, echo = await run(
                server,
                call("again", "add_tool", name="after_restart"),
                call("echo", "echo", text="both"),  # at the same time: one new session for both
            )
            assert again.status == "ok"
            assert "added after_restart" in again.content
            assert (echo.status, echo.content) == ("ok", "both")
            # the tools were listed anew: the restarted server forgot the tool added before
            assert "before_restart" not in {t.name for t in await server.tools()}


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_json_rpc_error_is_the_servers_answer(anyio_backend: str, transport: str) -> None:
    # -32000 is where the server-error range starts; the SDK also uses it for its own
    # "connection closed". The server's error is an answer: its text, no restart, no resend.
    with http_server(FAULTY) as served:
        opened = (
            MCPServer.stdio(PYTHON, [FAULTY])
            if transport == "stdio"
            else MCPServer.http(served.url)
        )
        async with opened as server:
            server.trust_hints = True  # rpc_error is read-only: a lost call would be sent again
            [before] = await run(server, call("pid", "pid"))
            results = await run(
                server,
                call("a", "rpc_error", code=-32000, message="quota exceeded for today"),
                call("b", "rpc_error", code=-32099, message="the end of the range"),
                call("c", "rpc_error", code=-32600, message="Session not found"),
            )
            for result, code in zip(results, ("-32000", "-32099", "-32600"), strict=True):
                assert result.status == "error"
                assert "answered the call with an error" in result.content
                assert f"(code {code})" in result.content
            assert "quota exceeded for today" in results[0].content
            [after, count] = await run(
                server, call("pid", "pid"), call("n", "calls", name="rpc_error")
            )
            assert after.content == before.content  # not restarted
            assert count.content == "3"  # each sent once


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_closing_a_wrapped_wedged_server_leaves_no_process(anyio_backend: str) -> None:
    # `; exit $?` stops sh from exec'ing the server: sh stays its parent, as npx and uvx do.
    script = f"{shlex.quote(PYTHON)} {shlex.quote(FAULTY)}; exit $?"
    with anyio.fail_after(30):
        async with MCPServer.stdio("sh", ["-c", script]) as server:
            [pid] = await run(server, call("pid", "pid"))
            [hung] = await run(server, call("hang", "hang"), limit=0.5)
            assert hung.status == "timeout"
            assert alive(int(pid.content))
    assert not alive(int(pid.content))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_call_cancelled_while_reconnecting_leaves_nothing_behind(
    anyio_backend: str, tmp_path: Path
) -> None:
    stall, pidfile = tmp_path / "stall", tmp_path / "pid"
    # Started again while `stall` exists, the server never answers the handshake.
    script = (
        f"if [ -e {stall} ]; then echo $$ > {pidfile}; exec sleep 60; fi; "
        f"exec {shlex.quote(PYTHON)} {shlex.quote(FAULTY)}"
    )
    async with MCPServer.stdio("sh", ["-c", script]) as server:
        tools = await server.tools()  # listed now: tools() would reconnect on its own
        [crash] = await Executor(tools, timeout=30).run(
            [call("c", "crash", code=1, when_running=0)]
        )
        assert crash.status == "error"
        stall.touch()
        # long enough for the restarted sh to write its pid on a loaded machine: it stalls anyway
        [stalled] = await Executor(tools, timeout=3).run([call("w", "wait", seconds=0)])
        assert stalled.status == "timeout"  # cut off inside the reconnect's handshake
        assert not alive(int(pidfile.read_text()))  # the half-started server is stopped
        stall.unlink()
        [after] = await run(server, call("after", "wait", seconds=0))
        assert (after.status, after.content) == ("ok", "waited 0.0")


async def test_an_error_in_the_body_propagates_as_itself(anyio_backend: str) -> None:
    with pytest.raises(ValueError, match=r"^mine$"):  # not inside an exception group
        async with MCPServer.stdio(PYTHON, [FAULTY]):
            raise ValueError("mine")


async def test_a_404_that_answers_the_call_is_the_servers_answer(anyio_backend: str) -> None:
    # A 404 carrying a JSON-RPC error for the request's own id was written by a server that read
    # the request: an answer, not the spec's "session not found" (whose error has no id). The
    # call is not sent again, and the session is kept.
    with http_server(COUNTING) as served:
        async with MCPServer.http(served.url) as server:
            [answered] = await run(server, call("x", "http_404"))
            assert answered.status == "error"
            assert "answered the call with an error: http_404: no such record" in answered.content
            [count] = await run(server, call("n", "status_calls", name="http_404"))
            assert count.content == "1"


async def test_a_5xx_without_an_answer_may_or_may_not_have_run(anyio_backend: str) -> None:
    # A proxy's 502 mid-call says nothing of the call: the model is told its outcome is unknown.
    with http_server(COUNTING) as served:
        async with MCPServer.http(served.url) as server:
            [failed] = await run(server, call("x", "http_502"))
            assert failed.status == "error"
            assert "HTTP 502" in failed.content
            assert failed.content.endswith("the call may or may not have taken effect")
            [count] = await run(server, call("n", "status_calls", name="http_502"))
            assert count.content == "1"


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_lone_surrogate_in_arguments_spares_the_session(
    anyio_backend: str, transport: str
) -> None:
    # A model's arguments may hold a lone surrogate ("\ud800" is valid JSON), which no UTF-8
    # encoder takes: the message failing to encode took the whole connection down with it.
    with http_server(COUNTING) as served:
        opened = (
            MCPServer.stdio(PYTHON, [COUNTING])
            if transport == "stdio"
            else MCPServer.http(served.url)
        )
        async with opened as server:
            slow, echo = await run(
                server,
                call("slow", "slow", seconds=0.5, group="surrogate"),
                ToolCall("echo", "echo", '{"text": "Par\\ud800is"}'),
            )
            assert (slow.status, slow.content) == ("ok", "slept 0.5")
            assert (echo.status, echo.content) == ("ok", "Par\ufffdis")


@pytest.mark.parametrize("how", ["cut", "gzip"])
async def test_one_calls_broken_http_answer_spares_its_siblings(
    anyio_backend: str, how: str
) -> None:
    # One call's answer cannot be read: its connection breaks mid-body (as a read timeout or a
    # reset would), or it cannot be decoded. That call is lost; the calls beside it are not.
    with http_server(COUNTING) as served:
        async with MCPServer.http(served.url) as server:
            cut, after = await run(
                server, call("cut", "http_cut_short", how=how), call("after", "after_cut_short")
            )
            assert cut.status == "error"
            assert cut.content.endswith("the call may or may not have taken effect")
            assert (after.status, after.content) == ("ok", "answered after the cut")


async def test_a_call_that_cannot_connect_was_not_run(anyio_backend: str) -> None:
    # The server is gone for good (its port closed): the call's request never left, so it is
    # not one that "may or may not have taken effect"; the server could not be reached.
    async with contextlib.AsyncExitStack() as stack:
        with http_server(COUNTING) as served:
            server = await stack.enter_async_context(MCPServer.http(served.url))
            tools = await server.tools()
        [result] = await Executor(tools, timeout=30).run([call("e", "echo", text="x")])
        assert result.status == "error"
        assert "could not be reached: ConnectError" in result.content
        assert "may or may not" not in result.content
