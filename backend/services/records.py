"""Resolutions (Nghị quyết) and minutes (Biên bản): drafted from what the session recorded, rendered
as Vietnamese PDFs, checked and initialled by the secretary (a certification signature that allows
only further signatures), signed by the chair, then published to the participants.

    draft --review (secretary signs, certifying)--> reviewed --sign (chair)--> signed --publish--> published

Every step writes the new PDF to the file store, and the record row and its audit entry in one
transaction; a signature that fails stores nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import signing
from backend.config import Settings
from backend.db import Database
from backend.domain import letterhead, voting
from backend.domain.meeting_states import STAFF, Action, Role, Status
from backend.exceptions import BadRequest, Conflict, InvalidState, NotFound
from backend.models import (
    AgendaItem,
    Attendance,
    Body,
    Meeting,
    Participant,
    Poll,
    Resolution,
    ResolutionSignature,
    SpeakerTurn,
    User,
    taking_part,
)
from backend.models.base import utcnow
from backend.services import (
    access,
    audit,
    credentials,
    notifications,
    signature_images,
    signing_guard,
    verification,
)
from backend.services.context import Actor, Live
from backend.services.events import EventBus, NullBus, staff_room
from backend.services.files import FileStore

KINDS = ("resolution", "minutes")
RULE_TEXT = {
    voting.Majority.CAST.value: "Quá nửa số phiếu biểu quyết",
    voting.Majority.ENTITLED.value: "Quá nửa tổng số thành viên",
    voting.Majority.TWO_THIRDS.value: "Hai phần ba tổng số thành viên",
}
# Which signature each step adds, and the status it leads to.
REVIEW_FIELD, SIGN_FIELD = "secretary", "chair"


class Records:
    """The use cases, bound to the database, the file store and the settings."""

    def __init__(self, db: Database, files: FileStore, settings: Settings,
                 clock: Callable[[], datetime] | None = None, live: Live | None = None) -> None:
        self.db, self.files, self.settings = db, files, settings
        self.clock = clock or (lambda: datetime.now(UTC))
        """What time it is (tests set the day a record is signed)."""
        self.bus: EventBus = live.bus if live else NullBus()
        """Where `record.changed` and notifications go after commit."""

    # --- reading -------------------------------------------------------------------------------

    async def list(self, actor: Actor, meeting_id: int) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            _, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
            stmt = select(Resolution).where(Resolution.meeting_id == meeting_id).order_by(col(Resolution.id))
            if member.role not in STAFF:
                stmt = stmt.where(Resolution.status == "published")
            return [await self._out(s, r) for r in (await s.exec(stmt)).all()]

    async def get(self, actor: Actor, record_id: int) -> dict[str, Any]:
        async with self.db.read() as s:
            record, _ = await self._visible(s, actor, record_id)
            return await self._out(s, record)

    async def pdf(self, actor: Actor, record_id: int) -> tuple[Resolution, bytes]:
        async with self.db.read() as s:
            record, _ = await self._visible(s, actor, record_id)
        return record, await self.files.get(record.pdf_sha256)

    async def verification(self, actor: Actor, record_id: int) -> dict[str, Any]:
        record, data = await self.pdf(actor, record_id)
        return await verification.verify(self.settings, data)

    # --- drafting ------------------------------------------------------------------------------

    async def create(self, actor: Actor, meeting_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
        kind = data["kind"]
        outbox = notifications.Outbox()
        async with self.db.write() as s:
            meeting, _ = await access.require_membership(s, actor, meeting_id, Action.PREPARE_RECORDS)
            if kind == "minutes" and meeting.kind == "opinion_round":
                raise BadRequest("an opinion round has a report, not minutes", code="not_a_session")
            if kind == "minutes" and meeting.status != Status.CLOSED.value:
                raise InvalidState("the minutes are drafted once the session is closed", code="session_not_closed")
            poll = None
            if kind == "resolution" and meeting.kind == "opinion_round":
                await opinion_results(s, meeting)  # refuses a round that is still open
            elif kind == "resolution":
                poll = await s.get(Poll, data.get("poll_id") or 0)
                if poll is None or poll.meeting_id != meeting_id:
                    raise BadRequest("name a poll of this meeting", code="unknown_poll")
                if poll.status != voting.PollStatus.CLOSED.value:
                    raise InvalidState("a resolution is drafted from a closed poll", code="poll_not_closed")
            content = _content(data)
            record = Resolution(meeting_id=meeting_id, kind=kind, poll_id=poll.id if poll else None,
                                number=data["number"], title=data["title"], content=json.dumps(content,
                                                                                                ensure_ascii=False),
                                pdf_sha256="", created_by=actor.user_id)
            await self._unique_number(s, record)
            rendered = await self._render(s, meeting, record, content, poll)
            record.pdf_sha256, record.pdf_size = await self.files.put(rendered.pdf), len(rendered.pdf)
            s.add(record)
            await s.flush()
            await audit.record(s, f"{kind}.drafted", actor_id=actor.user_id, object_type="record",
                               object_id=record.id, meeting_id=meeting_id,
                               details={"number": record.number, "pdf_sha256": record.pdf_sha256})
            await self._tell(s, outbox, actor, record, "record_review", {Role.SECRETARY})
            result = await self._out(s, record)
        await self._changed(outbox, result)
        return result

    async def update(self, actor: Actor, record_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
        async with self.db.write() as s:
            record = await self._load(s, record_id, lock=True)
            meeting, _ = await access.require_membership(s, actor, record.meeting_id, Action.PREPARE_RECORDS,
                                                           unseen=_missing(record_id))
            if record.status != "draft":
                raise InvalidState("only a draft can be edited: signed text does not change", code="not_draft")
            content = json.loads(record.content) | _content(data, partial=True)
            if "number" in data:
                record.number = data["number"]
                await self._unique_number(s, record)
            if "title" in data:
                record.title = data["title"]
            record.content = json.dumps(content, ensure_ascii=False)
            poll = await s.get(Poll, record.poll_id) if record.poll_id else None
            rendered = await self._render(s, meeting, record, content, poll)
            record.pdf_sha256, record.pdf_size = await self.files.put(rendered.pdf), len(rendered.pdf)
            record.updated_at = utcnow()
            s.add(record)
            await audit.record(s, f"{record.kind}.edited", actor_id=actor.user_id, object_type="record",
                               object_id=record.id, meeting_id=record.meeting_id,
                               details={"pdf_sha256": record.pdf_sha256})
            result = await self._out(s, record)
        await self._changed(notifications.Outbox(), result)
        return result

    async def discard(self, actor: Actor, record_id: int) -> None:
        """A draft thrown away (a typo is fixed by editing; a wrong draft by discarding it): its number is
        free again; the audit entry keeps its number and the hash of the file it had."""
        async with self.db.write() as s:
            record = await self._load(s, record_id, lock=True)
            await self._visible(s, actor, record_id)  # whoever may not see the draft learns nothing of it
            await access.require_membership(s, actor, record.meeting_id, Action.PREPARE_RECORDS)
            if record.status != "draft":
                raise InvalidState("only a draft can be discarded: a reviewed or signed record is kept",
                                   code="not_draft")
            await audit.record(s, f"{record.kind}.discarded", actor_id=actor.user_id, object_type="record",
                               object_id=record.id, meeting_id=record.meeting_id,
                               details={"number": record.number, "title": record.title,
                                        "pdf_sha256": record.pdf_sha256})
            await s.delete(record)

    # --- signing and publishing -----------------------------------------------------------------

    async def review(self, actor: Actor, record_id: int, credential_id: int, secret: str) -> dict[str, Any]:
        """The secretary checks the draft and initials it. Minutes: the certification signature on the
        minutes themselves. A resolution: an invisible signature on the undated draft (kept, and named in
        the audit log); the issued text carries the initials (ký nháy), not a signature block."""
        return await signing_guard.guarded(self.db, self.settings, actor, credential_id, attempt=lambda: self._sign(
            actor, record_id, credential_id, secret, action=Action.REVIEW_RECORDS, before="draft", after="reviewed",
            field=REVIEW_FIELD))

    async def sign(self, actor: Actor, record_id: int, credential_id: int, secret: str) -> dict[str, Any]:
        """The chair signs the reviewed record. A resolution is made final now, dated the day it is signed
        (in ECABINET_SIGNING_TIMEZONE) from the text the secretary reviewed, and the chair's signature is
        its first, certifying one."""
        return await signing_guard.guarded(self.db, self.settings, actor, credential_id, attempt=lambda: self._sign(
            actor, record_id, credential_id, secret, action=Action.SIGN_RECORDS, before="reviewed", after="signed",
            field=SIGN_FIELD))

    async def publish(self, actor: Actor, record_id: int) -> dict[str, Any]:
        outbox = notifications.Outbox()
        async with self.db.write() as s:
            record = await self._load(s, record_id, lock=True)
            await access.require_membership(s, actor, record.meeting_id, Action.PUBLISH_RECORDS,
                                            unseen=_missing(record_id))
            if record.status != "signed":
                raise InvalidState(f"only a signed record can be published (this one is {record.status})",
                                   code="not_signed")
            record.status, record.published_at, record.updated_at = "published", utcnow(), utcnow()
            s.add(record)
            await audit.record(s, f"{record.kind}.published", actor_id=actor.user_id, object_type="record",
                               object_id=record.id, meeting_id=record.meeting_id,
                               details={"pdf_sha256": record.pdf_sha256})
            await self._tell(s, outbox, actor, record, "record_published", None)
            result = await self._out(s, record)
        await self._changed(outbox, result)
        return result

    async def _sign(self, actor: Actor, record_id: int, credential_id: int, secret: str, *, action: Action,
                    before: str, after: str, field: str) -> dict[str, Any]:
        outbox = notifications.Outbox()
        async with self.db.write() as s:
            record = await self._load(s, record_id, lock=True)
            meeting, member = await access.require_membership(s, actor, record.meeting_id, action,
                                                                 unseen=_missing(record_id))
            if record.status != before:
                raise InvalidState(f"this step needs a {before} record (this one is {record.status})",
                                   code=f"not_{before}")
            cred = await credentials.load_own(s, actor, credential_id)
            signer_user = await s.get(User, actor.user_id)
            assert signer_user is not None and cred.id is not None and record.id is not None
            content = json.loads(record.content)
            reviewed_pdf = record.pdf_sha256
            if record.kind == "resolution" and field == SIGN_FIELD:
                # The text the secretary reviewed, dated today: the issued resolution.
                poll = await s.get(Poll, record.poll_id) if record.poll_id else None
                current = (await self._render(s, meeting, record, content, poll, final=True)).pdf
                content = json.loads(record.content)
                certify = True
            else:
                current = await self.files.get(record.pdf_sha256)
                certify = record.kind == "minutes" and field == REVIEW_FIELD
            slots = {slot["field_name"]: slot for slot in content.get("_slots", [])}
            invisible = record.kind == "resolution" and field == REVIEW_FIELD
            if field not in slots and not invisible:
                raise Conflict("this record has no signature place for this step", code="no_signature_field")
            # On paper the head's signature carries the body's seal; the reviewer's carries none.
            body = await s.get(Body, meeting.body_id) if field == SIGN_FIELD else None
            signature_png, seal_png = await signature_images.for_signing(s, self.files, signer_user, body)
            options = self._options(field, {} if invisible else slots, certify=certify, name=signer_user.full_name,
                                    title=signer_user.title or (member.role.value if member else ""),
                                    images=(signature_png, seal_png))
            signed_pdf = await sign_in_thread(cred, secret, current, options, credentials.dev_chain(self.settings))
            digest = await self.files.put(signed_pdf)
            record.pdf_sha256, record.pdf_size = digest, len(signed_pdf)
            record.status, record.updated_at = after, utcnow()
            s.add(record)
            s.add(ResolutionSignature(resolution_id=record.id, field_name=field, signer_id=actor.user_id,
                                      credential_id=cred.id, certify=certify, level=self.settings.pades_level,
                                      pdf_sha256=digest))
            details = {"field": field, "certificate": cred.fingerprint, "pdf_sha256": digest,
                       "level": self.settings.pades_level}
            if record.kind == "resolution" and field == SIGN_FIELD:
                details["reviewed_pdf_sha256"] = reviewed_pdf  # the signed draft the issued text comes from
            await audit.record(s, f"{record.kind}.{after}", actor_id=actor.user_id, object_type="record",
                               object_id=record.id, meeting_id=record.meeting_id, details=details)
            if field == REVIEW_FIELD:
                await self._tell(s, outbox, actor, record, "record_sign", {Role.CHAIR})
            result = await self._out(s, record)
        await self._changed(outbox, result)
        return result

    def _options(self, field: str, slots: Mapping[str, Any], *, certify: bool, name: str, title: str,
                 images: tuple[bytes | None, bytes | None] = (None, None)) -> signing.SignOptions:
        """Signing at `field`'s place in `slots`, or invisibly when it has none."""
        slot = slots.get(field)
        others = tuple((f, s["page_index"], tuple(s["box"])) for f, s in slots.items() if f != field) \
            if certify else ()
        return signing.SignOptions(
            field_name=field, page_index=slot["page_index"] if slot else 0,
            box=tuple(slot["box"]) if slot else None,
            level=signing.PadesLevel(self.settings.pades_level), certify=certify,
            appearance=signing.Appearance(name=name, title=title, signature_image=images[0],
                                          seal_image=images[1]) if slot else None,
            timestamp_url=self.settings.timestamp_url or None, other_fields=others,
            trust_roots=tuple(verification.trust_roots(self.settings)), time_zone=self.settings.signing_timezone)

    # --- telling people ------------------------------------------------------------------------

    async def _tell(self, s: AsyncSession, outbox: notifications.Outbox, actor: Actor, record: Resolution,
                    kind: str, roles: set[Role] | None) -> None:
        """Notifies the meeting's people of `roles` (everyone when None) but the actor, in this transaction."""
        meeting = await s.get(Meeting, record.meeting_id)
        assert meeting is not None and record.id is not None
        await outbox.add(s, await notifications.people(s, record.meeting_id, roles) - {actor.user_id}, kind,
                         notifications.record_link(record.id), number=record.number, title=record.title,
                         meeting=meeting.title)

    async def _changed(self, outbox: notifications.Outbox, record: dict[str, Any]) -> None:
        """After commit: the staff's open record pages reload; the notified hear of it."""
        await self.bus.publish("record.changed", {"record_id": record["id"], "meeting_id": record["meeting_id"],
                                                  "status": record["status"]}, room=staff_room(record["meeting_id"]))
        await outbox.deliver(self.bus, self.settings, self.db)

    # --- helpers -------------------------------------------------------------------------------

    async def _load(self, s: AsyncSession, record_id: int, *, lock: bool = False) -> Resolution:
        stmt = select(Resolution).where(Resolution.id == record_id)
        if lock:
            stmt = stmt.with_for_update()
        record = (await s.exec(stmt)).first()
        if record is None:
            raise _missing(record_id)
        return record

    async def _visible(self, s: AsyncSession, actor: Actor, record_id: int) -> tuple[Resolution, Role]:
        record = await self._load(s, record_id)
        _, member = await access.require_membership(s, actor, record.meeting_id, Action.VIEW,
                                                    unseen=_missing(record_id))
        if record.status != "published" and member.role not in STAFF:
            raise _missing(record_id)
        return record, member.role

    async def _unique_number(self, s: AsyncSession, record: Resolution) -> None:
        clash = (await s.exec(select(Resolution.id).where(
            Resolution.meeting_id == record.meeting_id, Resolution.kind == record.kind,
            Resolution.number == record.number, Resolution.id != record.id))).first()
        if clash is not None:
            raise Conflict(f"this meeting already has a {record.kind} numbered {record.number}",
                           code="duplicate_number")

    async def _out(self, s: AsyncSession, r: Resolution) -> dict[str, Any]:
        sigs = (await s.exec(select(ResolutionSignature, User).join(User, col(User.id) ==
                                                                     col(ResolutionSignature.signer_id))
                             .where(ResolutionSignature.resolution_id == r.id)
                             .order_by(col(ResolutionSignature.id)))).all()
        content = {k: v for k, v in json.loads(r.content).items() if not k.startswith("_")}
        return {"id": r.id, "meeting_id": r.meeting_id, "kind": r.kind, "poll_id": r.poll_id, "number": r.number,
                "title": r.title, "status": r.status, "content": content, "pdf_sha256": r.pdf_sha256,
                "pdf_size": r.pdf_size, "created_at": r.created_at, "updated_at": r.updated_at,
                "published_at": r.published_at,
                "signatures": [{"field_name": g.field_name, "signer_id": g.signer_id, "signer_name": u.full_name,
                                "certify": g.certify, "level": g.level, "signed_at": g.signed_at}
                               for g, u in sigs]}

    async def _render(self, s: AsyncSession, meeting: Meeting, record: Resolution, content: dict[str, Any],
                      poll: Poll | None, *, final: bool = False) -> signing.RenderedPdf:
        """The record's PDF. A resolution is a marked, undated draft until `final` (the chair signs)."""
        body = await s.get(Body, meeting.body_id)
        assert body is not None
        people = await _staff(s, meeting)
        heading = content.get("issuer") or letterhead.issuer_heading(body.name, body.kind)
        issuer = signing.Issuer(governing_body=heading, place=content.get("place") or "Hà Nội")
        # Times are stored in UTC; the documents print them where the body sits.
        zone = ZoneInfo(self.settings.signing_timezone)
        secretary = signing.Signatory(field_name=REVIEW_FIELD, capacity="THƯ KÝ",
                                      title=people["secretary_title"].upper(), full_name=people["secretary"])
        chair = signing.Signatory(field_name=SIGN_FIELD, capacity=content.get("capacity") or "CHỦ TỌA",
                                  title=people["chair_title"].upper(), full_name=people["chair"])
        if record.kind == "resolution":
            # A resolution is the body's: its head signs on its behalf ("TM. CHÍNH PHỦ / THỦ TƯỚNG").
            chair = dataclasses.replace(chair, capacity=content.get("capacity") or letterhead.collective_capacity(
                heading), title=letterhead.position_title(people["chair_title"]))
            written = await opinion_results(s, meeting) if meeting.kind == "opinion_round" else ()
            if written and not content.get("articles"):
                # Pre-filled from the result: one article per approved question; the secretary edits them.
                content["articles"] = [{"heading": f"Điều {i}.", "text": f"Thông qua: {r.question}"}
                                       for i, r in enumerate((r for r in written if r.passed), start=1)]
            doc = signing.ResolutionDoc(
                issuer=issuer, number=record.number, issued_at=self.clock().astimezone(zone) if final else None,
                draft=not final, initials=letterhead.initials(people["secretary"]) if final else "",
                title="NGHỊ QUYẾT", subject=record.title,
                preamble=tuple(content.get("preamble") or ()),
                articles=tuple((a["heading"], a["text"]) for a in content.get("articles") or ()),
                poll=_poll_result(poll, zone) if poll else None, opinions=written,
                recipients=tuple(content.get("recipients") or ()),
                signatories=(chair,), meeting_title=meeting.title,
                meeting_date=(meeting.started_at or meeting.starts_at).astimezone(zone))
            rendered = await asyncio.to_thread(signing.render_resolution, doc)
        else:
            doc_m = await _minutes_doc(s, meeting, record, content, issuer, (secretary, chair), zone)
            rendered = await asyncio.to_thread(signing.render_minutes, doc_m)
        content["_slots"] = [{"field_name": slot.field_name, "page_index": slot.page_index, "box": list(slot.box)}
                             for slot in rendered.slots]
        record.content = json.dumps(content, ensure_ascii=False)
        return rendered


