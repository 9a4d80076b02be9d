"""How a document received from another agency is handled, step by step (the status codes of QCVN
102:2016), and in which order the steps may come. Pure rules, no I/O.

    01 arrived --accept--> 03 accepted --assign--> 04 assigned --> 05 in progress --> 06 done
        └--refuse--> 02 refused                          └-------------------------------┘

01 is set by the system when the document lands; every later step is the secretariat's. Each step is
taken once (a status package per step goes back to the sender, and the sender's tracking shows one line
each), and 02 and 06 are final."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from backend.domain.rules import Refusal, RuleError


class Step(StrEnum):
    ARRIVED = "01"
    """Đã đến: the document landed in our inbox (automatic)."""
    REFUSED = "02"
    """Từ chối: the secretariat refuses it (a reason is required)."""
    ACCEPTED = "03"
    """Đã tiếp nhận: registered by the secretariat."""
    ASSIGNED = "04"
    """Phân công: given to a department and a person to handle (both required)."""
    IN_PROGRESS = "05"
    """Đang xử lý: being handled."""
    DONE = "06"
    """Hoàn thành: handled."""


NAMES: dict[Step, str] = {Step.ARRIVED: "arrived", Step.REFUSED: "refused", Step.ACCEPTED: "accepted",
                          Step.ASSIGNED: "assigned", Step.IN_PROGRESS: "in_progress", Step.DONE: "done"}
"""The word kept in incoming_documents.status for the last step taken."""
BY_NAME: dict[str, Step] = {name: step for step, name in NAMES.items()}

NEXT: dict[Step, tuple[Step, ...]] = {
    Step.ARRIVED: (Step.ACCEPTED, Step.REFUSED),
    Step.ACCEPTED: (Step.ASSIGNED,),
    Step.ASSIGNED: (Step.IN_PROGRESS, Step.DONE),
    Step.IN_PROGRESS: (Step.DONE,),
    Step.REFUSED: (),
    Step.DONE: (),
}
"""The steps that may follow each one."""
CLOSED = (Step.REFUSED, Step.DONE)
"""Final steps: nothing follows, and such a document is never overdue."""
MAX_TEXT = 2000


class StepError(RuleError):
    """A step refused, with the stable error code the API answers (`code`)."""

    def __init__(self, refusal: Refusal, code: str, reason: str) -> None:
        super().__init__(refusal, reason)
        self.code = code


def step_of(value: str) -> Step:
    """The step a code names that the secretariat may take by hand (02 to 06); else StepError `unknown_step`."""
    try:
        step = Step(value)
    except ValueError:
        step = None
    if step is None or step is Step.ARRIVED:
        raise StepError(Refusal.INVALID, "unknown_step",
                        f"{value!r} is not a step the secretariat takes (02 refuse, 03 accept, 04 assign, "
                        "05 in progress, 06 done)")
    return step


def check_step(current: str, step: Step, *, description: str, department: str, person: str) -> None:
    """May a document whose status word is `current` take `step` with these texts? StepError otherwise:
    `illegal_step` (409: not after the current one), `refusal_reason_required` (400: a refusal says why),
    `assignee_required` (400: an assignment names a department and a person), `text_too_long` (400)."""
    now = BY_NAME.get(current)
    allowed = NEXT.get(now, ()) if now is not None else ()
    if step not in allowed:
        after = ", ".join(f"{s.value} {NAMES[s]}" for s in allowed) or "nothing (it is final)"
        raise StepError(Refusal.INVALID_STATE, "illegal_step",
                        f"a document {current} cannot go to {step.value} {NAMES[step]}; what may follow: {after}")
    if any(len(text) > MAX_TEXT for text in (description, department, person)):
        raise StepError(Refusal.INVALID, "text_too_long", f"each text is at most {MAX_TEXT} characters")
    if step is Step.REFUSED and not description.strip():
        raise StepError(Refusal.INVALID, "refusal_reason_required", "a refusal says why (description)")
    if step is Step.ASSIGNED and not (department.strip() and person.strip()):
        raise StepError(Refusal.INVALID, "assignee_required", "an assignment names the department and the person")


def overdue(due: date | None, today: date, codes: Iterable[str]) -> bool:
    """Is a document with DueDate `due` and these status codes so far late on `today`? Only after the due
    day has passed entirely, and never once done or refused."""
    if due is None or today <= due:
        return False
    return not any(code in (Step.DONE.value, Step.REFUSED.value) for code in codes)
