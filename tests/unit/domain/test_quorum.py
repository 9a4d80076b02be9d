from __future__ import annotations

import pytest

from backend.domain.quorum import QuorumRule, compute, needed


@pytest.mark.parametrize(("rule", "entitled", "need"), [
    (QuorumRule.MAJORITY, 27, 14), (QuorumRule.MAJORITY, 26, 14), (QuorumRule.MAJORITY, 1, 1),
    (QuorumRule.TWO_THIRDS, 27, 18), (QuorumRule.TWO_THIRDS, 10, 7), (QuorumRule.NONE, 27, 0),
    (QuorumRule.MAJORITY, 0, 0),
])
def test_quorum_needed(rule: QuorumRule, entitled: int, need: int) -> None:
    assert needed(rule, entitled) == need


def test_quorum_is_reached_exactly_at_the_threshold() -> None:
    assert compute(QuorumRule.MAJORITY, 27, 13).reached is False
    q = compute(QuorumRule.MAJORITY, 27, 14)
    assert (q.reached, q.needed, q.present, q.entitled, q.rule) == (True, 14, 14, 27, "majority")
