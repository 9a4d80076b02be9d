"""Saved groups: named lists of people the secretariat of a body invites together, reused from one
meeting to the next (services/participants.add_many invites one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.exceptions import BadRequest, Conflict, Forbidden, NotFound
from backend.models import SavedGroup, User
from backend.services import audit
from backend.services.context import Actor


def _may_keep(actor: Actor, body_id: int) -> bool:
    return actor.is_admin or (actor.is_secretariat and actor.body_id == body_id)


async def listing(db: Database, actor: Actor) -> list[tuple[SavedGroup, list[User]]]:
    """The groups of the caller's body (every body's for an administrator), with their people."""
    async with db.read() as s:
        stmt = select(SavedGroup).order_by(col(SavedGroup.name), col(SavedGroup.id))
        if not actor.is_admin:
            if not actor.is_secretariat or actor.body_id is None:
                return []
            stmt = stmt.where(SavedGroup.body_id == actor.body_id)
        groups = list((await s.exec(stmt)).all())
        return [(g, await people(s, g)) for g in groups]


async def people(s: AsyncSession, group: SavedGroup) -> list[User]:
    """The group's accounts, in the order saved (accounts deleted since are left out)."""
    ids = list(group.user_ids or [])
    if not ids:
        return []
    found = {u.id: u for u in (await s.exec(select(User).where(col(User.id).in_(ids)))).all()}
    return [found[i] for i in ids if i in found]


async def create(db: Database, actor: Actor, data: Mapping[str, Any]) -> tuple[SavedGroup, list[User]]:
    body_id = data.get("body_id") or actor.body_id
    if body_id is None:
        raise BadRequest("name the body the group belongs to", code="body_required")
    if not _may_keep(actor, body_id):
        raise Forbidden("only the secretariat of this body keeps its groups")
    ids = list(dict.fromkeys(data["user_ids"]))
    try:
        async with db.write() as s:
            accounts = {u.id: u for u in (await s.exec(select(User).where(col(User.id).in_(ids)))).all()}
            for i in ids:
                user = accounts.get(i)
                if user is None:
                    raise BadRequest(f"no user {i}", code="unknown_user")
                if user.is_admin:
                    raise BadRequest("the system administrator cannot be invited to a meeting",
                                     code="admin_not_invitable")
            group = SavedGroup(body_id=body_id, name=data["name"], user_ids=ids, created_by=actor.user_id)
            s.add(group)
            await s.flush()
            await audit.record(s, "group.saved", actor_id=actor.user_id, object_type="saved_group",
                               object_id=group.id, details={"name": group.name, "user_ids": ids})
            return group, [accounts[i] for i in ids]
    except IntegrityError as exc:
        raise Conflict("this body already has a group of that name", code="group_exists") from exc


async def remove(db: Database, actor: Actor, group_id: int) -> None:
    async with db.write() as s:
        group = await find(s, actor, group_id)
        await s.delete(group)
        await audit.record(s, "group.removed", actor_id=actor.user_id, object_type="saved_group",
                           object_id=group_id, details={"name": group.name})


async def find(s: AsyncSession, actor: Actor, group_id: int) -> SavedGroup:
    """A group the caller keeps; another body's group is as unknown as a missing one."""
    group = await s.get(SavedGroup, group_id)
    if group is None or not _may_keep(actor, group.body_id):
        raise NotFound(f"no saved group {group_id}")
    return group
