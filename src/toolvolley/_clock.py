"""The core's one clock: :func:`now`, seconds on ``time.perf_counter()``.

Every time a :class:`ToolResult` holds (``queued_at``, ``started_at``, ``ended_at``), every
event's timestamp (``CallReady.at``...), every timeline and trace, and every deadline handed to
a runner (``Runner.run(tool, kwargs, deadline)``: the time after which a body must not start)
is on this clock, so any two of them can be compared or subtracted. It is monotonic and of the
finest resolution (since Python 3.13 it is ``time.monotonic()``'s clock on every platform, and
it always was on Linux and macOS), and it is one clock for every process of a machine, so a
process worker can check a deadline the parent set. It is not shared across machines: a Ray
runner turns a deadline into ``time.time()`` for the node, the one clock two machines share.

One exception, on purpose: a deadline that the async runtime itself enforces (a
:class:`Runtime` guard: ``anyio.move_on_at`` / ``fail_at``, ``loop.call_at``) is on the
runtime's own clock, :meth:`Runtime.now` (``anyio.current_time()``; on asyncio the loop's
``time.monotonic()``). That clock is the runtime's to choose (trio's has a random offset, so
code that mixes clocks fails early), so the batch keeps its guards' deadlines on it and turns
one into this clock only where it leaves the runtime: :func:`from_runtime`.
"""

from __future__ import annotations

import math
import time

__all__ = ["from_runtime", "now"]

now = time.perf_counter
"""The current time on the core's clock (``time.perf_counter``)."""


def from_runtime(deadline: float, runtime_now: float) -> float:
    """``deadline``, a time on the runtime's clock whose current time is ``runtime_now``, on
    :func:`now`'s clock (``inf`` stays ``inf``)."""
    if deadline == math.inf:
        return deadline
    return deadline + (now() - runtime_now)
