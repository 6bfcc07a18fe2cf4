"""Which event loop runs: asked of the loop itself, in one place (``_runtime.running_library``)."""

from __future__ import annotations

import contextvars
import threading

import sniffio

from toolvolley import Executor, ToolCall, tool
from toolvolley._runtime import running_library


@tool
def echo(text: str) -> str:
    """Says it back."""
    return text


def test_a_thread_carrying_a_copied_asyncio_context_runs_no_loop() -> None:
    """A framework's worker thread may run in a context copied from an asyncio task, so
    sniffio says "asyncio" there; no loop runs in it, and run_sync must work."""
    token = sniffio.current_async_library_cvar.set("asyncio")
    try:
        context = contextvars.copy_context()
    finally:
        sniffio.current_async_library_cvar.reset(token)
    seen: list[object] = []

    def in_thread() -> None:
        seen.append(running_library())
        [result] = Executor([echo]).run_sync([ToolCall("1", "echo", '{"text": "hi"}')])
        seen.append(result.content)

    thread = threading.Thread(target=context.run, args=(in_thread,))
    thread.start()
    thread.join()
    assert seen == [None, "hi"]
