"""Sending documents to other agencies (issue 17): the secretariat sends a published record to agencies of
our directory. ONE signed edXML document package is built for the recipients sent together, carrying the
record's signed PDF byte for byte (its signatures must still verify at the recipient); the package goes to
the file store and one outgoing_packages row per recipient is queued, with the audit entry, in one
transaction. Delivery to the gateway is the sender's job (outbox rows are retried on their own).

A record delivered can then be recalled (the same document id with BussinessDocType 1) or replaced by another
published record (its own id, BussinessDocType 3, the old id in ResponseFor), to the agencies that have it."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
NEW, RECALL, REPLACE = 0, 1, 3  # BussinessDocType of what we send (an update of a published record: none)
BUSINESS_NAMES = {NEW: "new", RECALL: "recall", REPLACE: "replace"}
AUDIT_ACTIONS = {NEW: "exchange.sent", RECALL: "exchange.recall_sent", REPLACE: "exchange.replacement_sent"}
TYPE_NAMES = {"resolution": "Nghị quyết", "minutes": "Biên bản"}
MAX_RECIPIENTS = 100


def _missing(record_id: int) -> NotFound:
    return NotFound(f"no record {record_id}", code="not_found")


def summary(row: OutgoingPackage) -> dict[str, Any]:
    return {"id": row.id, "record_id": row.record_id, "recipient_code": row.recipient_code,
            "document_id": row.document_id, "state": row.state, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at, "last_error": row.last_error,
            "created_at": row.created_at, "delivered_at": row.delivered_at,
            "business": BUSINESS_NAMES.get(row.business, str(row.business))}


def _recipients(codes: list[str], ours: str) -> list[str]:
    wanted = list(dict.fromkeys(c.strip() for c in codes))
    if not wanted or len(wanted) > MAX_RECIPIENTS:
        raise BadRequest(f"name 1 to {MAX_RECIPIENTS} recipient agencies", code="bad_recipients")
    if ours in wanted:
        raise BadRequest("a document is not sent to our own agency", code="bad_recipients")
    return wanted


@dataclass(frozen=True)
class Business:
    """What the package does (Bussiness): 0 new, 1 recall of the same document, 3 a new document replacing
    `replaces` (a DocumentId of ours, named in ResponseFor)."""

    doc_type: int = 0
    reason: str = ""
    replaces: str = ""


@dataclass(frozen=True)
class _Header:
    """A published record as a document header: its id is made from our agency, the date and its number."""

    record: Resolution
    number: str
    notation: str
    promulgated: date
    signer: str
    document_id: str


def require_signing(settings: Settings) -> None:
    """Sending needs our signing key: 409 `exchange_disabled` without it."""
    if settings.exchange_signing_key is None or settings.exchange_signing_cert is None:
        raise InvalidState("sending is disabled: the operator has not set ECABINET_EXCHANGE_SIGNING_KEY and "
                           "ECABINET_EXCHANGE_SIGNING_CERT", code="exchange_disabled")


async def active_agencies(s: AsyncSession, codes: list[str]) -> dict[str, Agency]:
    """The agencies `codes` name, or 422 `unknown_agency` naming those not active in our directory."""
    agencies = {a.code: a for a in (await s.exec(select(Agency).where(col(Agency.code).in_(codes)))).all()}
    unknown = [c for c in codes if c not in agencies or not agencies[c].active]
    if unknown:
        raise Unprocessable(f"not active agencies of our directory: {', '.join(unknown)}", code="unknown_agency")
    return agencies


async def signer_name(s: AsyncSession, record_id: int) -> str:
    """The name of the chair who signed the record (empty when none did)."""
    chair = (await s.exec(select(User).join(ResolutionSignature, col(ResolutionSignature.signer_id) == User.id)
                          .where(ResolutionSignature.resolution_id == record_id,
                                 ResolutionSignature.field_name == "chair"))).first()
    return chair.full_name if chair else ""


def record_code(settings: Settings, record: Resolution) -> tuple[str, str, date]:
    """(number, notation, promulgation date) of a published record, as its packages carry them."""
    assert record.published_at is not None
    promulgated = record.published_at.astimezone(ZoneInfo(settings.signing_timezone)).date()
    number, _, notation = record.number.partition("/")
    if not notation:
        raise InvalidState(f"the record's number {record.number!r} has no notation (Number/Notation)",
                           code="bad_number")
    return number, notation, promulgated


async def _published(s: Any, settings: Settings, actor: Actor, record_id: int) -> _Header:
    """The record as a header, if the actor is its meeting's secretariat and it is published."""
    record = await s.get(Resolution, record_id)
    if record is None:
        raise _missing(record_id)
    await access.require_membership(s, actor, record.meeting_id, Action.SEND_RECORDS, unseen=_missing(record_id))
    if record.status != "published":
        raise InvalidState(f"only a published record is sent (this one is {record.status})", code="not_published")
    number, notation, promulgated = record_code(settings, record)
    return _Header(record, number, notation, promulgated, await signer_name(s, record_id),
                   our_document_id(settings, promulgated, number, notation))


