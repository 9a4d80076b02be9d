"""Receiving documents from other agencies: the gateway hands us one edXML package; it is read in the
sandbox against our trust anchors and agency directory, and a valid document lands in the inbox
(incoming_documents) with its attachments and the signed package itself in the file store. Nothing is
half-imported: the files written for a package are removed again unless its row commits. A document that
lands gets its step 01 "arrived", and our signed 01 status for the sender is queued in the outbox in the
same transaction (services/exchange/steps.py). A status package (a recipient's answer about a document we
sent) goes to services/exchange/tracking.py.

A refused package is answered with its reason's code and, when the package names a sender in our
directory, a signed 02 "refused" status package for the gateway to return to it (signed with
ECABINET_EXCHANGE_SIGNING_KEY; without one, the refusal says so). Every package accepted or refused (once
read) leaves an audit entry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.domain.exchange_status import Step, overdue
from backend.exceptions import Conflict, NotFound
from backend.models import IncomingDocument
from backend.services import audit
from backend.services.context import Actor
from backend.services.exchange import agencies, business, packages, pdf_check, steps, tracking
from backend.services.exchange.packages import PackageRefused
from backend.services.files import FileStore

ARRIVED = "arrived"  # the status word of a document that just landed (backend/domain/exchange_status.py)


@dataclass(frozen=True)
class Refusal:
    """A refused package's answer: the error and, when it could be made, the signed status package."""

    code: str
    message: str
    status_package: bytes | None


async def receive(db: Database, settings: Settings, data: bytes) -> dict[str, Any] | Refusal:
    """The stored document's summary, or a Refusal; Conflict (409 `duplicate`) when the sender already sent
    this document id."""
    package_sha256 = hashlib.sha256(data).hexdigest()
    known = await agencies.known_codes(db)
    try:
        parsed = await packages.parse(settings, data, known_agencies=known)
        if parsed.kind == "status":  # a recipient's answer about a document we sent: the tracking
            return await tracking.receive(db, settings, parsed, data)
        document = _document(settings, parsed)
        signed = await pdf_check.check(settings, parsed, _claim_of(parsed.package))
    except PackageRefused as refused:
        return await _refuse(db, settings, refused, package_sha256, len(data), known)
    document.attachments = json.dumps([{**a, **({"pdf": pdf} if pdf else {})} for a, pdf in
                                       zip(json.loads(document.attachments), signed, strict=True)], ensure_ascii=False)
    document.package_sha256 = package_sha256
    pkg = parsed.package
    if business.doc_type(parsed):  # a recall, update or replacement acts on a document received before
        try:
            return await business.apply(db, settings, parsed, document, data, _claim_of(pkg))
        except PackageRefused as refused:
            return await _refuse(db, settings, refused, package_sha256, len(data), known)
    sender = pkg["sender"]["organ_id"]
    async with db.read() as s:
        duplicate = await _existing(s, sender, pkg["document_id"]) is not None
    if duplicate:
        async with db.write() as s:
            await audit.record(s, "exchange.refused", actor_id=None, object_type="incoming_package",
                               details={"code": "duplicate", "claimed_sender": sender,
                                        "package_sha256": package_sha256, "size": len(data),
                                        "status_package": False})
        raise _duplicate(pkg["document_id"])
    files = FileStore.for_settings(settings)
    written: list[str] = []
    # Our 01 "arrived" back to the sender, queued in the outbox with the document itself.
    arrived = (await asyncio.to_thread(steps.sign_status, settings, steps.about(document), Step.ARRIVED.value)
               if steps.signing_enabled(settings) else None)
    try:
        for blob in (data, *parsed.attachments, *([arrived] if arrived else [])):
            digest = hashlib.sha256(blob).hexdigest()
            fresh = not files.path(digest).exists()
            await files.put(blob)
            if fresh:
                written.append(digest)
        async with db.write() as s:
            s.add(document)
            await s.flush()
            assert document.id is not None
            await steps.record_step(s, document, Step.ARRIVED.value,
                                    hashlib.sha256(arrived).hexdigest() if arrived else "", actor_id=None)
            await audit.record(s, "exchange.received", actor_id=None, object_type="incoming_document",
                               object_id=document.id,
                               details={"sender": sender, "document_id": pkg["document_id"],
                                        "package_sha256": package_sha256,
                                        "attachments": len(parsed.attachments), "status_package": bool(arrived)})
    except IntegrityError as exc:  # the same document delivered twice at once: the other one stands
        _discard(files, written)
        raise _duplicate(pkg["document_id"]) from exc
    except BaseException:
        _discard(files, written)
        raise
    return {"id": document.id, "document_id": document.document_id, "status": document.status}


