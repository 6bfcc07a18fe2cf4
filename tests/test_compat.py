"""Each private API of another project that toolvolley uses still works as its wrapper in
``toolvolley._compat`` says, on the versions installed (a release that moves one fails here)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import subprocess
import sys
import threading
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest

from toolvolley import _compat


def test_importing_compat_loads_no_optional_project() -> None:
    code = (
        "import sys, toolvolley._compat\n"
        "print(sorted(m for m in ('mcp', 'ray', 'langgraph') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio keeps its own per-thread record
async def test_a_thread_given_the_token_calls_back_into_the_loop(anyio_backend: str) -> None:
    token = anyio.lowlevel.current_token()
    seen: list[object] = []

    def in_thread() -> None:
        _compat.set_thread_token(token)
        try:
            seen.append(anyio.from_thread.run_sync(lambda: "on the loop"))
        finally:
            _compat.set_thread_token(None)
        try:
            anyio.from_thread.run_sync(lambda: None)
        except RuntimeError:
            seen.append("no token")
        _compat.set_thread_token(None)  # twice: it had none

    thread = threading.Thread(target=in_thread)
    thread.start()
    await anyio.to_thread.run_sync(thread.join)  # the loop stays free for its callback
    assert seen == ["on the loop", "no token"]


def test_a_task_dropped_quietly_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(forever())
        _compat.drop_quietly(task)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        del task
        gc.collect()
    assert "Task was destroyed but it is pending" not in caplog.text


@pytest.mark.anyio
async def test_mcp_context_streams_carry_messages() -> None:
    pytest.importorskip("mcp")
    send, receive = _compat.mcp_context_streams(1)
    async with send, receive:
        await send.send("hello")
        assert await receive.receive() == "hello"


def test_the_mcp_transport_still_has_the_methods_overridden() -> None:
    pytest.importorskip("mcp")
    from mcp.client.streamable_http import StreamableHTTPTransport

    for name in _compat.MCP_TRANSPORT_HOOKS:
        assert callable(getattr(StreamableHTTPTransport, name, None)), name


def test_ray_internals_have_the_shape_the_wrappers_read() -> None:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed")
    import ray
    from ray._private import ray_constants, worker

    assert _compat.local_ray_session(ray) is None  # not started here
    assert hasattr(worker, "_global_node")
    assert isinstance(ray_constants.PROCESS_TYPE_RAYLET, str)
    assert hasattr(ray_constants, "ENABLE_RAY_CLUSTER")
    assert worker.__name__ == _compat.RAY_WORKER_LOGGER


def test_langgraph_error_handling_words_as_tool_node_does() -> None:
    pytest.importorskip("langgraph")
    default = _compat.langgraph_default_error_handler()
    with pytest.raises(ValueError, match="boom"):
        default(ValueError("boom"))
    assert _compat.langgraph_error_content(ValueError("boom"), True) == (
        "Error: ValueError('boom')\n Please fix your mistakes."
    )

    def handler(error: KeyError) -> str:
        return "missing"

    handled: Any = _compat.langgraph_handled_types(handler)
    assert handled == (KeyError,)
