"""Shared fixtures. Every test runs with the network closed except for loopback."""

from __future__ import annotations

import importlib.util
import ipaddress
import socket
from typing import Any, TypeAlias

import pytest

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None  # the dev extra skips it on Windows

Backend: TypeAlias = "str | tuple[str, dict[str, Any]]"

BACKENDS = [
    pytest.param("asyncio", id="asyncio"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        id="asyncio+uvloop",
        marks=pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed"),
    ),
    pytest.param("trio", id="trio"),
]
ASYNCIO_BACKENDS = BACKENDS[:2]  # for frameworks that run on asyncio only


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Backend:
    """Async tests run on asyncio (the native-task runtime: its own TaskGroup and deadline heap
    on the loop's timers), the same on uvloop (another implementation of those timers and task
    wake-ups), and trio (the anyio runtime).

    Every async test that does not pin its backend runs on all three, not only the concurrency
    tests: the 63 uvloop variants (mostly the executor's) took about 3 s together on the 2-core
    CI machine, against a suite of about 55 s, so a marker choosing modules would save little
    and could leave a runtime-specific bug unseen. Without uvloop (Windows) that variant skips.
    """
    backend: Backend = request.param
    return backend


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths are local by definition
        return True
    host = address[0]
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host outside loopback (no paid API, no internet)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: Any) -> None:
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach {address!r}; tests may use loopback only")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
