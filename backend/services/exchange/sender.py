"""Delivering the outbox: each worker's loop sends the packages due to the gateway
(ECABINET_EXCHANGE_GATEWAY_URL, with our bearer ECABINET_EXCHANGE_OUTBOX_SECRET).

A row is claimed with one conditional UPDATE (queued, or sending with its lease expired -> sending), so two
workers never send one package at once, on SQLite and PostgreSQL alike. HTTP 2xx, or 409 (the recipient
already has this document id), is delivered; a network error or any other answer puts it back in the queue
after an exponential backoff, and after ECABINET_EXCHANGE_MAX_ATTEMPTS it is failed with the reason. A
worker that dies between sending and recording leaves the row `sending`: after the lease it is sent again,
which is harmless because the recipient dedupes by document id (a 409 then)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import httpx
from sqlalchemy import event, or_, update
from sqlalchemy.orm import Session
from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.models import OutgoingPackage
from backend.models.base import utcnow
from backend.services import audit
from backend.services.exchange.outbox import DELIVERED, FAILED, QUEUED, SENDING
from backend.services.files import FileStore

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600.0
BATCH = 20


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed delivery: doubled each time, at most an hour."""
    return timedelta(seconds=min(settings.exchange_retry_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


async def claim(db: Database, settings: Settings, row_id: int, now: datetime) -> bool:
    """Take row `row_id` for sending, if nobody holds it: True when this worker won it."""
    async with db.write() as s:
        result = await s.exec(update(OutgoingPackage).where(
            col(OutgoingPackage.id) == row_id,
            or_(col(OutgoingPackage.state) == QUEUED,
                (col(OutgoingPackage.state) == SENDING) & (col(OutgoingPackage.lease_until) < now)))
            .values(state=SENDING, attempts=OutgoingPackage.attempts + 1,
                    lease_until=now + timedelta(seconds=settings.exchange_lease_seconds)))
        return bool(result.rowcount == 1)


async def due(db: Database, now: datetime) -> list[int]:
    async with db.read() as s:
        rows = (await s.exec(select(OutgoingPackage.id).where(or_(
            (col(OutgoingPackage.state) == QUEUED) & (col(OutgoingPackage.next_attempt_at) <= now),
            (col(OutgoingPackage.state) == SENDING) & (col(OutgoingPackage.lease_until) < now)))
            .order_by(col(OutgoingPackage.next_attempt_at)).limit(BATCH))).all()
    return [int(r) for r in rows if r is not None]


async def _post(settings: Settings, data: bytes, recipient: str) -> str | None:
    """None when the gateway took the package for `recipient` (2xx, or 409: already there), else why not.
    One package may name several recipients, each with its own row: `to` tells the gateway which one this
    row is for, so each gets it once."""
    try:
        async with httpx.AsyncClient(timeout=settings.exchange_lease_seconds / 2) as client:
            answer = await client.post(settings.exchange_gateway_url, content=data, params={"to": recipient}, headers={
                "Content-Type": "application/xml", "Authorization": f"Bearer {settings.exchange_outbox_secret}"})
    except httpx.HTTPError as exc:
        return f"network: {type(exc).__name__}: {exc}"[:2000]
    if 200 <= answer.status_code < 300 or answer.status_code == 409:
        return None
    return f"HTTP {answer.status_code}: {answer.text[:500]}"


async def deliver(db: Database, settings: Settings, row_id: int) -> None:
    """Send one claimed row and record the outcome."""
    async with db.read() as s:
        row = await s.get(OutgoingPackage, row_id)
    assert row is not None
    data = await FileStore.for_settings(settings).get(row.package_sha256)
    error = await _post(settings, data, row.recipient_code)
    now = utcnow()
    async with db.write() as s:
        row = await s.get(OutgoingPackage, row_id)
        assert row is not None
        if row.state != SENDING:  # another worker took it after our lease ran out, and finished it
            return
        if error is None:
            row.state, row.delivered_at, row.last_error, row.lease_until = DELIVERED, now, "", None
        elif row.attempts >= settings.exchange_max_attempts:
            row.state, row.last_error, row.lease_until = FAILED, error, None
        else:
            row.state, row.last_error, row.lease_until = QUEUED, error, None
            row.next_attempt_at = now + backoff(settings, row.attempts)
        s.add(row)
        if row.state != QUEUED:
            status = row.kind == "status"  # a status about a document received, or a record we sent
            await audit.record(s, f"exchange.{row.state}", actor_id=None,
                               object_type="incoming_document" if status else "record",
                               object_id=row.incoming_id if status else row.record_id,
                               details={"recipient": row.recipient_code, "document_id": row.document_id,
                                        "kind": row.kind, "status_code": row.status_code,
                                        "attempts": row.attempts, "error": row.last_error})


async def run_once(db: Database, settings: Settings) -> int:
    """Deliver what is due now; how many rows this worker sent."""
    sent = 0
    for row_id in await due(db, utcnow()):
        if await claim(db, settings, row_id, utcnow()):
            await deliver(db, settings, row_id)
            sent += 1
    return sent


# A row queued in this process wakes its loop at once (the commit's hook below), instead of waiting for
# the next look: a status or a document leaves in milliseconds, not up to ECABINET_EXCHANGE_OUTBOX_SECONDS.
# Rows queued by another worker are found at that worker's wake or at the next look of any loop.
_loops: set[asyncio.Event] = set()


def wake() -> None:
    for queued in list(_loops):
        queued.set()


@event.listens_for(Session, "after_flush")
def _note_queued(session: Session, _context: object) -> None:
    if any(isinstance(o, OutgoingPackage) for o in session.new):
        session.info["outbox_queued"] = True


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop("outbox_queued", False):
        wake()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop("outbox_queued", None)


async def run(db: Database, settings: Settings) -> None:
    """Each worker's loop: at every ECABINET_EXCHANGE_OUTBOX_SECONDS, and at once when a row is queued here."""
    queued = asyncio.Event()
    _loops.add(queued)
    try:
        while True:
            queued.clear()
            try:
                await run_once(db, settings)
            except Exception:  # a database hiccup must not stop the loop
                log.exception("exchange outbox: delivery failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queued.wait(), settings.exchange_outbox_seconds)
    finally:
        _loops.discard(queued)
