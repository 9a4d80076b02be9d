"""In-app notifications: what awaits a person (a meeting published, a record to review or sign, an
opinion round to answer), kept per user, newest first, at most MAX_PER_USER each.

A notification is written in the same transaction as the change that causes it (collected in an
`Outbox`), and delivered only after that transaction has committed: pushed to the person's own room
(`notification.new` with their unread count, on every device they have connected) and, where SMTP is
configured, e-mailed (backend/services/mail.py). Rows store a `kind` and its `params`; each client
words them in its language (frontend i18n `notify.<kind>.*`), the e-mail in Vietnamese (TEXT below)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, update
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import Role
from backend.exceptions import NotFound
from backend.models import Notification, Participant, User
from backend.models.base import utcnow
from backend.services import mail
from backend.services.context import Actor
from backend.services.events import EventBus, user_room

MAX_PER_USER = 200
"""Rows kept per person: beyond this the oldest read ones go first, then the oldest unread."""
PAGE_SIZE = 50

# Vietnamese subject and sentence of each kind, for the e-mail ({…} are the row's params). The app words
# them from its catalogues (frontend/i18n, keys notify.<kind>.title and .text), in the same words.
TEXT: dict[str, tuple[str, str]] = {
    "meeting_published": ("Cuộc họp mới: {meeting}",
                          "Văn phòng đã gửi \"{meeting}\" tới đồng chí. Thời gian: {starts_at}."),
    "round_reminder": ("Nhắc cho ý kiến: {meeting}", "Đồng chí chưa gửi phiếu lấy ý kiến. Hạn cuối: {deadline}."),
    "round_closing": ("Sắp hết hạn cho ý kiến: {meeting}",
                      "Phiếu lấy ý kiến sắp hết hạn ({deadline}); đồng chí chưa gửi phiếu."),
    "record_review": ("Chờ kiểm tra: {number}", "Dự thảo \"{title}\" chờ đồng chí kiểm tra và ký nháy."),
    "record_sign": ("Chờ ký: {number}", "\"{title}\" đã được thư ký kiểm tra, chờ đồng chí ký."),
    "record_published": ("Đã công bố: {number}",
                         "\"{title}\" của cuộc họp \"{meeting}\" đã được ký và công bố."),
}


def meeting_link(meeting_id: int) -> str:
    return f"#/meetings/{meeting_id}"


def record_link(record_id: int) -> str:
    return f"#/records/{record_id}"


def out(row: Notification) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "params": json.loads(row.params), "link": row.link,
            "created_at": row.created_at, "read_at": row.read_at}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@dataclass
class _Batch:
    rows: list[Notification]
    mail: bool


@dataclass
class Outbox:
    """Notifications written inside one transaction, delivered once it has committed."""

    batches: list[_Batch] = field(default_factory=list)

    async def add(self, s: AsyncSession, user_ids: Iterable[int], kind: str, link: str, *, mail: bool = True,
                  **params: str) -> None:
        """One notification to each of `user_ids`. `mail=False` where the caller e-mails them itself
        (opinion-round reminders): nobody gets the same message twice."""
        ids = sorted(set(user_ids))
        if not ids:
            return
        text, now = json.dumps(params, ensure_ascii=False), utcnow()
        # One multi-row INSERT ... RETURNING: a meeting of 2,000 is told in one statement, not 2,000.
        rows = list((await s.exec(insert(Notification).returning(Notification), params=[
            {"user_id": user_id, "kind": kind, "params": text, "link": link, "created_at": now}
            for user_id in ids])).scalars().all())
        await _prune(s, ids)
        self.batches.append(_Batch(rows, mail))

    async def deliver(self, bus: EventBus, settings: Settings, db: Database) -> None:
        """After commit: push each row to its person's room with their unread count, then e-mail."""
        rows = [r for b in self.batches for r in b.rows]
        if not rows:
            return
        counts = await unread_counts(db, {r.user_id for r in rows})
        for row in rows:
            await bus.publish("notification.new", {"notification": _jsonable(out(row)),
                                                   "unread": counts.get(row.user_id, 0)}, room=user_room(row.user_id))
        for batch in self.batches:
            if batch.mail and mail.configured(settings):
                await _email(settings, db, batch.rows)
        self.batches.clear()


