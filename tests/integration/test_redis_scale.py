"""Redis under load and faults, with real `ecabinet serve` workers and a private redis-server the test may
restart: deployments sharing one Redis server stay apart, a reconnect storm leaves no error and exact
presence, a killed worker's presence fades out, and fan-out resumes when Redis comes back."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import socketio

from backend import migrate
from tests.integration.cluster import (
    DropProxy,
    PrivateRedis,
    Seeded,
    Tablet,
    Worker,
    eventually,
    gather_limited,
    raise_fd_limit,
    seed,
    spawn,
    wait_ready,
    worker_env,
)
from tests.integration.conftest import _drop_postgres, _fresh_postgres

pytestmark = [pytest.mark.redis]

# The storm: 300 tablets (rejoined in 1.5 s here). ECABINET_TEST_STORM_MEMBERS makes it smaller on a
# machine busy with other work, where PostgreSQL, not Redis, is what runs out first.
STORM_MEMBERS = int(os.environ.get("ECABINET_TEST_STORM_MEMBERS", "300"))
POOL_SIZE = 12  # ECABINET_REDIS_MAX_CONNECTIONS of the storm's workers: smaller than the default, to prove the bound
PRESENCE_TTL_S = 6


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Chair:
    sio: socketio.AsyncClient
    rosters: list[list[int]]
    events: dict[str, list[object]]

    async def call(self, event: str, data: object) -> dict[str, object]:
        ack: dict[str, object] = await self.sio.call(event, data, timeout=60)
        return ack

    def last_online(self) -> set[int] | None:
        return set(self.rosters[-1]) if self.rosters else None


async def connect_chair(url: str, token: str, meeting_id: int) -> Chair:
    sio = socketio.AsyncClient(reconnection=False)
    chair = Chair(sio, [], {})

    async def record(event: str, data: object = None) -> None:
        chair.events.setdefault(event, []).append(data)
        if event == "presence.roster" and isinstance(data, dict) and data.get("meeting_id") == meeting_id:
            chair.rosters.append(list(data["online"]))

    sio.on("*", record)
    await sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=60)
    ack = await chair.call("meeting.join", {"meeting_id": meeting_id})
    assert ack["ok"], ack
    return chair


async def online_seen_by(url: str, token: str, meeting_id: int) -> set[int]:
    """What a fresh tablet on that worker syncs: the meeting's presence (the chair sees the list)."""
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=60)
    try:
        ack = await sio.call("meeting.sync", {"meeting_id": meeting_id}, timeout=60)
        assert ack["ok"], ack
        return set(ack["state"]["presence"]["online"])
    finally:
        await sio.disconnect()


@dataclass
class Deployment:
    workers: list[Worker]
    seeded: Seeded
    env: dict[str, str]


async def _postgres_deployment(tmp_path: Path, redis_url: str, members: int, workers: int,
                               **extra: str) -> tuple[Deployment, str]:
    pg_name, url = await _fresh_postgres()
    await asyncio.to_thread(migrate.upgrade, url)
    seeded = await seed(url, members)
    env = worker_env(url, redis_url, tmp_path / "data", **extra)
    running = [spawn(chr(ord("A") + i), env, tmp_path / f"worker-{chr(ord('A') + i)}.log") for i in range(workers)]
    try:
        await asyncio.gather(*(wait_ready(w) for w in running))
    except BaseException:
        for w in running:
            w.stop()
        await _drop_postgres(pg_name)
        raise
    return Deployment(running, seeded, env), pg_name


