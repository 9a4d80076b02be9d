"""One process's use of Redis (when REDIS_URL is set): a bounded pool of connections shared by every
command the process sends (presence, publishing events and revocations, health), a small pool of its own
for the pub/sub subscriptions (each holds its connection for as long as it listens), and the deployment's
prefix in front of every key and channel.

Why bounded and blocking: a reconnect storm makes hundreds of handlers talk to Redis at the same moment.
redis-py's default pool refuses the 101st at once (`MaxConnectionsError: Too many connections`), and
python-socketio's manager answered that by opening a fresh client with a fresh pool, never closing the old
one. Here a command waits (up to POOL_WAIT_S) for one of `max_connections` connections; Redis answers
in well under a millisecond, so a few connections carry thousands of commands a second.

Why a prefix: Redis pub/sub ignores the database number of REDIS_URL (a message published from db 3
reaches a subscriber on db 7), so deployments sharing a Redis server are kept apart only by their channel
names; keys carry the prefix too, so two deployments may even share one database."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

POOL_WAIT_S = 10.0
"""How long a command waits for a free connection of the pool before it fails."""
CONNECT_TIMEOUT_S = 5.0
SUBSCRIPTION_CONNECTIONS = 4
"""Pub/sub connections a process may hold: the Socket.IO channel and the revocation channel, and room
for one of them being replaced after Redis restarted."""
HEALTH_CHECK_S = 15
"""An idle connection is pinged before use after this long, so one Redis dropped is noticed at once."""


def default_prefix(redis_url: str) -> str:
    """`ecabinet:<db>`: deployments on different databases of one server are apart without configuration."""
    parsed = urlparse(redis_url)
    db = parse_qs(parsed.query).get("db", [""])[0] or parsed.path.strip("/") or "0"
    return f"ecabinet:{db}"


class RedisLink:
    """The process's Redis: `commands` (the bounded pool), `subscriptions` (for `.pubsub()` only), and
    `key(...)`/the channel names under the deployment's prefix. Connections are named
    `<prefix>|<role>-<pid>|commands` or `|pubsub`, so `CLIENT LIST` shows who holds what."""

    def __init__(self, url: str, *, prefix: str, max_connections: int, role: str = "web") -> None:
        self.url = url
        self.prefix = prefix  # checked by Settings
        self.max_connections = max_connections
        name = f"{prefix}|{role}-{os.getpid()}"
        common = {"socket_connect_timeout": CONNECT_TIMEOUT_S, "socket_keepalive": True,
                  "health_check_interval": HEALTH_CHECK_S,
                  # A connection Redis dropped is opened again at once, once; a Redis that is down fails fast
                  # (presence and publishing cope), instead of holding every handler for seconds.
                  "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
                  "retry_on_error": [RedisConnectionError, RedisTimeoutError]}
        self.commands: aioredis.Redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=POOL_WAIT_S, socket_timeout=CONNECT_TIMEOUT_S,
            client_name=f"{name}|commands", **common))
        # No socket timeout: a subscription waits for messages as long as it must.
        self.subscriptions: aioredis.Redis = aioredis.Redis(connection_pool=aioredis.ConnectionPool.from_url(
            url, max_connections=SUBSCRIPTION_CONNECTIONS, client_name=f"{name}|pubsub", **common))

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

    @property
    def socketio_channel(self) -> str:
        """python-socketio's fan-out between the web workers (and the relay's write-only manager)."""
        return self.key("socketio")

    @property
    def revocations_channel(self) -> str:
        return self.key("revocations")

    async def close(self) -> None:
        await self.commands.aclose()
        await self.subscriptions.aclose()
        await self.commands.connection_pool.disconnect()
        await self.subscriptions.connection_pool.disconnect()


def link_for(url: str, prefix: str, max_connections: int, *, role: str = "web") -> RedisLink | None:
    """None without REDIS_URL (one process: nothing to share)."""
    if not url:
        return None
    return RedisLink(url, prefix=prefix or default_prefix(url), max_connections=max_connections, role=role)
