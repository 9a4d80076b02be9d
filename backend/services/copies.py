"""Every copy of a document a person receives is their own: each page carries a visible mark (their
name, the time) and an invisible token that names the copy, and the copy is recorded with the
audit log. On-screen reading gets one such copy per person and version (kept in the file store);
downloads, "my annotated copy" and the meeting book get a new one each time. `trace` reads the
tokens out of a leaked file and says whose copy it was and when it was handed out.

"Mật" (secret) documents are read on screen only: no download, no annotated copy, not in the book.

Every copy, annotated copy, book and trace is made in the PDF sandbox (services/pdf_jobs.py: a killable,
rlimited child, a bounded number at once), never in the web worker: stored files are untrusted bytes too.
A user builds one meeting book at a time, at most ECABINET_BOOK_BUILDS_PER_MINUTE a minute (429)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import Action
from backend.domain.text import fold
from backend.exceptions import Forbidden, Unprocessable
from backend.models import AgendaItem, Annotation, Body, Document, DocumentCopy, Meeting, User
from backend.models.base import utcnow
from backend.pdf import export, jobs
from backend.services import access, audit, pdf_jobs, throttle
from backend.services.context import Actor
from backend.services.documents import Readable, may_read, named_readers, readable, version_of
from backend.services.files import FileStore


@dataclass(frozen=True)
class ViewCopy:
    """My on-screen copy of one version of a document."""

    version: int
    """The version these bytes are (the current one when none was asked for)."""
    tag: str
    """Names this copy: the SHA-256 of my watermarked copy of this version (each person's differs)."""
    secret: bool
    """Mật: the copy must be kept by no cache."""
    data: bytes | None
    """The PDF; None when the caller already holds this very copy (its tag was `known`)."""


class Copies:
    def __init__(self, db: Database, files: FileStore, settings: Settings) -> None:
        self.db, self.files, self.settings = db, files, settings

    async def view(self, actor: Actor, document_id: int, version: int | None,
                   known: frozenset[str] = frozenset()) -> ViewCopy:
        """My on-screen copy (the same one each time for one version). A reading is audited also when the
        tablet already holds the copy (`known` holds its tag: its cache asks whether it is still good)."""
        async with self.db.read() as s:
            doc = await readable(s, actor, document_id)
            ver = await version_of(s, doc.document, version)
            kept = (await s.exec(select(DocumentCopy).where(
                DocumentCopy.kind == "view", DocumentCopy.user_id == actor.user_id,
                DocumentCopy.document_id == document_id, DocumentCopy.version == ver.number))).first()
        secret = doc.document.secret
        if kept is not None:
            data = None if kept.sha256 in known and not secret else await self.files.get(kept.sha256)
            async with self.db.write() as s:
                await _audit(s, actor, "document.viewed", kept)
            return ViewCopy(ver.number, kept.sha256, secret, data)
        data = await self._stamp(actor, doc.meeting, doc.document.id, ver.number, "view",
                                 "copy", {}, [await self.files.get(ver.sha256)])
        return ViewCopy(ver.number, hashlib.sha256(data).hexdigest(), secret, data)

    async def download(self, actor: Actor, document_id: int, version: int | None) -> tuple[bytes, str]:
        async with self.db.read() as s:
            doc = await readable(s, actor, document_id)
            _refuse_secret(doc)
            ver = await version_of(s, doc.document, version)
        data = await self._stamp(actor, doc.meeting, doc.document.id, ver.number, "download",
                                 "copy", {}, [await self.files.get(ver.sha256)])
        return data, _filename(doc.document.title, ver.number)

    async def annotated(self, actor: Actor, document_id: int) -> tuple[bytes, str]:
        """The current version with my marks and the shared ones as real PDF annotations."""
        async with self.db.read() as s:
            doc = await readable(s, actor, document_id)
            _refuse_secret(doc)
            ver = await version_of(s, doc.document)
            rows = (await s.exec(select(Annotation, User).join(User, col(User.id) == Annotation.author_id).where(
                Annotation.document_id == document_id, Annotation.version == ver.number,
                (Annotation.author_id == actor.user_id) | (Annotation.visibility != "private"))
                .order_by(col(Annotation.id)))).all()
        marks = [jobs.annotation_to_json(_export(a, u.full_name)) for a, u in rows]
        data = await self._stamp(actor, doc.meeting, doc.document.id, ver.number, "annotated",
                                 "copy", {"annotations": marks}, [await self.files.get(ver.sha256)])
        return data, _filename(doc.document.title, ver.number, "ghi-chu")

    async def meeting_book(self, actor: Actor, meeting_id: int) -> tuple[bytes, str]:
        """One PDF of the meeting's documents that I may read, by agenda item, with bookmarks."""
        key = str(actor.user_id)
        with throttle.one_at_a_time(self.settings, "book").hold(
                key, code="book_in_progress", retry_after=5,
                message="your meeting book is still being made: wait for it before asking again"):
            throttle.check(self.settings, "book", key, limit=self.settings.book_builds_per_minute, seconds=60,
                           code="too_many_books", what="meeting books")
            return await self._meeting_book(actor, meeting_id)

    async def _meeting_book(self, actor: Actor, meeting_id: int) -> tuple[bytes, str]:
        async with self.db.read() as s:
            meeting, member = await access.require_membership(s, actor, meeting_id, Action.VIEW, lock=False)
            items = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                                  .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all()
            documents = (await s.exec(select(Document).where(
                Document.meeting_id == meeting_id, col(Document.removed_at).is_(None),
                Document.current_version > 0).order_by(col(Document.position), col(Document.id)))).all()
            body = await s.get(Body, meeting.body_id)
            user = await s.get(User, actor.user_id)
            readable_docs = []
            for document in documents:
                if may_read(document, member, await named_readers(s, document.id or 0)):
                    readable_docs.append((document, (await version_of(s, document)).sha256))
        groups: list[tuple[str, str, str, list[tuple[Document, str]]]] = []
        for index, item in enumerate(items, start=1):
            groups.append((str(index), item.title, item.presenter,
                           [d for d in readable_docs if d[0].agenda_item_id == item.id]))
        loose = [d for d in readable_docs if d[0].agenda_item_id not in {i.id for i in items}]
        if loose:
            groups.append(("", "Tài liệu chung", "", loose))
        book_items, blobs = [], []
        for number, title, presenter, docs in groups:
            entries = []
            for document, sha in docs:
                if not document.secret:
                    blobs.append(await self.files.get(sha))
                entries.append({"title": document.title, "blob": None if document.secret else len(blobs) - 1,
                                "note": "Tài liệu Mật: chỉ xem trên màn hình" if document.secret else ""})
            book_items.append({"number": number, "title": title, "presenter": presenter, "documents": entries})
        when = meeting.starts_at.astimezone(ZoneInfo(self.settings.signing_timezone))
        cover = {"issuer": (body.name if body else "").upper(), "meeting_title": meeting.title,
                 "when": f"{when:%H} giờ {when:%M}, ngày {when:%d/%m/%Y}", "place": meeting.place,
                 "prepared_for": f"{user.full_name if user else actor.username}"
                                 f"{' — ' + user.title if user and user.title else ''}"}
        data = await self._stamp(actor, meeting, None, None, "book", "book", {"cover": cover, "items": book_items},
                                 blobs)
        return data, f"tai-lieu-phien-hop-{meeting_id}.pdf"

    async def recipients(self, actor: Actor, document_id: int) -> list[dict[str, Any]]:
        """Who received which version of a document, when and how (the staff's view)."""
        async with self.db.read() as s:
            doc = await readable(s, actor, document_id)
            if not doc.staff:
                raise Forbidden("only the chair and the secretariat see who received a document")
            rows = (await s.exec(select(DocumentCopy, User).join(User, col(User.id) == DocumentCopy.user_id)
                                 .where(DocumentCopy.document_id == document_id)
                                 .order_by(col(DocumentCopy.id)))).all()
            return [_copy_out(c, u) for c, u in rows]

    async def trace(self, actor: Actor | None, data: bytes) -> dict[str, Any]:
        """Whose copies a (leaked) PDF is, from the invisible tokens on its pages (actor None: the CLI)."""
        value, _ = await pdf_jobs.run(self.settings, "trace", {}, [data])
        tokens = [str(t) for t in value] if isinstance(value, list) else []
        async with self.db.write() as s:
            found = []
            for token in tokens:
                row = (await s.exec(select(DocumentCopy, User).join(User, col(User.id) == DocumentCopy.user_id)
                                    .where(DocumentCopy.token == token))).first()
                if row is not None:
                    found.append(_copy_out(*row))
            await audit.record(s, "document.traced", actor_id=actor.user_id if actor else None,
                               object_type="document_copy",
                               details={"tokens": tokens, "found": [c["token"] for c in found]})
        return {"tokens": tokens, "copies": found}

    # --- the watermark -------------------------------------------------------------------------------

    async def _stamp(self, actor: Actor, meeting: Meeting, document_id: int | None, version: int | None,
                     kind: str, job: str, args: dict[str, Any], blobs: list[bytes]) -> bytes:
        """The sandbox `job` ("copy" or "book") run on `blobs` and marked for `actor`, recorded as a copy of
        `kind` (and audited); on-screen copies kept."""
        async with self.db.read() as s:
            user = await s.get(User, actor.user_id)
        token = new_token()
        now = utcnow()
        visible = _mark(user.full_name if user else actor.username, now, token, self.settings)
        _, out = await pdf_jobs.run(self.settings, job, {**args, "visible": visible, "token": token}, blobs)
        if len(out) != 1:
            raise Unprocessable("the PDF could not be prepared for reading", code="pdf_too_complex")
        stamped = out[0]
        digest = await self.files.put(stamped) if kind == "view" else ""
        copy = DocumentCopy(token=token, kind=kind, meeting_id=meeting.id or 0, document_id=document_id,
                            version=version, user_id=actor.user_id, sha256=digest, created_at=now)
        async with self.db.write() as s:
            s.add(copy)
            await s.flush()
            await _audit(s, actor, f"document.{_VERB[kind]}", copy)
        return stamped


_VERB = {"view": "viewed", "download": "downloaded", "annotated": "exported", "book": "book_downloaded"}


def new_token() -> str:
    """80 random bits in base32: unguessable, and only letters and digits a PDF text string keeps."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii")


def _mark(name: str, when: datetime, token: str, settings: Settings) -> str:
    local = when.astimezone(ZoneInfo(settings.signing_timezone))
    return f"{name} · {local:%d/%m/%Y %H:%M} · bản số {token[:6]}"


async def _audit(s: AsyncSession, actor: Actor, action: str, copy: DocumentCopy) -> None:
    await audit.record(s, action, actor_id=actor.user_id, object_type="document", object_id=copy.document_id,
                       meeting_id=copy.meeting_id, details={"copy": copy.token, "version": copy.version,
                                                           "kind": copy.kind})


def _refuse_secret(doc: Readable) -> None:
    if doc.document.secret:
        raise Forbidden("a Mật (secret) document is read on screen only: it cannot be downloaded or exported",
                        code="secret_document")


def _filename(title: str, version: int, suffix: str = "") -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", fold(title)).strip("-")[:80] or "tai-lieu"
    return f"{stem}-v{version}{'-' + suffix if suffix else ''}.pdf"


def _export(a: Annotation, author: str) -> export.ExportAnnotation:
    geometry = json.loads(a.geometry)
    return export.ExportAnnotation(
        page=a.page, kind=a.kind, rects=[tuple(r) for r in geometry.get("rects", [])],
        paths=[[tuple(p) for p in path] for path in geometry.get("paths", [])],
        at=tuple(geometry["at"]) if "at" in geometry else None, text=a.text, color=a.color, width=a.width,
        author=author, created=a.created_at)


def _copy_out(copy: DocumentCopy, user: User) -> dict[str, Any]:
    return {"token": copy.token, "kind": copy.kind, "meeting_id": copy.meeting_id,
            "document_id": copy.document_id, "version": copy.version, "user_id": copy.user_id,
            "user_name": user.full_name, "username": user.username, "created_at": copy.created_at}