async def sign_in_thread(cred: Any, secret: str, pdf: bytes, options: signing.SignOptions,
                     chain: tuple[bytes, ...]) -> bytes:
    """pyHanko's signing is CPU work and tokens block: run it on a worker thread with its own loop."""
    def work() -> bytes:
        with credentials.open_signer(cred, secret, chain) as signer:
            return asyncio.run(signing.sign_pdf(pdf, signer, options))
    try:
        return await asyncio.to_thread(work)
    except signing.SigningError as exc:
        raise credentials.from_signing_error(exc) from exc


def download_name(kind: str, number: str) -> str:
    """The file name a record downloads under: its kind and number and symbol, as the archive files
    it ("nghi-quyet-15-NQ-CP.pdf"), in ASCII so every browser and mail client keeps it."""
    stem = "nghi-quyet" if kind == "resolution" else "bien-ban"
    symbol = re.sub(r"[^A-Za-z0-9]+", "-", unicodedata.normalize("NFKD", number).encode("ascii", "ignore")
                    .decode()).strip("-")
    return f"{stem}-{symbol or 'khong-so'}.pdf"


def _content(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    keys = ("issuer", "place", "capacity", "preamble", "articles", "recipients", "summary")
    return {k: data[k] for k in keys if k in data and (data[k] is not None or not partial)}


async def opinion_results(s: AsyncSession, meeting: Meeting) -> tuple[signing.PollResult, ...]:
    """The closed round's questions with their outcome, as a resolution reports them."""
    from backend.services import opinions

    assert meeting.id is not None
    rnd = await opinions.round_of(s, meeting.id)
    if rnd is None or rnd.status != "closed":
        raise InvalidState("a resolution is drafted from a closed opinion round", code="round_not_closed")
    return await opinions.written_results(s, rnd, meeting.id)


def _poll_result(poll: Poll, zone: ZoneInfo) -> signing.PollResult:
    result = json.loads(poll.result or "{}")
    options = json.loads(poll.options)
    counts = result.get("counts", {})
    return signing.PollResult(
        question=poll.question, options=tuple((o["label"], int(counts.get(o["key"], 0))) for o in options),
        rule=RULE_TEXT.get(poll.majority, poll.majority), entitled=int(result.get("entitled", 0)),
        present=int(result.get("present", 0)), voted=int(result.get("total_ballots", 0)),
        quorum_needed=int(result.get("quorum_needed", 0)), quorum_met=bool(result.get("quorum_reached")),
        passed=bool(result.get("passed")), secret=poll.secret,
        opened_at=(poll.opened_at or poll.created_at).astimezone(zone),
        closed_at=(poll.closed_at or poll.created_at).astimezone(zone),
        abstain_index=next((i for i, o in enumerate(options) if o.get("kind") == "abstain"), None))


async def _staff(s: AsyncSession, meeting: Meeting) -> dict[str, str]:
    rows = (await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                         .where(Participant.meeting_id == meeting.id, taking_part(),
                                col(Participant.role).in_([Role.CHAIR.value, Role.SECRETARY.value]))
                         .order_by(col(Participant.id)))).all()
    out = {"chair": "", "chair_title": "", "secretary": "", "secretary_title": ""}
    for p, u in rows:
        if not out[p.role]:
            out[p.role], out[f"{p.role}_title"] = u.full_name, u.title or ""
    return out


async def _minutes_doc(s: AsyncSession, meeting: Meeting, record: Resolution, content: dict[str, Any],
                       issuer: signing.Issuer, signatories: tuple[signing.Signatory, ...],
                       zone: ZoneInfo) -> signing.MinutesDoc:
    participants = (await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                                 .where(Participant.meeting_id == meeting.id)
                                 .order_by(col(Participant.id)))).all()
    users = {u.id: u for _, u in participants}
    attended = (await s.exec(select(Attendance).where(Attendance.meeting_id == meeting.id)
                             .order_by(col(Attendance.checked_in_at)))).all()
    first_in: dict[int, Attendance] = {}
    for row in attended:
        first_in.setdefault(row.participant_id, row)
    for row in attended:
        if row.user_id not in users:
            stand_in = await s.get(User, row.user_id)
            if stand_in is not None:
                users[row.user_id] = stand_in
    rows = []
    for p, u in participants:
        a = first_in.get(p.id or 0)
        if p.removed_at is not None and a is None:
            continue  # removed before ever attending: not part of the session's record
        deputy = users.get(a.user_id) if a and a.user_id != p.user_id else None
        # Whoever signs as the session's secretary kept its record, so was there (perhaps at a laptop,
        # over REST, never checked in on a tablet).
        keeping_the_record = p.role == Role.SECRETARY.value and u.full_name == signatories[0].full_name
        rows.append(signing.AttendanceRow(name=u.full_name, title=u.title or "", role=_ROLE_VI[p.role],
                                          present=a is not None or keeping_the_record,
                                          deputy=deputy.full_name if deputy else None,
                                          checked_in_at=a.checked_in_at.astimezone(zone) if a else None))
    items = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                          .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all()
    turns = (await s.exec(select(SpeakerTurn, User).join(User, col(User.id) == col(SpeakerTurn.user_id))
                          .where(SpeakerTurn.meeting_id == meeting.id, col(SpeakerTurn.started_at).is_not(None))
                          .order_by(col(SpeakerTurn.started_at)))).all()
    polls = (await s.exec(select(Poll).where(Poll.meeting_id == meeting.id,
                                             Poll.status == voting.PollStatus.CLOSED.value)
                          .order_by(col(Poll.closed_at)))).all()
    agenda = []
    for i, item in enumerate(items, start=1):
        speakers = tuple(
            signing.SpeakerEntry(name=u.full_name, started_at=t.started_at.astimezone(zone),
                                 ended_at=(t.ended_at or t.started_at).astimezone(zone))
            for t, u in turns if t.agenda_item_id == item.id and t.started_at is not None)
        item_polls = tuple(_poll_result(p, zone) for p in polls if p.agenda_item_id == item.id)
        agenda.append(signing.AgendaEntry(position=i, title=item.title, presenter=item.presenter,
                                          speakers=speakers, polls=item_polls,
                                          discussed=item.status in ("current", "done") or bool(speakers or item_polls),
                                          postponed=item.status == "postponed"))
    return signing.MinutesDoc(
        issuer=issuer, number=record.number, held_at=(meeting.started_at or meeting.starts_at).astimezone(zone),
        ended_at=(meeting.ended_at or datetime.now(UTC)).astimezone(zone), place=meeting.place,
        meeting_title=meeting.title,
        chair=signatories[1].full_name, secretary=signatories[0].full_name, attendance=tuple(rows),
        agenda=tuple(agenda), summary=tuple(content.get("summary") or ()),
        recipients=tuple(content.get("recipients") or ()), signatories=signatories, title=record.title)


_ROLE_VI = {"chair": "Chủ tọa", "secretary": "Thư ký", "member": "Thành viên", "guest": "Khách mời",
            "bridge": "Điểm cầu"}


def _missing(record_id: int) -> NotFound:
    return NotFound(f"no record {record_id}", code="unknown_record")
