"""Agenda ordering rules."""

from __future__ import annotations

from collections.abc import Sequence

from backend.domain.rules import Refusal, RuleError

# Items in these states are history: they stay where they are and cannot be deleted.
_SETTLED = frozenset({"current", "done"})
AGENDA_STATUSES = ("pending", "current", "done", "postponed", "adopted")  # adopted: together, without debate


def reorder(current: Sequence[int], requested: Sequence[int]) -> list[int]:
    """Validate a new order of a meeting's agenda items and return it.

    `requested` must name every item of the meeting exactly once, and nothing else: a reorder that
    names a foreign item, forgets one or repeats one is refused as a whole."""
    if len(set(requested)) != len(requested):
        raise RuleError(Refusal.INVALID, "the new order names an item more than once")
    have, want = set(current), set(requested)
    foreign = want - have
    if foreign:
        raise RuleError(Refusal.INVALID, f"items {sorted(foreign)} are not on this meeting's agenda")
    missing = have - want
    if missing:
        raise RuleError(Refusal.INVALID, f"the new order leaves out items {sorted(missing)}")
    return list(requested)


def insert_position(positions: Sequence[int], at: int | None) -> int:
    """Where a new item goes: at the end, or at 1-based position `at` (clamped to the list)."""
    count = len(positions)
    if at is None or at > count:
        return count
    if at < 1:
        raise RuleError(Refusal.INVALID, "position starts at 1")
    return at - 1


def may_delete(status: str) -> bool:
    """An item already discussed (or under discussion) is part of the record and cannot be deleted."""
    return status not in _SETTLED

