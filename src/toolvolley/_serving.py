"""Running an ASGI app (the offline model, the weather service) on loopback with uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._optional import require

__all__ = ["bind", "serve_forever", "serve_in_thread"]


def _server(app: Any, graceful_s: float = 0.5) -> Any:
    uvicorn: Any = require("uvicorn", "cli")
    # Open streams are cut after graceful_s on shutdown, so SIGTERM ends the server within a second.
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=graceful_s,
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; ``OSError`` (e.g. the port is in use) before anything is printed."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL (``http://127.0.0.1:PORT``)."""
    sock = bind(host, port)
    server = _server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="toolvolley-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The server on {host}:{port} did not start.")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def serve_forever(app: Any, *, sock: socket.socket) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGINT or SIGTERM (used by the CLI)."""
    try:
        _server(app).run(sockets=[sock])
    finally:
        sock.close()
