"""/api/ready and /metrics on the real app: readiness follows a private PostgreSQL and a private Redis
that the tests stop and start, /metrics opens only to the configured addresses or the token, and the
counters move with a live session and with a Redis failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from backend import migrate
from backend.config import Settings
from backend.db import Database
from backend.services import pdf_jobs
from tests.integration.conftest import Server, serving
from tests.integration.helpers import Samples, assert_error, parse, value
from tests.integration.live import LiveClient
from tests.support.private_services import private_postgres, private_redis

TOKEN = "jeton-prometheus-0123456789-abcdef"
WAIT_S = 90  # generous: a loaded machine and the fan-out's retry backoff (1, 2, 4 ... s)

async def scrape(http: httpx.AsyncClient, **kw: Any) -> Samples:
    r = await http.get("/metrics", **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


async def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: still not so after {timeout} s (last: {last})")


@asynccontextmanager
async def app_on(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings, db) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield http


# --- /api/ready ---------------------------------------------------------------------------------------


async def test_ready_turns_503_when_its_database_stops_and_200_when_it_is_back(server: Server) -> None:
    with private_postgres() as pg:
        await asyncio.to_thread(migrate.upgrade, pg.url)
        settings = replace(server.settings, database_url=pg.url)
        db = Database(pg.url)
        try:
            async with app_on(settings, db) as http:
                r = await http.get("/api/ready")
                assert r.status_code == 200, r.text
                assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok",
                                                                  "redis": "not_configured", "pdf_sandbox": "ok"}}
                assert value(await scrape(http), "ecabinet_database_up") == 1

                await asyncio.to_thread(pg.stop)
                r = await http.get("/api/ready")
                error = assert_error(r, 503, "not_ready")
                assert error["details"]["failed"] == ["database"], error
                assert error["details"]["checks"]["database"].startswith("the database does not answer")
                assert error["details"]["checks"]["pdf_sandbox"] == "ok"
                assert error["details"]["checks"]["migrations"] == "not_checked"
                assert value(await scrape(http), "ecabinet_database_up") == 0

                await asyncio.to_thread(pg.start)

                async def back() -> bool:
                    return (await http.get("/api/ready")).status_code == 200
                await eventually(back, "/api/ready after PostgreSQL came back")
                assert value(await scrape(http), "ecabinet_database_up") == 1
        finally:
            await db.dispose()


async def test_ready_names_a_database_whose_migrations_are_behind(server: Server) -> None:
    async with app_on(server.settings, server.db) as http:
        async with server.db.write() as s:
            head = (await s.exec(text("SELECT version_num FROM alembic_version"))).one()[0]  # type: ignore[call-overload]
            await s.exec(text("UPDATE alembic_version SET version_num = '0001'"))  # type: ignore[call-overload]
        try:
            error = assert_error(await http.get("/api/ready"), 503, "not_ready")
            assert error["details"]["failed"] == ["migrations"] and head in error["details"]["checks"]["migrations"]
        finally:
            async with server.db.write() as s:
                await s.exec(text(f"UPDATE alembic_version SET version_num = '{head}'"))  # type: ignore[call-overload]
        assert (await http.get("/api/ready")).status_code == 200


async def test_ready_wants_a_free_pdf_sandbox_slot(server: Server) -> None:
    async with app_on(server.settings, server.db) as http:
        pool = pdf_jobs.pool(server.settings, "work")  # the server runs in this event loop: the same pool
        taken = pool.slots
        pool._admitted += taken  # every slot taken, as by long jobs
        try:
            error = assert_error(await http.get("/api/ready"), 503, "not_ready")
            assert error["details"]["failed"] == ["pdf_sandbox"]
            assert value(await scrape(http), "ecabinet_pdf_sandbox_admitted", pool="work") >= taken
        finally:
            pool._admitted -= taken
        assert (await http.get("/api/ready")).status_code == 200


# --- who may read /metrics ------------------------------------------------------------------------------


async def test_metrics_open_to_loopback_by_default_but_not_through_an_untrusted_proxy(server: Server) -> None:
    async with app_on(server.settings, server.db) as http:
        samples = await scrape(http)
        assert ("ecabinet_database_up", frozenset()) in samples
        proxied = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        assert_error(proxied, 404)


async def test_metrics_refused_from_other_addresses_and_without_the_token(server: Server) -> None:
    elsewhere = replace(server.settings, metrics_addresses=("10.20.30.0/24",), metrics_token=TOKEN)
    async with app_on(elsewhere, server.db) as http:
        assert_error(await http.get("/metrics"), 404)
        assert_error(await http.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}), 404)
        assert_error(await http.get("/metrics", headers={"Authorization": TOKEN}), 404)
        samples = await scrape(http, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ("ecabinet_database_up", frozenset()) in samples
    no_token = replace(server.settings, metrics_addresses=("10.20.30.0/24",))
    async with app_on(no_token, server.db) as http:
        assert_error(await http.get("/metrics", headers={"Authorization": "Bearer x"}), 404)
        assert_error(await http.get("/metrics"), 404)


# --- counters during a live session ---------------------------------------------------------------------


async def test_counters_move_with_a_live_session(server: Server, session_world: dict[str, Any],
                                                 live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        before = await scrape(http)
        chair = await live_factory(people["chair"])
        member = await live_factory(people["member"])
        for c in (chair, member):
            assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
        during = await scrape(http)
        assert value(during, "ecabinet_socketio_meeting_sockets", meeting=str(mid)) == 2
        poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua?"}))["poll"]
        assert (await chair.call("poll.open", {"poll_id": poll["id"]}))["ok"]
        for c in (chair, member):
            assert (await c.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
        again = await member.call("vote.cast", {"poll_id": poll["id"], "choice": "no"})
        assert again["ok"] is False
        assert (await member.call("no.such.event", {}))["ok"] is False
        assert (await member.call("poll.close", {"poll_id": poll["id"]}))["ok"] is False
        assert (await chair.call("poll.close", {"poll_id": poll["id"]}))["ok"]
        r = await people["member"].client.get(f"/api/meetings/{mid}/agenda")
        assert r.status_code == 200
        after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ecabinet_socketio_events_total", event="vote.cast", outcome="ok") == 2
    assert moved("ecabinet_socketio_events_total", event="vote.cast", outcome=again["error"]["code"]) == 1
    assert moved("ecabinet_socketio_events_total", event="unknown", outcome="unknown_event") == 1
    assert moved("ecabinet_socketio_events_total", event="poll.close", outcome="forbidden") == 1
    assert moved("ecabinet_socketio_event_duration_seconds_count", event="meeting.join") == 2
    assert moved("ecabinet_socketio_connects_total", namespace="/", outcome="accepted") >= 2
    # HTTP by route template, not by the raw path (the meeting id stays out of the label).
    assert moved("ecabinet_http_requests_total", method="GET", route="/api/meetings/{meeting_id}/agenda",
                 status="200") == 1
    assert not any(f"/api/meetings/{mid}/" in dict(labels).get("route", "") for _, labels in after)
    assert moved("ecabinet_http_request_duration_seconds_count", method="GET",
                 route="/api/meetings/{meeting_id}/agenda") == 1
    assert value(after, "ecabinet_db_pool_connections", state="checked_out") >= 0
    assert ("ecabinet_db_pool_connections", frozenset({("state", "size")})) in after


async def test_each_request_gets_an_id_sent_back(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        mine = await http.get("/api/health", headers={"X-Request-ID": "nginx-5f2a9c"})
        assert mine.headers["x-request-id"] == "nginx-5f2a9c"
        forged = await http.get("/api/health", headers={"X-Request-ID": "a b\"{}"})
        assert forged.headers["x-request-id"] != "a b\"{}" and len(forged.headers["x-request-id"]) == 16


# --- a Redis failure ----------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_failure_moves_the_fanout_counters_and_readiness(server: Server, session_world: dict[str, Any]
                                                                     ) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    with private_redis() as redis:
        settings = replace(server.settings, redis_url=redis.url)
        async with serving(settings, server.db) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
            chair = LiveClient(base)
            try:
                await chair.login(people["member"].username, people["member"].password)
                await chair.connect()
                assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]

                async def subscribed() -> bool:
                    return value(await scrape(http), "ecabinet_redis_pubsub_connected") == 1
                await eventually(subscribed, "the fan-out's subscription")
                before = await scrape(http)
                assert (await chair.call("speaker.request", {"meeting_id": mid}))["ok"]

                async def echoed() -> Samples | None:
                    now = await scrape(http)
                    got = value(now, "ecabinet_redis_pubsub_received_total") > value(
                        before, "ecabinet_redis_pubsub_received_total")
                    return now if got else None
                healthy = await eventually(echoed, "a published event received back through Redis")
                assert value(healthy, "ecabinet_redis_pubsub_published_total") > value(
                    before, "ecabinet_redis_pubsub_published_total")
                assert value(healthy, "ecabinet_redis_pubsub_lag_seconds_count") > value(
                    before, "ecabinet_redis_pubsub_lag_seconds_count")
                assert value(healthy, "ecabinet_redis_up") == 1
                assert (await http.get("/api/ready")).json()["checks"]["redis"] == "ok"

                await asyncio.to_thread(redis.stop)
                await chair.call("speaker.withdraw", {"meeting_id": mid})  # its publish fails

                async def failed() -> Samples | None:
                    now = await scrape(http)
                    errors = sum(value(now, "ecabinet_redis_errors_total", operation=op)
                                 for op in ("publish", "receive"))
                    return now if errors > 0 and value(now, "ecabinet_redis_pubsub_connected") == 0 else None
                down = await eventually(failed, "Redis errors counted and the subscription down")
                assert value(down, "ecabinet_redis_errors_total", operation="receive") >= 1
                assert value(down, "ecabinet_redis_up") == 0
                error = assert_error(await http.get("/api/ready"), 503, "not_ready")
                assert error["details"]["failed"] == ["redis"]

                await asyncio.to_thread(redis.start)
                await eventually(subscribed, "the subscription back after Redis restarted")

                async def ready() -> bool:
                    return (await http.get("/api/ready")).status_code == 200
                await eventually(ready, "/api/ready after Redis restarted")
            finally:
                await chair.close()
