"""In-memory request limits with bounded state: "at most N per key in a sliding window" and "one at a time
per key". Per web worker (behind N workers a client gets up to N times the limit), which is enough to stop
one client from monopolising the expensive operations; the durable per-account login throttle lives in
the database (services/auth.py)."""

from __future__ import annotations

import math
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager

from backend.config import Settings
from backend.exceptions import TooManyRequests

MAX_KEYS = 10_000
"""Keys remembered per limit; past it the least recently seen key is forgotten (its client starts afresh)."""


class Window:
    """At most `limit` events per key in any `seconds`-long window."""

    def __init__(self, limit: int, seconds: float, max_keys: int = MAX_KEYS) -> None:
        self.limit, self.seconds, self.max_keys = limit, seconds, max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> int | None:
        """Count one event for `key`; None if allowed, else the seconds until the next one would be."""
        now = time.monotonic()
        events = self._events.pop(key, None) or deque()
        while events and now - events[0] >= self.seconds:
            events.popleft()
        self._events[key] = events  # (re)inserted last: the most recently seen
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)
        if len(events) >= self.limit:
            return max(1, math.ceil(self.seconds - (now - events[0])))
        events.append(now)
        return None

    def clear(self) -> None:
        self._events.clear()


class OneAtATime:
    """Refuses a second concurrent operation for the same key (bounded: only running keys are held)."""

    def __init__(self) -> None:
        self._running: set[str] = set()

    @contextmanager
    def hold(self, key: str, *, code: str, message: str, retry_after: int) -> Iterator[None]:
        if key in self._running:
            raise TooManyRequests(message, code=code, retry_after=retry_after)
        self._running.add(key)
        try:
            yield
        finally:
            self._running.discard(key)


_windows: weakref.WeakKeyDictionary[Settings, dict[str, Window]] = weakref.WeakKeyDictionary()
_singles: weakref.WeakKeyDictionary[Settings, dict[str, OneAtATime]] = weakref.WeakKeyDictionary()


def window(settings: Settings, name: str, limit: int, seconds: float) -> Window:
    """The application's window `name` (one set per Settings object, i.e. per running app)."""
    named = _windows.setdefault(settings, {})
    found = named.get(name)
    if found is None or (found.limit, found.seconds) != (limit, seconds):
        found = named[name] = Window(limit, seconds)
    return found


def one_at_a_time(settings: Settings, name: str) -> OneAtATime:
    return _singles.setdefault(settings, {}).setdefault(name, OneAtATime())


def check(settings: Settings, name: str, key: str, *, limit: int, seconds: float, code: str, what: str) -> None:
    """Raise 429 `code` (with Retry-After) when `key` has used up `limit` `what`s in `seconds`."""
    wait = window(settings, name, limit, seconds).hit(key)
    if wait is not None:
        raise TooManyRequests(f"too many {what}: try again in {wait} seconds", code=code, retry_after=wait)
