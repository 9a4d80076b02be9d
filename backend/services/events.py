"""How services tell live clients what changed. Services publish only after their transaction has
committed; the realtime layer supplies the implementation (Socket.IO, fanned out through Redis when
configured), so services never import it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("ecabinet.events")


@dataclass(frozen=True)
class Revocation:
    """A right that open connections of one user may hold was taken away (published after commit). The
    database stays the source of truth: a process that receives this only re-checks, never grants."""

    user_id: int
    """Whose connections are concerned (the account's cached checks are dropped in any case, so a change
    of its rights, such as administrator or secretariat, is seen at the next event)."""
    ended_sessions: tuple[int, ...] = ()
    """Login sessions that ended (logout, password change, deactivation): their connections are dropped."""
    meeting_id: int | None = None
    """A meeting whose participation of the user changed (removed, new role, deputy changed): the
    connections leave the rooms of it they may no longer be in."""


class EventBus(Protocol):
    async def publish(self, event: str, data: dict[str, Any], *, room: str) -> None: ...

    async def close_room(self, room: str) -> None:
        """Takes every connection out of `room` (on every worker): they must join again, through the check."""

    async def revoke(self, fact: Revocation) -> None:
        """Makes every process holding connections act on `fact` for its own (this one before returning)."""

    async def delivered(self, within: float) -> None:
        """Returns once this process's connections have taken what was published to them, or after `within`
        seconds: for work that may wait and would otherwise compete with a big room's fan-out."""


class NullBus:
    """For the command line and for tests of services alone: nobody is listening."""

    async def publish(self, event: str, data: dict[str, Any], *, room: str) -> None:
        return None

    async def close_room(self, room: str) -> None:
        return None

    async def revoke(self, fact: Revocation) -> None:
        return None

    async def delivered(self, within: float) -> None:
        return None


def meeting_room(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


def staff_room(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:staff"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


# Presence and attendance go to every tablet in the room: when 2,000 tablets join at once, one push a
# second (not four, like poll progress) keeps that fan-out well under what python-socketio can send.
ROSTER_PUSH_INTERVAL_S = 1.0


ROOM_FANOUT_TABLETS = 500
"""Up to this many tablets a room hears its pushes at their own pace; above it proportionally less
often: python-socketio makes one send task per tablet and push, so a room of 2,000 hearing poll progress
four times a second costs 8,000 sends a second, the CPU the ballots themselves need."""
ROOM_PUSH_INTERVAL_MAX_S = 2.0


def room_interval(base: float, tablets: int) -> float:
    """How often (seconds) a push of pace `base` goes to a room of `tablets`: `base` up to
    ROOM_FANOUT_TABLETS, then proportionally longer, at most ROOM_PUSH_INTERVAL_MAX_S (or `base`)."""
    return min(max(base, base * tablets / ROOM_FANOUT_TABLETS), max(base, ROOM_PUSH_INTERVAL_MAX_S))


class Coalescer:
    """Runs an action at most once per `interval` seconds per key, always after the latest trigger.

    Ballots arrive by the thousand; tablets need a few progress updates a second, not one per
    ballot. The action reads the current state when it runs, so nothing is lost by skipping."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._pending: dict[object, asyncio.Task[None]] = {}
        self._last: dict[object, float] = {}
        self._pace: dict[object, float] = {}

    def trigger(self, key: object, action: Callable[[], Awaitable[None]], *, interval: float | None = None) -> None:
        """`interval` overrides the default for this key (room-wide rosters are pushed less often)."""
        if key in self._pending:
            return
        every = self._pace.get(key, self.interval if interval is None else interval)
        delay = max(0.0, self._last.get(key, 0.0) + every - time.monotonic())
        self._pending[key] = asyncio.get_running_loop().create_task(self._run(key, delay, action))

    def cancel(self, key: object) -> None:
        """Drops a run of `key` that has not started (its news is stale: a closed poll's result replaces
        its progress, and a push to 2,000 tablets would delay the result by as much)."""
        task = self._pending.pop(key, None)
        if task is not None:
            task.cancel()

    def pace(self, key: object, interval: float) -> None:
        """From now on `key` runs at most once per `interval` (an action that learns its room's size)."""
        self._pace[key] = interval

    async def _run(self, key: object, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(delay)
        # Leave the pending slot first: a trigger during the action schedules the next run.
        self._pending.pop(key, None)
        self._last[key] = time.monotonic()
        try:
            await action()
        except Exception:  # a failed progress update must not kill the loop; the next one repairs it
            log.exception("coalesced action for %r failed", key)

    async def drain(self) -> None:
        """Wait for scheduled actions (shutdown, tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)
