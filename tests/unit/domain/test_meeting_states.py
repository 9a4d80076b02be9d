"""Every role x state x action of the meeting state machine, against a table written out by hand."""

from __future__ import annotations

import itertools

import pytest

from backend.domain.meeting_states import Action, Role, Status, decide, may_vote_allowed, next_status
from backend.domain.rules import Refusal

D, P, I, C, A = Status.DRAFT, Status.PUBLISHED, Status.IN_PROGRESS, Status.CLOSED, Status.ARCHIVED  # noqa: E741
CH, SE, ME, GU, BR = Role.CHAIR, Role.SECRETARY, Role.MEMBER, Role.GUEST, Role.BRIDGE

# (action) -> {role: states in which it is allowed}; everything not listed is refused.
EXPECTED: dict[Action, dict[Role, set[Status]]] = {
    Action.VIEW: {CH: {D, P, I, C, A}, SE: {D, P, I, C, A}, ME: {P, I, C, A}, GU: {P, I, C, A},
                  BR: {P, I, C, A}},
    Action.EDIT_DETAILS: {CH: {D, P}, SE: {D, P}},
    Action.MANAGE_AGENDA: {CH: {D, P, I}, SE: {D, P, I}},
    Action.MANAGE_PARTICIPANTS: {CH: {D, P, I}, SE: {D, P, I}},
    Action.PUBLISH: {CH: {D}, SE: {D}},
    Action.WITHDRAW: {CH: {P}, SE: {P}},
    Action.START: {CH: {P}},
    Action.CLOSE: {CH: {I}},
    Action.ARCHIVE: {SE: {C}},
    Action.RUN_AGENDA: {CH: {I}},
    Action.PRESENT: {CH: {I}, SE: {I}},
    Action.MANAGE_SPEAKERS: {CH: {I}},
    Action.REQUEST_FLOOR: {ME: {I}, BR: {I}, GU: {I}},
    Action.PREPARE_POLLS: {CH: {D, P, I}, SE: {D, P, I}},
    Action.RUN_POLLS: {CH: {I}},
    Action.PREPARE_RECORDS: {CH: {I, C}, SE: {I, C}},
    Action.REVIEW_RECORDS: {SE: {I, C}},
    Action.SIGN_RECORDS: {CH: {I, C}},
    Action.PUBLISH_RECORDS: {CH: {I, C}, SE: {I, C}},
    Action.SEND_RECORDS: {SE: {I, C}},
    Action.PREPARE_TASKS: {SE: {I, C}},
    Action.CONFIGURE_ROUND: {CH: {D}, SE: {D}},
    Action.ANSWER_ROUND: {CH: {P}, ME: {P}},
    Action.CLOSE_ROUND: {CH: {P}, SE: {P}},
    Action.REMIND_ROUND: {CH: {P}, SE: {P}},
    Action.STATE_POSITION: {CH: {P}, ME: {P}},
    Action.ADOPT_UNOPPOSED: {CH: {I}},
    Action.VOTE: {CH: {I}, ME: {I}},
    Action.CHECK_IN: {CH: {P, I}, SE: {P, I}, ME: {P, I}, GU: {P, I}, BR: {P, I}},
    Action.RECORD_ATTENDANCE: {CH: {P, I}, SE: {P, I}},
    Action.MANAGE_DOCUMENTS: {CH: {D, P, I}, SE: {D, P, I}},
    Action.ANNOTATE: {CH: {P, I, C}, SE: {P, I, C}, ME: {P, I, C}, GU: {P, I, C}, BR: {P, I, C}},
    Action.JOIN_BRIDGE: {CH: {I}, SE: {I}, ME: {I}, GU: {I}, BR: {I}},
    Action.WATCH_SITES: {CH: {I}, SE: {I}},
}

CASES = list(itertools.product(Action, Role, Status))


@pytest.mark.parametrize(("action", "role", "status"), CASES,
                         ids=[f"{a.value}-{r.value}-{s.value}" for a, r, s in CASES])
def test_decision_matches_the_written_table(action: Action, role: Role, status: Status) -> None:
    decision = decide(role, status, action)
    assert decision.allowed == (status in EXPECTED[action].get(role, set()))
    if not decision.allowed:
        assert decision.refusal in (Refusal.FORBIDDEN, Refusal.INVALID_STATE)
        assert decision.reason


def test_wrong_role_is_forbidden_and_wrong_state_is_a_conflict() -> None:
    assert decide(ME, P, Action.START).refusal is Refusal.FORBIDDEN
    assert decide(CH, D, Action.START).refusal is Refusal.INVALID_STATE
    assert decide(SE, I, Action.EDIT_DETAILS).refusal is Refusal.INVALID_STATE


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(Status))
def test_a_non_participant_may_do_nothing(action: Action, status: Status) -> None:
    decision = decide(None, status, action)
    assert not decision.allowed and decision.refusal is Refusal.FORBIDDEN


def test_transitions_lead_where_the_diagram_says() -> None:
    assert next_status(Action.PUBLISH) is P
    assert next_status(Action.WITHDRAW) is D
    assert next_status(Action.START) is I
    assert next_status(Action.CLOSE) is C
    assert next_status(Action.ARCHIVE) is A
    with pytest.raises(ValueError):
        next_status(Action.VIEW)


def test_walking_the_whole_life_of_a_meeting() -> None:
    status = D
    for role, action in [(SE, Action.PUBLISH), (SE, Action.WITHDRAW), (CH, Action.PUBLISH), (CH, Action.START),
                         (CH, Action.CLOSE), (SE, Action.ARCHIVE)]:
        assert decide(role, status, action).allowed, (role, status, action)
        status = next_status(action)
    assert status is A
    assert not any(decide(r, A, a).allowed for r in Role for a in Action if a is not Action.VIEW)


@pytest.mark.parametrize(("role", "votes"), [(CH, True), (ME, True), (SE, False), (GU, False), (BR, False)])
def test_only_chairs_and_members_can_be_entitled_to_vote(role: Role, votes: bool) -> None:
    assert may_vote_allowed(role) is votes
