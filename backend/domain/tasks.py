"""Follow-up of the tasks a resolution assigns (issue 17 point 6): pure rules, no I/O.

A task × agency delivery moves through the edXML status codes the agency sends back:

    sent --01 arrived--> 01 --03 accepted--> 03 --04 assigned--> 04 --05 in progress--> 05 --06 done--> 06
                          └--02 refused--> 02

A task is DONE when its lead agency reported 06; otherwise OVERDUE once its deadline has passed (the day
after the deadline, in the body's time zone), else DUE."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

SENT = "sent"
"""The package is queued or delivered; the agency has not reported anything yet."""
PROGRESS_CODES = ("01", "02", "03", "04", "05", "06")
"""The status codes that say how far an agency got with a task (13, 15, 16 are about recalls: ignored)."""
DONE_CODE = "06"
MAX_TASKS = 100
"""Tasks one resolution may carry."""


class TaskState(StrEnum):
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"


def state(deadline: date, lead_status: str, today: date) -> TaskState:
    """The task's state: done when its lead agency reported 06, overdue after its deadline, else due."""
    if lead_status == DONE_CODE:
        return TaskState.DONE
    return TaskState.OVERDUE if today > deadline else TaskState.DUE


def supersedes(code: str, at: datetime, current: str, current_at: datetime | None) -> bool:
    """Whether a status `code` reached at `at` replaces the one held (`current` since `current_at`).
    Statuses may arrive out of order: the later one wins; at the same time, the further one (06 over 05)."""
    if code not in PROGRESS_CODES:
        return False
    if current_at is None or current == SENT:
        return True
    if at != current_at:
        return at > current_at
    return code > current


def parse_deadline(text: str) -> date:
    """A deadline written YYYY-MM-DD (ISO 8601, as an HTML date input sends it), or ValueError."""
    if len(text) != 10:
        raise ValueError(f"the deadline {text!r} is not written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"the deadline {text!r} is not a real date written YYYY-MM-DD") from None


def task_notation(notation: str, ordinal: int) -> str:
    """The notation of the package that carries a record's `ordinal`-th task (from 1): the record's
    notation with -NV<n> (nhiệm vụ), so each task has its own edXML document id and its own statuses."""
    return f"{notation}-NV{ordinal}"
