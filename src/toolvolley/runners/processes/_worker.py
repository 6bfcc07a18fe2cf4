"""The program a worker process runs (``python -m toolvolley.runners.processes._worker``).

It reads requests from its standard input and answers on its standard output, each a frame
(:mod:`toolvolley.runners.processes._frames`). It first moves the pipes off file descriptors 0
and 1, so whatever a tool prints goes to standard error and cannot break a frame, and writes
:data:`READY`. The first request is ``("init", sys.path, main_module, main_path)``: the
parent's import path, and its main module (by name for ``python -m``, else by path), loaded
here as ``__mp_main__`` (as :mod:`multiprocessing` does) so that tools defined in a script can
be found. Then each request
is ``(sys.path, func, args)`` (the parent's path as it is now) and each answer ``(True,
value)`` or ``(False, exception)``. A process a tool forked never answers: only the worker
writes frames. End of input ends the worker, and so does its parent's death (Linux:
``PR_SET_PDEATHSIG``); Ctrl-C is the parent's to handle.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import runpy
import signal
import sys
from typing import Any, BinaryIO

from toolvolley.runners.processes._frames import HEADER, LOADING_MAIN, READY, frame

__all__ = ["main"]


def _read(stream: BinaryIO) -> Any:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _load_main(name: str | None, path: str | None) -> None:
    os.environ[LOADING_MAIN] = "1"  # an unguarded script must not start workers of its own
    try:
        if name and name != "__main__":  # python -m package.module: relative imports need it
            found = runpy.run_module(name, run_name="__mp_main__", alter_sys=True)
        elif path and os.path.isfile(path):
            found = runpy.run_path(path, run_name="__mp_main__")
        else:
            found = {}  # never this module: a tool named main() must not find ours
    finally:
        del os.environ[LOADING_MAIN]
    main_module = type(sys)("__mp_main__")
    main_module.__dict__.update(found)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = main_module


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when its parent dies, even mid-body."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # it died before the line above
            os._exit(1)


def main() -> None:
    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers on Ctrl-C
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # A child the tool forks gets /dev/null in place of the pipes (exec'd ones get nothing:
    # dup makes them non-inheritable), so this worker's death is the pipe's end, and only
    # this worker ever answers.
    os.register_at_fork(
        after_in_child=lambda: [
            os.dup2(devnull, fd) for fd in (requests.fileno(), answers.fileno())
        ]
    )
    answers.write(READY)
    answers.flush()
    me = os.getpid()
    while True:
        try:
            request = _read(requests)
        except EOFError:
            return
        try:
            if request[0] == "init":
                sys.path[:] = request[1]
                _load_main(request[2], request[3])
                answer: tuple[bool, Any] = (True, None)
            else:
                path, func, args = request
                sys.path[:] = path
                answer = (True, func(*args))
        except BaseException as exc:  # the caller's to judge (it retires this worker after
            answer = (False, exc)  # a SystemExit or KeyboardInterrupt)
        if os.getpid() != me:  # the tool forked, and this is the child coming back
            os._exit(0)
        try:
            data = frame(answer)
        except Exception as exc:  # the value (or the exception) has no pickled form
            what = "result" if answer[0] else "exception"
            problem = TypeError(f"The tool's {what} cannot be sent back from its process: {exc}")
            data = frame((False, problem))
        answers.write(data)
        answers.flush()


if __name__ == "__main__":
    main()
