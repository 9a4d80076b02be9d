"""A task as the API shows it, with its agencies' names and each agency's delivery and status, and the
state it is in today (due, overdue, done: backend/domain/tasks.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.domain import tasks as rules
from backend.models import Agency, OutgoingPackage, RecordTask, Resolution, TaskDelivery

LEAD, COOPERATING = "lead", "cooperating"


def today(settings: Settings, now: datetime | None = None) -> date:
    """Today where the body sits (a deadline is a day there)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(settings.signing_timezone)).date()


def cooperating(task: RecordTask) -> list[str]:
    return [str(c) for c in json.loads(task.cooperating)]


async def agency_names(s: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = (await s.exec(select(Agency).where(col(Agency.code).in_(wanted)))).all()
    return {a.code: a.name for a in rows}


async def shape(s: AsyncSession, settings: Settings, tasks: Sequence[RecordTask],
                records: dict[int, Resolution] | None = None) -> list[dict[str, Any]]:
    """The tasks as JSON, in the order given."""
    ids = [t.id for t in tasks if t.id is not None]
    deliveries: dict[int, list[tuple[TaskDelivery, OutgoingPackage]]] = {}
    if ids:
        rows = (await s.exec(select(TaskDelivery, OutgoingPackage)
                             .join(OutgoingPackage, col(OutgoingPackage.id) == col(TaskDelivery.outgoing_id))
                             .where(col(TaskDelivery.task_id).in_(ids)).order_by(col(TaskDelivery.id)))).all()
        for d, o in rows:
            deliveries.setdefault(d.task_id, []).append((d, o))
    if records is None:
        wanted = {t.record_id for t in tasks}
        found = (await s.exec(select(Resolution).where(col(Resolution.id).in_(wanted)))).all() if wanted else []
        records = {r.id: r for r in found if r.id is not None}
    names = await agency_names(s, [c for t in tasks for c in (t.lead_code, *cooperating(t))])
    day = today(settings)
    out = []
    for t in tasks:
        mine = deliveries.get(t.id or 0, [])
        lead_status = next((d.status for d, _ in mine if d.role == LEAD), "")
        record = records.get(t.record_id)
        out.append({
            "id": t.id, "record_id": t.record_id, "meeting_id": t.meeting_id, "article": t.article, "text": t.text,
            "lead_code": t.lead_code, "lead_name": names.get(t.lead_code, ""),
            "cooperating": [{"code": c, "name": names.get(c, "")} for c in cooperating(t)],
            "deadline": t.deadline, "output": t.output, "document_id": t.document_id, "sent_at": t.sent_at,
            "done_at": t.done_at, "state": rules.state(t.deadline, lead_status, day).value,
            "record_number": record.number if record else "", "record_title": record.title if record else "",
            "record_status": record.status if record else "",
            "deliveries": [{"agency_code": d.agency_code, "agency_name": names.get(d.agency_code, ""),
                            "role": d.role, "status": d.status, "status_at": d.status_at,
                            "description": d.description, "delivery": o.state} for d, o in mine],
        })
    return out
