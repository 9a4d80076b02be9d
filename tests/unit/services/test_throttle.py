"""The in-memory request limits: a sliding window per key with bounded memory, and one-at-a-time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.config import Settings
from backend.exceptions import TooManyRequests
from backend.services import throttle


def test_window_allows_the_limit_then_says_how_long_to_wait() -> None:
    window = throttle.Window(limit=3, seconds=60)
    assert [window.hit("10.0.0.1") for _ in range(3)] == [None, None, None]
    wait = window.hit("10.0.0.1")
    assert wait is not None and 1 <= wait <= 60
    assert window.hit("10.0.0.2") is None  # another key has its own count


def test_window_remembers_a_bounded_number_of_keys() -> None:
    window = throttle.Window(limit=1, seconds=60, max_keys=100)
    for n in range(10_000):
        window.hit(f"10.0.{n // 256}.{n % 256}")
    assert len(window._events) == 100
    assert window.hit("10.0.39.15") is not None  # among the most recent: still counted
    assert window.hit("10.0.0.0") is None  # forgotten long ago: starts afresh


def test_check_raises_429_with_retry_after_per_settings() -> None:
    settings = replace(Settings(), data_dir=Settings().data_dir / "throttle-test")
    for _ in range(2):
        throttle.check(settings, "t", "k", limit=2, seconds=60, code="too_many_things", what="things")
    with pytest.raises(TooManyRequests) as caught:
        throttle.check(settings, "t", "k", limit=2, seconds=60, code="too_many_things", what="things")
    assert caught.value.code == "too_many_things" and caught.value.retry_after >= 1
    other = replace(settings, data_dir=settings.data_dir / "other")  # another app has its own windows
    throttle.check(other, "t", "k", limit=2, seconds=60, code="too_many_things", what="things")


def test_one_at_a_time_refuses_a_second_concurrent_holder() -> None:
    single = throttle.OneAtATime()
    with single.hold("u1", code="busy_user", message="wait", retry_after=5):
        with pytest.raises(TooManyRequests) as caught, single.hold("u1", code="busy_user", message="wait",
                                                                   retry_after=5):
            pass
        assert caught.value.code == "busy_user"
        with single.hold("u2", code="busy_user", message="wait", retry_after=5):
            pass
    with single.hold("u1", code="busy_user", message="wait", retry_after=5):
        pass  # released after the first
