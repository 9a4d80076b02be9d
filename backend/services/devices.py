"""Devices: the browsers an account logs in from, and what happens when one is lost.

A browser is known by a random value in its device cookie (HttpOnly, SameSite=Strict, long-lived; only
its SHA-256 is stored). Each cookie login names the device it came from (`seen_at_login`). Revoking a
device (`revoke`: an administrator, or the user from another device) ends its sessions at once on every
worker through the revocation machinery (services/events.Revocation, realtime/revocations.py). From
then on the browser's requests and socket connections are refused with the code `device_revoked`
(`revoked_browser`), on which the app erases everything it stored and confirms (`confirm_wiped`). Both
the order and the confirmation go into the audit log. docs/security-notes/devices.md lists the stores."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain.devices import device_name
from backend.exceptions import Conflict, NotFound, Unauthorized
from backend.models import AuthSession, Device, User
from backend.models.base import utcnow
from backend.services import audit
from backend.services.context import Actor
from backend.services.events import EventBus, Revocation

COOKIE_DAYS = 400  # the longest a browser keeps a cookie
MAX_TOKEN = 100
# A device's last-seen time is written back at most this often.
_SEEN_EVERY = timedelta(minutes=1)
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class DeviceView:
    """One device as its owner or an administrator sees it."""

    device: Device
    """The row."""
    current: bool
    """Whether it is the browser asking."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def usable_token(token: str | None) -> str | None:
    return token if token and len(token) <= MAX_TOKEN else None


def store_key(settings: Settings, device: Device) -> str:
    """The key the app encrypts what it must keep on the device (secret-ballot receipts) with. Derived on
    the server from the device's cookie hash: the tablet alone cannot read what it kept, and once the
    device is revoked nobody can ask for the key again."""
    mac = hmac.new(settings.secret_key.encode(), f"device-store:{device.user_id}:{device.token_hash}".encode(),
                   hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


async def seen_at_login(s: AsyncSession, user_id: int, token: str | None, user_agent: str,
                        address: str) -> tuple[Device, str | None]:
    """The device a cookie login comes from (inside the login's transaction): the browser's device of this
    account, or a new one. Returns it and the cookie value to set (None: the browser's cookie stays).
    A revoked device is never reused: the browser becomes a new device with a new cookie."""
    ua = _NOT_PRINTABLE.sub("", user_agent)[:300]
    now = utcnow()
    token = usable_token(token)
    if token is not None:
        digest = token_hash(token)
        found = (await s.exec(select(Device).where(Device.user_id == user_id, Device.token_hash == digest))).first()
        if found is not None and found.revoked_at is None:
            found.last_seen_at, found.last_address = now, address[:64]
            found.user_agent, found.name = ua, device_name(ua)
            s.add(found)
            await s.flush()
            return found, None
        if found is not None:
            token = None
    fresh = token is None
    token = token or new_token()
    device = Device(user_id=user_id, token_hash=token_hash(token), name=device_name(ua), user_agent=ua,
                    first_seen_at=now, last_seen_at=now, last_address=address[:64])
    s.add(device)
    await s.flush()
    return device, token if fresh else None


def revoked_error() -> Unauthorized:
    """The refusal a revoked device's browser gets (REST 401 and socket connect): the app erases at once."""
    return Unauthorized("this device was reported lost: what it stored is being erased", code="device_revoked")


async def revoked_browser(db: Database, token: str | None) -> bool:
    """Whether a browser's device cookie names a revoked device (of any account): its data must go."""
    token = usable_token(token)
    if token is None:
        return False
    async with db.read() as s:
        found = (await s.exec(select(Device.id).where(
            Device.token_hash == token_hash(token), col(Device.revoked_at).is_not(None)).limit(1))).first()
    return found is not None


async def _current_device_id(s: AsyncSession, actor: Actor) -> int | None:
    if actor.session_id is None:
        return None
    return (await s.exec(select(AuthSession.device_id).where(AuthSession.id == actor.session_id))).first()


async def listing(db: Database, actor: Actor, user_id: int) -> list[DeviceView]:
    """A user's devices, most recently seen first: one's own, or anyone's for an administrator."""
    async with db.read() as s:
        if (user_id != actor.user_id and not actor.is_admin) or await s.get(User, user_id) is None:
            raise NotFound(f"no user {user_id}")
        current = await _current_device_id(s, actor)
        rows = (await s.exec(select(Device).where(Device.user_id == user_id).order_by(
            col(Device.last_seen_at).desc(), col(Device.id).desc()))).all()
    return [DeviceView(d, d.id == current) for d in rows]


async def this_device(db: Database, settings: Settings, actor: Actor, address: str) -> dict[str, Any]:
    """The asking browser's device (None for a bearer token) and its store key; counts as being seen."""
    async with db.write() as s:
        device_id = await _current_device_id(s, actor)
        device = await s.get(Device, device_id) if device_id is not None else None
        if device is not None and utcnow() - device.last_seen_at >= _SEEN_EVERY:
            device.last_seen_at, device.last_address = utcnow(), address[:64]
            s.add(device)
    return {"device": DeviceView(device, True) if device is not None else None,
            "store_key": store_key(settings, device) if device is not None else None,
            "offline_hours": settings.offline_hours}


async def revoke(db: Database, actor: Actor, device_id: int, bus: EventBus) -> DeviceView:
    """Marks a device lost: its sessions end at once (their sockets are dropped on every worker) and the
    browser is told to erase what it stored at its next contact. One's own other device, or any device
    for an administrator; not the device asking (log out there instead)."""
    async with db.write() as s:
        device = await s.get(Device, device_id)
        if device is None or (device.user_id != actor.user_id and not actor.is_admin):
            raise NotFound(f"no device {device_id}")
        if device.revoked_at is not None:
            raise Conflict("this device has already been revoked", code="already_revoked")
        if device.id == await _current_device_id(s, actor):
            raise Conflict("this is the device you are using: log out here, or revoke it from another device",
                           code="current_device")
        device.revoked_at, device.revoked_by = utcnow(), actor.user_id
        s.add(device)
        ended = tuple((await s.exec(delete(AuthSession).where(col(AuthSession.device_id) == device_id).returning(
            col(AuthSession.id)))).scalars().all())
        await audit.record(s, "device.revoked", actor_id=actor.user_id, object_type="device", object_id=device_id,
                           details={"user_id": device.user_id, "name": device.name, "sessions_ended": len(ended)})
        await s.refresh(device)
    await bus.revoke(Revocation(device.user_id, ended_sessions=ended))
    return DeviceView(device, False)


async def confirm_wiped(db: Database, token: str | None) -> int:
    """The browser says it erased everything it stored: each revoked device of that browser not yet
    confirmed gets its time and an audit entry (when the order was given, by whom, when the wipe was
    done). Returns how many devices that concerned (0: nothing to confirm)."""
    token = usable_token(token)
    if token is None:
        return 0
    async with db.write() as s:
        rows = (await s.exec(select(Device).where(
            Device.token_hash == token_hash(token), col(Device.revoked_at).is_not(None),
            col(Device.wiped_at).is_(None)))).all()
        now = utcnow()
        for device in rows:
            device.wiped_at = now
            s.add(device)
            await audit.record(s, "device.wiped", actor_id=None, object_type="device", object_id=device.id,
                               details={"user_id": device.user_id, "ordered_at": _iso(device.revoked_at),
                                        "ordered_by": device.revoked_by, "wiped_at": _iso(now)})
    return len(rows)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
