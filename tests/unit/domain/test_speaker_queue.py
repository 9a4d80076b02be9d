from __future__ import annotations

import pytest

from backend.domain.rules import Refusal, RuleError
from backend.domain.speaker_queue import (
    Turn,
    check_seconds,
    may_give_floor,
    may_request,
    next_position,
    reorder_waiting,
)

QUEUE = [Turn(1, 10, "done", 1), Turn(2, 11, "speaking", 2), Turn(3, 12, "waiting", 3), Turn(4, 13, "waiting", 4),
         Turn(5, 14, "withdrawn", 5)]


def test_one_open_request_per_participant() -> None:
    with pytest.raises(RuleError) as caught:
        may_request(QUEUE, 12)
    assert caught.value.refusal is Refusal.INVALID_STATE
    with pytest.raises(RuleError):
        may_request(QUEUE, 11)  # speaking now
    may_request(QUEUE, 10)  # spoke already: may ask again
    may_request(QUEUE, 14)  # withdrew: may ask again
    assert next_position(QUEUE) == 6 and next_position([]) == 1


def test_giving_the_floor_ends_the_current_speaker_and_needs_a_waiting_request() -> None:
    assert may_give_floor(QUEUE, 3) == QUEUE[1]
    assert may_give_floor([QUEUE[2]], 3) is None
    for turn_id, refusal in [(1, Refusal.INVALID_STATE), (2, Refusal.INVALID_STATE), (99, Refusal.INVALID)]:
        with pytest.raises(RuleError) as caught:
            may_give_floor(QUEUE, turn_id)
        assert caught.value.refusal is refusal


def test_reorder_must_name_every_waiting_request_once() -> None:
    assert reorder_waiting(QUEUE, [4, 3]) == [4, 3]
    for bad in ([3], [4, 3, 2], [3, 3], [4, 3, 99]):
        with pytest.raises(RuleError):
            reorder_waiting(QUEUE, bad)


@pytest.mark.parametrize(("seconds", "ok"), [(None, True), (10, True), (3600, True), (9, False), (3601, False)])
def test_speaking_time_bounds(seconds: int | None, ok: bool) -> None:
    if ok:
        assert check_seconds(seconds) == seconds
    else:
        with pytest.raises(RuleError):
            check_seconds(seconds)
