"""Running an ASGI app (the offline model, the weather service) on loopback with uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._errors import UserError
from .._optional import require
from .._options import check_seconds
from ._http_protocol import guarded_protocol

__all__ = ["bind", "serve_forever", "serve_in_thread"]


DEFAULT_HEAD_TIMEOUT_S = 10.0
DEFAULT_KEEP_ALIVE_S = 5.0


def _server(
    app: Any,
    graceful_s: float = 0.5,
    *,
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
    keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
) -> Any:
    uvicorn: Any = require("uvicorn", "cli")
    for label, value in (("head_timeout_s", head_timeout_s), ("keep_alive_s", keep_alive_s)):
        _seconds(label, value)
    # An app with ``protocol_error(status, message, path)`` gives HTTP-level errors its shape.
    protocol = guarded_protocol(
        head_timeout_s=head_timeout_s, error_payload=getattr(app, "protocol_error", None)
    )
    # Open streams are cut after graceful_s on shutdown, so SIGTERM ends the server within a second.
    config = uvicorn.Config(
        app,
        http=protocol,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=graceful_s,
        timeout_keep_alive=keep_alive_s,
    )
    return uvicorn.Server(config)


def _seconds(label: str, value: object) -> None:
    if value is None:  # a server without this deadline is the one this module exists to avoid
        raise UserError(f"{label} must be a positive number of seconds, not None.")
    check_seconds(label, value)


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
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
    keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
) -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL (``http://127.0.0.1:PORT``).

    A client has ``head_timeout_s`` to send a request's head (from connecting, or from the
    last answer), bytes trickled or not; a connection idle ``keep_alive_s`` after an answer is
    closed.
    """
    server = _server(app, head_timeout_s=head_timeout_s, keep_alive_s=keep_alive_s)
    sock = bind(host, port)
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


def serve_forever(
    app: Any,
    *,
    sock: socket.socket,
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
    keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGINT or SIGTERM (used by the CLI); the
    timeouts are :func:`serve_in_thread`'s."""
    try:
        _server(app, head_timeout_s=head_timeout_s, keep_alive_s=keep_alive_s).run(sockets=[sock])
    finally:
        sock.close()
