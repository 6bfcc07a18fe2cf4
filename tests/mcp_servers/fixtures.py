"""Where the test servers are, and how the tests run them."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
COUNTING = str(HERE / "counting.py")
FAULTY = str(HERE / "faulty.py")
PYTHON = sys.executable

# On trio, the MCP SDK's streamable HTTP client leaves httpx2's SSE byte iterators for the garbage
# collector, and trio's finalizer reports each one as a ResourceWarning. The SDK's bug, not ours;
# every other unraisable warning still fails the tests.
SDK_TRIO_WARNINGS = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object "
    r"(Response\.aiter_|PoolByteStream\.|EventSource\.)"
    ":pytest.PytestUnraisableExceptionWarning"
)


@contextlib.contextmanager
def http_server(script: str, port: int = 0) -> Iterator[str]:
    """Serve ``script`` over streamable HTTP in a subprocess; yield its MCP URL.

    The test binds and listens first and hands the socket down, so the URL is known and
    connections made before uvicorn is up wait in the backlog instead of failing.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(256)
        fd = sock.fileno()
        process = subprocess.Popen([PYTHON, script, "http", str(fd)], pass_fds=[fd])
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
