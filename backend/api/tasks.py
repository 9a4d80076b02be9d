"""Tasks a resolution assigns to agencies (issue 17 point 6): written on the draft by the secretariat, sent
to the agencies once published, followed through their status packages, and shown on the Government
Office's dashboard and on each meeting."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.api.routing import Call, Permission, api
from backend.api.schemas import Input, Output, Patch
from backend.domain.meeting_states import Action
from backend.services.tasks import dashboard, drafting, sending
from backend.services.tasks.drafting import MAX_COOPERATING

TAG = "tasks"
RECORD_TASKS = "/api/records/{record_id:int}/tasks"
TASK = "/api/tasks/{task_id:int}"
AgencyCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
TaskText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]
Output_ = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)]
Deadline = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Article = Annotated[int, Field(ge=1, le=50, description="the article (Điều) that assigns it")]


class TaskIn(Input):
    article: Article
    text: TaskText = Field(description="the task as the article words it (Giao Bộ ... chủ trì ...)")
    lead_code: AgencyCode = Field(description="the lead agency (chủ trì): an agency id of the directory")
    cooperating: Annotated[list[AgencyCode], Field(max_length=MAX_COOPERATING)] = Field(
        default_factory=list, description="cooperating agencies (phối hợp): agency ids of the directory")
    deadline: Deadline = Field(description="YYYY-MM-DD, not in the past (400 bad_deadline, 422 deadline_passed)")
    output: Output_ = Field(default="", description="the expected result (sản phẩm), e.g. Báo cáo Thủ tướng")


class TaskUpdate(Patch):
    article: Article | None = None
    text: TaskText | None = None
    lead_code: AgencyCode | None = None
    cooperating: Annotated[list[AgencyCode], Field(max_length=MAX_COOPERATING)] | None = None
    deadline: Deadline | None = None
    output: Output_ | None = None


class AgencyRef(Output):
    code: str
    name: str


class DeliveryOut(Output):
    agency_code: str
    agency_name: str
    role: Literal["lead", "cooperating"]
    status: str = Field(description="sent, then the agency's latest status code: 01 arrived, 02 refused, "
                                    "03 accepted, 04 assigned, 05 in progress, 06 done")
    status_at: datetime | None = Field(description="when the agency reached it")
    description: str
    delivery: str = Field(description="the package in the outbox: queued | sending | delivered | failed")


class TaskOut(Output):
    id: int
    record_id: int
    meeting_id: int
    article: int
    text: str
    lead_code: str
    lead_name: str
    cooperating: list[AgencyRef]
    deadline: date
    output: str
    document_id: str | None = Field(description="the task package's DocumentId, once sent")
    sent_at: datetime | None
    done_at: datetime | None = Field(description="when the lead agency reported 06 done")
    state: Literal["due", "overdue", "done"]
    record_number: str
    record_title: str
    record_status: str
    deliveries: list[DeliveryOut]


class Counts(Output):
    due: int
    overdue: int
    done: int


class AgencyCounts(Counts):
    code: str
    name: str


class DashboardOut(Output):
    today: date = Field(description="the day the states are reckoned on (the body's time zone)")
    totals: Counts
    agencies: list[AgencyCounts] = Field(description="per agency, the tasks it leads or cooperates in")
    tasks: list[TaskOut]


class MeetingTasksOut(Output):
    today: date
    totals: Counts = Field(description="of the tasks of published resolutions")
    tasks: list[TaskOut]


class DashboardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = Field(
        default=None, description="only the tasks this agency leads or cooperates in")
    state: Literal["due", "overdue", "done"] | None = None


@api.route("GET", RECORD_TASKS, summary="The tasks a resolution assigns, with each agency's status",
           permission=Permission.meeting(Action.VIEW), tag=TAG, response=list[TaskOut])
async def list_tasks(call: Call) -> list[dict[str, Any]]:
    return await drafting.listing(call.db, call.settings, call.user, call.path["record_id"])


@api.route("POST", RECORD_TASKS, summary="Add a task to a draft resolution",
           permission=Permission.meeting(Action.PREPARE_TASKS), tag=TAG, body=TaskIn, response=TaskOut, status=201)
async def add_task(call: Call) -> dict[str, Any]:
    return await drafting.add(call.db, call.settings, call.user, call.path["record_id"], call.body.model_dump())


@api.route("PATCH", TASK, summary="Edit a task of a draft resolution",
           permission=Permission.meeting(Action.PREPARE_TASKS), tag=TAG, body=TaskUpdate, response=TaskOut)
async def edit_task(call: Call) -> dict[str, Any]:
    return await drafting.edit(call.db, call.settings, call.user, call.path["task_id"], call.body.changes())


@api.route("DELETE", TASK, summary="Remove a task from a draft resolution",
           permission=Permission.meeting(Action.PREPARE_TASKS), tag=TAG, status=204)
async def remove_task(call: Call) -> None:
    await drafting.remove(call.db, call.user, call.path["task_id"])


@api.route("POST", RECORD_TASKS + "/send",
           summary="Send each task of a published resolution to its lead and cooperating agencies: one signed "
                   "edXML package per task, queued in the outbox",
           permission=Permission.meeting(Action.SEND_RECORDS), tag=TAG, response=list[TaskOut], status=201)
async def send_tasks(call: Call) -> list[dict[str, Any]]:
    return await sending.send(call.db, call.settings, call.user, call.path["record_id"])


@api.route("GET", "/api/tasks", summary="The tasks of every published resolution by agency: due, overdue, done",
           permission=Permission.user("the secretariat (its body's meetings) and administrators (all)"), tag=TAG,
           query=DashboardQuery, response=DashboardOut)
async def task_dashboard(call: Call) -> dict[str, Any]:
    return await dashboard.dashboard(call.db, call.settings, call.user, call.query.agency or None, call.query.state)


@api.route("GET", "/api/meetings/{meeting_id:int}/tasks", summary="What became of a meeting's decisions: its tasks",
           permission=Permission.meeting(Action.VIEW), tag=TAG, response=MeetingTasksOut)
async def meeting_tasks(call: Call) -> dict[str, Any]:
    return await dashboard.of_meeting(call.db, call.settings, call.user, call.path["meeting_id"])
