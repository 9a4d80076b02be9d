"""Delivering the outbox to the gateway (services/exchange/sender.py), on SQLite and PostgreSQL, against a
fake gateway on loopback: a gateway that fails twice then accepts gets the package on the third attempt,
after growing waits; a 409 (already there) counts as delivered; only one of two claims wins a row; a row
left `sending` by a crashed worker is taken again after its lease; too many failures -> failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from sqlalchemy import update
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.config import Settings
from backend.models import OutgoingPackage
from backend.models.base import utcnow
from backend.services.exchange import agencies, sender
from tests.conftest import free_port
from tests.integration.conftest import Server
from tests.integration.test_exchange_outbox_api import _signed_record
from tests.support.exchange_packages import DIRECTORY, SENDER

OUTBOX_SECRET = "outbox-secret-for-the-fake-gateway-2026"


@dataclass
class FakeGateway:
    answers: list[int]
    """The status of each answer in turn (then 202 for ever)."""
    received: list[tuple[str, bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway(answers=[])

    async def packages(request: Request) -> JSONResponse:
        fake.received.append((request.headers.get("authorization", ""), await request.body()))
        status = fake.answers.pop(0) if fake.answers else 202
        return JSONResponse({"status": status}, status_code=status)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/packages", packages, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}/packages"
    yield fake
    server.should_exit = True
    await task


async def _queued(server: Server, session_world: dict[str, Any], number: str) -> int:
    """A fresh queued row, alone in the outbox (the server is shared with other tests: their rows are set
    aside as failed, so the counts here are this test's)."""
    await agencies.import_csv(server.db, DIRECTORY)
    async with server.db.write() as s:
        await s.exec(update(OutgoingPackage).where(  # type: ignore[call-overload]
            col(OutgoingPackage.state).in_(["queued", "sending"])).values(state="failed"))
    people, mid = session_world["people"], session_world["meeting_id"]
    record = await _signed_record(server, people, mid, number)
    sec = people["secretary"].client
    assert (await sec.post(f"/api/records/{record['id']}/publish")).status_code == 200
    sent = await sec.post(f"/api/records/{record['id']}/exchange", json={"recipients": [SENDER]})
    assert sent.status_code == 201, sent.text
    return int(sent.json()[0]["id"])


def _settings(server: Server, gateway: FakeGateway, **changes: Any) -> Settings:
    return replace(server.settings, exchange_gateway_url=gateway.url, exchange_outbox_secret=OUTBOX_SECRET,
                   exchange_retry_seconds=0.2, **changes)


async def _row(server: Server, row_id: int) -> OutgoingPackage:
    async with server.db.read() as s:
        row = await s.get(OutgoingPackage, row_id)
    assert row is not None
    return row


async def test_a_gateway_failing_twice_gets_the_package_on_the_third_attempt_after_growing_waits(
        server: Server, session_world: dict[str, Any], gateway: FakeGateway) -> None:
    row_id = await _queued(server, session_world, "21/NQ-CP")
    settings = _settings(server, gateway)
    gateway.answers = [503, 500]
    waits = []
    for _ in range(3):
        before = utcnow()
        assert await sender.run_once(server.db, settings) == 1
        row = await _row(server, row_id)
        if row.state == "queued":
            waits.append((row.next_attempt_at - before).total_seconds())
            assert await sender.run_once(server.db, settings) == 0, "not due before its backoff"
            await asyncio.sleep(max(0.0, (row.next_attempt_at - utcnow()).total_seconds()) + 0.05)
    row = await _row(server, row_id)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 3, "")
    assert row.delivered_at is not None
    assert len(gateway.received) == 3 and all(a == f"Bearer {OUTBOX_SECRET}" for a, _ in gateway.received)
    assert len({body for _, body in gateway.received}) == 1
    assert 0.15 < waits[0] < waits[1] and waits[1] >= 0.35, waits  # 0.2 s, then 0.4 s
    assert await sender.run_once(server.db, settings) == 0, "a delivered package is never sent again"


async def test_a_duplicate_answer_counts_as_delivered_and_too_many_failures_fail_with_the_reason(
        server: Server, session_world: dict[str, Any], gateway: FakeGateway) -> None:
    row_id = await _queued(server, session_world, "22/NQ-CP")
    gateway.answers = [409]
    assert await sender.run_once(server.db, _settings(server, gateway)) == 1
    assert (await _row(server, row_id)).state == "delivered"

    second = await _queued(server, session_world, "23/NQ-CP")
    gateway.answers = [503]
    assert await sender.run_once(server.db, _settings(server, gateway, exchange_max_attempts=1)) == 1
    row = await _row(server, second)
    assert row.state == "failed" and row.attempts == 1 and "HTTP 503" in row.last_error


async def test_one_claim_wins_and_a_crashed_workers_row_is_taken_again_after_its_lease(
        server: Server, session_world: dict[str, Any], gateway: FakeGateway) -> None:
    row_id = await _queued(server, session_world, "24/NQ-CP")
    settings = _settings(server, gateway)
    now = utcnow()
    won = await asyncio.gather(*(sender.claim(server.db, settings, row_id, now) for _ in range(4)))
    assert sorted(won) == [False, False, False, True]
    # The winner "crashed": nobody else takes the row before its lease runs out ...
    assert await sender.run_once(server.db, settings) == 0
    assert not await sender.claim(server.db, settings, row_id, now + timedelta(seconds=60))
    # ... and after it, another worker sends it (the recipient dedupes by document id).
    later = now + timedelta(seconds=settings.exchange_lease_seconds + 1)
    assert await sender.claim(server.db, settings, row_id, later)
    await sender.deliver(server.db, settings, row_id)
    row = await _row(server, row_id)
    assert (row.state, row.attempts) == ("delivered", 2)
    assert len(gateway.received) == 1


async def test_a_row_queued_in_this_process_leaves_at_once_not_at_the_next_look(
        server: Server, session_world: dict[str, Any], gateway: FakeGateway) -> None:
    """The loop looked every ECABINET_EXCHANGE_OUTBOX_SECONDS (5 by default): a status or a resolution
    waited up to that long before leaving. The commit that queues a row now wakes this process's loop."""
    first = await _queued(server, session_world, "611/NQ-CP")
    loop = asyncio.create_task(sender.run(server.db, _settings(server, gateway, exchange_outbox_seconds=60.0)))
    try:
        for _ in range(200):  # its first look takes what is due
            if (await _row(server, first)).state == "delivered":
                break
            await asyncio.sleep(0.05)
        assert (await _row(server, first)).state == "delivered"
        second = await _queued(server, session_world, "612/NQ-CP")  # now the loop waits 60 s for its next look
        for _ in range(100):
            if (await _row(server, second)).state == "delivered":
                break
            await asyncio.sleep(0.05)
        assert (await _row(server, second)).state == "delivered", "the queued row waited for the next look"
        assert len(gateway.received) == 2
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
