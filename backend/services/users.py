"""Accounts administration: create, change, deactivate, reset passwords, list."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.db import Database
from backend.domain.text import fold, like_pattern
from backend.exceptions import BadRequest, Conflict, Forbidden, NotFound
from backend.models import Body, User
from backend.models.base import utcnow
from backend.services import audit, auth, passwords
from backend.services.context import Actor
from backend.services.events import EventBus, Revocation


def search_key(user: User) -> str:
    return fold(f"{user.username} {user.full_name}")[:300]


def matches(query: str) -> ColumnElement[bool]:
    """Users whose username or name contains `query`, ignoring case and Vietnamese diacritics."""
    return col(User.search_key).like(like_pattern(query), escape="\\")


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only an administrator may do this")


def may_list_users(actor: Actor) -> bool:
    """Admins manage accounts; the secretariat picks participants from them."""
    return actor.is_admin or actor.is_secretariat


async def create(db: Database, actor: Actor | None, data: Mapping[str, Any]) -> User:
    """Create an account. `actor` None means the command line (trusted operator)."""
    if actor is not None:
        require_admin(actor)
    password_hash = await asyncio.to_thread(passwords.hash_new_password, data["password"],
                                            username=data["username"], full_name=data.get("full_name", ""))
    fields = {k: v for k, v in data.items() if k != "password"}
    try:
        async with db.write() as s:
            if fields.get("body_id") is not None and await s.get(Body, fields["body_id"]) is None:
                raise BadRequest(f"no body {fields['body_id']}", code="unknown_body")
            exists = (await s.exec(select(User.id).where(User.username == fields["username"]))).first()
            if exists is not None:
                raise Conflict(f"the username {fields['username']!r} is taken", code="username_taken")
            user = User(password_hash=password_hash, **fields)
            user.search_key = search_key(user)
            s.add(user)
            await s.flush()
            await audit.record(s, "user.created", actor_id=actor.user_id if actor else None, object_type="user",
                               object_id=user.id, details={"username": user.username})
    except IntegrityError as exc:  # two creations of one username at the same instant
        raise Conflict(f"the username {fields['username']!r} is taken", code="username_taken") from exc
    return user


async def update(db: Database, actor: Actor, user_id: int, changes: Mapping[str, Any], bus: EventBus) -> User:
    """Changes an account. Its open sockets follow: dropped when it is deactivated, and re-checked at their
    next event otherwise (administrator or secretariat rights, body)."""
    require_admin(actor)
    ended: tuple[int, ...] = ()
    async with db.write() as s:
        user = await s.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        if user_id == actor.user_id and (changes.get("is_admin") is False or changes.get("is_active") is False):
            raise Conflict("you cannot remove your own administrator rights or deactivate yourself",
                           code="self_lockout")
        if changes.get("body_id") is not None and await s.get(Body, changes["body_id"]) is None:
            raise BadRequest(f"no body {changes['body_id']}", code="unknown_body")
        for key, value in changes.items():
            setattr(user, key, value)
        user.search_key = search_key(user)
        s.add(user)
        if changes.get("is_active") is False:
            ended = await auth.end_sessions(s, user_id)
        await audit.record(s, "user.updated", actor_id=actor.user_id, object_type="user", object_id=user_id,
                           details={"changed": sorted(changes)})
    await bus.revoke(Revocation(user_id, ended_sessions=ended))
    return user


async def reset_password(db: Database, actor: Actor | None, user_id: int, new_password: str, bus: EventBus) -> None:
    """An administrator (or the operator at the command line) sets a new password; sessions end, and their
    open sockets (the command line has no bus: there they learn it at their next check)."""
    if actor is not None:
        require_admin(actor)
    async with db.read() as s:
        found = await s.get(User, user_id)
    if found is None:
        raise NotFound(f"no user {user_id}")
    new_hash = await asyncio.to_thread(passwords.hash_new_password, new_password, username=found.username,
                                       full_name=found.full_name)
    async with db.write() as s:
        user = await s.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        user.password_hash = new_hash
        user.password_changed_at = utcnow()
        s.add(user)
        ended = await auth.end_sessions(s, user_id)
        await audit.record(s, "user.password_reset", actor_id=actor.user_id if actor else None,
                           object_type="user", object_id=user_id)
    await bus.revoke(Revocation(user_id, ended_sessions=ended))


async def get(db: Database, actor: Actor, user_id: int) -> User:
    if user_id != actor.user_id and not may_list_users(actor):
        raise Forbidden("you may only see your own account")
    async with db.read() as s:
        user = await s.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def by_username(db: Database, username: str) -> User | None:
    async with db.read() as s:
        return (await s.exec(select(User).where(User.username == username.strip().lower()))).first()


async def listing(db: Database, actor: Actor | None, *, query: str = "", active_only: bool = False) -> list[User]:
    if actor is not None and not may_list_users(actor):
        raise Forbidden("only the secretariat and administrators may list accounts")
    stmt = select(User).order_by(col(User.full_name), col(User.id))
    if query:
        stmt = stmt.where(matches(query))
    if active_only:
        stmt = stmt.where(User.is_active == True)  # noqa: E712
    async with db.read() as s:
        return list((await s.exec(stmt)).all())
