"""Who is connected to a meeting right now. A person with two tablets counts once.

Two stores with one interface: in this process (the embedded default) or in Redis (several workers).
Each worker knows its own connections for sure (`_by_sid`); Redis holds everyone's, each connection a
member `<user_id>:<sid>` of a sorted set per meeting, scored by when it expires. Every worker renews its
own entries every third of the TTL (`refresh`), and writes them all again then: so a killed worker's
members stop counting after at most the TTL, and a Redis that restarted empty is whole again a few
seconds later. Presence is soft state: a Redis error is logged and never fails a join or a leave.

A connection that closes while its join is still on the way must not stay online: `forget(sid)` (at
disconnect) removes every entry of the socket and remembers the socket as gone, so a join finishing
after it adds nothing, and one finishing just before it is taken out again."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("ecabinet.presence")

TTL_SECONDS = 30
GONE_REMEMBERED = 10_000
"""Closed sockets remembered so that a join finishing after its socket closed adds nothing."""
_WARN_EVERY_S = 10.0


class PresenceStore(Protocol):
    async def add(self, meeting_id: int, user_id: int, sid: str) -> None: ...
    async def remove(self, meeting_id: int, user_id: int, sid: str) -> None: ...
    async def forget(self, sid: str) -> set[int]:
        """The socket closed: all its entries go. Returns the meetings it was online in."""
        ...
    async def online(self, meeting_id: int) -> set[int]: ...
    async def refresh(self) -> set[int]:
        """Renew this process's entries; returns the meetings where others' entries expired."""
        ...
    async def close(self) -> None: ...


class _Local:
    """This process's connections: sid -> {meeting_id: user_id}, and the sockets that closed."""

    def __init__(self) -> None:
        self.by_sid: dict[str, dict[int, int]] = {}
        self.gone: OrderedDict[str, None] = OrderedDict()

    def add(self, meeting_id: int, user_id: int, sid: str) -> bool:
        if sid in self.gone:
            return False
        self.by_sid.setdefault(sid, {})[meeting_id] = user_id
        return True

    def holds(self, meeting_id: int, user_id: int, sid: str) -> bool:
        return self.by_sid.get(sid, {}).get(meeting_id) == user_id

    def remove(self, meeting_id: int, sid: str) -> None:
        meetings = self.by_sid.get(sid)
        if meetings is not None:
            meetings.pop(meeting_id, None)
            if not meetings:
                del self.by_sid[sid]

    def forget(self, sid: str) -> dict[int, int]:
        self.gone[sid] = None
        while len(self.gone) > GONE_REMEMBERED:
            self.gone.popitem(last=False)
        return self.by_sid.pop(sid, {})

    def by_meeting(self) -> dict[int, dict[str, int]]:
        found: dict[int, dict[str, int]] = defaultdict(dict)
        for sid, meetings in self.by_sid.items():
            for meeting_id, user_id in meetings.items():
                found[meeting_id][sid] = user_id
        return found


class MemoryPresence:
    def __init__(self) -> None:
        self._local = _Local()

    async def add(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._local.add(meeting_id, user_id, sid)

    async def remove(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._local.remove(meeting_id, sid)

    async def forget(self, sid: str) -> set[int]:
        return set(self._local.forget(sid))

    async def online(self, meeting_id: int) -> set[int]:
        return set(self._local.by_meeting().get(meeting_id, {}).values())

    async def refresh(self) -> set[int]:
        return set()

    async def close(self) -> None:
        return None


class RedisPresence:
    def __init__(self, client: aioredis.Redis, prefix: str, *, ttl_seconds: float = TTL_SECONDS) -> None:
        """`client`: the process's shared Redis (redis_link.RedisLink.commands), closed by its owner."""
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._local = _Local()
        self._warned = 0.0

    @property
    def refresh_seconds(self) -> float:
        return self._ttl / 3

    def _key(self, meeting_id: int) -> str:
        return f"{self._prefix}:{meeting_id}"

    def _trouble(self, doing: str, exc: Exception) -> None:
        """One warning per _WARN_EVERY_S: a Redis outage during a storm must not write a line per tablet."""
        if time.monotonic() - self._warned > _WARN_EVERY_S:
            self._warned = time.monotonic()
            log.warning("presence: %s failed (%s: %s); kept here, written again when Redis answers",
                        doing, type(exc).__name__, exc)

    async def add(self, meeting_id: int, user_id: int, sid: str) -> None:
        if not self._local.add(meeting_id, user_id, sid):
            return  # the socket closed while its join was on the way
        key, member = self._key(meeting_id), f"{user_id}:{sid}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.zadd(key, {member: time.time() + self._ttl})
            pipe.expire(key, int(self._ttl * 2))
            await pipe.execute()
            if not self._local.holds(meeting_id, user_id, sid):
                # Left or closed meanwhile: its removal may have reached Redis before this entry did.
                await self._redis.zrem(key, member)
        except (RedisError, OSError) as exc:
            self._trouble("adding a connection", exc)

    async def remove(self, meeting_id: int, user_id: int, sid: str) -> None:
        self._local.remove(meeting_id, sid)
        try:
            await self._redis.zrem(self._key(meeting_id), f"{user_id}:{sid}")
        except (RedisError, OSError) as exc:  # not renewed any more: it expires within the TTL
            self._trouble("removing a connection", exc)

    async def forget(self, sid: str) -> set[int]:
        meetings = self._local.forget(sid)
        if meetings:
            try:
                pipe = self._redis.pipeline(transaction=False)
                for meeting_id, user_id in meetings.items():
                    pipe.zrem(self._key(meeting_id), f"{user_id}:{sid}")
                await pipe.execute()
            except (RedisError, OSError) as exc:
                self._trouble("removing a closed connection", exc)
        return set(meetings)

    async def online(self, meeting_id: int) -> set[int]:
        try:
            members = await self._redis.zrangebyscore(self._key(meeting_id), time.time(), "+inf")
        except (RedisError, OSError) as exc:
            # Redis away: what this worker knows for sure is better than failing every join.
            self._trouble("reading presence", exc)
            return set(self._local.by_meeting().get(meeting_id, {}).values())
        return {int(_text(m).split(":", 1)[0]) for m in members}  # type: ignore[arg-type]

    async def refresh(self) -> set[int]:
        """Writes this worker's entries again with a new expiry, and drops the expired ones of the meetings
        it serves; returns those meetings where some entry had expired (their rooms should hear it)."""
        now = time.time()
        meetings = self._local.by_meeting()
        if not meetings:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        order = []
        for meeting_id, sids in meetings.items():
            key = self._key(meeting_id)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {f"{user_id}:{sid}": now + self._ttl for sid, user_id in sids.items()})
            pipe.expire(key, int(self._ttl * 2))
            order.append(meeting_id)
        results = await pipe.execute()
        return {meeting_id for meeting_id, expired in zip(order, results[0::3], strict=True) if expired}

    async def close(self) -> None:
        """This worker stops: its entries go now rather than at their expiry."""
        meetings = self._local.by_meeting()
        self._local.by_sid.clear()
        if not meetings:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for meeting_id, sids in meetings.items():
                pipe.zrem(self._key(meeting_id), *(f"{user_id}:{sid}" for sid, user_id in sids.items()))
            await pipe.execute()
        except (RedisError, OSError) as exc:
            self._trouble("removing this worker's connections", exc)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def presence_store(client: aioredis.Redis | None, prefix: str = "", *,
                   ttl_seconds: float = TTL_SECONDS) -> PresenceStore:
    return RedisPresence(client, prefix, ttl_seconds=ttl_seconds) if client is not None else MemoryPresence()
