"""Small helpers shared by tests: instrumented tools that record what overlapped."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class InFlight:
    """Counts calls running at once (thread-safe, so sync tools can use it too)."""

    current: int = 0
    peak: int = 0
    log: list[tuple[str, str, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, name: str) -> int:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
            self.log.append(("start", name, time.perf_counter()))
            return self.current

    def leave(self, name: str) -> None:
        with self._lock:
            self.current -= 1
            self.log.append(("end", name, time.perf_counter()))

    def order(self) -> list[str]:
        return [f"{kind}:{name}" for kind, name, _ in self.log]
