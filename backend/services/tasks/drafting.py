"""Writing down the tasks of a draft resolution: listed with the record, added, edited and removed by the
meeting's secretariat while the record is a draft (its signed text does not change, nor do the tasks it
assigns). Every agency must be an active agency of our directory; the deadline a real day, not past."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.config import Settings
from backend.db import Database
from backend.domain import tasks as rules
from backend.domain.meeting_states import STAFF, Action
from backend.exceptions import BadRequest, InvalidState, NotFound, Unprocessable
from backend.models import RecordTask, Resolution
from backend.models.base import utcnow
from backend.services import access, audit
from backend.services.context import Actor
from backend.services.exchange.outbox import active_agencies
from backend.services.tasks import views
from exchange import fields

MAX_COOPERATING = 20


def missing_record(record_id: int) -> NotFound:
    return NotFound(f"no record {record_id}", code="unknown_record")


def missing_task(task_id: int) -> NotFound:
    return NotFound(f"no task {task_id}", code="unknown_task")


async def visible_record(s: AsyncSession, actor: Actor, record_id: int) -> Resolution:
    """The record, if the actor may read it: a participant, and a draft only for the meeting's staff
    (others learn nothing of it: 404, as for the record itself)."""
    record = await s.get(Resolution, record_id)
    if record is None:
        raise missing_record(record_id)
    _, member = await access.require_membership(s, actor, record.meeting_id, Action.VIEW,
                                                unseen=missing_record(record_id))
    if record.status != "published" and member.role not in STAFF:
        raise missing_record(record_id)
    return record


async def listing(db: Database, settings: Settings, actor: Actor, record_id: int) -> list[dict[str, Any]]:
    """The record's tasks, by article."""
    async with db.read() as s:
        record = await visible_record(s, actor, record_id)
        tasks = (await s.exec(select(RecordTask).where(RecordTask.record_id == record_id)
                              .order_by(col(RecordTask.article), col(RecordTask.id)))).all()
        return await views.shape(s, settings, tasks, {record_id: record})


async def _draft(s: AsyncSession, actor: Actor, record_id: int) -> Resolution:
    """The record, locked, if the actor may write its tasks now: 409 `not_draft` once reviewed or signed."""
    record = await s.get(Resolution, record_id, with_for_update=True)
    if record is None:
        raise missing_record(record_id)
    await visible_record(s, actor, record_id)
    await access.require_membership(s, actor, record.meeting_id, Action.PREPARE_TASKS,
                                    unseen=missing_record(record_id))
    if record.kind != "resolution":
        raise BadRequest("tasks are assigned by a resolution, not by the minutes", code="not_a_resolution")
    if record.status != "draft":
        raise InvalidState(f"tasks are written on the draft: this record is {record.status}, its text and "
                           "tasks no longer change", code="not_draft")
    return record


def _code(value: str, what: str) -> str:
    try:
        return fields.check_agency_id(value.strip(), what)
    except ValueError as exc:
        raise BadRequest(f"{exc} (an agency id is written NNN.NN.NN.XNN, e.g. 000.00.00.G22)",
                         code="bad_agency_code") from None


async def _check(s: AsyncSession, settings: Settings, record: Resolution, task: Mapping[str, Any]) -> dict[str, Any]:
    """The task's fields, checked; 400/422 with a named code for each bad one."""
    lead = _code(task["lead_code"], "lead agency")
    partners = list(dict.fromkeys(_code(c, "cooperating agency") for c in task["cooperating"]))
    if len(partners) > MAX_COOPERATING:
        raise BadRequest(f"at most {MAX_COOPERATING} cooperating agencies", code="too_many_agencies")
    if lead in partners:
        raise BadRequest("the lead agency is not also a cooperating one", code="lead_also_cooperating")
    if settings.exchange_agency_code in (lead, *partners):
        raise BadRequest("our own agency is not sent tasks through the exchange", code="own_agency")
    await active_agencies(s, [lead, *partners])  # 422 unknown_agency
    try:
        deadline = rules.parse_deadline(task["deadline"])
    except ValueError as exc:
        raise BadRequest(str(exc), code="bad_deadline") from None
    if deadline < views.today(settings):
        raise Unprocessable(f"the deadline {deadline.isoformat()} has already passed", code="deadline_passed")
    articles = len(json.loads(record.content).get("articles") or [])
    if task["article"] > max(articles, 1):
        raise Unprocessable(f"the draft has {articles} article(s): there is no article {task['article']}",
                            code="unknown_article")
    return {"article": task["article"], "text": task["text"], "lead_code": lead,
            "cooperating": json.dumps(partners), "deadline": deadline, "output": task["output"]}


async def add(db: Database, settings: Settings, actor: Actor, record_id: int,
              data: Mapping[str, Any]) -> dict[str, Any]:
    async with db.write() as s:
        record = await _draft(s, actor, record_id)
        count = len((await s.exec(select(RecordTask.id).where(RecordTask.record_id == record_id))).all())
        if count >= rules.MAX_TASKS:
            raise InvalidState(f"a resolution carries at most {rules.MAX_TASKS} tasks", code="too_many_tasks")
        checked = await _check(s, settings, record, {"cooperating": [], "output": "", **data})
        task = RecordTask(record_id=record_id, meeting_id=record.meeting_id, created_by=actor.user_id, **checked)
        s.add(task)
        await s.flush()
        await audit.record(s, "task.added", actor_id=actor.user_id, object_type="task", object_id=task.id,
                           meeting_id=record.meeting_id, details={"record_id": record_id, "lead": task.lead_code,
                                                                  "deadline": task.deadline.isoformat()})
        return (await views.shape(s, settings, [task], {record_id: record}))[0]


async def _task(s: AsyncSession, actor: Actor, task_id: int) -> tuple[RecordTask, Resolution]:
    task = await s.get(RecordTask, task_id)
    if task is None:
        raise missing_task(task_id)
    try:
        record = await _draft(s, actor, task.record_id)
    except NotFound:
        raise missing_task(task_id) from None
    return task, record


async def edit(db: Database, settings: Settings, actor: Actor, task_id: int,
               changes: Mapping[str, Any]) -> dict[str, Any]:
    async with db.write() as s:
        task, record = await _task(s, actor, task_id)
        current = {"article": task.article, "text": task.text, "lead_code": task.lead_code,
                   "cooperating": views.cooperating(task), "deadline": task.deadline.isoformat(),
                   "output": task.output}
        checked = await _check(s, settings, record, current | dict(changes))
        for key, value in checked.items():
            setattr(task, key, value)
        task.updated_at = utcnow()
        s.add(task)
        await audit.record(s, "task.edited", actor_id=actor.user_id, object_type="task", object_id=task.id,
                           meeting_id=record.meeting_id, details={"record_id": record.id,
                                                                  "changed": sorted(changes)})
        return (await views.shape(s, settings, [task], {record.id or 0: record}))[0]


async def remove(db: Database, actor: Actor, task_id: int) -> None:
    async with db.write() as s:
        task, record = await _task(s, actor, task_id)
        await audit.record(s, "task.removed", actor_id=actor.user_id, object_type="task", object_id=task.id,
                           meeting_id=record.meeting_id, details={"record_id": record.id, "text": task.text,
                                                                  "lead": task.lead_code})
        await s.delete(task)