async def _prune(s: AsyncSession, user_ids: list[int]) -> None:
    """Keeps each person's list bounded: read ones go first (oldest first), then the oldest unread."""
    over = (await s.exec(select(Notification.user_id, func.count()).where(col(Notification.user_id).in_(user_ids))
                         .group_by(col(Notification.user_id))
                         .having(func.count() > MAX_PER_USER))).all()
    for user_id, count in over:
        extra = list((await s.exec(select(Notification.id).where(Notification.user_id == user_id)
                                   .order_by(col(Notification.read_at).is_(None), col(Notification.id))
                                   .limit(count - MAX_PER_USER))).all())
        await s.exec(delete(Notification).where(col(Notification.id).in_(extra)))


async def _email(settings: Settings, db: Database, rows: list[Notification]) -> int:
    """The batch's one message (same kind and params) to each of its people who has an address."""
    subject, sentence = TEXT[rows[0].kind]
    params = json.loads(rows[0].params)
    for key in ("deadline", "starts_at"):  # printed where the body sits
        if key in params:
            local = datetime.fromisoformat(params[key]).astimezone(ZoneInfo(settings.signing_timezone))
            params[key] = f"{local:%H:%M} ngày {local:%d/%m/%Y}"
    async with db.read() as s:
        users = (await s.exec(select(User).where(col(User.id).in_([r.user_id for r in rows])))).all()
    return await mail.send(settings, [(u.full_name, u.email) for u in users if u.email],
                           "[e-Cabinet] " + subject.format_map(params),
                           f"Kính gửi đồng chí,\n\n{sentence.format_map(params)}\n\n"
                           "Vui lòng đăng nhập e-Cabinet để xem.\n")


async def people(s: AsyncSession, meeting_id: int, roles: Iterable[Role] | None = None) -> set[int]:
    """User ids taking part in a meeting (with their named deputies), or only those of `roles`."""
    stmt = select(Participant).where(Participant.meeting_id == meeting_id)
    if roles is not None:
        stmt = stmt.where(col(Participant.role).in_([r.value for r in roles]))
    found: set[int] = set()
    for p in (await s.exec(stmt)).all():
        found.add(p.user_id)
        if p.deputy_user_id:
            found.add(p.deputy_user_id)
    return found


async def unread_counts(db: Database, user_ids: Iterable[int]) -> dict[int, int]:
    async with db.read() as s:
        rows = (await s.exec(select(Notification.user_id, func.count()).where(
            col(Notification.user_id).in_(sorted(set(user_ids))), col(Notification.read_at).is_(None))
            .group_by(col(Notification.user_id)))).all()
    return {user_id: count for user_id, count in rows}


# --- one's own list (REST) -------------------------------------------------------------------------

async def mine(db: Database, actor: Actor, *, before: int | None = None, limit: int = PAGE_SIZE) -> dict[str, Any]:
    """My notifications, newest first; `before` (an id) pages on to older ones."""
    stmt = select(Notification).where(Notification.user_id == actor.user_id)
    if before is not None:
        stmt = stmt.where(col(Notification.id) < before)
    async with db.read() as s:
        rows = (await s.exec(stmt.order_by(col(Notification.id).desc()).limit(limit + 1))).all()
    items = [out(r) for r in rows[:limit]]
    return {"items": items, "unread": await unread(db, actor),
            "next_before": items[-1]["id"] if len(rows) > limit else None}


async def unread(db: Database, actor: Actor) -> int:
    return (await unread_counts(db, [actor.user_id])).get(actor.user_id, 0)


async def mark_read(db: Database, bus: EventBus, actor: Actor, notification_id: int) -> dict[str, Any]:
    """Marks one of mine read. Someone else's is answered like one that does not exist."""
    async with db.write() as s:
        row = await s.get(Notification, notification_id)
        if row is None or row.user_id != actor.user_id:
            raise NotFound(f"no notification {notification_id}", code="unknown_notification")
        if row.read_at is None:
            row.read_at = utcnow()
            s.add(row)
        result = out(row)
    await _tell_devices(db, bus, actor)
    return result


async def mark_all_read(db: Database, bus: EventBus, actor: Actor) -> dict[str, int]:
    async with db.write() as s:
        done = await s.exec(update(Notification).where(
            col(Notification.user_id) == actor.user_id, col(Notification.read_at).is_(None)).values(read_at=utcnow()))
    await _tell_devices(db, bus, actor)
    return {"marked": int(done.rowcount or 0), "unread": 0}


async def _tell_devices(db: Database, bus: EventBus, actor: Actor) -> None:
    """My other devices show the new count too."""
    await bus.publish("notification.read", {"unread": await unread(db, actor)}, room=user_room(actor.user_id))

