"""The speaker queue of one agenda item: who waits, who speaks, in which order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.domain.rules import Refusal, RuleError

WAITING, SPEAKING, DONE, WITHDRAWN = "waiting", "speaking", "done", "withdrawn"
MAX_SPEAKING_SECONDS = 3600


@dataclass(frozen=True)
class Turn:
    id: int
    """The request's id."""
    participant_id: int
    """Who asked for the floor."""
    status: str
    """waiting | speaking | done | withdrawn"""
    position: int
    """Order among the waiting (smaller first)."""


def may_request(turns: Sequence[Turn], participant_id: int) -> None:
    """One open request (waiting or speaking) per participant per agenda item."""
    if any(t.participant_id == participant_id and t.status in (WAITING, SPEAKING) for t in turns):
        raise RuleError(Refusal.INVALID_STATE, "you are already in the queue for this item")


def next_position(turns: Sequence[Turn]) -> int:
    return max((t.position for t in turns), default=0) + 1


def may_give_floor(turns: Sequence[Turn], turn_id: int) -> Turn | None:
    """Check the turn is waiting; return the turn now speaking (which the floor ends), if any."""
    target = next((t for t in turns if t.id == turn_id), None)
    if target is None:
        raise RuleError(Refusal.INVALID, f"request {turn_id} is not in this queue")
    if target.status != WAITING:
        raise RuleError(Refusal.INVALID_STATE, f"request {turn_id} is {target.status}, not waiting")
    return next((t for t in turns if t.status == SPEAKING), None)


def reorder_waiting(turns: Sequence[Turn], requested: Sequence[int]) -> list[int]:
    """A new order for the waiting requests: must name each of them exactly once."""
    waiting = [t.id for t in turns if t.status == WAITING]
    if sorted(requested) != sorted(waiting) or len(set(requested)) != len(requested):
        raise RuleError(Refusal.INVALID, "the new order must name every waiting request exactly once")
    return list(requested)


def check_seconds(seconds: int | None) -> int | None:
    if seconds is None:
        return None
    if not 10 <= seconds <= MAX_SPEAKING_SECONDS:
        raise RuleError(Refusal.INVALID, f"speaking time must be 10 to {MAX_SPEAKING_SECONDS} seconds")
    return seconds
