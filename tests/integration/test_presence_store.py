"""Presence in the real Redis: a socket that closes while its join is on the way stays offline, a worker's
entries expire unless renewed, and a Redis emptied by a restart is filled again by the next renewal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from backend.services.presence import MemoryPresence, PresenceStore, RedisPresence
from tests.conftest import REDIS_URL, unavailable

pytestmark = [pytest.mark.redis]


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await redis.ping()
    except (OSError, aioredis.RedisError) as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield redis
    await redis.aclose()


def _prefix() -> str:
    return f"ecabinet-test-{uuid.uuid4().hex[:12]}:presence"


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, client: aioredis.Redis) -> AsyncIterator[PresenceStore]:
    found: PresenceStore = MemoryPresence() if request.param == "memory" else RedisPresence(client, _prefix())
    yield found
    await found.close()


async def test_a_socket_closed_before_its_join_finished_is_not_online(store: PresenceStore) -> None:
    assert await store.forget("sid-gone") == set()
    await store.add(1, 10, "sid-gone")  # the join's presence step, arriving after the disconnect
    assert await store.online(1) == set()


async def test_a_closed_socket_leaves_every_meeting_it_was_in(store: PresenceStore) -> None:
    await store.add(1, 10, "a")
    await store.add(2, 10, "a")
    await store.add(1, 11, "b")
    assert await store.forget("a") == {1, 2}
    assert await store.online(1) == {11}
    assert await store.online(2) == set()


async def test_a_person_with_two_tablets_counts_once_until_both_leave(store: PresenceStore) -> None:
    await store.add(1, 10, "tablet")
    await store.add(1, 10, "laptop")
    assert await store.online(1) == {10}
    await store.remove(1, 10, "tablet")
    assert await store.online(1) == {10}
    await store.forget("laptop")
    assert await store.online(1) == set()


async def test_a_join_racing_its_disconnect_ends_offline_whatever_the_order(client: aioredis.Redis) -> None:
    store = RedisPresence(client, _prefix())
    joins = [store.add(1, 100 + i, f"s{i}") for i in range(50)]
    closes = [store.forget(f"s{i}") for i in range(50)]
    await asyncio.gather(*(x for pair in zip(joins, closes, strict=True) for x in pair))
    assert await store.online(1) == set()


async def test_entries_of_a_worker_that_stops_renewing_expire_and_the_survivor_notices(
        client: aioredis.Redis) -> None:
    prefix = _prefix()
    dead, alive = RedisPresence(client, prefix, ttl_seconds=1), RedisPresence(client, prefix, ttl_seconds=1)
    await dead.add(1, 10, "on-dead")
    await alive.add(1, 11, "on-alive")
    assert await alive.online(1) == {10, 11}
    await asyncio.sleep(1.2)  # the dead worker renews nothing; the live one renews now
    assert await alive.refresh() == {1}
    assert await alive.online(1) == {11}
    assert await alive.refresh() == set()


async def test_a_renewal_writes_back_what_a_redis_restart_lost(client: aioredis.Redis) -> None:
    prefix = _prefix()
    store = RedisPresence(client, prefix)
    await store.add(1, 10, "a")
    await client.delete(f"{prefix}:1")  # what an empty, restarted Redis looks like
    assert await store.online(1) == set()
    await store.refresh()
    assert await store.online(1) == {10}
