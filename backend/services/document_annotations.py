"""Annotations on meeting documents: highlights, ink and notes, private (my devices only), shared
(every reader of the document) or the presenter's (drawn live on the screens following). Each is
persisted with the document version it was drawn on, editable and deletable only by its author, and
pushed live after commit: shared and presenter marks to the document's room (whose members were
checked when they joined), private ones to the author's own devices.

A tablet gives each annotation its own id (`client_id`): one made offline and sent again when the
network returns is stored once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.domain import annotations as rules
from backend.domain.meeting_states import Action, Status, decide
from backend.domain.rules import RuleError
from backend.exceptions import Forbidden, NotFound
from backend.models import Annotation, Document, User
from backend.models.base import utcnow
from backend.services import access
from backend.services.context import Actor, Live
from backend.services.documents import document_room, page_boxes, readable, version_of
from backend.services.events import user_room


async def listing(live: Live, actor: Actor, document_id: int) -> list[dict[str, Any]]:
    """Mine (any visibility) and everyone's shared and presenter marks, on every version."""
    return (await listing_of(live, actor, document_id))[0]


async def listing_of(live: Live, actor: Actor, document_id: int) -> tuple[list[dict[str, Any]], bool]:
    """`listing`, and whether the document is Mật (then its annotations' text must not be kept anywhere)."""
    async with live.db.read() as s:
        doc = await readable(s, actor, document_id)
        rows = (await s.exec(select(Annotation).where(
            Annotation.document_id == document_id,
            or_(Annotation.author_id == actor.user_id, Annotation.visibility != rules.Visibility.PRIVATE.value))
            .order_by(col(Annotation.id)))).all()
        return [await _out(s, a, actor) for a in rows], doc.document.secret


