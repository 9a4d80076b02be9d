"""Meeting documents: the secretariat uploads PDFs to agenda items (each upload a new version, the
earlier ones kept), decides who reads them (every participant but guests, or named readers; "Mật":
on screen only), and members read them. The file is checked in a sandbox before anything is stored;
every copy a person receives is watermarked with their name and an invisible token (services/copies.py).

Who may read a document (`may_read`): the chair and the secretariat always; otherwise a participant
of the meeting (or their named deputy) who is not a guest when the audience is "participants", or
who is named when the audience is "named". A draft meeting's documents are the staff's only."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import STAFF, Action, Role
from backend.domain.text import fold_aligned, strip_unsafe
from backend.exceptions import BadRequest, NotFound, ServiceUnavailable
from backend.models import (
    AgendaItem,
    Document,
    DocumentPage,
    DocumentReader,
    DocumentVersion,
    Meeting,
    Participant,
    taking_part,
)
from backend.models.base import utcnow
from backend.pdf.probe import PdfRejected, ProbeLimits, ProbeResult, probe
from backend.pdf.sandbox import SandboxBusy
from backend.services import access, audit, pdf_jobs
from backend.services.access import Membership
from backend.services.context import Actor, Live
from backend.services.events import meeting_room
from backend.services.files import FileStore

AUDIENCES = ("participants", "named")


@dataclass(frozen=True)
class Readable:
    """A document someone may read, with what they are to it."""

    document: Document
    """The document (not removed)."""
    meeting: Meeting
    """Its meeting."""
    member: Membership
    """The reader's participation in the meeting."""

    @property
    def staff(self) -> bool:
        return self.member.role in STAFF


def may_read(document: Document, member: Membership, named: Sequence[int]) -> bool:
    """The rule in the module docstring; `named` are the document's named readers."""
    if member.role in STAFF:
        return True
    if document.current_version == 0:
        return False
    if document.audience == "participants" and member.role is not Role.GUEST:
        return True
    return member.participant.user_id in named


async def named_readers(s: AsyncSession, document_id: int) -> list[int]:
    rows = await s.exec(select(DocumentReader.user_id).where(DocumentReader.document_id == document_id))
    return sorted(rows.all())


async def readable(s: AsyncSession, actor: Actor, document_id: int, action: Action = Action.VIEW) -> Readable:
    """The document, if `actor` may read it and do `action` in its meeting now; else the matching error."""
    document = await s.get(Document, document_id)
    missing = NotFound(f"no document {document_id}", code="unknown_document")
    if document is None or document.removed_at is not None:
        raise missing
    meeting, member = await access.require_membership(s, actor, document.meeting_id, action, lock=False,
                                                      unseen=missing)
    if not may_read(document, member, await named_readers(s, document_id)):
        raise missing  # one who may not read it is not told that it exists
    return Readable(document, meeting, member)


async def version_of(s: AsyncSession, document: Document, number: int | None = None) -> DocumentVersion:
    wanted = number or document.current_version
    version = (await s.exec(select(DocumentVersion).where(DocumentVersion.document_id == document.id,
                                                          DocumentVersion.number == wanted))).first()
    if version is None:
        raise NotFound(f"document {document.id} has no version {wanted}", code="unknown_version")
    return version


def page_boxes(version: DocumentVersion) -> list[list[float]]:
    """[[x0, y0, x1, y1, rotation], ...] per page."""
    boxes: list[list[float]] = json.loads(version.pages)
    return boxes


