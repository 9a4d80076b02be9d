from __future__ import annotations

import pytest

from backend.domain.agenda import insert_position, may_delete, reorder
from backend.domain.rules import Refusal, RuleError


def test_reorder_accepts_a_permutation_of_all_items() -> None:
    assert reorder([1, 2, 3], [3, 1, 2]) == [3, 1, 2]
    assert reorder([], []) == []


@pytest.mark.parametrize(("requested", "words"), [
    ([1, 2, 3, 99], "not on this meeting's agenda"),
    ([1, 2], "leaves out"),
    ([1, 2, 2, 3], "more than once"),
    ([], "leaves out"),
])
def test_reorder_refuses_foreign_missing_and_repeated_items(requested: list[int], words: str) -> None:
    with pytest.raises(RuleError) as caught:
        reorder([1, 2, 3], requested)
    assert caught.value.refusal is Refusal.INVALID
    assert words in caught.value.reason


@pytest.mark.parametrize(("positions", "at", "index"), [
    ([1, 2, 3], None, 3), ([1, 2, 3], 1, 0), ([1, 2, 3], 2, 1), ([1, 2, 3], 4, 3), ([1, 2, 3], 50, 3), ([], 1, 0),
])
def test_insert_position_is_one_based_and_clamped_to_the_end(positions: list[int], at: int | None, index: int) -> None:
    assert insert_position(positions, at) == index


def test_insert_position_below_one_is_refused() -> None:
    with pytest.raises(RuleError):
        insert_position([1], 0)


@pytest.mark.parametrize(("status", "deletable"), [("pending", True), ("postponed", True), ("current", False),
                                                   ("done", False)])
def test_items_on_the_record_cannot_be_deleted(status: str, deletable: bool) -> None:
    assert may_delete(status) is deletable
