"""Where the test servers are, and how the tests run them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from toolvolley.mcp import MCPServer

HERE = Path(__file__).parent
COUNTING = str(HERE / "counting.py")
FAULTY = str(HERE / "faulty.py")
PYTHON = sys.executable

# On trio, the MCP SDK's streamable HTTP client leaves httpx2's SSE byte iterators for the garbage
# collector, and trio's finalizer reports each one as a ResourceWarning. The SDK's bug, not ours;
# every other unraisable warning still fails the tests.
SDK_TRIO_WARNINGS = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object "
    r"(Response\.aiter_|PoolByteStream\.|EventSource\.|HTTP11ConnectionByteStream\.)"
    ":pytest.PytestUnraisableExceptionWarning"
)


class HttpServer:
    """A server process serving streamable HTTP on a socket this process keeps listening.

    Because the socket outlives the process, :meth:`restart` is what a supervisor does after a
    crash: same URL, new process, and connections made in between wait in the backlog.
    """

    def __init__(
        self, script: str, sock: socket.socket, env: Mapping[str, str] | None = None
    ) -> None:
        self.script = script
        self.sock = sock
        self.env = {**os.environ, **env} if env else None
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        return subprocess.Popen([PYTHON, self.script, "http", str(fd)], pass_fds=[fd], env=self.env)

    def restart(self) -> None:
        self.stop()
        self.process = self._spawn()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def http_server(script: str, env: Mapping[str, str] | None = None) -> Iterator[HttpServer]:
    """Serve ``script`` over streamable HTTP in a subprocess.

    The test binds and listens first and hands the socket down, so the URL is known and
    connections made before uvicorn is up wait in the backlog instead of failing.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        server = HttpServer(script, sock, env)
        try:
            yield server
        finally:
            server.stop()


def module_fixtures() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """``anyio_backend, counting_url, server = module_fixtures()`` in a test module: module-wide
    fixtures, so one counting server per transport and backend serves the whole module (a
    conftest here would apply them to every test, and importing the functions themselves
    makes each test's ``server`` parameter shadow an import)."""

    @pytest.fixture(scope="module", params=["asyncio", "trio"])
    def anyio_backend(request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture(scope="module")
    def counting_url() -> Iterator[str]:
        with http_server(COUNTING) as served:
            yield served.url

    @pytest.fixture(scope="module", params=["stdio", "http"])
    async def server(
        request: pytest.FixtureRequest, anyio_backend: str, counting_url: str
    ) -> AsyncIterator[MCPServer]:
        if request.param == "stdio":
            opened = MCPServer.stdio(PYTHON, [COUNTING])
        else:
            opened = MCPServer.http(counting_url)
        async with opened:
            yield opened

    return anyio_backend, counting_url, server