async def _sqlite_deployment(tmp_path: Path, redis_url: str, members: int = 1, **extra: str) -> Deployment:
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{tmp_path / 'ecabinet.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    seeded = await seed(url, members)
    env = worker_env(url, redis_url, tmp_path / "data", **extra)
    worker = spawn("solo", env, tmp_path / "worker.log")
    try:
        await wait_ready(worker)
    except BaseException:
        worker.stop()
        raise
    return Deployment([worker], seeded, env)


# --- two deployments on one Redis server ------------------------------------------------------------


async def _deployments_stay_apart(x: Deployment, y: Deployment, *, shared_db: str = "") -> None:
    """Both have meeting 1 (fresh databases): the same room names. X's chair opens a poll; X's member hears
    it, Y's member must not; and X's chair is not online in Y's meeting."""
    assert x.seeded.meeting_id == y.seeded.meeting_id, "the test needs the same room names in both"
    mid = x.seeded.meeting_id
    y_member = Tablet(y.workers[0].base_url, y.seeded.member_tokens[0], mid)
    x_member = Tablet(x.workers[0].base_url, x.seeded.member_tokens[0], mid)
    chair = None
    try:
        for tablet in (y_member, x_member):
            await tablet.connect()
            await eventually(lambda t=tablet: t.joins, timeout=60, what="the member joined")  # type: ignore[misc]
        chair = await connect_chair(x.workers[0].base_url, x.seeded.chair_token, mid)
        created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua tờ trình?"})
        assert created["ok"], created
        poll_id = created["poll"]["id"]  # type: ignore[index]
        assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
        await eventually(lambda: any(isinstance(e, dict) and e.get("id") == poll_id
                                     for e in x_member.events.get("poll.changed", [])),
                         timeout=30, what="X's member heard X's poll")
        await asyncio.sleep(1.0)  # what crosses over arrives as fast as what does not
        assert y_member.events.get("poll.changed", []) == [], "Y's member heard X's poll"
        assert [e for e in y_member.events.get("presence.changed", []) if e.get("count", 0) > 1] == [], \
            "Y's member heard X's presence"
        online_y = await online_seen_by(y.workers[0].base_url, y.seeded.chair_token, mid)
        assert online_y == {y.seeded.member_ids[0]}, "Y's presence holds X's people"
        if shared_db:  # one database: every key is under one of the two prefixes
            client = aioredis.from_url(shared_db)
            try:
                keys = [k.decode() for k in await client.keys("*")]
            finally:
                await client.aclose()
            prefixes = (x.env["ECABINET_REDIS_PREFIX"] + ":", y.env["ECABINET_REDIS_PREFIX"] + ":")
            assert all(k.startswith(prefixes) for k in keys), keys
            assert all(any(k.startswith(p) for k in keys) for p in prefixes), keys
    finally:
        for tablet in (y_member, x_member):
            await tablet.close()
        if chair is not None:
            await chair.sio.disconnect()


async def test_deployments_on_two_databases_of_one_redis_server_do_not_hear_each_other(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    """Redis pub/sub ignores the database number: only the channel names can keep them apart. No prefix is
    configured here: the default must already separate databases 3 and 7."""
    x = await _sqlite_deployment(tmp_path / "x", private_redis.url(3), ECABINET_REDIS_PREFIX="")
    try:
        y = await _sqlite_deployment(tmp_path / "y", private_redis.url(7), ECABINET_REDIS_PREFIX="")
        try:
            await _deployments_stay_apart(x, y)
        finally:
            y.workers[0].stop()
    finally:
        x.workers[0].stop()


async def test_deployments_with_their_own_prefixes_on_one_redis_database_share_nothing(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    x = await _sqlite_deployment(tmp_path / "x", private_redis.url(5), ECABINET_REDIS_PREFIX="bo-noi-vu")
    try:
        y = await _sqlite_deployment(tmp_path / "y", private_redis.url(5), ECABINET_REDIS_PREFIX="ubnd-phu-tho")
        try:
            await _deployments_stay_apart(x, y, shared_db=private_redis.url(5))
        finally:
            y.workers[0].stop()
    finally:
        x.workers[0].stop()


# --- a reconnect storm --------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_reconnect_storm_on_two_workers_logs_no_error_and_presence_stays_exact(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    """STORM_MEMBERS tablets on two workers lose their connections at once (an access point restarting) and
    reconnect by themselves: every one joins again, neither worker logs an error, each worker's Redis
    connections stay within its pool, presence counts everyone exactly once; when they all leave, nobody
    but the chair is online."""
    raise_fd_limit()
    deployment, pg_name = await _postgres_deployment(tmp_path, private_redis.url(0), STORM_MEMBERS, 2,
                                                     ECABINET_REDIS_MAX_CONNECTIONS=str(POOL_SIZE))
    a, b = deployment.workers
    seeded, mid = deployment.seeded, deployment.seeded.meeting_id
    proxies = [DropProxy(int(w.base_url.rsplit(":", 1)[1])) for w in (a, b)]
    tablets: list[Tablet] = []
    chair = None
    peak: dict[str, int] = {}
    sampling = True

    async def sample() -> None:
        while sampling:
            try:
                for name, count in (await private_redis.client_names()).items():
                    peak[name] = max(peak.get(name, 0), count)
            except (OSError, aioredis.RedisError):
                pass
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        for proxy in proxies:
            await proxy.start()
        chair = await connect_chair(a.base_url, seeded.chair_token, mid)
        tablets = [Tablet(proxies[i % 2].url, token, mid) for i, token in enumerate(seeded.member_tokens)]
        await gather_limited([t.connect() for t in tablets], 20)  # the first connects spread out; the storm is not
        everyone = {seeded.chair_id, *seeded.member_ids}
        await eventually(lambda: all(t.joins for t in tablets), timeout=300,
                         what=lambda: f"every tablet joined (failures: {[f for t in tablets for f in t.failures][:3]})")
        await eventually(lambda: chair.last_online() == everyone, timeout=60,
                         what="the chair sees every member online")

        cut = sum(p.drop() for p in proxies)
        assert cut >= STORM_MEMBERS
        started = time.monotonic()
        await eventually(lambda: all(len(t.joins) >= 2 for t in tablets), timeout=300,
                         what=lambda: f"every tablet reconnected and joined again "
                                      f"({sum(len(t.joins) >= 2 for t in tablets)} of {len(tablets)}; failures: "
                                      f"{[f for t in tablets for f in t.failures][:3]})")
        storm_s = time.monotonic() - started
        assert [t.failures for t in tablets if t.failures] == []
        await eventually(lambda: chair.last_online() == everyone, timeout=60,
                         what="after the storm the chair sees every member online once")
        for worker in (a, b):
            assert await online_seen_by(worker.base_url, seeded.chair_token, mid) == everyone

        await gather_limited([t.close() for t in tablets], 100)
        await eventually(lambda: chair.last_online() == {seeded.chair_id}, timeout=60,
                         what="once every member has left only the chair is online")
        for worker in (a, b):
            assert await online_seen_by(worker.base_url, seeded.chair_token, mid) == {seeded.chair_id}
        sampling = False
        await sampler
        print(f"\nstorm: {STORM_MEMBERS} tablets rejoined in {storm_s:.1f} s; "
              f"peak Redis connections by client name: {peak}")
        for worker in (a, b):
            assert worker.errors() == [], f"worker {worker.name} logged errors:\n" + "\n".join(worker.errors()[:20])
        prefix = deployment.env["ECABINET_REDIS_PREFIX"]
        ours = {name: n for name, n in peak.items() if name.startswith(prefix + "|")}
        commands = {name: n for name, n in ours.items() if name.endswith("|commands")}
        assert len(commands) == 2, f"each worker names its connections: {peak}"
        for name, count in ours.items():
            bound = POOL_SIZE if name.endswith("|commands") else 4
            assert count <= bound, f"{name} held {count} connections at once (at most {bound})"
    finally:
        sampling = False
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        for t in tablets:
            await t.close()
        if chair is not None:
            await chair.sio.disconnect()
        for proxy in proxies:
            await proxy.close()
        for w in (a, b):
            w.stop()
        await _drop_postgres(pg_name)


# --- a worker killed with kill -9 ----------------------------------------------------------------------


@pytest.mark.postgres
async def test_presence_of_a_killed_worker_expires_and_the_others_see_the_right_count(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    deployment, pg_name = await _postgres_deployment(tmp_path, private_redis.url(0), 6, 2,
                                                     ECABINET_PRESENCE_TTL_SECONDS=str(PRESENCE_TTL_S))
    a, b = deployment.workers
    seeded, mid = deployment.seeded, deployment.seeded.meeting_id
    on_a = [Tablet(a.base_url, t, mid) for t in seeded.member_tokens[:3]]
    on_b = [Tablet(b.base_url, t, mid) for t in seeded.member_tokens[3:]]
    for t in on_b:
        t.sio.reconnection = False  # their worker is gone for good in this test
    chair = None
    try:
        chair = await connect_chair(a.base_url, seeded.chair_token, mid)
        for t in on_a + on_b:
            await t.connect()
        everyone = {seeded.chair_id, *seeded.member_ids}
        await eventually(lambda: chair.last_online() == everyone, timeout=60, what="everyone online")
        b.kill()
        killed = time.monotonic()
        left = {seeded.chair_id, *seeded.member_ids[:3]}
        # Pushed by the surviving worker when it notices: nobody has to ask.
        await eventually(lambda: chair.last_online() == left, timeout=PRESENCE_TTL_S + 60,
                         what="the killed worker's members are no longer online")
        expired_s = time.monotonic() - killed
        assert await online_seen_by(a.base_url, seeded.chair_token, mid) == left
        print(f"\nkilled worker's presence expired after {expired_s:.1f} s (TTL {PRESENCE_TTL_S} s)")
        assert a.errors() == [], "\n".join(a.errors()[:20])
    finally:
        for t in on_a + on_b:
            await t.close()
        if chair is not None:
            await chair.sio.disconnect()
        for w in (a, b):
            w.stop()
        await _drop_postgres(pg_name)


# --- Redis restarted mid-session --------------------------------------------------------------------


@pytest.mark.postgres
async def test_fan_out_and_presence_resume_after_redis_restarts_without_restarting_the_workers(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    deployment, pg_name = await _postgres_deployment(tmp_path, private_redis.url(0), 2, 2,
                                                     ECABINET_PRESENCE_TTL_SECONDS=str(PRESENCE_TTL_S))
    a, b = deployment.workers
    seeded, mid = deployment.seeded, deployment.seeded.meeting_id
    member = Tablet(b.base_url, seeded.member_tokens[0], mid)
    chair = None
    page = 1

    async def page_reaches_b() -> bool:
        nonlocal page
        page += 1
        ack = await chair.call("presenter.page", {"meeting_id": mid, "page": page})  # type: ignore[union-attr]
        if not ack["ok"]:
            return False
        for _ in range(20):
            if any(e.get("page") == page for e in member.events.get("presenter.changed", [])):
                return True
            await asyncio.sleep(0.05)
        return False

    try:
        chair = await connect_chair(a.base_url, seeded.chair_token, mid)
        await member.connect()
        await eventually(lambda: member.joins, timeout=60, what="the member joined on B")
        assert await eventually(page_reaches_b, timeout=30, what="fan-out works before the restart")

        private_redis.stop()
        await asyncio.sleep(1.0)
        await private_redis.start()  # the same port, empty: every key is gone

        await eventually(page_reaches_b, timeout=60, what="the chair's page on A reaches the member on B again")
        both = {seeded.chair_id, seeded.member_ids[0]}
        # The workers put their connections back into Redis by themselves (the restart lost every key).
        await eventually(lambda: online_seen_by(a.base_url, seeded.chair_token, mid),
                         timeout=PRESENCE_TTL_S + 60, what="presence is back after the restart")
        assert await eventually(lambda: _equal(online_seen_by(b.base_url, seeded.chair_token, mid), both),
                                timeout=PRESENCE_TTL_S + 60, what="presence is whole again")
        for w in (a, b):
            assert w.process.poll() is None, f"worker {w.name} died:\n{w.output()[-3000:]}"
    finally:
        await member.close()
        if chair is not None:
            await chair.sio.disconnect()
        for w in (a, b):
            w.stop()
        await _drop_postgres(pg_name)


async def _equal(found: object, expected: set[int]) -> bool:
    return await found == expected  # type: ignore[misc]