async def send_record(db: Database, settings: Settings, actor: Actor, record_id: int,
                      recipients: list[str], due_date: date | None = None) -> list[dict[str, Any]]:
    """Queue the published record `record_id` for `recipients` (agency codes of our directory), asking them to
    handle it by `due_date` (DueDate) if given; the new outgoing rows. Only the meeting's secretariat sends."""
    codes = _recipients(recipients, settings.exchange_agency_code)
    require_signing(settings)
    async with db.read() as s:
        header = await _published(s, settings, actor, record_id)
        agencies = await active_agencies(s, codes)
    if due_date is not None and due_date < steps.today(settings):
        raise BadRequest(f"the due date {due_date.isoformat()} has already passed", code="bad_due_date")
    return await _queue(db, settings, actor, header, [(c, agencies[c].name) for c in codes], Business(),
                        due_date)


async def _delivered_to(s: Any, header: _Header) -> list[tuple[str, str]]:
    """(code, name) of the agencies that have the record's document: 409 while one is still on its way."""
    # The record's own document only: its tasks travel as packages of their own (services/tasks).
    rows = (await s.exec(select(OutgoingPackage).where(OutgoingPackage.record_id == header.record.id,
                                                       OutgoingPackage.document_id == header.document_id,
                                                       OutgoingPackage.business == 0))).all()
    pending = sorted(r.recipient_code for r in rows if r.state in (QUEUED, SENDING))
    if pending:
        raise Conflict(f"the record is still on its way to {', '.join(pending)}: wait until it is delivered",
                       code="not_delivered")
    codes = [r.recipient_code for r in rows if r.state == DELIVERED]
    if not codes:
        raise Conflict("the record was not delivered to any agency", code="not_sent")
    names = {a.code: a.name for a in (await s.exec(select(Agency).where(col(Agency.code).in_(codes)))).all()}
    return [(c, names.get(c, "")) for c in codes]


async def recall_record(db: Database, settings: Settings, actor: Actor, record_id: int,
                        reason: str) -> list[dict[str, Any]]:
    """Queue a recall (BussinessDocType 1: the same document id) of a record sent, to every agency it was
    delivered to; the new rows. 409 `not_sent`, `not_delivered` (one still on its way), `already_recalled`."""
    require_signing(settings)
    async with db.read() as s:
        header = await _published(s, settings, actor, record_id)
        recipients = await _delivered_to(s, header)
    return await _queue(db, settings, actor, header, recipients, Business(RECALL, reason))


async def replace_record(db: Database, settings: Settings, actor: Actor, record_id: int, by_record_id: int,
                         reason: str) -> list[dict[str, Any]]:
    """Queue the published record `by_record_id` as the replacement (BussinessDocType 3) of the record sent
    `record_id`, to every agency that has it; the new rows (of `by_record_id`). The actor must be the
    secretariat of both meetings."""
    require_signing(settings)
    if by_record_id == record_id:
        raise BadRequest("a record does not replace itself", code="bad_replacement")
    async with db.read() as s:
        old = await _published(s, settings, actor, record_id)
        recipients = await _delivered_to(s, old)
        header = await _published(s, settings, actor, by_record_id)
    if header.document_id == old.document_id:
        raise BadRequest("the replacement has the same number and date as the record it replaces",
                         code="bad_replacement")
    return await _queue(db, settings, actor, header, recipients, Business(REPLACE, reason, old.document_id))


async def _queue(db: Database, settings: Settings, actor: Actor, header: _Header, recipients: list[tuple[str, str]],
                 business: Business, due_date: date | None = None) -> list[dict[str, Any]]:
    """Build ONE signed package for `recipients`, store it and queue a row per recipient with the audit
    entry, in one transaction (the package file is removed again if it does not commit)."""
    files = FileStore.for_settings(settings)
    record = header.record
    assert record.id is not None
    codes = [c for c, _ in recipients]
    pdf = await files.get(record.pdf_sha256)
    says = Letter(header.number, header.notation, header.promulgated, record.title, due_date=due_date)
    package = await asyncio.to_thread(build_package, settings, recipients, record, says, header.signer, pdf,
                                      business)
    digest, fresh = await store(files, package)
    try:
        async with db.write() as s:
            rows = await queue(s, record.id, codes, header.document_id, digest, actor.user_id, business.doc_type,
                               due_date)
            await audit.record(s, AUDIT_ACTIONS[business.doc_type], actor_id=actor.user_id, object_type="record",
                               object_id=record.id, meeting_id=record.meeting_id,
                               details={"recipients": codes, "document_id": header.document_id,
                                        "package_sha256": digest, "pdf_sha256": record.pdf_sha256,
                                        "reason": business.reason, "replaces": business.replaces,
                                        "due_date": due_date.isoformat() if due_date else None})
            result = [tracking.tracked(summary(r), [], r.due_date, steps.today(settings)) for r in rows]
    except BaseException:
        if fresh:  # nothing half-written: the package goes with its rows
            files.path(digest).unlink(missing_ok=True)
        raise
    return result


