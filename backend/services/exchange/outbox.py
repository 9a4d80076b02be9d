"""Sending documents to other agencies (issue 17): the secretariat sends a published record to agencies of
our directory. ONE signed edXML document package is built for the recipients sent together, carrying the
record's signed PDF byte for byte (its signatures must still verify at the recipient); the package goes to
the file store and one outgoing_packages row per recipient is queued, with the audit entry, in one
transaction. Delivery to the gateway is the sender's job (outbox rows are retried on their own)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import Action
from backend.exceptions import BadRequest, Conflict, InvalidState, NotFound, Unprocessable
from backend.models import Agency, OutgoingPackage, Resolution, ResolutionSignature, User
from backend.services import access, audit
from backend.services.context import Actor
from backend.services.exchange import steps, tracking
from backend.services.files import FileStore

QUEUED, SENDING, DELIVERED, FAILED = "queued", "sending", "delivered", "failed"
TYPE_NAMES = {"resolution": "Nghị quyết", "minutes": "Biên bản"}
MAX_RECIPIENTS = 100


def _missing(record_id: int) -> NotFound:
    return NotFound(f"no record {record_id}", code="not_found")


def summary(row: OutgoingPackage) -> dict[str, Any]:
    return {"id": row.id, "record_id": row.record_id, "recipient_code": row.recipient_code,
            "document_id": row.document_id, "state": row.state, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at, "last_error": row.last_error,
            "created_at": row.created_at, "delivered_at": row.delivered_at}


def _recipients(codes: list[str], ours: str) -> list[str]:
    wanted = list(dict.fromkeys(c.strip() for c in codes))
    if not wanted or len(wanted) > MAX_RECIPIENTS:
        raise BadRequest(f"name 1 to {MAX_RECIPIENTS} recipient agencies", code="bad_recipients")
    if ours in wanted:
        raise BadRequest("a document is not sent to our own agency", code="bad_recipients")
    return wanted


async def send_record(db: Database, settings: Settings, actor: Actor, record_id: int,
                      recipients: list[str], due_date: date | None = None) -> list[dict[str, Any]]:
    """Queue the published record `record_id` for `recipients` (agency codes of our directory), to be
    handled by `due_date` when given (the package's DueDate); the new outgoing rows. Only the meeting's
    secretariat sends."""
    codes = _recipients(recipients, settings.exchange_agency_code)
    if due_date is not None and due_date < steps.today(settings):
        raise BadRequest(f"the due date {due_date.isoformat()} has already passed", code="bad_due_date")
    if settings.exchange_signing_key is None or settings.exchange_signing_cert is None:
        raise InvalidState("sending is disabled: the operator has not set ECABINET_EXCHANGE_SIGNING_KEY and "
                           "ECABINET_EXCHANGE_SIGNING_CERT", code="exchange_disabled")
    files = FileStore.for_settings(settings)
    async with db.read() as s:
        record = await s.get(Resolution, record_id)
        if record is None:
            raise _missing(record_id)
        await access.require_membership(s, actor, record.meeting_id, Action.SEND_RECORDS,
                                        unseen=_missing(record_id))
        if record.status != "published":
            raise InvalidState(f"only a published record is sent (this one is {record.status})",
                               code="not_published")
        agencies = {a.code: a for a in (await s.exec(select(Agency).where(col(Agency.code).in_(codes)))).all()}
        unknown = [c for c in codes if c not in agencies or not agencies[c].active]
        if unknown:
            raise Unprocessable(f"not active agencies of our directory: {', '.join(unknown)}",
                                code="unknown_agency")
        chair = (await s.exec(select(User).join(ResolutionSignature, col(ResolutionSignature.signer_id) == User.id)
                              .where(ResolutionSignature.resolution_id == record_id,
                                     ResolutionSignature.field_name == "chair"))).first()
    assert record.published_at is not None
    zone = ZoneInfo(settings.signing_timezone)
    promulgated = record.published_at.astimezone(zone).date()
    number, _, notation = record.number.partition("/")
    if not notation:
        raise InvalidState(f"the record's number {record.number!r} has no notation (Number/Notation)",
                           code="bad_number")
    pdf = await files.get(record.pdf_sha256)
    package = await asyncio.to_thread(
        _build, settings, [(c, agencies[c].name) for c in codes], record, number, notation, promulgated,
        chair.full_name if chair else "", pdf, due_date)
    document_id = _document_id(settings, promulgated, number, notation)
    digest = hashlib.sha256(package).hexdigest()
    fresh = not files.path(digest).exists()
    await files.put(package)
    try:
        async with db.write() as s:
            taken = (await s.exec(select(OutgoingPackage.recipient_code).where(
                OutgoingPackage.kind == "document", OutgoingPackage.document_id == document_id,
                col(OutgoingPackage.recipient_code).in_(codes)))).all()
            if taken:
                raise Conflict(f"already sent to {', '.join(sorted(taken))}", code="already_sent")
            rows = [OutgoingPackage(record_id=record_id, recipient_code=c, document_id=document_id,
                                    due_date=due_date, package_sha256=digest, created_by=actor.user_id)
                    for c in codes]
            for row in rows:
                s.add(row)
            await s.flush()
            await audit.record(s, "exchange.sent", actor_id=actor.user_id, object_type="record",
                               object_id=record_id, meeting_id=record.meeting_id,
                               details={"recipients": codes, "document_id": document_id,
                                        "package_sha256": digest, "pdf_sha256": record.pdf_sha256,
                                        "due_date": due_date.isoformat() if due_date else None})
            result = [tracking.tracked(summary(r), [], r.due_date, steps.today(settings)) for r in rows]
    except BaseException:
        if fresh:  # nothing half-written: the package goes with its rows
            files.path(digest).unlink(missing_ok=True)
        raise
    return result


def _document_id(settings: Settings, promulgated: date, number: str, notation: str) -> str:
    from exchange import fields

    return fields.document_id(settings.exchange_agency_code, promulgated, number, notation)


def _build(settings: Settings, recipients: list[tuple[str, str]], record: Resolution, number: str,
           notation: str, promulgated: date, signer: str, pdf: bytes, due_date: date | None) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    import exchange as ex

    assert settings.exchange_signing_key is not None and settings.exchange_signing_cert is not None
    key = load_pem_private_key(settings.exchange_signing_key.read_bytes(), password=None)
    certificates = x509.load_pem_x509_certificates(settings.exchange_signing_cert.read_bytes())
    now = datetime.now(ZoneInfo(settings.signing_timezone)).replace(tzinfo=None, microsecond=0)
    package = ex.DocumentPackage(
        sender=ex.Organization(settings.exchange_agency_code, settings.exchange_agency_name),
        recipients=tuple(ex.Organization(code, name) for code, name in recipients),
        code=ex.DocumentCode(number, notation),
        promulgation=ex.PromulgationInfo("Hà Nội", promulgated),
        document_type=ex.DocumentType(1, 1, TYPE_NAMES.get(record.kind, record.kind)),
        subject=record.title,
        signer=ex.SignerInfo("", "", signer),
        due_date=due_date,
        traces=(ex.TraceHeader(settings.exchange_agency_code, now),),
        attachments=(ex.Attachment(f"{number}-{notation}.pdf".replace("/", "-"), "application/pdf", pdf,
                                   record.title[:200]),),
    )
    try:
        return ex.build_document(package, key=key, certificate=certificates[0],  # type: ignore[arg-type]
                                 chain=certificates[1:])
    except ex.ExchangeError as exc:
        raise Unprocessable(f"the record cannot be written as an edXML package: {exc}",
                            code="bad_package") from exc


async def listing(db: Database, settings: Settings, actor: Actor, record_id: int) -> list[dict[str, Any]]:
    """The outgoing rows of a record, oldest first (the meeting's staff), each with the statuses its
    recipient reported (services/exchange/tracking.py), the latest one and whether it is overdue."""
    async with db.read() as s:
        record = await s.get(Resolution, record_id)
        if record is None:
            raise _missing(record_id)
        await access.require_membership(s, actor, record.meeting_id, Action.PUBLISH_RECORDS,
                                        unseen=_missing(record_id))
        rows = (await s.exec(select(OutgoingPackage).where(OutgoingPackage.record_id == record_id,
                                                           OutgoingPackage.kind == "document")
                             .order_by(col(OutgoingPackage.id)))).all()
        statuses = await tracking.history(s, [r.id for r in rows if r.id is not None])
    today = steps.today(settings)
    return [tracking.tracked(summary(r), statuses[r.id], r.due_date, today) for r in rows if r.id is not None]
