"""backend/gc_policy.py: the pauses it counts are the collector's own, in the right buckets."""

from __future__ import annotations

import gc

from backend.gc_policy import PAUSE_BUCKETS, Pauses


def test_every_collection_is_counted_by_generation_in_cumulative_buckets() -> None:
    seen = Pauses()
    gc.callbacks.append(seen)
    try:
        gc.collect(0)
        gc.collect(2)
        gc.collect(2)
    finally:
        gc.callbacks.remove(seen)
    assert seen.count[0] >= 1 and seen.count[2] >= 2, seen.count
    assert seen.total[2] > 0
    for generation in range(3):
        counts = seen.buckets[generation]
        assert counts == sorted(counts), "cumulative: each bucket holds the ones below it"
        assert counts[-1] <= seen.count[generation]
    assert len(PAUSE_BUCKETS) == len(seen.buckets[0])


def test_a_pause_falls_in_the_first_bucket_that_holds_it() -> None:
    seen = Pauses()
    seen("start", {"generation": 1})
    seen._started -= 0.02  # a 20 ms collection
    seen("stop", {"generation": 1})
    first = next(i for i, bound in enumerate(PAUSE_BUCKETS) if bound >= 0.02)
    assert seen.buckets[1] == [0] * first + [1] * (len(PAUSE_BUCKETS) - first)
    assert seen.count == {0: 0, 1: 1, 2: 0}
