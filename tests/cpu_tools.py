"""CPU-bound tools for the process-pool tests, at module level so workers can import them."""

from __future__ import annotations

import os

from toolvolley import tool


@tool(run_in="process")
def fib(n: int) -> dict[str, int]:
    """The n-th Fibonacci number, computed slowly, and the worker's process id."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return {"value": a, "pid": os.getpid()}


@tool(run_in="process", timeout=1.0)
def spin() -> None:
    """Never returns: only killing the worker process stops it."""
    while True:
        pass


@tool(run_in="process")
def stop(code: int) -> None:
    """Raises SystemExit in the worker, as a tool calling sys.exit() does."""
    raise SystemExit(code)