async def store(files: FileStore, package: bytes) -> tuple[str, bool]:
    """Put a package in the file store: its SHA-256, and whether it is new there (then the caller removes
    it again if its rows do not commit)."""
    digest = hashlib.sha256(package).hexdigest()
    fresh = not files.path(digest).exists()
    await files.put(package)
    return digest, fresh


async def queue(s: AsyncSession, record_id: int, codes: list[str], document_id: str, digest: str,
                actor_id: int, doc_type: int = NEW, due_date: date | None = None) -> list[OutgoingPackage]:
    """One queued row per recipient of the package `digest` (flushed: their ids are set), or 409
    `already_sent` (`already_recalled` for a recall) when one of them already has it."""
    taken = (await s.exec(select(OutgoingPackage.recipient_code).where(
        OutgoingPackage.kind == "document", OutgoingPackage.document_id == document_id,
        col(OutgoingPackage.recipient_code).in_(codes),
        col(OutgoingPackage.business).in_([doc_type] if doc_type == RECALL else [NEW, REPLACE])))).all()
    if taken:
        raise Conflict(f"already {'recalled from' if doc_type == RECALL else 'sent to'} {', '.join(sorted(taken))}",
                       code="already_recalled" if doc_type == RECALL else "already_sent")
    rows = [OutgoingPackage(record_id=record_id, recipient_code=c, document_id=document_id,
                            due_date=due_date, package_sha256=digest, created_by=actor_id, business=doc_type)
            for c in codes]
    for row in rows:
        s.add(row)
    await s.flush()
    return rows


def our_document_id(settings: Settings, promulgated: date, number: str, notation: str) -> str:
    """Our DocumentId for a package numbered `number`/`notation`, issued on `promulgated`."""
    from exchange import fields

    return fields.document_id(settings.exchange_agency_code, promulgated, number, notation)


@dataclass(frozen=True)
class Letter:
    """What a package's MessageHeader says beyond the record it carries."""

    number: str
    """CodeNumber."""
    notation: str
    """CodeNotation (a task's package: the record's with -NVn)."""
    promulgated: date
    """PromulgationDate: the record's publication day."""
    subject: str
    """Subject (trích yếu), at most 500 characters."""
    content: str = ""
    """Content: the text sent as text (a task's full wording)."""
    due_date: date | None = None
    """DueDate: by when the recipients must handle it (a task's deadline)."""
    steering: bool = False
    """OtherInfo/Direction: a steering document (văn bản chỉ đạo): a task's package is one."""


def build_package(settings: Settings, recipients: list[tuple[str, str]], record: Resolution, letter: Letter,
                  signer: str, pdf: bytes, business: Business | None = None) -> bytes:
    """The signed edXML document package of `letter` for `recipients` ((code, name) pairs), carrying the
    record's signed PDF byte for byte as its one attachment; `business` a recall or a replacement. CPU work:
    call it in a thread."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    import exchange as ex
    from exchange import fields

    business = business or Business()
    assert settings.exchange_signing_key is not None and settings.exchange_signing_cert is not None
    key = load_pem_private_key(settings.exchange_signing_key.read_bytes(), password=None)
    certificates = x509.load_pem_x509_certificates(settings.exchange_signing_cert.read_bytes())
    now = datetime.now(ZoneInfo(settings.signing_timezone)).replace(tzinfo=None, microsecond=0)
    number, _, notation = record.number.partition("/")
    answers: tuple[ex.ResponseFor, ...] = ()
    if business.replaces:
        organ, day, old_number, old_notation = fields.split_document_id(business.replaces)
        answers = (ex.ResponseFor(organ, f"{old_number}/{old_notation}", day, business.replaces),)
    package = ex.DocumentPackage(
        sender=ex.Organization(settings.exchange_agency_code, settings.exchange_agency_name),
        recipients=tuple(ex.Organization(code, name) for code, name in recipients),
        code=ex.DocumentCode(letter.number, letter.notation),
        promulgation=ex.PromulgationInfo("Hà Nội", letter.promulgated),
        document_type=ex.DocumentType(1, 1, TYPE_NAMES.get(record.kind, record.kind)),
        subject=letter.subject,
        content=letter.content,
        due_date=letter.due_date,
        other=ex.OtherInfo(direction=letter.steering),
        signer=ex.SignerInfo("", "", signer),
        response_for=answers,
        traces=(ex.TraceHeader(settings.exchange_agency_code, now),),
        business=ex.Business(ex.BusinessDocType(business.doc_type), business.reason),
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
