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


@tool(run_in="process")
def fork_and_return(x: int) -> int:
    """Forks, and both processes return: only the worker may answer."""
    os.fork()
    return x


@tool(run_in="process")
def die_leaving_a_child(pid_file: str) -> None:
    """Forks a child that lives on for a minute (once it held the worker's pipes open, hiding
    the worker's death), writes its pid, and exits."""
    child = os.fork()
    if child == 0:
        import time

        time.sleep(60)
        os._exit(0)
    with open(pid_file, "w") as f:
        f.write(str(child))
    os._exit(3)


@tool(run_in="process")
def start_a_sleep(pid_file: str) -> None:
    """Starts ``sleep 1000`` (a child in the worker's session), writes its pid, and waits."""
    import subprocess
    import time

    child = subprocess.Popen(["sleep", "1000"])
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(child.pid))
    os.replace(pid_file + ".tmp", pid_file)  # whole, or not there yet
    time.sleep(3600)


@tool(run_in="process")
def meet(directory: str, who: str, n: int) -> dict[str, int]:
    """Waits (up to 30 s) until ``n`` calls have arrived in ``directory``: the calls ran at once,
    each in its own worker. Returns the worker's process id."""
    import time
    from pathlib import Path

    Path(directory, who).touch()
    deadline = time.monotonic() + 30
    while len(list(Path(directory).iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"pid": os.getpid()}
