"""Following a sent task through the status packages its agencies send back.

`apply_status` is called, inside the receiver's transaction, for every status package received (the
listener of services/exchange: it passes the status's ResponseFor/DocumentId, its From/OrganId, its
StatusCode and Timestamp). It records the status on the matching task × agency delivery; when the LEAD
agency reports 06, the task is done."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.domain import tasks as rules
from backend.models import RecordTask, TaskDelivery
from backend.services import audit
from backend.services.tasks.views import LEAD

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


async def apply_status(s: AsyncSession, document_id: str, agency_code: str, code: str, at: datetime, *,
                       description: str = "", zone: str = DEFAULT_ZONE) -> bool:
    """Record that `agency_code` reached status `code` ("01" ... "06") at `at` for the task package
    `document_id`. True when that package is one of our tasks sent to that agency (the status is then
    consumed: recorded, unless it is older than the one held or a code that says nothing of progress:
    13, 15, 16); False when it is not (leave it to other listeners). A naive `at` (edXML times carry no
    zone) is read in `zone`, the body's time zone. Writes in `s`; the caller commits."""
    row = (await s.exec(select(TaskDelivery, RecordTask)
                        .join(RecordTask, col(RecordTask.id) == col(TaskDelivery.task_id))
                        .where(RecordTask.document_id == document_id, TaskDelivery.agency_code == agency_code)
                        .with_for_update())).first()
    if row is None:
        return False
    delivery, task = row
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(zone))
    if not rules.supersedes(code, at, delivery.status, delivery.status_at):
        return True
    delivery.status, delivery.status_at, delivery.description = code, at, description[:2000]
    s.add(delivery)
    if delivery.role == LEAD:
        task.done_at = at if code == rules.DONE_CODE else None
        s.add(task)
    await audit.record(s, "task.status", actor_id=None, object_type="task", object_id=task.id,
                       meeting_id=task.meeting_id,
                       details={"document_id": document_id, "agency": agency_code, "status": code,
                                "at": at.isoformat(), "role": delivery.role})
    await s.flush()
    return True
