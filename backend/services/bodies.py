"""Bodies: the Government, provincial People's Committees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.db import Database
from backend.exceptions import Conflict, NotFound
from backend.models import Body
from backend.services import audit
from backend.services.context import Actor
from backend.services.users import require_admin


async def listing(db: Database) -> list[Body]:
    async with db.read() as s:
        return list((await s.exec(select(Body).order_by(col(Body.id)))).all())


async def create(db: Database, actor: Actor | None, data: Mapping[str, Any]) -> Body:
    if actor is not None:
        require_admin(actor)
    try:
        async with db.write() as s:
            if (await s.exec(select(Body.id).where(Body.name == data["name"]))).first() is not None:
                raise Conflict(f"a body named {data['name']!r} exists", code="body_exists")
            body = Body(**data)
            s.add(body)
            await s.flush()
            await audit.record(s, "body.created", actor_id=actor.user_id if actor else None, object_type="body",
                               object_id=body.id, details={"name": body.name})
    except IntegrityError as exc:
        raise Conflict(f"a body named {data['name']!r} exists", code="body_exists") from exc
    return body


async def update(db: Database, actor: Actor, body_id: int, changes: Mapping[str, Any]) -> Body:
    require_admin(actor)
    try:
        async with db.write() as s:
            body = await s.get(Body, body_id)
            if body is None:
                raise NotFound(f"no body {body_id}")
            if "name" in changes and changes["name"] != body.name and (
                    await s.exec(select(Body.id).where(Body.name == changes["name"]))).first() is not None:
                raise Conflict(f"a body named {changes['name']!r} exists", code="body_exists")
            for key, value in changes.items():
                setattr(body, key, value)
            s.add(body)
            await audit.record(s, "body.updated", actor_id=actor.user_id, object_type="body", object_id=body_id,
                               details={"changed": sorted(changes)})
    except IntegrityError as exc:
        raise Conflict("a body with that name exists", code="body_exists") from exc
    return body
