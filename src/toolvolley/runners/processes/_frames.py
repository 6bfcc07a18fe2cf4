"""The frames between the executor and its worker processes: an 8-byte big-endian length, then
a pickle (see :mod:`toolvolley.runners.processes._worker`)."""

from __future__ import annotations

import pickle
import struct
from typing import Any

__all__ = ["HEADER", "LOADING_MAIN", "READY", "frame"]

HEADER = struct.Struct(">Q")
READY = b"toolvolley worker ready\n"  # a worker's first bytes: anything else is not a worker
LOADING_MAIN = "TOOLVOLLEY_WORKER_LOADING_MAIN"  # set in a worker while the parent's main loads


def frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data
