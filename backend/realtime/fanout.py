"""python-socketio's Redis manager on the process's own Redis (backend/redis_link.py).

What changes from `socketio.AsyncRedisManager`, and why:
- publishing goes through the process's bounded pool. Upstream gives each manager a client with a pool of
  up to 100 connections that refuses the next one (`MaxConnectionsError`), and after any failed publish
  opens a new client and pool without closing the old: a reconnect storm ended in hundreds of errors.
- listening holds one connection of the subscription pool, given back before subscribing again.
- after Redis went away it subscribes again within SUBSCRIBE_RETRY_MAX_S (upstream doubles its wait up to
  60 s), so fan-out between workers resumes a moment after Redis is back.
- the channel is the deployment's (`<prefix>:socketio`), never the fixed `ecabinet`.
- with metrics: each message carries its publication time, so every process that receives it (the sender
  too: Redis echoes it back) records the pub/sub lag; failed publishes and receives are counted, and a
  gauge says whether the subscription is up.
- a room's push reaches this process's sockets without a task per socket (DirectEmitManager).
Rooms, emits and acks across workers are upstream's, unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import engineio
import socketio
from redis.exceptions import RedisError

from backend.monitoring import Metrics
from backend.redis_link import RedisLink

log = logging.getLogger("ecabinet.realtime")

SUBSCRIBE_RETRY_MIN_S = 0.5
SUBSCRIBE_RETRY_MAX_S = 4.0
SENT_AT = "ecabinet_sent_at"
"""The key of the publication time (Unix seconds) in each message; python-socketio ignores keys it
does not know."""


class DirectEmitManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's in-process manager, with a room's push put in each socket's queue in turn.

    Upstream's emit (without an ack) encodes the packet once, then makes one asyncio task per recipient
    to put it in that socket's send queue, and waits for them all. The put never waits (the queue is
    unbounded; each socket's own writer task sends), so one task per tablet is pure overhead: at 2,000
    tablets, 2,000 tasks per push, the larger part of a poll result's way to the room. Here the puts are
    made in turn; one recipient's failure does not stop the others (upstream's wait ignored them too)."""

    async def emit(self, event: str, data: Any, namespace: str, room: str | None = None, skip_sid: Any = None,
                   callback: Any = None, to: str | None = None, **kwargs: Any) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(socketio.packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        packets = [engineio.packet.Packet(engineio.packet.MESSAGE, part)
                   for part in (encoded if isinstance(encoded, list) else [encoded])]
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip:
                continue
            for pkt in packets:
                try:
                    await self.server._send_eio_packet(eio_sid, pkt)
                except Exception:  # a socket closing meanwhile: the others still get the push
                    log.debug("push %s to %s failed", event, sid, exc_info=True)
                    break


class LinkedRedisManager(socketio.AsyncRedisManager, DirectEmitManager):  # type: ignore[misc]
    def __init__(self, link: RedisLink, *, write_only: bool = False, metrics: Metrics | None = None) -> None:
        super().__init__(link.url, channel=link.socketio_channel, write_only=write_only)
        self.link = link
        self.metrics = metrics

    def _redis_connect(self) -> None:
        self.redis = self.link.commands
        self.connected = True

    async def _publish(self, data: Any) -> Any:
        if self.metrics is not None and isinstance(data, dict):
            data = {**data, SENT_AT: time.time()}
        try:
            answer = await self.link.commands.publish(self.channel, self.json.dumps(data))
            if self.metrics is not None:
                self.metrics.pubsub_published.inc()
            return answer
        except (RedisError, OSError) as exc:
            # The other workers' tablets miss this push; they resync (meeting.sync) when they reconnect.
            if self.metrics is not None:
                self.metrics.redis_errors.labels("publish").inc()
            log.error("event not sent to the other workers, Redis does not answer (%s: %s)",
                      type(exc).__name__, exc)
            return None

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        wait = SUBSCRIBE_RETRY_MIN_S
        lost = False
        while True:
            pubsub = self.link.subscriptions.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if self.metrics is not None:
                    self.metrics.pubsub_connected.set(1)
                if lost:
                    log.warning("Socket.IO channel %s subscribed again", self.channel)
                lost, wait = False, SUBSCRIBE_RETRY_MIN_S
                async for message in pubsub.listen():
                    yield message
            except (RedisError, OSError) as exc:
                if self.metrics is not None:
                    self.metrics.redis_errors.labels("receive").inc()
                    self.metrics.pubsub_connected.set(0)
                log.warning("Socket.IO channel lost (%s: %s); subscribing again in %.1f s",
                            type(exc).__name__, exc, wait)
                lost = True
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # its connection goes back to the subscription pool
            await asyncio.sleep(wait)
            wait = min(wait * 2, SUBSCRIBE_RETRY_MAX_S)

    async def _listen(self) -> AsyncIterator[Any]:
        """Each message decoded once, here: the lag is read from it and the dict is what the manager's
        loop handles (it takes dicts as they are)."""
        channel = self.channel.encode("utf-8")
        async for message in self._redis_listen_with_retries():
            if message.get("channel") != channel or message.get("type") != "message" or "data" not in message:
                continue
            try:
                data = self.json.loads(message["data"])
            except (ValueError, TypeError):
                yield message["data"]
                continue
            if self.metrics is not None:
                self.metrics.pubsub_received.inc()
                sent = data.get(SENT_AT) if isinstance(data, dict) else None
                if isinstance(sent, int | float):
                    self.metrics.pubsub_lag.observe(max(0.0, time.time() - sent))
            yield data
