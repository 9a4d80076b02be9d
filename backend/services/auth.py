"""Logging in and out, login sessions (browser cookie or API bearer token), their cookie names, CSRF
tokens, password changes, and the per-process cache that re-checks open sockets' sessions. Failed logins
are throttled by backend/services/login_throttle.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.exceptions import Forbidden, Unauthorized
from backend.models import AuthSession, Device, LoginThrottle, User
from backend.models.base import utcnow
from backend.services import audit, devices, login_throttle, passwords
from backend.services.context import Actor
from backend.services.events import EventBus, Revocation
from backend.services.group_commit import GroupCommit

# A session is extended on use, but written back at most this often.
_EXTEND_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class LoginResult:
    token: str
    """The secret the client presents (cookie value or bearer token); only its hash is stored."""
    user: User
    """Who logged in."""
    expires_at: datetime
    """When the session ends if unused."""
    device_token: str | None = None
    """A new value for the browser's device cookie (a browser not known as a device of this account yet)."""


SESSION_COOKIE = "ecabinet_session"
CSRF_COOKIE = "ecabinet_csrf"
DEVICE_COOKIE = "ecabinet_device"


def cookie_name(settings: Settings, base: str) -> str:
    """`__Host-<base>` when cookies are Secure (HTTPS): the browser then takes the cookie only from a
    secure origin, for Path=/ and without Domain, so a sibling subdomain or a plain-HTTP page cannot
    plant or shadow it. Browsers refuse `__Host-` cookies without Secure: plain HTTP keeps `<base>`."""
    return f"__Host-{base}" if settings.secure_cookies else base


def session_cookie(settings: Settings) -> str:
    return cookie_name(settings, SESSION_COOKIE)


def csrf_cookie(settings: Settings) -> str:
    return cookie_name(settings, CSRF_COOKIE)


def device_cookie(settings: Settings) -> str:
    """Names the browser as a device of the accounts that log in with it (services/devices.py)."""
    return cookie_name(settings, DEVICE_COOKIE)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(settings: Settings, session_token: str) -> str:
    """Bound to the session: a token stolen from another session is worthless."""
    return hmac.new(settings.secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(settings: Settings, session_token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(settings, session_token), presented)


def _norm(username: str) -> str:
    return username.strip().lower()[:64]


async def login(db: Database, settings: Settings, username: str, password: str, *, kind: str,
                user_agent: str = "", address: str = "", device_token: str | None = None) -> LoginResult:
    """Check the password and open a session. `address` is the client's (see login_throttle): an
    address that failed too often is refused before any password is checked; an account's recent
    failures only make the attempt wait, so the right password always gets in. A cookie login names
    the browser's device (`device_token`: its device cookie; see services/devices.py)."""
    name = _norm(username)
    source = login_throttle.address_key(address) if address else ""
    now = utcnow()
    async with db.read() as s:
        user = (await s.exec(select(User).where(User.username == name))).first()
    wait_ms = await login_throttle.check(db, settings, name, user, source)
    if wait_ms:
        await asyncio.sleep(wait_ms / 1000)

    # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    ok = await asyncio.to_thread(passwords.verify_password, user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        await login_throttle.record_failure(db, settings, name, user, source)
        raise Unauthorized("wrong username or password", code="invalid_credentials")

    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=settings.session_hours)
    async with db.write() as s:
        await login_throttle.forget_account(s, name)
        stored = await s.get(User, user.id)
        assert stored is not None
        if passwords.needs_rehash(stored.password_hash):
            stored.password_hash = await asyncio.to_thread(passwords.hash_password, password)
        assert user.id is not None
        device_id, new_device_token = None, None
        if kind == "cookie":
            device, new_device_token = await devices.seen_at_login(s, user.id, device_token, user_agent, address)
            device_id = device.id
        s.add(AuthSession(token_hash=token_hash(token), user_id=user.id, kind=kind, expires_at=expires,
                          user_agent=user_agent[:300], device_id=device_id))
        await audit.record(s, "auth.login", actor_id=user.id, object_type="user", object_id=user.id,
                           details={"kind": kind, **({"device_id": device_id} if device_id else {})})
    return LoginResult(token=token, user=user, expires_at=expires, device_token=new_device_token)


async def authenticate(db: Database, settings: Settings, token: str | None, *, via_cookie: bool) -> Actor:
    """The actor behind a session token, or Unauthorized. Extends the session on use."""
    (result,) = await authenticate_many(db, settings, [(token, via_cookie)])
    if isinstance(result, Exception):
        raise result
    return result


async def authenticate_batched(batches: GroupCommit, db: Database, settings: Settings, token: str | None, *,
                               via_cookie: bool) -> Actor:
    """`authenticate`, with the tokens presented together (a room of tablets connecting, a reconnect
    storm) checked in one read, and their extensions in one write."""
    actor: Actor = await batches.submit(
        "authenticate", lambda batch: authenticate_many(db, settings, batch), (token, via_cookie))
    return actor


