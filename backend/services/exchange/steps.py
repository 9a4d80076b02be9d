"""Handling a document received (our side as RECIPIENT, issue 17 point 5): each step of its handling, 01
arrived when it lands and then the secretariat's 02 refused, 03 accepted, 04 assigned, 05 in progress and
06 done (their order: backend/domain/exchange_status.py), is kept as a row of incoming_steps and reported
to the sender as a signed status package queued in the outbox (services/exchange/sender.py delivers it
like a document). A step, its status package row and its audit entry commit together.

Without ECABINET_EXCHANGE_SIGNING_KEY/_CERT the step is still recorded (the secretariat's work must not
wait on the operator) and its answer says that no status package could be sent."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain import exchange_status as rules
from backend.domain.rules import Refusal
from backend.exceptions import AppError, BadRequest, Forbidden, InvalidState, NotFound
from backend.models import IncomingDocument, IncomingStep, OutgoingPackage, User
from backend.services import audit
from backend.services.context import Actor
from backend.services.files import FileStore

NO_SIGNING_KEY = ("no status package was sent: ECABINET_EXCHANGE_SIGNING_KEY and ECABINET_EXCHANGE_SIGNING_CERT "
                  "are not set, so our status cannot be signed")
NOT_A_STATUS = "no status package was sent: the document's fields do not make a valid status"
CLERICAL = "Văn thư"
"""The department named in a status when the clerk names none."""


@dataclass(frozen=True)
class About:
    """The document a status is about (its ResponseFor)."""

    sender: str
    """The agency that issued it."""
    code: str
    """Number/Notation."""
    promulgation_date: date
    document_id: str


def about(doc: IncomingDocument) -> About:
    return About(doc.sender_code, doc.code, doc.promulgation_date, doc.document_id)


def signing_enabled(settings: Settings) -> bool:
    return settings.exchange_signing_key is not None and settings.exchange_signing_cert is not None


def sign_status(settings: Settings, subject: About, code: str, *, description: str = "", department: str = CLERICAL,
                staff: str = "e-Cabinet") -> bytes | None:
    """Our signed status package `code` about `subject`, or None when its fields break the rules (a status
    must name a well-formed document). Needs the signing key (signing_enabled). Blocking: run in a thread."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    import exchange as ex

    assert settings.exchange_signing_key is not None and settings.exchange_signing_cert is not None
    key = load_pem_private_key(settings.exchange_signing_key.read_bytes(), password=None)
    certificates = x509.load_pem_x509_certificates(settings.exchange_signing_cert.read_bytes())
    now = datetime.now(ZoneInfo(settings.signing_timezone)).replace(tzinfo=None, microsecond=0)
    try:
        status = ex.StatusPackage(
            sender=ex.Organization(settings.exchange_agency_code, settings.exchange_agency_name),
            response_for=ex.ResponseFor(subject.sender, subject.code, subject.promulgation_date, subject.document_id),
            status_code=ex.StatusCode(code), timestamp=now,
            staff=ex.StaffInfo(department[:300] or CLERICAL, staff[:300] or "e-Cabinet"),
            description=description[:2000])
        return ex.build_status(status, key=key, certificate=certificates[0],  # type: ignore[arg-type]
                               chain=certificates[1:])
    except (ex.ExchangeError, ValueError):
        return None


async def store_package(settings: Settings, package: bytes | None) -> tuple[str, bool]:
    """Put a status package in the file store: its SHA-256 and whether this call wrote it (so a failed
    commit removes it again); ("", False) for none."""
    if package is None:
        return "", False
    files = FileStore.for_settings(settings)
    digest = hashlib.sha256(package).hexdigest()
    fresh = not files.path(digest).exists()
    await files.put(package)
    return digest, fresh


def discard(settings: Settings, digest: str, fresh: bool) -> None:
    if digest and fresh:
        FileStore.for_settings(settings).path(digest).unlink(missing_ok=True)


async def record_step(s: AsyncSession, doc: IncomingDocument, code: str, package_sha256: str, *,
                      actor_id: int | None, description: str = "", department: str = "",
                      person: str = "") -> IncomingStep:
    """The step's row and, when a package was signed, its outbox row (inside the caller's transaction)."""
    assert doc.id is not None
    outgoing_id = None
    if package_sha256:
        row = OutgoingPackage(kind="status", incoming_id=doc.id, status_code=code, recipient_code=doc.sender_code,
                              document_id=doc.document_id, package_sha256=package_sha256, created_by=actor_id)
        s.add(row)
        await s.flush()
        outgoing_id = row.id
    step = IncomingStep(incoming_id=doc.id, code=code, description=description, department=department,
                        person=person, actor_id=actor_id, outgoing_id=outgoing_id)
    s.add(step)
    await s.flush()
    return step