async def add(live: Live, actor: Actor, document_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        async with live.db.write() as s:
            existing = (await s.exec(select(Annotation).where(Annotation.author_id == actor.user_id,
                                                              Annotation.client_id == data["client_id"]))).first()
            if existing is not None:  # sent again (offline outbox): the first one stands
                if existing.document_id != document_id:
                    raise Forbidden("that client id belongs to another annotation", code="client_id_taken")
                return {"annotation": await _out(s, existing, actor), "duplicate": True}
            doc = await readable(s, actor, document_id, Action.ANNOTATE)
            version = await version_of(s, doc.document, data.get("version"))
            kind, visibility = rules.Kind(data["kind"]), rules.Visibility(data.get("visibility") or "private")
            if visibility is rules.Visibility.PRESENTER:
                access.raise_for(decide(doc.member.role, Status(doc.meeting.status), Action.PRESENT))
            try:
                rules.check_page(data["page"], version.page_count)
                box = rules.PageBox(*page_boxes(version)[data["page"] - 1][:4])
                geometry = rules.check_geometry(kind, data["geometry"], box)
                text = rules.check_text(kind, data.get("text") or "")
                color, width = rules.check_style(data.get("color") or "#ffd400", data.get("width") or 2.0)
            except RuleError as exc:
                raise access.from_rule_error(exc) from exc
            row = Annotation(document_id=document_id, meeting_id=doc.document.meeting_id, version=version.number,
                             author_id=actor.user_id, client_id=data["client_id"], page=data["page"],
                             kind=kind.value, visibility=visibility.value, geometry=json.dumps(geometry),
                             text=text, color=color, width=width)
            s.add(row)
            await s.flush()
            out = await _out(s, row, actor)
    except IntegrityError:  # the same client id committed by a concurrent request: that one stands
        async with live.db.read() as s:
            row = (await s.exec(select(Annotation).where(Annotation.author_id == actor.user_id,
                                                         Annotation.client_id == data["client_id"]))).one()
            return {"annotation": await _out(s, row, actor), "duplicate": True}
    await _push(live, "annotation.added", out)
    return {"annotation": out, "duplicate": False}


async def change(live: Live, actor: Actor, annotation_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    async with live.db.write() as s:
        row, document = await _own(s, actor, annotation_id)
        before = row.visibility
        kind = rules.Kind(row.kind)
        try:
            if "geometry" in data:
                version = await version_of(s, document, row.version)
                box = rules.PageBox(*page_boxes(version)[row.page - 1][:4])
                row.geometry = json.dumps(rules.check_geometry(kind, data["geometry"], box))
            if "text" in data:
                row.text = rules.check_text(kind, data["text"] or "")
            if "color" in data or "width" in data:
                row.color, row.width = rules.check_style(data.get("color") or row.color,
                                                         data.get("width") or row.width)
        except RuleError as exc:
            raise access.from_rule_error(exc) from exc
        if "visibility" in data:
            visibility = rules.Visibility(data["visibility"])
            if visibility is rules.Visibility.PRESENTER:
                doc = await readable(s, actor, row.document_id, Action.ANNOTATE)
                access.raise_for(decide(doc.member.role, Status(doc.meeting.status), Action.PRESENT))
            row.visibility = visibility.value
        row.updated_at = utcnow()
        s.add(row)
        out = await _out(s, row, actor)
    if before != rules.Visibility.PRIVATE.value and out["visibility"] == rules.Visibility.PRIVATE.value:
        await live.bus.publish("annotation.deleted", _ref(out), room=document_room(out["document_id"]))
    await _push(live, "annotation.changed", out)
    return {"annotation": out}


async def delete(live: Live, actor: Actor, annotation_id: int) -> dict[str, Any]:
    async with live.db.write() as s:
        row, _ = await _own(s, actor, annotation_id)
        out = await _out(s, row, actor)
        await s.delete(row)
    await _push(live, "annotation.deleted", out, only=_ref(out))
    return {"deleted": annotation_id}


async def _own(s: AsyncSession, actor: Actor, annotation_id: int) -> tuple[Annotation, Document]:
    row = await s.get(Annotation, annotation_id)
    if row is None or (row.author_id != actor.user_id and row.visibility == rules.Visibility.PRIVATE.value):
        raise NotFound(f"no annotation {annotation_id}", code="unknown_annotation")
    try:
        doc = await readable(s, actor, row.document_id, Action.ANNOTATE)
    except NotFound:  # a document one may not read: its annotations do not exist for them either
        raise NotFound(f"no annotation {annotation_id}", code="unknown_annotation") from None
    if row.author_id != actor.user_id:
        raise Forbidden("only its author may change or delete an annotation", code="not_author")
    return row, doc.document


def _ref(out: dict[str, Any]) -> dict[str, Any]:
    return {"id": out["id"], "document_id": out["document_id"], "client_id": out["client_id"]}


async def _push(live: Live, event: str, out: dict[str, Any], *, only: dict[str, Any] | None = None) -> None:
    """Tell the annotation's audience (the author's devices for a private one, else the document's room)
    about `out`, or only the part `only` of it (a deletion sends the reference)."""
    payload = only if only is not None else {k: v for k, v in out.items() if k != "mine"}  # each tablet knows who it is
    room = user_room(out["author_id"]) if out["visibility"] == rules.Visibility.PRIVATE.value else document_room(
        out["document_id"])
    await live.bus.publish(event, payload, room=room)


async def _out(s: AsyncSession, row: Annotation, actor: Actor) -> dict[str, Any]:
    author = await s.get(User, row.author_id)
    return {
        "id": row.id, "document_id": row.document_id, "meeting_id": row.meeting_id, "version": row.version,
        "author_id": row.author_id, "author_name": author.full_name if author else "", "client_id": row.client_id,
        "page": row.page, "kind": row.kind, "visibility": row.visibility, "geometry": json.loads(row.geometry),
        "text": row.text, "color": row.color, "width": row.width, "mine": row.author_id == actor.user_id,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }
