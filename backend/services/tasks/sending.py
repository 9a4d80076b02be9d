"""Sending a published resolution's tasks to their agencies: the secretariat presses "send tasks" once.

Each task travels as its OWN signed edXML document package (built by the outbox, services/exchange/
outbox.py), addressed to its lead and cooperating agencies: a status package answers one DocumentId
(ResponseFor), so only a document id per task lets an agency's "06 done" say WHICH task is done. The
package's Code is the resolution's with -NV<n> (backend/domain/tasks.py), its Subject and Content the task,
its DueDate the deadline, OtherInfo/Direction set (a steering document), and its attachment the signed
resolution itself, byte for byte. Every package is queued in the outbox (one row per agency, delivered
and retried by services/exchange/sender.py) and every task × agency gets a TaskDelivery, all in one
transaction with the audit entry: nothing is half-sent."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.domain import tasks as rules
from backend.domain.meeting_states import Action
from backend.exceptions import Conflict, InvalidState
from backend.models import Agency, RecordTask, Resolution, TaskDelivery
from backend.models.base import utcnow
from backend.services import access, audit
from backend.services.context import Actor
from backend.services.exchange import outbox
from backend.services.files import FileStore
from backend.services.tasks import views
from backend.services.tasks.drafting import missing_record
from exchange import fields

TYPE_NAMES = outbox.TYPE_NAMES


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def letter(record: Resolution, task: RecordTask, names: dict[str, str], number: str, notation: str,
           ordinal: int, promulgated: date) -> outbox.Letter:
    """What the task's package says: its own code, the task as subject and content, the deadline as due date."""
    kind = TYPE_NAMES.get(record.kind, record.kind)
    subject = f"Nhiệm vụ tại Điều {task.article} {kind} số {record.number}: {task.text}"
    if len(subject) > fields.SUBJECT_MAX:
        subject = subject[:fields.SUBJECT_MAX - 1] + "…"
    partners = views.cooperating(task)
    lines = [task.text, f"Cơ quan chủ trì: {names.get(task.lead_code, '')} ({task.lead_code})"]
    if partners:
        lines.append("Cơ quan phối hợp: " + "; ".join(f"{names.get(c, '')} ({c})" for c in partners))
    if task.output:
        lines.append(f"Sản phẩm: {task.output}")
    lines += [f"Thời hạn: {_day(task.deadline)}",
              f"Căn cứ: Điều {task.article} {kind} số {record.number} ngày {_day(promulgated)} ({record.title})"]
    content = "\n".join(lines)[:fields.TEXT_MAX]
    return outbox.Letter(number, rules.task_notation(notation, ordinal), promulgated, subject, content,
                         task.deadline, steering=True)


async def send(db: Database, settings: Settings, actor: Actor, record_id: int) -> list[dict[str, Any]]:
    """Queue one package per task of the published record `record_id`; the tasks with their deliveries."""
    outbox.require_signing(settings)
    files = FileStore.for_settings(settings)
    async with db.read() as s:
        record = await s.get(Resolution, record_id)
        if record is None:
            raise missing_record(record_id)
        await access.require_membership(s, actor, record.meeting_id, Action.SEND_RECORDS,
                                        unseen=missing_record(record_id))
        if record.status != "published":
            raise InvalidState(f"tasks are sent once the resolution is published (this one is {record.status})",
                               code="not_published")
        tasks = (await s.exec(select(RecordTask).where(RecordTask.record_id == record_id)
                              .order_by(col(RecordTask.article), col(RecordTask.id)))).all()
        if not tasks:
            raise InvalidState("this resolution assigns no tasks", code="no_tasks")
        if any(t.document_id for t in tasks):
            raise Conflict("the tasks of this resolution were already sent", code="already_sent")
        codes = list(dict.fromkeys(c for t in tasks for c in (t.lead_code, *views.cooperating(t))))
        agencies: dict[str, Agency] = await outbox.active_agencies(s, codes)  # 422 when one left the directory
        chair = await outbox.signer_name(s, record_id)
    names = {c: a.name for c, a in agencies.items()}
    number, notation, promulgated = outbox.record_code(settings, record)
    pdf = await files.get(record.pdf_sha256)
    built: list[tuple[RecordTask, list[str], str, str, bool]] = []
    try:
        for ordinal, task in enumerate(tasks, start=1):
            to = [task.lead_code, *views.cooperating(task)]
            says = letter(record, task, names, number, notation, ordinal, promulgated)
            package = await asyncio.to_thread(outbox.build_package, settings, [(c, names[c]) for c in to], record,
                                              says, chair, pdf)
            digest, fresh = await outbox.store(files, package)
            built.append((task, to, outbox.our_document_id(settings, promulgated, says.number, says.notation),
                          digest, fresh))
        async with db.write() as s:
            await s.get(Resolution, record_id, with_for_update=True)  # two presses queue up; the second finds them sent
            now = utcnow()
            sent: list[RecordTask] = []
            for task, to, document_id, digest, _ in built:
                current = await s.get(RecordTask, task.id)
                if current is None or current.document_id is not None:
                    raise Conflict("the tasks of this resolution were already sent", code="already_sent")
                rows = await outbox.queue(s, record_id, to, document_id, digest, actor.user_id)
                for code, row in zip(to, rows, strict=True):
                    assert current.id is not None and row.id is not None
                    s.add(TaskDelivery(task_id=current.id, agency_code=code, outgoing_id=row.id,
                                       role=views.LEAD if code == current.lead_code else views.COOPERATING))
                current.document_id, current.sent_at = document_id, now
                s.add(current)
                sent.append(current)
            await s.flush()
            await audit.record(s, "tasks.sent", actor_id=actor.user_id, object_type="record", object_id=record_id,
                               meeting_id=record.meeting_id,
                               details={"tasks": [{"task_id": t.id, "document_id": d, "recipients": to,
                                                   "package_sha256": h} for t, to, d, h, _ in built]})
            return await views.shape(s, settings, sent, {record_id: record})
    except BaseException:
        for *_, digest, fresh in built:
            if fresh:  # nothing half-written: the packages go with their rows
                files.path(digest).unlink(missing_ok=True)
        raise
