"""What became of the decisions: the Government Office's dashboard of every published resolution's tasks
by agency (due, overdue, done), and one meeting's own tasks for its participants.

Who sees what: the dashboard is the secretariat's (the tasks of its own body's meetings) and the
administrators' (all of them); a meeting's tasks are its participants' (those of published resolutions;
its staff also see those still on a draft)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import STAFF, Action
from backend.exceptions import BadRequest, Forbidden
from backend.models import Meeting, RecordTask, Resolution
from backend.services import access
from backend.services.context import Actor
from backend.services.tasks import views
from exchange import fields

STATES = ("due", "overdue", "done")


def _counts() -> dict[str, int]:
    return dict.fromkeys(STATES, 0)


async def dashboard(db: Database, settings: Settings, actor: Actor, agency: str | None,
                    state: str | None) -> dict[str, Any]:
    """Tasks of published resolutions with counts per agency (an agency counts the tasks it leads or
    cooperates in), filtered by `agency` (lead or cooperating) and `state` (the counts are not)."""
    if not (actor.is_admin or actor.is_secretariat):
        raise Forbidden("only the secretariat and administrators follow the tasks of all meetings")
    if agency:
        try:
            fields.check_agency_id(agency, "agency")
        except ValueError as exc:
            raise BadRequest(str(exc), code="bad_agency_code") from None
    async with db.read() as s:
        stmt = (select(RecordTask, Resolution).join(Resolution, col(Resolution.id) == col(RecordTask.record_id))
                .join(Meeting, col(Meeting.id) == col(RecordTask.meeting_id))
                .where(Resolution.status == "published")
                .order_by(col(RecordTask.deadline), col(RecordTask.id)))
        if not actor.is_admin:
            stmt = stmt.where(Meeting.body_id == actor.body_id)
        rows = (await s.exec(stmt)).all()
        shaped = await views.shape(s, settings, [t for t, _ in rows], {r.id or 0: r for _, r in rows})
        names = await views.agency_names(s, [c for t in shaped for c in _codes(t)])
    by_agency: dict[str, dict[str, int]] = {}
    totals = _counts()
    for task in shaped:
        totals[task["state"]] += 1
        for code in _codes(task):
            by_agency.setdefault(code, _counts())[task["state"]] += 1
    listed = [t for t in shaped if (not agency or agency in _codes(t)) and (not state or t["state"] == state)]
    return {"today": views.today(settings), "totals": totals,
            "agencies": [{"code": c, "name": names.get(c, ""), **n} for c, n in sorted(by_agency.items())],
            "tasks": listed}


def _codes(task: dict[str, Any]) -> list[str]:
    return [task["lead_code"], *(c["code"] for c in task["cooperating"])]


async def of_meeting(db: Database, settings: Settings, actor: Actor, meeting_id: int) -> dict[str, Any]:
    """One meeting's tasks, by resolution and article, with its counts."""
    async with db.read() as s:
        _, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
        stmt = (select(RecordTask, Resolution).join(Resolution, col(Resolution.id) == col(RecordTask.record_id))
                .where(RecordTask.meeting_id == meeting_id)
                .order_by(col(Resolution.id), col(RecordTask.article), col(RecordTask.id)))
        if member.role not in STAFF:
            stmt = stmt.where(Resolution.status == "published")
        rows = (await s.exec(stmt)).all()
        shaped = await views.shape(s, settings, [t for t, _ in rows], {r.id or 0: r for _, r in rows})
    totals = _counts()
    for task in shaped:
        if task["record_status"] == "published":
            totals[task["state"]] += 1
    return {"today": views.today(settings), "totals": totals, "tasks": shaped}
