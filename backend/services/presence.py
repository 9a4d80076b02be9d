"""Who is connected to a meeting right now. A person with two tablets counts once.

Two stores with one interface: in this process (the embedded default) or in Redis (several
workers). In Redis each connection is a member `<user_id>:<sid>` of a sorted set per meeting, scored
by when it expires; workers refresh their own connections, so a crashed worker's entries fade out
within `TTL_SECONDS` instead of staying online forever."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis

TTL_SECONDS = 60
REFRESH_SECONDS = 20


class PresenceStore(Protocol):
    async def add(self, meeting_id: int, user_id: int, sid: str) -> None: ...
    async def remove(self, meeting_id: int, user_id: int, sid: str) -> None: ...
    async def online(self, meeting_id: int) -> set[int]: ...
    async def refresh(self) -> None: ...
    async def close(self) -> None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._by_meeting: dict[int, set[tuple[int, str]]] = defaultdict(set)

    async def add(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._by_meeting[meeting_id].add((user_id, sid))

    async def remove(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._by_meeting[meeting_id].discard((user_id, sid))

    async def online(self, meeting_id: int) -> set[int]:
        return {user for user, _ in self._by_meeting.get(meeting_id, set())}

    async def refresh(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisPresence:
    def __init__(self, url: str, *, prefix: str = "ecabinet:presence") -> None:
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._local: set[tuple[int, int, str]] = set()

    def _key(self, meeting_id: int) -> str:
        return f"{self._prefix}:{meeting_id}"

    async def add(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._local.add((meeting_id, user_id, sid))
        await self._redis.zadd(self._key(meeting_id), {f"{user_id}:{sid}": time.time() + TTL_SECONDS})

    async def remove(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._local.discard((meeting_id, user_id, sid))
        await self._redis.zrem(self._key(meeting_id), f"{user_id}:{sid}")

    async def online(self, meeting_id: int) -> set[int]:
        members = await self._redis.zrangebyscore(self._key(meeting_id), time.time(), "+inf")
        return {int(str(m).split(":", 1)[0]) for m in members}

    async def refresh(self) -> None:
        """Extend this worker's connections and drop expired ones (run every REFRESH_SECONDS)."""
        now = time.time()
        pipe = self._redis.pipeline()
        meetings = {m for m, _, _ in self._local}
        for meeting_id, user_id, sid in self._local:
            pipe.zadd(self._key(meeting_id), {f"{user_id}:{sid}": now + TTL_SECONDS})
        for meeting_id in meetings:
            pipe.zremrangebyscore(self._key(meeting_id), "-inf", now)
        await pipe.execute()

    async def close(self) -> None:
        pipe = self._redis.pipeline()
        for meeting_id, user_id, sid in self._local:
            pipe.zrem(self._key(meeting_id), f"{user_id}:{sid}")
        await pipe.execute()
        self._local.clear()
        await self._redis.aclose()


def presence_store(redis_url: str) -> PresenceStore:
    return RedisPresence(redis_url) if redis_url else MemoryPresence()
