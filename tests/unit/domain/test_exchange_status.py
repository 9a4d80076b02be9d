"""The order of an incoming document's handling steps (QCVN 102:2016 status codes) and when it is overdue."""

from __future__ import annotations

from datetime import date

import pytest

from backend.domain.exchange_status import CLOSED, NAMES, NEXT, Step, StepError, check_step, overdue, step_of
from backend.domain.rules import Refusal


def _step(current: str, step: Step, description: str = "", department: str = "", person: str = "") -> None:
    check_step(current, step, description=description, department=department, person=person)


def test_the_legal_path_from_arrived_to_done() -> None:
    _step("arrived", Step.ACCEPTED)
    _step("accepted", Step.ASSIGNED, department="Vụ Tổng hợp", person="Nguyễn Văn A")
    _step("assigned", Step.IN_PROGRESS)
    _step("assigned", Step.DONE)
    _step("in_progress", Step.DONE)
    _step("arrived", Step.REFUSED, description="Sai thẩm quyền")


@pytest.mark.parametrize(("current", "step"), [
    ("arrived", Step.ASSIGNED), ("arrived", Step.DONE), ("arrived", Step.IN_PROGRESS), ("accepted", Step.ACCEPTED),
    ("accepted", Step.REFUSED), ("accepted", Step.DONE), ("assigned", Step.ASSIGNED), ("in_progress", Step.ACCEPTED),
    ("done", Step.IN_PROGRESS), ("refused", Step.ACCEPTED), ("done", Step.REFUSED), ("weird", Step.ACCEPTED),
])
def test_a_step_out_of_order_is_refused_as_illegal(current: str, step: Step) -> None:
    with pytest.raises(StepError) as refused:
        _step(current, step, description="x", department="d", person="p")
    assert refused.value.code == "illegal_step" and refused.value.refusal is Refusal.INVALID_STATE


def test_final_steps_have_no_successor_and_every_step_is_taken_once() -> None:
    assert all(NEXT[s] == () for s in CLOSED)
    for step, after in NEXT.items():
        assert step not in after
    assert set(NAMES) == set(Step)


def test_a_refusal_needs_a_reason_and_an_assignment_a_department_and_a_person() -> None:
    for description in ("", "   "):
        with pytest.raises(StepError) as refused:
            _step("arrived", Step.REFUSED, description=description)
        assert refused.value.code == "refusal_reason_required" and refused.value.refusal is Refusal.INVALID
    for department, person in (("", "A"), ("Vụ", ""), (" ", " ")):
        with pytest.raises(StepError) as refused:
            _step("accepted", Step.ASSIGNED, department=department, person=person)
        assert refused.value.code == "assignee_required"
    with pytest.raises(StepError) as refused:
        _step("arrived", Step.ACCEPTED, description="x" * 2001)
    assert refused.value.code == "text_too_long"


@pytest.mark.parametrize("value", ["01", "13", "15", "7", "", "accepted"])
def test_only_the_secretariats_codes_are_steps(value: str) -> None:
    with pytest.raises(StepError) as refused:
        step_of(value)
    assert refused.value.code == "unknown_step"
    assert step_of("03") is Step.ACCEPTED and step_of("02") is Step.REFUSED


def test_overdue_after_the_due_day_until_done_or_refused() -> None:
    due = date(2026, 12, 31)
    assert not overdue(None, date(2027, 6, 1), ["01"])
    assert not overdue(due, due, ["01"])  # the due day itself is still in time
    assert overdue(due, date(2027, 1, 1), ["01", "03", "04", "05"])
    assert not overdue(due, date(2027, 1, 1), ["01", "03", "04", "06"])
    assert not overdue(due, date(2027, 1, 1), ["01", "02"])
    assert overdue(due, date(2027, 1, 1), [])
