"""Logging in and out, login sessions (browser cookie or API bearer token), their cookie names, CSRF
tokens, and password changes. Failed logins are throttled by backend/services/login_throttle.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.exceptions import Forbidden, Unauthorized
from backend.models import AuthSession, LoginThrottle, User
from backend.models.base import utcnow
from backend.services import audit, login_throttle, passwords
from backend.services.context import Actor

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


SESSION_COOKIE = "ecabinet_session"
CSRF_COOKIE = "ecabinet_csrf"


def cookie_name(settings: Settings, base: str) -> str:
    """`__Host-<base>` when cookies are Secure (HTTPS): the browser then takes the cookie only from a
    secure origin, for Path=/ and without Domain, so a sibling subdomain or a plain-HTTP page cannot
    plant or shadow it. Browsers refuse `__Host-` cookies without Secure: plain HTTP keeps `<base>`."""
    return f"__Host-{base}" if settings.secure_cookies else base


def session_cookie(settings: Settings) -> str:
    return cookie_name(settings, SESSION_COOKIE)


def csrf_cookie(settings: Settings) -> str:
    return cookie_name(settings, CSRF_COOKIE)


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
                user_agent: str = "", address: str = "") -> LoginResult:
    """Check the password and open a session. `address` is the client's (see login_throttle): an
    address that failed too often is refused before any password is checked; an account's recent
    failures only make the attempt wait, so the right password always gets in."""
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
        s.add(AuthSession(token_hash=token_hash(token), user_id=user.id, kind=kind, expires_at=expires,
                          user_agent=user_agent[:300]))
        await audit.record(s, "auth.login", actor_id=user.id, object_type="user", object_id=user.id,
                           details={"kind": kind})
    return LoginResult(token=token, user=user, expires_at=expires)


async def authenticate(db: Database, settings: Settings, token: str | None, *, via_cookie: bool) -> Actor:
    """The actor behind a session token, or Unauthorized. Extends the session on use."""
    if not token or len(token) > 200:
        raise Unauthorized("log in first")
    digest = token_hash(token)
    now = utcnow()
    async with db.read() as s:
        row = (await s.exec(select(AuthSession, User).join(User).where(AuthSession.token_hash == digest))).first()
    if row is None:
        raise Unauthorized("your session has ended: log in again")
    session, user = row
    if session.expires_at <= now or not user.is_active:
        raise Unauthorized("your session has ended: log in again", code="session_expired")
    if via_cookie != (session.kind == "cookie"):
        # A bearer token in a cookie (or the reverse) means someone is replaying a secret where it does not belong.
        raise Unauthorized("this token is not valid here")
    lifetime = timedelta(hours=settings.session_hours)
    if session.expires_at - now < lifetime - _EXTEND_EVERY:
        async with db.write() as s:
            live = await s.get(AuthSession, session.id)
            if live is not None:
                live.expires_at = now + lifetime
                s.add(live)
    return actor_for(user, session_id=session.id, via_cookie=via_cookie)


def actor_for(user: User, *, session_id: int | None = None, via_cookie: bool = False) -> Actor:
    assert user.id is not None
    return Actor(user_id=user.id, username=user.username, is_admin=user.is_admin,
                 is_secretariat=user.is_secretariat, body_id=user.body_id, session_id=session_id,
                 via_cookie=via_cookie)


async def logout(db: Database, actor: Actor) -> None:
    async with db.write() as s:
        await s.exec(delete(AuthSession).where(col(AuthSession.id) == actor.session_id))
        await audit.record(s, "auth.logout", actor_id=actor.user_id, object_type="user", object_id=actor.user_id)


async def change_password(db: Database, actor: Actor, current: str, new: str) -> None:
    """Change one's own password; every other session of the user ends."""
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
        await s.exec(delete(AuthSession).where(
            col(AuthSession.user_id) == actor.user_id, col(AuthSession.id) != actor.session_id))
        await audit.record(s, "auth.password_changed", actor_id=actor.user_id, object_type="user",
                           object_id=actor.user_id)


async def end_sessions(s: AsyncSession, user_id: int) -> None:
    """End every session of a user and forget its failed logins (deactivation, password reset by an admin)."""
    await s.exec(delete(AuthSession).where(col(AuthSession.user_id) == user_id))
    await s.exec(delete(LoginThrottle).where(
        col(LoginThrottle.username) == select(User.username).where(User.id == user_id).scalar_subquery()))
