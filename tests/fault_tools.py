"""Tools that fail in every way a tool can, for the fault matrix (tests/test_fault_matrix.py).

Defined at module level so that ``run_in="process"`` copies can be imported by worker
processes. Every body writes one line to the file named by ``TOOLVOLLEY_FAULT_LOG`` when it
starts (``perf_counter`` is ``CLOCK_MONOTONIC`` on Linux, one clock for every process), so the
tests can check that no body started after its call's result was written.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio

TIMEOUT = 0.3  # what "hang" and "slow_lazy" wait out
HUGE = 2_000_000


class Custom(BaseException):
    """Not an Exception: a tool may still raise it."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def started(text: str) -> None:
    path = os.environ.get("TOOLVOLLEY_FAULT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{text}\t{time.perf_counter()!r}\n")


# --- sync bodies (threads and processes) ---------------------------------------------------


def echo(text: str) -> dict[str, str]:
    started(text)
    return {"echo": text}


def boom(text: str) -> str:
    started(text)
    raise ValueError(f"cannot handle {text}")


def refuse(text: str) -> str:
    started(text)
    from toolvolley import ToolError

    raise ToolError(f"No data for {text}; ask the user for another city.")


def base(text: str) -> str:
    started(text)
    raise Custom(text)


def unprintable(text: str) -> str:
    started(text)
    raise Unprintable


def hang(text: str) -> str:
    started(text)
    end = time.monotonic() + 30
    while time.monotonic() < end:  # a busy loop: only killing a process stops it
        threading.Event().wait(0.01)
    return text


def opaque(text: str) -> Any:
    started(text)
    return threading.Lock()  # no JSON form (and cannot cross a process boundary)


def huge(text: str) -> str:
    started(text)
    return "x" * HUGE


def slow_lazy(text: str) -> Iterator[str]:
    started(text)
    yield text
    threading.Event().wait(30)  # the rest of the work runs past the timeout
    yield text


def crash(text: str) -> str:
    started(text)
    os._exit(3)


# --- async bodies ---------------------------------------------------------------------------


async def echo_async(text: str) -> dict[str, str]:
    started(text)
    await anyio.lowlevel.checkpoint()
    return {"echo": text}


async def boom_async(text: str) -> str:
    started(text)
    raise ValueError(f"cannot handle {text}")


async def refuse_async(text: str) -> str:
    started(text)
    from toolvolley import ToolError

    raise ToolError(f"No data for {text}; ask the user for another city.")


async def base_async(text: str) -> str:
    started(text)
    raise Custom(text)


async def unprintable_async(text: str) -> str:
    started(text)
    raise Unprintable


async def hang_async(text: str) -> str:
    started(text)
    await anyio.sleep_forever()
    return text


async def opaque_async(text: str) -> Any:
    started(text)
    return threading.Lock()


async def huge_async(text: str) -> str:
    started(text)
    return "x" * HUGE


async def slow_lazy_async(text: str) -> Any:
    started(text)
    yield text
    await anyio.sleep_forever()
    yield text


SYNC = {
    "echo": echo,
    "boom": boom,
    "refuse": refuse,
    "base": base,
    "unprintable": unprintable,
    "hang": hang,
    "opaque": opaque,
    "huge": huge,
    "slow_lazy": slow_lazy,
    "crash": crash,
}
ASYNC = {
    "echo": echo_async,
    "boom": boom_async,
    "refuse": refuse_async,
    "base": base_async,
    "unprintable": unprintable_async,
    "hang": hang_async,
    "opaque": opaque_async,
    "huge": huge_async,
    "slow_lazy": slow_lazy_async,
}
