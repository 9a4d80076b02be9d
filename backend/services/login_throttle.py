"""Throttling of failed logins, per account and per client address, so that guessing is slow and
nobody can lock anyone else out.

- An account's recent failures make each further attempt at it wait (doubling, up to a bound);
  the right password still gets in after the wait, whoever failed before.
- A client address (an IPv6 /64, whose owner has all of it) that failed too often is refused with
  429 for a while, before any password is checked: its guesses cost no argon2 time.
- State is bounded: a row per existing account that failed recently, a row per address that failed
  recently; both expire `login_lock_seconds` after their last failure and are pruned. Unknown
  usernames leave no row: their failures are counted in a small in-process table, so that they are
  slowed just like real accounts and the wait does not tell which usernames exist."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.exceptions import TooManyRequests
from backend.models import LoginAddressThrottle, LoginThrottle, User
from backend.models.base import utcnow
from backend.services import audit

_FIRST_DELAY_MS = 250
_UNKNOWN_NAMES_KEPT = 4096
_PRUNE_EVERY_S = 60.0


def address_key(address: str) -> str:
    """What one client is counted as: its IPv4 address, or the /64 network of its IPv6 address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def slowdown_ms(settings: Settings, failures: int) -> int:
    """The wait before checking a password at an account with `failures` recent failures."""
    if failures < settings.login_slowdown_after:
        return 0
    extra = failures - settings.login_slowdown_after
    return int(min(settings.login_slowdown_max_ms, _FIRST_DELAY_MS * 2 ** min(extra, 16)))


class _UnknownNames:
    """Recent failures at usernames that do not exist, in this process, for at most a few thousand names
    (the oldest are forgotten first)."""

    def __init__(self, size: int = _UNKNOWN_NAMES_KEPT) -> None:
        self.size = size
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def failures(self, name: str, window_s: float) -> int:
        count, last = self._seen.get(name, (0, 0.0))
        return count if time.monotonic() - last < window_s else 0

    def add(self, name: str, window_s: float) -> None:
        count = self.failures(name, window_s) + 1
        self._seen.pop(name, None)
        self._seen[name] = (count, time.monotonic())
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)

    def __len__(self) -> int:
        return len(self._seen)


unknown_names = _UnknownNames()
_last_prune = 0.0


def _recent(last: datetime | None, now: datetime, settings: Settings) -> bool:
    return last is not None and now - last < timedelta(seconds=settings.login_lock_seconds)


async def check(db: Database, settings: Settings, name: str, user: User | None, address: str) -> int:
    """Refuse (429) an address that failed too often; else the wait (ms) this attempt must make first."""
    now = utcnow()
    async with db.read() as s:
        source = await s.get(LoginAddressThrottle, address) if address else None
        account = await s.get(LoginThrottle, name) if user is not None else None
    if source is not None and source.blocked_until is not None and source.blocked_until > now:
        wait = int((source.blocked_until - now).total_seconds()) + 1
        raise TooManyRequests(f"too many failed logins from this address: try again in {wait} seconds",
                              code="login_throttled", retry_after=wait)
    if user is None:
        return slowdown_ms(settings, unknown_names.failures(name, settings.login_lock_seconds))
    failures = account.failures if account is not None and _recent(account.last_failure_at, now, settings) else 0
    return slowdown_ms(settings, failures)


async def record_failure(db: Database, settings: Settings, name: str, user: User | None, address: str) -> None:
    """Count a failed login at the account (or the unknown name) and from the address, and audit it."""
    if user is None:
        unknown_names.add(name, settings.login_lock_seconds)
    for attempt in range(3):
        try:
            async with db.write() as s:
                now = utcnow()
                blocked = await _count_address(s, settings, address, now) if address else False
                if user is not None:
                    await _count_account(s, settings, name, now)
                await audit.record(s, "auth.login_failed", actor_id=None, object_type="user",
                                   object_id=user.id if user else None,
                                   details={"username": name, "address": address, "address_blocked": blocked})
            break
        except IntegrityError:  # two first failures of one key at the same instant: count again
            if attempt == 2:
                raise
    await _prune(db, settings)


async def _count_address(s: AsyncSession, settings: Settings, address: str, now: datetime) -> bool:
    # Locked row: parallel wrong guesses must each count (PostgreSQL would otherwise lose updates).
    row = await s.get(LoginAddressThrottle, address, with_for_update=True)
    if row is None:
        row = LoginAddressThrottle(address=address, failures=0, last_failure_at=now)
    elif not _recent(row.last_failure_at, now, settings):
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    blocked = row.failures >= settings.login_address_limit
    if blocked:
        row.blocked_until = now + timedelta(seconds=settings.login_lock_seconds)
        row.failures = 0
    s.add(row)
    return blocked


async def _count_account(s: AsyncSession, settings: Settings, name: str, now: datetime) -> None:
    row = await s.get(LoginThrottle, name, with_for_update=True)
    if row is None:
        row = LoginThrottle(username=name, failures=0)
    elif not _recent(row.last_failure_at, now, settings):
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    s.add(row)


async def forget_account(s: AsyncSession, name: str) -> None:
    """A successful login (or an administrator's reset) clears the account's failures."""
    await s.exec(delete(LoginThrottle).where(col(LoginThrottle.username) == name))


async def _prune(db: Database, settings: Settings) -> None:
    """Drop expired rows, at most once a minute per process (the tables stay as small as the recent failures)."""
    global _last_prune
    if time.monotonic() - _last_prune < _PRUNE_EVERY_S:
        return
    _last_prune = time.monotonic()
    now = utcnow()
    expired = now - timedelta(seconds=settings.login_lock_seconds)
    async with db.write() as s:
        await s.exec(delete(LoginAddressThrottle).where(
            col(LoginAddressThrottle.last_failure_at) < expired,
            or_(col(LoginAddressThrottle.blocked_until).is_(None), col(LoginAddressThrottle.blocked_until) < now)))
        await s.exec(delete(LoginThrottle).where(col(LoginThrottle.last_failure_at) < expired))
