"""The program a worker process runs (``python -m toolvolley._process_worker``).

It reads requests from its standard input and answers on its standard output, each a frame
(:mod:`toolvolley._frames`). The first request is ``("init", sys.path,
main_path)``: the parent's import path, and its main script, loaded here as ``__mp_main__`` (as
:mod:`multiprocessing` does) so that tools defined in a script can be found. Then each request
is ``(func, args)`` and each answer ``(True, value)`` or ``(False, exception)``. The pipes are
moved off file descriptors 0 and 1 first, so whatever a tool prints goes to standard error
and cannot break a frame. End of input ends the worker.
"""

from __future__ import annotations

import os
import pickle
import runpy
import sys
from typing import Any, BinaryIO

from toolvolley._frames import HEADER, frame

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


def _load_main(path: str | None) -> None:
    if path and os.path.isfile(path):
        main_module = type(sys)("__mp_main__")
        main_module.__dict__.update(runpy.run_path(path, run_name="__mp_main__"))
        sys.modules["__main__"] = sys.modules["__mp_main__"] = main_module


def main() -> None:
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    while True:
        try:
            request = _read(requests)
        except EOFError:
            return
        exit_after: BaseException | None = None
        try:
            if request[0] == "init":
                sys.path[:] = request[1]
                _load_main(request[2])
                answer: tuple[bool, Any] = (True, None)
            else:
                func, args = request
                answer = (True, func(*args))
        except BaseException as exc:  # the caller's to judge, cancellation is not a thing here
            answer = (False, exc)
            if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                exit_after = exc
        try:
            data = frame(answer)
        except Exception as exc:  # the value (or the exception) has no pickled form
            what = "result" if answer[0] else "exception"
            problem = TypeError(f"The tool's {what} cannot be sent back from its process: {exc}")
            data = frame((False, problem))
        answers.write(data)
        answers.flush()
        if exit_after is not None:
            raise exit_after


if __name__ == "__main__":
    main()
