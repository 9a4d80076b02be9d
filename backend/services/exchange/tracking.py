"""Tracking what we sent (our side as SENDER, issue 17 point 5): a recipient reports each step of its
handling of a document we sent it (01 arrived ... 06 done) as a signed status package, delivered to POST
/api/exchange/inbound like a document (services/exchange/inbound.py hands it here once it verified).

A status is accepted when its sender is an agency of our directory (checked while reading it) and its
ResponseFor names a document we sent TO that agency (an outgoing_packages row of that document id and
recipient); else it is refused 422 `unknown_document`. It is kept as a received_statuses row (the package
itself in the file store, as evidence); the same package delivered twice is the same row.

Other services learn of a status through LISTENERS: each is awaited inside the transaction that stores
it, after the row is written, so what a listener writes commits (or fails) with it; a listener that raises
refuses the status (the gateway delivers it again later). Not called for a package already stored."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain.exchange_status import overdue
from backend.models import OutgoingPackage, ReceivedStatus
from backend.services import audit
from backend.services.exchange import packages
from backend.services.exchange.packages import PackageRefused
from backend.services.files import FileStore

StatusListener = Callable[[AsyncSession, str, str, str, datetime], Awaitable[None]]
"""on_status(s, document_id, agency_code, code, at): in the storing transaction `s`, the document we sent
(its DocumentId), the agency that reported, the status code ("01" ... "06", ...) and when it was reached
(the status's Timestamp, as an aware UTC datetime)."""
LISTENERS: list[StatusListener] = []
"""Subscribe with LISTENERS.append(on_status) at import time."""


def _at(settings: Settings, timestamp: str) -> datetime:
    """A status's Timestamp (local time of the agency, no zone: the standard's form) as UTC."""
    return datetime.fromisoformat(timestamp).replace(tzinfo=ZoneInfo(settings.signing_timezone))


async def receive(db: Database, settings: Settings, parsed: packages.Parsed, data: bytes) -> dict[str, Any]:
    """Store one verified status package: {"id", "document_id", "status" (its code), "kind": "status",
    "duplicate"}. PackageRefused `unknown_document` when it is about no document we sent to its sender."""
    pkg = parsed.package
    agency = str(pkg["sender"]["organ_id"])
    document_id = str(pkg["response_for"]["document_id"])
    code = str(pkg["status_code"])
    digest = hashlib.sha256(data).hexdigest()
    async with db.read() as s:
        sent = (await s.exec(select(OutgoingPackage).where(
            OutgoingPackage.kind == "document", OutgoingPackage.document_id == document_id,
            OutgoingPackage.recipient_code == agency))).first()
        known = await _stored(s, digest)
    if sent is None or sent.id is None:
        raise PackageRefused(f"we sent no document {document_id} to {agency}", code="unknown_document")
    if known is not None:
        return _answer(known, document_id, duplicate=True)
    files = FileStore.for_settings(settings)
    fresh = not files.path(digest).exists()
    await files.put(data)
    at = _at(settings, str(pkg["timestamp"]))
    try:
        async with db.write() as s:
            row = ReceivedStatus(outgoing_id=sent.id, code=code, description=str(pkg.get("description", "")),
                                 department=str(pkg["staff"]["department"]), staff=str(pkg["staff"]["staff"]),
                                 status_at=at, package_sha256=digest)
            s.add(row)
            await s.flush()
            await audit.record(s, "exchange.status_received", actor_id=None, object_type="record",
                               object_id=sent.record_id,
                               details={"agency": agency, "document_id": document_id, "code": code,
                                        "package_sha256": digest})
            for listener in list(LISTENERS):
                await listener(s, document_id, agency, code, at)
            answer = _answer(row, document_id, duplicate=False)
    except IntegrityError:  # the same package delivered twice at once: the other one stands
        if fresh:
            files.path(digest).unlink(missing_ok=True)
        async with db.read() as s:
            known = await _stored(s, digest)
        if known is None:
            raise
        return _answer(known, document_id, duplicate=True)
    except BaseException:
        if fresh:
            files.path(digest).unlink(missing_ok=True)
        raise
    return answer


async def _stored(s: AsyncSession, digest: str) -> ReceivedStatus | None:
    found: ReceivedStatus | None = (await s.exec(select(ReceivedStatus).where(
        ReceivedStatus.package_sha256 == digest))).first()
    return found


def _answer(row: ReceivedStatus, document_id: str, *, duplicate: bool) -> dict[str, Any]:
    return {"id": row.id, "document_id": document_id, "status": row.code, "kind": "status", "duplicate": duplicate}


# --- the tracking view ----------------------------------------------------------------------------------


def _status_out(row: ReceivedStatus) -> dict[str, Any]:
    return {"code": row.code, "description": row.description, "department": row.department, "staff": row.staff,
            "at": row.status_at, "received_at": row.received_at, "package_sha256": row.package_sha256}


async def history(s: AsyncSession, outgoing_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The statuses each recipient reported, in the order they were reached."""
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in outgoing_ids}
    if not outgoing_ids:
        return found
    rows = (await s.exec(select(ReceivedStatus).where(col(ReceivedStatus.outgoing_id).in_(outgoing_ids))
                         .order_by(col(ReceivedStatus.status_at), col(ReceivedStatus.id)))).all()
    for row in rows:
        found[row.outgoing_id].append(_status_out(row))
    return found


def tracked(row: dict[str, Any], statuses: list[dict[str, Any]], due: date | None, today: date) -> dict[str, Any]:
    """A sent row with its recipient's statuses, the latest and whether it is overdue."""
    return {**row, "due_date": due, "history": statuses, "latest": statuses[-1] if statuses else None,
            "overdue": overdue(due, today, [h["code"] for h in statuses])}