# --- the secretariat's steps ---------------------------------------------------------------------------


def require_inbox(actor: Actor) -> None:
    if not (actor.is_admin or actor.is_secretariat):
        raise Forbidden("only the secretariat and administrators read and handle the documents received")


def _error(exc: rules.StepError) -> AppError:
    if exc.refusal is Refusal.INVALID_STATE:
        return InvalidState(exc.reason, code=exc.code)
    return BadRequest(exc.reason, code=exc.code)


async def take_step(db: Database, settings: Settings, actor: Actor, incoming_id: int, code: str, *,
                    description: str = "", department: str = "", person: str = "") -> dict[str, Any]:
    """The secretariat takes step `code` (02 ... 06) on incoming document `incoming_id`: its new status,
    the step, and whether a status package was queued to the sender."""
    require_inbox(actor)
    description, department, person = description.strip(), department.strip(), person.strip()
    try:
        step = rules.step_of(code)
    except rules.StepError as exc:
        raise _error(exc) from exc
    async with db.read() as s:
        doc = await s.get(IncomingDocument, incoming_id)
        user = await s.get(User, actor.user_id)
    if doc is None:
        raise NotFound(f"no incoming document {incoming_id}", code="not_found")
    previous = doc.status
    try:  # before signing anything: the answer to an illegal step costs nothing
        rules.check_step(previous, step, description=description, department=department, person=person)
    except rules.StepError as exc:
        raise _error(exc) from exc
    package = None
    if signing_enabled(settings):
        package = await asyncio.to_thread(sign_status, settings, about(doc), step.value, description=description,
                                          department=department or CLERICAL,
                                          staff=person or (user.full_name if user else actor.username))
    digest, fresh = await store_package(settings, package)
    try:
        async with db.write() as s:
            # Only from the status we checked: a clerk acting at the same moment makes this one illegal.
            moved = await s.exec(update(IncomingDocument).where(
                col(IncomingDocument.id) == incoming_id, col(IncomingDocument.status) == previous)
                .values(status=rules.NAMES[step]))
            if moved.rowcount != 1:
                raise InvalidState("another clerk changed this document's status meanwhile: reload it",
                                   code="illegal_step")
            row = await record_step(s, doc, step.value, digest, actor_id=actor.user_id, description=description,
                                    department=department, person=person)
            await audit.record(s, "exchange.step", actor_id=actor.user_id, object_type="incoming_document",
                               object_id=incoming_id,
                               details={"code": step.value, "from": previous, "status_package": bool(digest),
                                        "package_sha256": digest})
            message = "" if digest else NO_SIGNING_KEY if not signing_enabled(settings) else NOT_A_STATUS
            result = {"id": incoming_id, "status": rules.NAMES[step], "status_sent": bool(digest),
                      "message": message, "step": _step_out(row, "queued" if digest else None)}
    except BaseException:
        discard(settings, digest, fresh)
        raise
    return result


# --- reading the history ---------------------------------------------------------------------------------


def _step_out(step: IncomingStep, delivery: str | None) -> dict[str, Any]:
    return {"code": step.code, "name": rules.NAMES[rules.Step(step.code)],
            "description": step.description, "department": step.department, "person": step.person,
            "at": step.at, "status_sent": step.outgoing_id is not None, "delivery": delivery}


async def history(s: AsyncSession, incoming_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each document's steps in order, with the delivery state of the status package each one queued."""
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in incoming_ids}
    if not incoming_ids:
        return found
    rows = (await s.exec(select(IncomingStep, OutgoingPackage.state)
                         .join(OutgoingPackage, col(OutgoingPackage.id) == col(IncomingStep.outgoing_id), isouter=True)
                         .where(col(IncomingStep.incoming_id).in_(incoming_ids))
                         .order_by(col(IncomingStep.at), col(IncomingStep.id)))).all()
    for step, state in rows:
        found[step.incoming_id].append(_step_out(step, state))
    return found


def today(settings: Settings) -> date:
    """Today where the agency is (due dates are days there)."""
    return datetime.now(ZoneInfo(settings.signing_timezone)).date()