async def authenticate_many(db: Database, settings: Settings,
                            requests: Sequence[tuple[str | None, bool]]) -> list[Actor | Exception]:
    """For each (token, via_cookie): its actor, or the Unauthorized to answer."""
    digests = [token_hash(token) if token and len(token) <= 200 else None for token, _ in requests]
    found = await _sessions(db, AuthSession.token_hash, {d for d in digests if d})
    checked: list[tuple[AuthSession, User] | Unauthorized] = []
    for (_, via_cookie), digest in zip(requests, digests, strict=True):
        try:
            if digest is None:
                raise Unauthorized("log in first")
            row = found.get(digest)
            if row is None:
                raise Unauthorized("your session has ended: log in again")
            _require_current(*row)
            if via_cookie != (row[0].kind == "cookie"):
                # A bearer token in a cookie (or the reverse) means someone is replaying a secret where it
                # does not belong.
                raise Unauthorized("this token is not valid here")
            checked.append(row)
        except Unauthorized as exc:
            checked.append(exc)
    return await _actors(db, settings, checked)


async def session_actor(db: Database, settings: Settings, session_id: int) -> Actor:
    """The actor of a login session read again by its id (an open socket's check), or Unauthorized:
    `session_revoked` when it ended (logout, password change, deactivation), else `session_expired`.
    Extends the session on use, like a request."""
    (result,) = await session_actors_many(db, settings, [session_id])
    if isinstance(result, Exception):
        raise result
    return result


async def session_actors_many(db: Database, settings: Settings,
                              session_ids: Sequence[int]) -> list[Actor | Exception]:
    """`session_actor` for several sessions in one read (and one write for the extensions due)."""
    found = await _sessions(db, AuthSession.id, set(session_ids))
    checked: list[tuple[AuthSession, User] | Unauthorized] = []
    for session_id in session_ids:
        row = found.get(session_id)
        try:
            if row is None or not row[1].is_active:
                raise Unauthorized("your session has ended: log in again", code="session_revoked")
            _require_current(*row)
            checked.append(row)
        except Unauthorized as exc:
            checked.append(exc)
    return await _actors(db, settings, checked)


async def _sessions(db: Database, key: Any, values: set[Any]) -> dict[Any, tuple[AuthSession, User]]:
    """The login sessions (with their users) whose `key` column is one of `values`, by that value: one read."""
    if not values:
        return {}
    async with db.read() as s:
        rows = await s.exec(select(AuthSession, User).join(User).where(col(key).in_(values)))
        return {getattr(session, key.key): (session, user) for session, user in rows}


async def _actors(db: Database, settings: Settings,
                  checked: Sequence[tuple[AuthSession, User] | Unauthorized]) -> list[Actor | Exception]:
    """The actor of each session that passed its checks (the others' refusals as they are), and the
    sessions in use extended in one write."""
    accepted = [row for row in checked if not isinstance(row, Unauthorized)]
    await _extend(db, settings, accepted)
    return [row if isinstance(row, Unauthorized)
            else actor_for(row[1], session_id=row[0].id, via_cookie=row[0].kind == "cookie") for row in checked]


def _require_current(session: AuthSession, user: User) -> None:
    if session.expires_at <= utcnow() or not user.is_active:
        raise Unauthorized("your session has ended: log in again", code="session_expired")


async def _extend(db: Database, settings: Settings, rows: Sequence[tuple[AuthSession, User]]) -> None:
    """Extends the sessions in use whose last extension is a few minutes old, in one write (with their
    devices' "last seen", on the same cadence)."""
    now = utcnow()
    lifetime = timedelta(hours=settings.session_hours)
    due = {session.id for session, _ in rows if session.expires_at - now < lifetime - _EXTEND_EVERY}
    if not due:
        return
    async with db.write() as s:
        for live in await s.exec(select(AuthSession).where(col(AuthSession.id).in_(due))):
            live.expires_at = now + lifetime
            s.add(live)
            device = await s.get(Device, live.device_id) if live.device_id is not None else None
            if device is not None:
                device.last_seen_at = now
                s.add(device)


