from __future__ import annotations

import pytest

from backend.domain.rules import RuleError
from backend.domain.voting import DEFAULT_OPTIONS, Majority, build_options, check_choice, tally

YES_NO = DEFAULT_OPTIONS


def _tally(counts: dict[str, int], rule: Majority, entitled: int = 10, present: int = 10,
           quorum_required: bool = True, quorum_needed: int = 6) -> tuple[bool, int]:
    r = tally(YES_NO, counts, rule=rule, entitled=entitled, present=present, quorum_required=quorum_required,
              quorum_needed=quorum_needed)
    return r.passed, r.threshold


@pytest.mark.parametrize(("counts", "passed", "threshold"), [
    ({"yes": 4, "no": 3, "abstain": 3}, True, 4),     # 7 cast: 4 > 3.5
    ({"yes": 3, "no": 3, "abstain": 4}, False, 4),    # a tie is not a majority
    ({"yes": 1, "no": 0, "abstain": 9}, True, 1),     # abstentions are not cast votes
    ({}, False, 1),                                    # nobody voted: nothing passes
])
def test_majority_of_votes_cast(counts: dict[str, int], passed: bool, threshold: int) -> None:
    assert _tally(counts, Majority.CAST) == (passed, threshold)


@pytest.mark.parametrize(("yes", "entitled", "passed"), [(6, 10, True), (5, 10, False), (5, 9, True), (4, 9, False)])
def test_majority_of_all_entitled_members_counts_the_absent(yes: int, entitled: int, passed: bool) -> None:
    assert _tally({"yes": yes}, Majority.ENTITLED, entitled=entitled)[0] is passed


@pytest.mark.parametrize(("yes", "entitled", "passed"), [(20, 30, True), (19, 30, False), (7, 10, True),
                                                         (6, 10, False), (2, 3, True)])
def test_two_thirds_of_entitled_members_rounds_up(yes: int, entitled: int, passed: bool) -> None:
    assert _tally({"yes": yes}, Majority.TWO_THIRDS, entitled=entitled)[0] is passed


def test_without_quorum_nothing_passes_unless_the_poll_needs_none() -> None:
    r = tally(YES_NO, {"yes": 5}, rule=Majority.CAST, entitled=10, present=5, quorum_required=True,
              quorum_needed=6)
    assert r.quorum_reached is False and r.passed is False and r.winner is None
    r = tally(YES_NO, {"yes": 5}, rule=Majority.CAST, entitled=10, present=5, quorum_required=False,
              quorum_needed=6)
    assert r.quorum_reached is True and r.passed is True and r.winner == "yes"


def test_counts_list_every_option_and_refuse_unknown_ones() -> None:
    r = tally(YES_NO, {"no": 2}, rule=Majority.CAST, entitled=3, present=3, quorum_required=False, quorum_needed=2)
    assert r.counts == {"yes": 0, "no": 2, "abstain": 0} and r.total_ballots == 2 and r.cast == 2
    with pytest.raises(RuleError):
        tally(YES_NO, {"maybe": 1}, rule=Majority.CAST, entitled=3, present=3, quorum_required=False,
              quorum_needed=2)


def test_named_alternatives_elect_the_leader_and_a_tie_elects_nobody() -> None:
    options = build_options(["Phương án A", "Phương án B", "Phương án C"])
    assert [o.key for o in options] == ["c1", "c2", "c3", "abstain"]
    win = tally(options, {"c1": 2, "c2": 5, "c3": 1}, rule=Majority.CAST, entitled=10, present=10,
                quorum_required=True, quorum_needed=6)
    assert win.winner == "c2" and win.passed is True and win.threshold == 5
    tie = tally(options, {"c1": 3, "c2": 3}, rule=Majority.CAST, entitled=10, present=10, quorum_required=True,
                quorum_needed=6)
    assert tie.winner is None and tie.passed is False


@pytest.mark.parametrize("labels", [["Một"], ["A", "A"], ["A", " "], [str(i) for i in range(21)]])
def test_bad_option_lists_are_refused(labels: list[str]) -> None:
    with pytest.raises(RuleError):
        build_options(labels)


def test_default_options_are_the_vietnamese_three() -> None:
    assert [o.label for o in build_options(None)] == ["Tán thành", "Không tán thành", "Không biểu quyết"]
    assert check_choice(YES_NO, "abstain").kind == "abstain"
    with pytest.raises(RuleError):
        check_choice(YES_NO, "maybe")
