"""The garbage collector of a serving process (`ecabinet serve`): when it runs, and what it costs.

CPython's cycle collector stops the event loop while it runs, and a full collection walks every object
the process holds. A worker with 2,000 tablets holds about 650,000 (each socket's session, queues,
tasks, protocol objects); with Python's default thresholds (700, 10, 10) a full collection came every
1-2 s during a vote and stopped the worker for 370-430 ms each time: joins, ballots and the result of a
poll waited behind it (docs/BENCHMARKS.md, issue 18). Two changes, both standard for long-running
servers:

- what the process built before serving (imports, the application) is frozen (`gc.freeze`): it lives as
  long as the process, and no collection walks it again;
- the youngest generation is collected after 20,000 allocations instead of 700, so that the objects of
  a request or an event mostly die before a collection sees them, fewer survive into the older
  generations and a full collection is rare (none in a 2,000-tablet benchmark round).

ECABINET_GC_THRESHOLDS sets the three thresholds (`python`: Python's own). Each collection's pause is
counted for `/metrics` (`ecabinet_gc_pause_seconds`, by generation)."""

from __future__ import annotations

import gc
import time
from typing import Any

PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Pauses:
    """Every collection's duration, by generation, as cumulative histogram counts (read at scrape time)."""

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = {g: [0] * len(PAUSE_BUCKETS) for g in range(3)}
        self.count: dict[int, int] = dict.fromkeys(range(3), 0)
        self.total: dict[int, float] = dict.fromkeys(range(3), 0.0)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took, generation = time.perf_counter() - self._started, int(info["generation"])
        self.count[generation] += 1
        self.total[generation] += took
        for i, bound in enumerate(PAUSE_BUCKETS):
            if took <= bound:
                self.buckets[generation][i] += 1


pauses = Pauses()
"""This process's collections (one collector per process, whatever the number of applications in it)."""


def apply(thresholds: tuple[int, int, int]) -> None:
    """For a process about to serve: count the pauses, freeze what exists, set the thresholds."""
    if pauses not in gc.callbacks:
        gc.callbacks.append(pauses)
    gc.collect()  # what is garbage already is not frozen (the first full collection counted)
    gc.freeze()
    gc.set_threshold(*thresholds)
