"""Append to and verify the hash-chained audit log. `record` runs inside the caller's transaction,
so the entry commits or rolls back with the change it describes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.domain.audit_chain import GENESIS, ChainedFields, canonical_details, entry_hash, first_break
from backend.models import AuditEntry
from backend.models.base import utcnow

# Any constant: the PostgreSQL advisory lock that serialises appends to the chain.
_AUDIT_LOCK_KEY = 7_242_001


@dataclass(frozen=True)
class Entry:
    """One audit entry to append (`record_many`)."""

    action: str
    """What happened (`vote.cast`, ...)."""
    actor_id: int | None
    """Who did it (None: the system, e.g. a poll closed by its clock)."""
    object_type: str = ""
    """The kind of object it concerns."""
    object_id: int | None = None
    """Its id."""
    meeting_id: int | None = None
    """The meeting it belongs to."""
    details: Mapping[str, Any] | None = None
    """More facts, stored as canonical JSON."""


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None,
    object_type: str = "",
    object_id: int | None = None,
    meeting_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return (await record_many(session, [Entry(action, actor_id, object_type, object_id, meeting_id, details)]))[0]


async def record_many(session: AsyncSession, entries: Sequence[Entry]) -> list[AuditEntry]:
    """Appends `entries` in order, chained, with one read of the chain's head and one flush (a batch of
    ballots written together: services/group_commit.py)."""
    if not entries:
        return []
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.exec(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_KEY})"))  # type: ignore[call-overload]
    head = (await session.exec(select(AuditEntry.seq, AuditEntry.hash)
                               .order_by(col(AuditEntry.seq).desc()).limit(1))).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    at = utcnow()
    out: list[AuditEntry] = []
    for e in entries:
        seq += 1
        fields = ChainedFields(seq=seq, at=at, actor_id=e.actor_id, action=e.action, object_type=e.object_type,
                               object_id=e.object_id, meeting_id=e.meeting_id,
                               details=canonical_details(e.details or {}))
        digest = entry_hash(fields, prev)
        out.append(AuditEntry(seq=seq, at=at, actor_id=e.actor_id, action=e.action, object_type=e.object_type,
                              object_id=e.object_id, meeting_id=e.meeting_id, details=fields.details,
                              prev_hash=prev, hash=digest))
        prev = digest
    session.add_all(out)
    await session.flush()
    return out


def _fields(entry: AuditEntry) -> ChainedFields:
    return ChainedFields(seq=entry.seq, at=entry.at, actor_id=entry.actor_id, action=entry.action,
                         object_type=entry.object_type, object_id=entry.object_id,
                         meeting_id=entry.meeting_id, details=entry.details)


async def verify(session: AsyncSession) -> tuple[bool, int, int | None]:
    """(whole chain intact, number of entries, seq of the first broken entry)."""
    total = (await session.exec(select(func.count()).select_from(AuditEntry))).one()
    rows = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.seq)))).all()
    broken = first_break((_fields(e), e.prev_hash, e.hash) for e in rows)
    return broken is None, int(total), broken


async def entries(session: AsyncSession, *, meeting_id: int | None, limit: int) -> list[dict[str, Any]]:
    query = select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(limit)
    if meeting_id is not None:
        query = query.where(AuditEntry.meeting_id == meeting_id)
    rows = (await session.exec(query)).all()
    return [
        {"seq": e.seq, "at": e.at, "actor_id": e.actor_id, "action": e.action, "object_type": e.object_type,
         "object_id": e.object_id, "meeting_id": e.meeting_id, "details": json.loads(e.details)}
        for e in rows
    ]


async def latest(db: Database, *, meeting_id: int | None, limit: int) -> list[dict[str, Any]]:
    async with db.read() as s:
        return await entries(s, meeting_id=meeting_id, limit=limit)


async def verify_chain(db: Database) -> tuple[bool, int, int | None]:
    async with db.read() as s:
        return await verify(s)
