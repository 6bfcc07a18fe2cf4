"""Shared fixtures. Every test runs with the network closed except for loopback."""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import socket
import sys
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


# For the tests marked every_runtime (the batch's own machinery), two more: asyncio in debug mode
# (a loop method called from another thread raises; a coroutine never awaited says where it was
# made; a slow callback is only logged, not failed: its threshold is wall time, which a loaded
# machine exceeds without any blocking call, and tests/test_no_blocking.py catches those), and
# asyncio's eager task factory (Python 3.12+: a new task runs inside create_task up to its first
# suspension; `make test` runs these tests in a Python 3.12 environment too when there is one).
EVERY_RUNTIME = [
    *BACKENDS,
    pytest.param(("asyncio", {"debug": True}), id="asyncio+debug"),
]
if sys.version_info >= (3, 12):

    def _eager_loop() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        loop.set_task_factory(asyncio.eager_task_factory)
        return loop

    EVERY_RUNTIME.append(
        pytest.param(("asyncio", {"loop_factory": _eager_loop}), id="asyncio+eager")
    )


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Backend:
    """Async tests run on asyncio (the native-task runtime: its own TaskGroup and deadline heap
    on the loop's timers), the same on uvloop (another implementation of those timers and task
    wake-ups), and trio (the anyio runtime); those marked every_runtime also on EVERY_RUNTIME's
    other two.

    Every async test that does not pin its backend runs on all three, not only the concurrency
    tests: the 63 uvloop variants (mostly the executor's) took about 3 s together on the 2-core
    CI machine, against a suite of about 55 s, so a marker choosing modules would save little
    and could leave a runtime-specific bug unseen. Without uvloop (Windows) that variant skips.
    The other two are for the batch's own machinery only (the executor, holes, dedupe,
    references and policies modules): debug mode runs a test about a third slower, and the
    Python 3.12 environment exists for them alone.
    """
    backend: Backend = request.param
    return backend


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "every_runtime: async tests also run in asyncio debug mode and, on Python 3.12+, under "
        "asyncio's eager task factory (tests/conftest.py EVERY_RUNTIME)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked every_runtime that does not choose its own backend gets EVERY_RUNTIME, as
    a parametrize mark (the fixture's own params then stand aside, as for any such mark)."""
    definition = metafunc.definition
    if "anyio_backend" not in metafunc.fixturenames or not definition.get_closest_marker(
        "every_runtime"
    ):
        return
    for mark in definition.iter_markers("parametrize"):
        if "anyio_backend" in str(mark.args[0]):
            return
    definition.add_marker(pytest.mark.parametrize("anyio_backend", EVERY_RUNTIME))


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
