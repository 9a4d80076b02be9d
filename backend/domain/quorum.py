"""Quorum: how many of the members entitled to vote must be present, by the meeting's rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class QuorumRule(StrEnum):
    MAJORITY = "majority"
    """More than half of the members entitled to vote."""
    TWO_THIRDS = "two_thirds"
    """At least two thirds of the members entitled to vote."""
    NONE = "none"
    """No quorum (informal meetings)."""


def needed(rule: QuorumRule, entitled: int) -> int:
    if rule is QuorumRule.NONE or entitled == 0:
        return 0
    if rule is QuorumRule.TWO_THIRDS:
        return -(-2 * entitled // 3)
    return entitled // 2 + 1


@dataclass(frozen=True)
class Quorum:
    rule: str
    """The meeting's rule."""
    entitled: int
    """Participants entitled to vote."""
    present: int
    """Of those, how many are present (checked in themselves or through their deputy)."""
    needed: int
    """How many must be present."""
    reached: bool
    """present >= needed."""


def compute(rule: QuorumRule, entitled: int, present: int) -> Quorum:
    need = needed(rule, entitled)
    return Quorum(rule=rule.value, entitled=entitled, present=present, needed=need, reached=present >= need)
