"""Agenda items: add, change, delete, reorder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.domain import agenda as rules
from backend.domain.meeting_states import Action
from backend.domain.rules import RuleError
from backend.exceptions import Conflict, NotFound
from backend.models import AgendaItem
from backend.models.base import utcnow
from backend.services import access, audit
from backend.services.context import Actor


async def _items(s: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return list((await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                              .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all())


def _renumber(items: list[AgendaItem]) -> None:
    for index, item in enumerate(items, start=1):
        item.position = index


async def listing(db: Database, actor: Actor, meeting_id: int) -> list[AgendaItem]:
    async with db.read() as s:
        await access.require(s, actor, meeting_id, Action.VIEW)
        return await _items(s, meeting_id)


async def add(db: Database, actor: Actor, meeting_id: int, data: Mapping[str, Any]) -> AgendaItem:
    fields = dict(data)
    at = fields.pop("position", None)
    async with db.write() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_AGENDA)
        items = await _items(s, meeting_id)
        try:
            index = rules.insert_position([i.position for i in items], at)
        except RuleError as exc:
            raise access.from_rule_error(exc) from exc
        item = AgendaItem(meeting_id=meeting_id, **fields)
        items.insert(index, item)
        _renumber(items)
        s.add_all(items)
        await s.flush()
        await audit.record(s, "agenda.added", actor_id=actor.user_id, object_type="agenda_item",
                           object_id=item.id, meeting_id=meeting_id,
                           details={"title": item.title, "position": item.position})
    return item


async def update(db: Database, actor: Actor, meeting_id: int, item_id: int, changes: Mapping[str, Any]) -> AgendaItem:
    async with db.write() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_AGENDA)
        item = await _find(s, meeting_id, item_id)
        for key, value in changes.items():
            setattr(item, key, value)
        item.updated_at = utcnow()
        s.add(item)
        await audit.record(s, "agenda.updated", actor_id=actor.user_id, object_type="agenda_item",
                           object_id=item_id, meeting_id=meeting_id, details={"changed": sorted(changes)})
    return item


async def delete(db: Database, actor: Actor, meeting_id: int, item_id: int) -> None:
    async with db.write() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_AGENDA)
        item = await _find(s, meeting_id, item_id)
        if not rules.may_delete(item.status):
            raise Conflict("an item already under discussion or done stays on the record", code="item_settled")
        await s.delete(item)
        await s.flush()
        _renumber(rest := await _items(s, meeting_id))
        s.add_all(rest)
        await audit.record(s, "agenda.deleted", actor_id=actor.user_id, object_type="agenda_item",
                           object_id=item_id, meeting_id=meeting_id, details={"title": item.title})


async def reorder(db: Database, actor: Actor, meeting_id: int, item_ids: list[int]) -> list[AgendaItem]:
    async with db.write() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_AGENDA)
        items = await _items(s, meeting_id)
        try:
            order = rules.reorder([i.id for i in items if i.id is not None], item_ids)
        except RuleError as exc:
            raise access.from_rule_error(exc) from exc
        by_id = {i.id: i for i in items}
        ordered = [by_id[i] for i in order]
        _renumber(ordered)
        s.add_all(ordered)
        await audit.record(s, "agenda.reordered", actor_id=actor.user_id, object_type="meeting",
                           object_id=meeting_id, meeting_id=meeting_id, details={"order": order})
    return ordered


async def _find(s: AsyncSession, meeting_id: int, item_id: int) -> AgendaItem:
    item = await s.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting_id:
        raise NotFound(f"no agenda item {item_id} in meeting {meeting_id}")
    return item