class Documents:
    """The use cases, bound to the database, the file store, the settings and the live bus."""

    def __init__(self, db: Database, files: FileStore, settings: Settings, live: Live | None = None) -> None:
        self.db, self.files, self.settings, self.live = db, files, settings, live

    # --- reading -----------------------------------------------------------------------------------

    async def listing(self, actor: Actor, meeting_id: int) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            _, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
            documents = (await s.exec(select(Document).where(
                Document.meeting_id == meeting_id, col(Document.removed_at).is_(None)).order_by(
                col(Document.agenda_item_id), col(Document.position), col(Document.id)))).all()
            out = []
            for document in documents:
                named = await named_readers(s, document.id or 0)
                if may_read(document, member, named):
                    out.append(await self._out(s, document, member.role in STAFF, named))
            return out

    async def get(self, actor: Actor, document_id: int) -> dict[str, Any]:
        async with self.db.read() as s:
            doc = await readable(s, actor, document_id)
            return await self._out(s, doc.document, doc.staff, await named_readers(s, document_id))

    # --- the secretariat's changes ------------------------------------------------------------------

    async def upload(self, actor: Actor, meeting_id: int, fields: Mapping[str, Any], data: bytes,
                     filename: str) -> dict[str, Any]:
        """A new document with its first version."""
        async with self.db.read() as s:  # refuse early: before the (slow) check, and before storing the file
            await access.require_membership(s, actor, meeting_id, Action.MANAGE_DOCUMENTS, lock=False)
            await self._item(s, meeting_id, fields.get("agenda_item_id"))
            await self._readers(s, meeting_id, fields.get("readers") or [])
        checked = await self._check(data)
        digest = await self.files.put(data)
        async with self.db.write() as s:
            await access.require_membership(s, actor, meeting_id, Action.MANAGE_DOCUMENTS)
            item_id = await self._item(s, meeting_id, fields.get("agenda_item_id"))
            readers = await self._readers(s, meeting_id, fields.get("readers") or [])
            last = (await s.exec(select(func.max(Document.position)).where(
                Document.meeting_id == meeting_id, Document.agenda_item_id == item_id))).one()
            title = fields.get("title") or _title_from(filename, checked)
            document = Document(meeting_id=meeting_id, agenda_item_id=item_id, position=(last or 0) + 1,
                                title=title, audience=fields.get("audience") or "participants",
                                secret=bool(fields.get("secret")), created_by=actor.user_id)
            s.add(document)
            await s.flush()
            assert document.id is not None
            for user_id in readers:
                s.add(DocumentReader(document_id=document.id, user_id=user_id))
            await self._add_version(s, actor, document, checked, digest, len(data), filename)
            out = await self._out(s, document, True, readers)
        await self._announce(meeting_id, document.id)
        return out

    async def add_version(self, actor: Actor, document_id: int, data: bytes, filename: str) -> dict[str, Any]:
        async with self.db.read() as s:
            await readable(s, actor, document_id, Action.MANAGE_DOCUMENTS)
        checked = await self._check(data)
        digest = await self.files.put(data)
        async with self.db.write() as s:
            doc = await readable(s, actor, document_id, Action.MANAGE_DOCUMENTS)
            document = await s.get(Document, document_id, with_for_update=True)
            assert document is not None
            await self._add_version(s, actor, document, checked, digest, len(data), filename)
            out = await self._out(s, document, True, await named_readers(s, document_id))
        await self._announce(doc.meeting.id or 0, document_id)
        return out

    async def update(self, actor: Actor, document_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        async with self.db.write() as s:
            doc = await readable(s, actor, document_id, Action.MANAGE_DOCUMENTS)
            document, meeting_id = doc.document, doc.document.meeting_id
            changes: dict[str, Any] = {}
            if "title" in fields:
                document.title = changes["title"] = fields["title"]
            if "agenda_item_id" in fields:
                document.agenda_item_id = changes["agenda_item_id"] = await self._item(
                    s, meeting_id, fields["agenda_item_id"])
            if "position" in fields:
                document.position = changes["position"] = fields["position"]
            if "audience" in fields:
                document.audience = changes["audience"] = fields["audience"]
            if "secret" in fields:
                document.secret = changes["secret"] = bool(fields["secret"])
            if "readers" in fields:
                readers = await self._readers(s, meeting_id, fields["readers"] or [])
                for row in (await s.exec(select(DocumentReader).where(
                        DocumentReader.document_id == document_id))).all():
                    await s.delete(row)
                await s.flush()
                for user_id in readers:
                    s.add(DocumentReader(document_id=document_id, user_id=user_id))
                changes["readers"] = readers
            document.updated_at = utcnow()
            s.add(document)
            await audit.record(s, "document.changed", actor_id=actor.user_id, object_type="document",
                               object_id=document_id, meeting_id=meeting_id, details=changes)
            out = await self._out(s, document, True, await named_readers(s, document_id))
        await self._announce(meeting_id, document_id, access_changed=bool({"audience", "readers"} & set(fields)))
        return out

    async def remove(self, actor: Actor, document_id: int) -> None:
        """Takes a document off the meeting; its versions, copies and audit trail stay (for tracing)."""
        async with self.db.write() as s:
            doc = await readable(s, actor, document_id, Action.MANAGE_DOCUMENTS)
            doc.document.removed_at = utcnow()
            s.add(doc.document)
            await s.exec(update(DocumentPage).where(
                col(DocumentPage.document_id) == document_id).values(current=False))
            meeting = doc.meeting
            if meeting.presenter_document_id == document_id:
                meeting.presenter_document_id = None
                s.add(meeting)
            await audit.record(s, "document.removed", actor_id=actor.user_id, object_type="document",
                               object_id=document_id, meeting_id=doc.document.meeting_id,
                               details={"title": doc.document.title})
        await self._announce(doc.document.meeting_id, document_id, access_changed=True)

    # --- helpers -----------------------------------------------------------------------------------

    async def _check(self, data: bytes) -> ProbeResult:
        limits = ProbeLimits(max_pages=self.settings.max_document_pages,
                             max_objects=self.settings.max_document_objects,
                             timeout_seconds=float(self.settings.pdf_check_seconds),
                             memory_bytes=self.settings.pdf_check_memory_mb * 1_000_000)
        try:
            return await probe(data, limits, pdf_jobs.pool(self.settings, "work"))
        except PdfRejected as exc:
            raise BadRequest(exc.message, code=exc.code) from exc
        except SandboxBusy as exc:
            raise ServiceUnavailable(exc.message, code=exc.code, retry_after=exc.retry_after) from exc

    async def _add_version(self, s: AsyncSession, actor: Actor, document: Document, checked: ProbeResult,
                           digest: str, size: int, filename: str) -> None:
        assert document.id is not None
        number = document.current_version + 1
        boxes = [[*p.box, p.rotation] for p in checked.pages]
        version = DocumentVersion(document_id=document.id, number=number, sha256=digest, size=size,
                                  filename=filename, page_count=checked.page_count,
                                  pages=json.dumps(boxes), uploaded_by=actor.user_id)
        s.add(version)
        await s.flush()
        assert version.id is not None
        await s.exec(update(DocumentPage).where(
            col(DocumentPage.document_id) == document.id).values(current=False))
        for number_, page in enumerate(checked.pages, start=1):
            text = unicodedata.normalize("NFC", page.text).replace("\x00", "")
            s.add(DocumentPage(document_id=document.id, version_id=version.id, page=number_, text=text,
                               folded=fold_aligned(text)))
        document.current_version = number
        document.updated_at = utcnow()
        s.add(document)
        await audit.record(s, "document.uploaded", actor_id=actor.user_id, object_type="document",
                           object_id=document.id, meeting_id=document.meeting_id,
                           details={"version": number, "sha256": digest, "pages": checked.page_count,
                                    "filename": filename})

    async def _item(self, s: AsyncSession, meeting_id: int, item_id: int | None) -> int | None:
        if item_id is None:
            return None
        item = await s.get(AgendaItem, item_id)
        if item is None or item.meeting_id != meeting_id:
            raise BadRequest(f"item {item_id} is not on this meeting's agenda", code="unknown_item")
        return item_id

    async def _readers(self, s: AsyncSession, meeting_id: int, user_ids: Sequence[int]) -> list[int]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return []
        found = set((await s.exec(select(Participant.user_id).where(
            Participant.meeting_id == meeting_id, col(Participant.user_id).in_(wanted), taking_part()))).all())
        missing = [u for u in wanted if u not in found]
        if missing:
            raise BadRequest(f"readers must be participants of the meeting: {missing}", code="unknown_reader")
        return wanted

    async def _out(self, s: AsyncSession, document: Document, staff: bool, named: list[int]) -> dict[str, Any]:
        versions = (await s.exec(select(DocumentVersion).where(DocumentVersion.document_id == document.id)
                                 .order_by(col(DocumentVersion.number)))).all()
        current = next((v for v in versions if v.number == document.current_version), None)
        return {
            "id": document.id, "meeting_id": document.meeting_id, "agenda_item_id": document.agenda_item_id,
            "position": document.position, "title": document.title, "audience": document.audience,
            "secret": document.secret, "readers": named if staff else None,
            "current_version": document.current_version,
            "page_count": current.page_count if current else 0,
            "pages": page_boxes(current) if current else [],
            "may_download": not document.secret,
            "versions": [{"number": v.number, "size": v.size, "page_count": v.page_count, "filename": v.filename,
                          "sha256": v.sha256, "created_at": v.created_at} for v in versions],
            "created_at": document.created_at, "updated_at": document.updated_at,
        }

    async def _announce(self, meeting_id: int, document_id: int | None, *, access_changed: bool = False) -> None:
        """Tablets refetch the list (which only ever shows what each may read); a change of who may read
        a document also empties its live room, so every open viewer re-joins through the check."""
        if self.live is None:
            return
        payload = {"meeting_id": meeting_id, "document_id": document_id}
        await self.live.bus.publish("documents.changed", payload, room=meeting_room(meeting_id))
        if access_changed and document_id is not None:
            await self.live.bus.close_room(document_room(document_id))


def document_room(document_id: int) -> str:
    """Viewers of one document (they join through `document.open`, which checks they may read it)."""
    return f"document:{document_id}"


def _title_from(filename: str, checked: ProbeResult) -> str:
    # A PDF's own title is text no person typed: drop the controls and invisible characters input may not hold.
    title = strip_unsafe(checked.title).strip() or filename.rsplit("/", 1)[-1].removesuffix(".pdf").removesuffix(
        ".PDF")
    return (title or "Tài liệu")[:500]