def _document(settings: Settings, parsed: packages.Parsed) -> IncomingDocument:
    """The inbox row of a document package (PackageRefused for a status package, or one not for us)."""
    if parsed.kind != "document":
        raise PackageRefused("this endpoint takes document packages; status packages are not handled here",
                             code="not_a_document")
    pkg = parsed.package
    ours = settings.exchange_agency_code
    if ours not in {r["organ_id"] for r in pkg["recipients"]}:
        raise PackageRefused(f"the package is not addressed to our agency {ours}", code="not_addressed_to_us",
                             claimed=_claim_of(pkg))
    signer = pkg.get("signed_by") or {}
    attachments = [{"name": a["name"], "content_type": a["content_type"], "description": a["description"],
                    "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
                   for a, blob in zip(pkg["attachments"], parsed.attachments, strict=True)]
    return IncomingDocument(
        sender_code=pkg["sender"]["organ_id"], sender_name=pkg["sender"]["organ_name"],
        document_id=pkg["document_id"], code=f"{pkg['code']['number']}/{pkg['code']['notation']}",
        subject=pkg["subject"], promulgation_date=date.fromisoformat(pkg["promulgation"]["date"]),
        due_date=date.fromisoformat(pkg["due_date"]) if pkg.get("due_date") else None, status=ARRIVED,
        package_sha256="",  # set below: the hash of the bytes received
        signer=json.dumps({"common_name": signer.get("common_name", ""),
                           "fingerprint_sha256": signer.get("fingerprint_sha256", "")}, ensure_ascii=False),
        attachments=json.dumps(attachments, ensure_ascii=False))


def _claim_of(pkg: dict[str, Any]) -> dict[str, str]:
    return {"sender": pkg["sender"]["organ_id"], "document_id": pkg["document_id"],
            "code": f"{pkg['code']['number']}/{pkg['code']['notation']}",
            "promulgation_date": pkg["promulgation"]["date"].replace("-", "/")}


async def _existing(s: Any, sender: str, document_id: str) -> IncomingDocument | None:
    found: IncomingDocument | None = (await s.exec(select(IncomingDocument).where(
        IncomingDocument.sender_code == sender, IncomingDocument.document_id == document_id))).first()
    return found


def _duplicate(document_id: str) -> Conflict:
    return Conflict(f"document {document_id} from this sender was already received", code="duplicate")


def _discard(files: FileStore, digests: list[str]) -> None:
    """Remove the files this package wrote, so a failed import leaves nothing behind. A file that was
    already in the store is never among them. (Known gap: another request storing the very same bytes in
    the moment between our write and this removal would lose its copy; the store has no reference count.)"""
    for digest in digests:
        files.path(digest).unlink(missing_ok=True)


async def _refuse(db: Database, settings: Settings, refused: PackageRefused, package_sha256: str, size: int,
                  known: set[str]) -> Refusal:
    claimed = refused.claimed or {}
    sender = claimed.get("sender", "")
    status: bytes | None = None
    message = refused.message
    if sender and sender in known:
        if settings.exchange_signing_key is None or settings.exchange_signing_cert is None:
            message += (" (no status package: ECABINET_EXCHANGE_SIGNING_KEY and ECABINET_EXCHANGE_SIGNING_CERT "
                        "are not set, so our refusal cannot be signed)")
        else:
            status = await asyncio.to_thread(_refused_status, settings, claimed, refused.message)
    async with db.write() as s:
        await audit.record(s, "exchange.refused", actor_id=None, object_type="incoming_package",
                           details={"code": refused.code, "claimed_sender": sender if sender in known else "",
                                    "package_sha256": package_sha256, "size": size,
                                    "status_package": status is not None})
    return Refusal(refused.code, message, status)


def _refused_status(settings: Settings, claimed: dict[str, str], reason: str) -> bytes | None:
    """A signed 02 "refused" status about the claimed document, or None when its claims break the rules
    (a status must name a well-formed document)."""
    from exchange import ExchangeError, fields

    try:
        subject = steps.About(claimed["sender"], claimed["code"],
                              fields.parse_date(claimed["promulgation_date"], "PromulgationDate"),
                              claimed["document_id"])
    except (ExchangeError, KeyError):
        return None
    return steps.sign_status(settings, subject, Step.REFUSED.value, description=reason)


def status_package_text(refusal: Refusal) -> str | None:
    return None if refusal.status_package is None else base64.b64encode(refusal.status_package).decode("ascii")


# --- the inbox -----------------------------------------------------------------------------------------


def _summary(doc: IncomingDocument, history: list[dict[str, Any]], today: date) -> dict[str, Any]:
    return {"id": doc.id, "sender_code": doc.sender_code, "sender_name": doc.sender_name,
            "document_id": doc.document_id, "code": doc.code, "subject": doc.subject,
            "promulgation_date": doc.promulgation_date, "due_date": doc.due_date, "received_at": doc.received_at,
            "status": doc.status, "attachment_count": len(json.loads(doc.attachments)), "history": history,
            "overdue": overdue(doc.due_date, today, [h["code"] for h in history]),
            "replaced_by_id": doc.replaced_by_id}


async def inbox(db: Database, settings: Settings, actor: Actor) -> list[dict[str, Any]]:
    """The documents received, newest first, each with its steps so far."""
    steps.require_inbox(actor)
    async with db.read() as s:
        rows = (await s.exec(select(IncomingDocument).order_by(col(IncomingDocument.received_at).desc(),
                                                               col(IncomingDocument.id).desc()))).all()
        history = await steps.history(s, [d.id for d in rows if d.id is not None])
    today = steps.today(settings)
    return [_summary(d, history[d.id], today) for d in rows if d.id is not None]


async def _load(db: Database, actor: Actor, incoming_id: int) -> IncomingDocument:
    steps.require_inbox(actor)
    async with db.read() as s:
        doc = await s.get(IncomingDocument, incoming_id)
    if doc is None:
        raise NotFound(f"no incoming document {incoming_id}", code="not_found")
    return doc


async def one(db: Database, settings: Settings, actor: Actor, incoming_id: int) -> dict[str, Any]:
    doc = await _load(db, actor, incoming_id)
    async with db.read() as s:
        history = (await steps.history(s, [incoming_id]))[incoming_id]
    signer = json.loads(doc.signer)
    return {**_summary(doc, history, steps.today(settings)), "signer": signer, "package_sha256": doc.package_sha256,
            "changes": await business.history(db, incoming_id),
            "attachments": [{"number": n, "name": a["name"], "content_type": a["content_type"],
                             "description": a["description"], "size": a["size"], "pdf": a.get("pdf")}
                            for n, a in enumerate(json.loads(doc.attachments), start=1)]}


async def attachment(db: Database, settings: Settings, actor: Actor, incoming_id: int,
                     number: int) -> tuple[str, bytes]:
    """The file name and bytes of attachment `number` (from 1); the download is audited."""
    doc = await _load(db, actor, incoming_id)
    listed = json.loads(doc.attachments)
    if not 1 <= number <= len(listed):
        raise NotFound(f"incoming document {incoming_id} has no attachment {number}", code="not_found")
    item = listed[number - 1]
    data = await FileStore.for_settings(settings).get(item["sha256"])
    async with db.write() as s:
        await audit.record(s, "exchange.attachment_downloaded", actor_id=actor.user_id,
                           object_type="incoming_document", object_id=incoming_id,
                           details={"number": number, "sha256": item["sha256"]})
    return str(item["name"]), data
