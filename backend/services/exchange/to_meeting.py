"""A document received, put before a meeting (issue 17, point 4: "valid documents land in the secretariat's
inbox and can be attached to a meeting's agenda"): one PDF attachment of an incoming document becomes a
document of the meeting, under one of its agenda items, through the same upload as a clerk's (its
permission on that meeting, the sandboxed PDF check, the announcement to the room). The incoming document
keeps its bytes; the meeting's document is a copy with its own versions and readers."""

from __future__ import annotations

import json
from typing import Any

from backend.config import Settings
from backend.db import Database
from backend.exceptions import InvalidState, NotFound
from backend.models import IncomingDocument
from backend.services import audit
from backend.services.context import Actor, Live
from backend.services.documents import Documents
from backend.services.exchange import steps
from backend.services.files import FileStore

GONE = {"recalled": "its sender recalled it", "replaced": "its sender replaced it by another document"}


async def attach(db: Database, settings: Settings, live: Live, actor: Actor, incoming_id: int, number: int,
                 meeting_id: int, agenda_item_id: int | None, title: str | None) -> dict[str, Any]:
    """The meeting's new document made of attachment `number` (from 1) of incoming document `incoming_id`.
    The secretariat reads the inbox (403 otherwise) and must manage that meeting's documents (as an upload);
    a recalled or replaced document is not put before anyone (409 `document_withdrawn`)."""
    steps.require_inbox(actor)
    async with db.read() as s:
        doc = await s.get(IncomingDocument, incoming_id)
    if doc is None:
        raise NotFound(f"no incoming document {incoming_id}", code="not_found")
    if doc.status in GONE:
        raise InvalidState(f"document {doc.document_id} is {doc.status}: {GONE[doc.status]}",
                           code="document_withdrawn")
    listed = json.loads(doc.attachments)
    if not 1 <= number <= len(listed):
        raise NotFound(f"incoming document {incoming_id} has no attachment {number}", code="not_found")
    item = listed[number - 1]
    files = FileStore.for_settings(settings)
    data = await files.get(item["sha256"])
    fields = {"title": title or f"{doc.code} — {doc.subject}"[:300], "agenda_item_id": agenda_item_id}
    created = await Documents(db, files, settings, live).upload(actor, meeting_id, fields, data, str(item["name"]))
    async with db.write() as s:
        await audit.record(s, "exchange.attached", actor_id=actor.user_id, object_type="incoming_document",
                           object_id=incoming_id, meeting_id=meeting_id,
                           details={"number": number, "sha256": item["sha256"], "document_id": created["id"],
                                    "agenda_item_id": agenda_item_id})
    return created
