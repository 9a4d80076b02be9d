"""Opinion rounds: answers, deadlines, and the three rules that decide a question."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.opinions import Choice, RoundStatus, Rule, check_answer, decide, may_submit, threshold
from backend.domain.rules import Refusal, RuleError


@pytest.mark.parametrize(("rule", "asked", "answered", "needed"), [
    (Rule.MAJORITY_ASKED, 25, 10, 13), (Rule.MAJORITY_ASKED, 24, 24, 13), (Rule.MAJORITY_ANSWERED, 25, 10, 6),
    (Rule.MAJORITY_ANSWERED, 25, 11, 6), (Rule.TWO_THIRDS_ASKED, 25, 25, 17), (Rule.TWO_THIRDS_ASKED, 24, 0, 16),
])
def test_thresholds(rule: Rule, asked: int, answered: int, needed: int) -> None:
    assert threshold(rule, asked, answered) == needed


def test_majority_of_those_asked_counts_silence_against() -> None:
    out = decide(Rule.MAJORITY_ASKED, 25, {"agree": 12, "disagree": 1})
    assert out.counts == {"agree": 12, "disagree": 1, "other": 0} and out.answered == 13
    assert not out.passed and out.threshold == 13
    assert decide(Rule.MAJORITY_ASKED, 25, {"agree": 13}).passed
    assert decide(Rule.MAJORITY_ANSWERED, 25, {"agree": 7, "disagree": 5, "other": 1}).passed
    assert not decide(Rule.MAJORITY_ANSWERED, 25, {"agree": 6, "disagree": 5, "other": 1}).passed
    assert not decide(Rule.MAJORITY_ANSWERED, 25, {}).passed  # nobody answered: nothing is approved
    with pytest.raises(RuleError):
        decide(Rule.MAJORITY_ASKED, 2, {"agree": 3})


def test_answers() -> None:
    assert check_answer("agree", None) is Choice.AGREE
    assert check_answer("other", "  Đề nghị bổ sung Điều 3 ") is Choice.OTHER
    for choice, text in [("other", ""), ("other", "   "), ("maybe", None), ("other", "x" * 5001)]:
        with pytest.raises(RuleError) as refused:
            check_answer(choice, text)
        assert refused.value.refusal is Refusal.INVALID


def test_submitting_needs_an_open_round_before_its_deadline() -> None:
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    may_submit(RoundStatus.OPEN, now + timedelta(seconds=1), now)
    later = now + timedelta(days=1)
    for status, deadline in [(RoundStatus.DRAFT, later), (RoundStatus.CLOSED, later),
                             (RoundStatus.OPEN, now), (RoundStatus.OPEN, now - timedelta(minutes=1))]:
        with pytest.raises(RuleError) as refused:
            may_submit(status, deadline, now)
        assert refused.value.refusal is Refusal.INVALID_STATE


def test_positions_and_what_may_be_adopted_together() -> None:
    from backend.domain.opinions import Position, adoptable, check_position

    assert check_position("objection", "Chưa đủ hồ sơ") is Position.OBJECTION
    assert check_position("no_objection", None) is Position.NO_OBJECTION
    for bad, reason in [("objection", " "), ("maybe", None)]:
        with pytest.raises(RuleError):
            check_position(bad, reason)
    no, objection = Position.NO_OBJECTION, Position.OBJECTION
    positions = {1: {10: no, 11: no}, 2: {10: no, 11: objection}, 3: {10: Position.WISH_TO_SPEAK}, 5: {}}
    assert adoptable([1, 2, 3, 4, 5], positions, {10, 11}) == [1]


def test_silence_is_not_consent_to_adopt_together() -> None:
    from backend.domain.opinions import Position, adoptable, silent

    no = Position.NO_OBJECTION
    # Member 11 never answered item 1: it is not adopted without debate; item 2 everyone answered.
    positions = {1: {10: no}, 2: {10: no, 11: no}}
    assert adoptable([1, 2, 3], positions, {10, 11}) == [2]
    assert silent({10, 11}, positions[1]) == {11}
    assert adoptable([1, 2], positions, set()) == []  # nobody entitled: nothing goes through unheard
    # A "no objection" from someone no longer entitled does not stand in for a missing member.
    assert adoptable([1], {1: {10: no, 99: no}}, {10, 11}) == []