class SessionCache:
    """This process's recent checks of open sockets' sessions. Every Socket.IO event is checked, but the
    database is asked at most once per `session_recheck_ms` per session; a revocation drops the user's
    entries at once (the realtime layer calls `forget`), so the interval only bounds how late a socket
    learns of an end that no message announced (another process, a lost message)."""

    MAX_ENTRIES = 20_000
    """Past this, expired entries are swept out (sockets that left keep none for long)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.ttl = settings.session_recheck_ms / 1000
        self._checked: dict[int, tuple[float, Actor]] = {}
        self._by_user: defaultdict[int, set[int]] = defaultdict(set)
        self._generation = 0  # bumped by every forget: a check that started before it is not kept
        self._batches = GroupCommit()

    async def actor(self, session_id: int) -> Actor:
        """The session's actor as of at most `ttl` ago, or Unauthorized."""
        now = time.monotonic()
        hit = self._checked.get(session_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._generation
        try:
            # The sockets whose checks fall due together (a room voting at once) are read together.
            actor: Actor = await self._batches.submit(
                "sessions", lambda batch: session_actors_many(self.db, self.settings, batch), session_id)
        except Unauthorized:
            self._checked.pop(session_id, None)
            raise
        if generation == self._generation:
            if len(self._checked) >= self.MAX_ENTRIES:
                self._sweep(now)
            self._checked[session_id] = (now + self.ttl, actor)
            self._by_user[actor.user_id].add(session_id)
        return actor

    @property
    def generation(self) -> int:
        return self._generation

    def remember(self, actor: Actor, generation: int) -> None:
        """A check made elsewhere (the socket's connect), so the first event needs none; not kept if a
        revocation came since `generation` was read, before that check."""
        if actor.session_id is not None and generation == self._generation:
            self._checked[actor.session_id] = (time.monotonic() + self.ttl, actor)
            self._by_user[actor.user_id].add(actor.session_id)

    def forget(self, user_id: int) -> None:
        self._generation += 1
        for session_id in self._by_user.pop(user_id, set()):
            self._checked.pop(session_id, None)

    def clear(self) -> None:
        """Everything is checked again (after revocation messages may have been missed)."""
        self._generation += 1
        self._checked.clear()
        self._by_user.clear()

    def _sweep(self, now: float) -> None:
        self._checked = {k: v for k, v in self._checked.items() if v[0] > now}
        self._by_user = defaultdict(set)
        for session_id, (_, actor) in self._checked.items():
            self._by_user[actor.user_id].add(session_id)


def actor_for(user: User, *, session_id: int | None = None, via_cookie: bool = False) -> Actor:
    assert user.id is not None
    return Actor(user_id=user.id, username=user.username, is_admin=user.is_admin,
                 is_secretariat=user.is_secretariat, body_id=user.body_id, session_id=session_id,
                 via_cookie=via_cookie)


async def logout(db: Database, actor: Actor, bus: EventBus) -> None:
    """Ends this session; its open sockets are dropped on every worker."""
    async with db.write() as s:
        await s.exec(delete(AuthSession).where(col(AuthSession.id) == actor.session_id))
        await audit.record(s, "auth.logout", actor_id=actor.user_id, object_type="user", object_id=actor.user_id)
    if actor.session_id is not None:
        await bus.revoke(Revocation(actor.user_id, ended_sessions=(actor.session_id,)))


async def change_password(db: Database, actor: Actor, current: str, new: str, bus: EventBus) -> None:
    """Change one's own password; every other session of the user ends (and its open sockets)."""
    async with db.read() as s:
        user = await s.get(User, actor.user_id)
    if user is None:
        raise Unauthorized("log in first")
    if not await asyncio.to_thread(passwords.verify_password, user.password_hash, current):
        raise Forbidden("the current password is wrong", code="wrong_password")
    if new == current:
        raise Forbidden("the new password must differ from the current one", code="same_password")
    new_hash = await asyncio.to_thread(passwords.hash_new_password, new, username=user.username,
                                       full_name=user.full_name)
    async with db.write() as s:
        stored = await s.get(User, actor.user_id)
        assert stored is not None
        stored.password_hash = new_hash
        stored.password_changed_at = utcnow()
        s.add(stored)
        ended = await _delete_sessions(s, actor.user_id, keep=actor.session_id)
        await audit.record(s, "auth.password_changed", actor_id=actor.user_id, object_type="user",
                           object_id=actor.user_id)
    await bus.revoke(Revocation(actor.user_id, ended_sessions=ended))


async def end_sessions(s: AsyncSession, user_id: int) -> tuple[int, ...]:
    """End every session of a user and forget its failed logins (deactivation, password reset by an admin).
    Returns the ended sessions, for the caller to revoke (`EventBus.revoke`) after commit."""
    ended = await _delete_sessions(s, user_id)
    await s.exec(delete(LoginThrottle).where(
        col(LoginThrottle.username) == select(User.username).where(User.id == user_id).scalar_subquery()))
    return ended


async def _delete_sessions(s: AsyncSession, user_id: int, *, keep: int | None = None) -> tuple[int, ...]:
    stmt = delete(AuthSession).where(col(AuthSession.user_id) == user_id)
    if keep is not None:
        stmt = stmt.where(col(AuthSession.id) != keep)
    return tuple((await s.exec(stmt.returning(col(AuthSession.id)))).scalars().all())
