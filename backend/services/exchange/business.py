"""Recall, update and replacement packages (Bussiness/BussinessDocType 1, 2, 3) act on a document already
received from the same sender, never on anything else:

- recall (1) and update (2) carry the document's own DocumentId (the same number, notation and date): a
  recall marks it `recalled` (kept, read-only, shown as recalled); an update changes what the package says
  of it (subject, due date, sender's name) and keeps the change in its history;
- replace (3) is a new document (its own DocumentId) naming the one it replaces in ResponseFor (the one
  ResponseFor whose OrganId is the sender itself; ASSUMED, see docs/exchange.md): the new one is stored like
  any document and the old is marked `replaced`, pointing to it.

A package naming a document this sender never sent us is refused 422 `unknown_document`; one acting on a
document already recalled or replaced, 422 `document_recalled` / `document_replaced`. Each is applied in
ONE transaction with its history row and audit entry (and, for a replacement, the new row): nothing
half-applied; the files written are removed again unless it commits. The same package twice is 409
`duplicate`."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.exceptions import Conflict
from backend.models import IncomingChange, IncomingDocument
from backend.services import audit
from backend.services.exchange.packages import PackageRefused, Parsed
from backend.services.files import FileStore

RECALL, UPDATE, REPLACE = 1, 2, 3
KINDS = {RECALL: "recalled", UPDATE: "updated", REPLACE: "replaced"}
RECALLED, REPLACED = "recalled", "replaced"
UPDATED_FIELDS = ("subject", "due_date", "sender_name")


def doc_type(parsed: Parsed) -> int:
    """The package's BussinessDocType (0 new)."""
    return int((parsed.package.get("business") or {}).get("doc_type", 0))


def target_document_id(parsed: Parsed, claimed: dict[str, str]) -> str:
    """The DocumentId of the document received before that the package acts on."""
    pkg = parsed.package
    if doc_type(parsed) != REPLACE:
        return str(pkg["document_id"])
    sender = pkg["sender"]["organ_id"]
    own = [str(r["document_id"]) for r in pkg.get("response_for", []) if r["organ_id"] == sender]
    if len(own) != 1 or own[0] == pkg["document_id"]:
        raise PackageRefused("a replacement names the document it replaces in exactly one ResponseFor of its own "
                             "sender, with another DocumentId than its own", code="invalid_reference", claimed=claimed)
    return own[0]


def duplicate(document_id: str) -> Conflict:
    return Conflict(f"this package about {document_id} was already received", code="duplicate")


async def apply(db: Database, settings: Settings, parsed: Parsed, new: IncomingDocument, data: bytes,
                claimed: dict[str, str]) -> dict[str, Any]:
    """Apply a recall, update or replacement package (`new` is its row, stored only for a replacement);
    the document acted on as {id, document_id, status}. PackageRefused (422) or Conflict (409 duplicate)."""
    kind = doc_type(parsed)
    pkg = parsed.package
    sender = pkg["sender"]["organ_id"]
    target_id = target_document_id(parsed, claimed)
    files = FileStore.for_settings(settings)
    written: list[str] = []
    try:
        # The package itself is evidence; a replacement's attachments are the new document's.
        for blob in (data, *(parsed.attachments if kind == REPLACE else ())):
            digest = hashlib.sha256(blob).hexdigest()
            fresh = not files.path(digest).exists()
            await files.put(blob)
            if fresh:
                written.append(digest)
        async with db.write() as s:
            target = (await s.exec(select(IncomingDocument).where(
                IncomingDocument.sender_code == sender, IncomingDocument.document_id == target_id)
                .with_for_update())).first()
            if target is None or target.id is None:
                raise PackageRefused(f"{sender} never sent us the document {target_id} this {KINDS[kind][:-1]} "
                                     "package acts on", code="unknown_document", claimed=claimed)
            seen = (await s.exec(select(IncomingChange.id).where(
                IncomingChange.incoming_id == target.id,
                IncomingChange.package_sha256 == new.package_sha256))).first()
            if seen is not None:
                raise duplicate(target_id)
            if target.status == RECALLED and kind == RECALL:
                raise Conflict(f"the document {target_id} was already recalled", code="duplicate")
            if target.status in (RECALLED, REPLACED):
                raise PackageRefused(f"the document {target_id} was {target.status} before: it can no longer be "
                                     "changed", code=f"document_{target.status}", claimed=claimed)
            change = IncomingChange(incoming_id=target.id, kind=KINDS[kind],
                                    reason=str(pkg["business"].get("reason", "")), changes="{}",
                                    package_sha256=new.package_sha256)
            if kind == RECALL:
                target.status = RECALLED
            elif kind == UPDATE:
                change.changes = json.dumps(_update(target, new), ensure_ascii=False, default=str)
            else:
                s.add(new)
                await s.flush()
                target.status, target.replaced_by_id = REPLACED, new.id
                change.replaced_by_id = new.id
            s.add(target)
            s.add(change)
            await s.flush()
            await audit.record(s, f"exchange.{KINDS[kind]}", actor_id=None, object_type="incoming_document",
                               object_id=target.id,
                               details={"sender": sender, "document_id": target_id, "reason": change.reason,
                                        "package_sha256": new.package_sha256, "replaced_by": new.id
                                        if kind == REPLACE else None})
            result = {"id": target.id, "document_id": target.document_id, "status": target.status}
            if kind == REPLACE:
                result = {"id": new.id, "document_id": new.document_id, "status": new.status}
    except IntegrityError as exc:  # delivered twice at once, or the replacement's own id already here
        _discard(files, written)
        raise duplicate(target_id) from exc
    except BaseException:
        _discard(files, written)
        raise
    return result


def _update(target: IncomingDocument, new: IncomingDocument) -> dict[str, list[Any]]:
    """Copy what an update package says onto the document; {field: [before, after]} of what changed."""
    changed: dict[str, list[Any]] = {}
    for name in UPDATED_FIELDS:
        before: str | date | None = getattr(target, name)
        after: str | date | None = getattr(new, name)
        if before != after:
            changed[name] = [before, after]
            setattr(target, name, after)
    return changed


def _discard(files: FileStore, digests: list[str]) -> None:
    for digest in digests:
        files.path(digest).unlink(missing_ok=True)


async def history(db: Database, incoming_id: int) -> list[dict[str, Any]]:
    """What recall, update and replacement packages did to a document, oldest first."""
    async with db.read() as s:
        rows = (await s.exec(select(IncomingChange).where(IncomingChange.incoming_id == incoming_id)
                             .order_by(col(IncomingChange.id)))).all()
    return [{"kind": c.kind, "reason": c.reason, "changes": json.loads(c.changes),
             "replaced_by_id": c.replaced_by_id, "package_sha256": c.package_sha256, "received_at": c.received_at}
            for c in rows]
