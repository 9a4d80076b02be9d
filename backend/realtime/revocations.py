"""Revocations across processes. A service's `bus.revoke(fact)` is acted on by this process before it
returns (the REST answer comes after the sockets here are dropped or re-roomed), and by every other
process that holds sockets (web workers, a separate relay) through a Redis channel of its own.

Why not python-socketio's Redis manager: it forwards emits, room changes and disconnects of a given sid
to the host that holds it, but a revocation names a user or a login session, whose sockets only their
own host can find (rooms are per host); and the relay's manager is write-only (it does not listen)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from backend.redis_link import RedisLink
from backend.services.auth import SessionCache
from backend.services.events import Revocation

log = logging.getLogger("ecabinet.realtime")

Listener = Callable[[Revocation], Awaitable[None]]

RESUBSCRIBE_DELAY_S = 1.0


def encode(fact: Revocation, host: str) -> str:
    return json.dumps({"host": host, "user_id": fact.user_id, "ended_sessions": list(fact.ended_sessions),
                       "meeting_id": fact.meeting_id})


def decode(raw: bytes | str) -> tuple[str, Revocation]:
    """The sending host and the fact; ValueError for anything malformed."""
    data: Any = json.loads(raw)
    meeting = data.get("meeting_id")
    sessions = data.get("ended_sessions")
    if not (isinstance(data.get("user_id"), int) and isinstance(sessions, list)
            and all(isinstance(s, int) for s in sessions) and (meeting is None or isinstance(meeting, int))):
        raise ValueError("not a revocation")
    return str(data.get("host")), Revocation(data["user_id"], tuple(sessions), meeting)


class Revocations:
    """This process's end of the revocation channel: publishes facts, and hands every fact (its own and
    other processes') to the session cache and then to the namespaces holding sockets."""

    def __init__(self, link: RedisLink | None, cache: SessionCache) -> None:
        """`link`: the process's Redis (None: one process, nothing to tell), closed by its owner. The
        channel is the deployment's (pub/sub ignores Redis database numbers: only the prefix keeps
        deployments sharing a Redis server from acting on each other's revocations)."""
        self.cache = cache
        self.listeners: list[Listener] = []
        self.host = uuid.uuid4().hex
        self.channel = link.revocations_channel if link is not None else ""
        self._link = link
        self._task: asyncio.Task[None] | None = None

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    async def publish(self, fact: Revocation) -> None:
        await self._act(fact)
        if self._link is None:
            return
        try:
            await self._link.commands.publish(self.channel, encode(fact, self.host))
        except (OSError, aioredis.RedisError):
            # Committed already: the other workers' sockets learn it at their next check (the cache's interval).
            log.exception("revocation of user %s not sent to the other workers", fact.user_id)

    async def start(self) -> None:
        """Subscribes before the process serves, so no revocation published after that is missed."""
        if self._link is None:
            return
        pubsub = self._link.subscriptions.pubsub()
        try:
            await pubsub.subscribe(self.channel)
        except Exception as exc:  # Redis down at start: serve anyway (/api/health says so), subscribe later
            log.warning("revocation channel not reachable (%s): listening once Redis answers", exc)
            self.cache.clear()
        self._task = asyncio.create_task(self._follow(pubsub))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self, pubsub: Any) -> None:
        while True:
            try:
                if not pubsub.subscribed:
                    await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        host, fact = decode(message["data"])
                    except ValueError:
                        log.warning("ignored a malformed revocation message")
                        continue
                    if host != self.host:
                        await self._act(fact)
                raise ConnectionError("the revocation channel was unsubscribed")
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as exc:  # Redis went away: messages may have been missed, so trust no cached check
                log.warning("revocation channel lost (%s); listening again", exc)
                self.cache.clear()
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

    async def _act(self, fact: Revocation) -> None:
        self.cache.forget(fact.user_id)
        for listener in self.listeners:
            try:
                await listener(fact)
            except Exception:  # one namespace's trouble must not keep the others' sockets open
                log.exception("acting on the revocation of user %s failed", fact.user_id)
