"""Written opinion rounds (phiếu lấy ý kiến): what an answer may be, when a ballot may be submitted,
and how a question is decided. Pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from backend.domain.rules import Refusal, RuleError


class Choice(StrEnum):
    AGREE = "agree"
    """Đồng ý."""
    DISAGREE = "disagree"
    """Không đồng ý."""
    OTHER = "other"
    """Ý kiến khác (with a text)."""


CHOICE_LABELS = {Choice.AGREE: "Đồng ý", Choice.DISAGREE: "Không đồng ý", Choice.OTHER: "Ý kiến khác"}


class Rule(StrEnum):
    MAJORITY_ASKED = "majority_asked"
    """More than half of all members asked agree (the Government's usual rule)."""
    MAJORITY_ANSWERED = "majority_answered"
    """More than half of the members who answered agree."""
    TWO_THIRDS_ASKED = "two_thirds_asked"
    """At least two thirds of all members asked agree."""


RULE_LABELS = {Rule.MAJORITY_ASKED: "Quá nửa tổng số thành viên được lấy ý kiến",
               Rule.MAJORITY_ANSWERED: "Quá nửa số thành viên cho ý kiến",
               Rule.TWO_THIRDS_ASKED: "Hai phần ba tổng số thành viên được lấy ý kiến"}


class RoundStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


MAX_OTHER_TEXT = 5000


@dataclass(frozen=True)
class Outcome:
    """How one question was decided."""

    counts: dict[str, int]
    """Answers per choice (every choice present)."""
    asked: int
    """Members asked."""
    answered: int
    """Members whose ballot counts."""
    threshold: int
    """Agreements needed."""
    passed: bool
    """Whether the question is approved."""


def threshold(rule: Rule, asked: int, answered: int) -> int:
    if rule is Rule.MAJORITY_ASKED:
        return asked // 2 + 1
    if rule is Rule.MAJORITY_ANSWERED:
        return answered // 2 + 1
    return -(-2 * asked // 3)  # ceil(2/3 of those asked)


def decide(rule: Rule, asked: int, counts: dict[str, int]) -> Outcome:
    full = {c.value: int(counts.get(c.value, 0)) for c in Choice}
    answered = sum(full.values())
    if answered > asked:
        raise RuleError(Refusal.INVALID, f"{answered} answers from {asked} members asked")
    needed = threshold(rule, asked, answered)
    return Outcome(full, asked, answered, needed, answered > 0 and full[Choice.AGREE.value] >= needed)


def check_answer(choice: str, text: str | None) -> Choice:
    """The answer's choice; "other" needs its text, the others take none."""
    try:
        value = Choice(choice)
    except ValueError:
        raise RuleError(Refusal.INVALID, f"an answer is agree, disagree or other, not {choice!r}") from None
    stripped = (text or "").strip()
    if value is Choice.OTHER and not stripped:
        raise RuleError(Refusal.INVALID, "an other opinion needs its text")
    if len(stripped) > MAX_OTHER_TEXT:
        raise RuleError(Refusal.INVALID, f"an opinion is at most {MAX_OTHER_TEXT} characters")
    return value


def may_submit(status: RoundStatus, deadline: datetime, now: datetime) -> None:
    """Raise unless a ballot may be submitted (or withdrawn) now."""
    if status is RoundStatus.DRAFT:
        raise RuleError(Refusal.INVALID_STATE, "this round has not been sent to the members yet")
    if status is RoundStatus.CLOSED:
        raise RuleError(Refusal.INVALID_STATE, "this round is closed")
    if now >= deadline:
        raise RuleError(Refusal.INVALID_STATE, "the deadline has passed")


class Position(StrEnum):
    """A member's position on an agenda item before the session."""

    NO_OBJECTION = "no_objection"
    """Không có ý kiến khác: may be adopted without debate."""
    OBJECTION = "objection"
    """Có ý kiến khác (with a reason): needs debate."""
    WISH_TO_SPEAK = "wish_to_speak"
    """Đăng ký phát biểu: joins the item's speaker queue when the session starts."""


def check_position(position: str, reason: str | None) -> Position:
    try:
        value = Position(position)
    except ValueError:
        raise RuleError(Refusal.INVALID, f"a position is no_objection, objection or wish_to_speak, not {position!r}"
                        ) from None
    if value is Position.OBJECTION and not (reason or "").strip():
        raise RuleError(Refusal.INVALID, "an objection needs its reason")
    return value


def adoptable(item_ids: list[int], positions: dict[int, dict[int, Position]], entitled: set[int]) -> list[int]:
    """Items to adopt together, in agenda order: every member entitled to a position (participant ids in
    `entitled`) has said "no objection", and nobody objects or wants to speak. Silence is not consent: an
    item one entitled member has not answered needs the session."""
    if not entitled:
        return []
    blocking = {Position.OBJECTION, Position.WISH_TO_SPEAK}
    out = []
    for i in item_ids:
        stated = positions.get(i, {})
        if blocking & set(stated.values()):
            continue
        if all(stated.get(p) is Position.NO_OBJECTION for p in entitled):
            out.append(i)
    return out


def silent(entitled: set[int], stated: dict[int, Position]) -> set[int]:
    """The entitled members who have not stated a position on an item."""
    return entitled - set(stated)
