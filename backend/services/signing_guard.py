"""Wrong passphrases of signing keys and wrong PINs of signing tokens, slowed and stopped like wrong
logins, and each one written to the audit log.

A stolen session could otherwise try a key's passphrase as fast as the key file decrypts (5-20 ms a
try). Each failure is an audit entry `credential.wrong_secret` naming the credential and who tried;
the entries in the last `login_lock_seconds` are the count (no other state to keep):
- from `login_slowdown_after` failures on, each further try waits first (250 ms, doubling, at most
  `login_slowdown_max_ms`), as a login does;
- at `LOCK_AFTER` failures the key refuses every try, the right secret included, with
  `429 signing_key_locked` until the oldest of them is older than the window. Only the key's owner,
  logged in, can try it at all, so this cannot be used to lock somebody else out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.exceptions import AppError, TooManyRequests
from backend.models import AuditEntry
from backend.models.base import utcnow
from backend.services import audit
from backend.services.context import Actor
from backend.services.login_throttle import slowdown_ms

T = TypeVar("T")

LOCK_AFTER = 10
"""Wrong secrets within the window after which the key refuses every try."""
WRONG_SECRET_CODES = frozenset({"wrong_passphrase"})
"""The signing errors that mean "the secret was wrong" (a token's wrong PIN has the same code)."""
ACTION = "credential.wrong_secret"


async def guarded(db: Database, settings: Settings, actor: Actor, credential_id: int,
                  attempt: Callable[[], Awaitable[T]], *, meeting_id: int | None = None) -> T:
    """Run `attempt` (which opens the credential with the secret given) under the key's throttle."""
    window = timedelta(seconds=settings.login_lock_seconds)
    now = utcnow()
    async with db.read() as s:
        recent = list((await s.exec(select(AuditEntry.at).where(
            AuditEntry.action == ACTION, AuditEntry.object_type == "signing_credential",
            AuditEntry.object_id == credential_id, col(AuditEntry.at) > now - window)
            .order_by(col(AuditEntry.at).desc()).limit(LOCK_AFTER))).all())
    if len(recent) >= LOCK_AFTER:
        wait = max(1, int((recent[-1] + window - now).total_seconds()) + 1)
        raise TooManyRequests(f"too many wrong passphrases or PINs for this signing key: try again in {wait} s",
                              code="signing_key_locked", retry_after=wait)
    delay = slowdown_ms(settings, len(recent))
    if delay:
        await asyncio.sleep(delay / 1000)
    try:
        return await attempt()
    except AppError as exc:
        if exc.code in WRONG_SECRET_CODES:
            async with db.write() as s:
                await audit.record(s, ACTION, actor_id=actor.user_id, object_type="signing_credential",
                                   object_id=credential_id, meeting_id=meeting_id,
                                   details={"failures_in_window": len(recent) + 1})
        raise
