"""The meeting state machine and what each role may do in each state.

    draft -> published -> in_progress -> closed -> archived
      ^----------'  (a published meeting can be withdrawn to draft before it starts)

Roles are held per meeting: chair, secretary, member, guest, bridge. The two staff roles (chair and
secretary) prepare and run the meeting; the others attend."""

from __future__ import annotations

from enum import StrEnum

from backend.domain.rules import Decision, Refusal


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    ARCHIVED = "archived"


class Role(StrEnum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    MEMBER = "member"
    GUEST = "guest"
    BRIDGE = "bridge"


STAFF = frozenset({Role.CHAIR, Role.SECRETARY})
ATTENDEES = frozenset(Role)
# Roles that may hold a vote at all; whether a given participant votes is their `may_vote` flag.
VOTING_ROLES = frozenset({Role.CHAIR, Role.MEMBER})


class Action(StrEnum):
    VIEW = "view"
    EDIT_DETAILS = "edit_details"
    MANAGE_AGENDA = "manage_agenda"
    MANAGE_PARTICIPANTS = "manage_participants"
    PUBLISH = "publish"
    WITHDRAW = "withdraw"
    START = "start"
    CLOSE = "close"
    ARCHIVE = "archive"
    # During the session (live).
    RUN_AGENDA = "run_agenda"
    PRESENT = "present"
    MANAGE_SPEAKERS = "manage_speakers"
    REQUEST_FLOOR = "request_floor"
    PREPARE_POLLS = "prepare_polls"
    RUN_POLLS = "run_polls"
    VOTE = "vote"
    CHECK_IN = "check_in"
    RECORD_ATTENDANCE = "record_attendance"
    # Signed records: resolutions and minutes.
    PREPARE_RECORDS = "prepare_records"
    REVIEW_RECORDS = "review_records"
    SIGN_RECORDS = "sign_records"
    PUBLISH_RECORDS = "publish_records"
    SEND_RECORDS = "send_records"  # to other agencies (document exchange)
    PREPARE_TASKS = "prepare_tasks"  # the tasks a draft resolution assigns to agencies
    # Opinion rounds (meetings of kind opinion_round): configured as a draft, answered while published.
    CONFIGURE_ROUND = "configure_round"
    ANSWER_ROUND = "answer_round"
    CLOSE_ROUND = "close_round"
    REMIND_ROUND = "remind_round"
    # Positions on agenda items before a session, and adopting the unopposed ones together.
    STATE_POSITION = "state_position"
    ADOPT_UNOPPOSED = "adopt_unopposed"
    # Meeting documents: uploaded and shared by the staff; read (by the document's audience) and annotated.
    MANAGE_DOCUMENTS = "manage_documents"
    ANNOTATE = "annotate"
    # The video bridge: every participant joins it while the session runs (what they send and receive
    # is decided by the speaker queue, not by them).
    JOIN_BRIDGE = "join_bridge"
    WATCH_SITES = "watch_sites"


# action -> (who may, in which states). Transitions also name their target state below.
_ALLOWED: dict[Action, tuple[frozenset[Role], frozenset[Status]]] = {
    Action.VIEW: (ATTENDEES, frozenset(Status)),
    Action.EDIT_DETAILS: (STAFF, frozenset({Status.DRAFT, Status.PUBLISHED})),
    Action.MANAGE_AGENDA: (STAFF, frozenset({Status.DRAFT, Status.PUBLISHED, Status.IN_PROGRESS})),
    Action.MANAGE_PARTICIPANTS: (STAFF, frozenset({Status.DRAFT, Status.PUBLISHED, Status.IN_PROGRESS})),
    Action.PUBLISH: (STAFF, frozenset({Status.DRAFT})),
    Action.WITHDRAW: (STAFF, frozenset({Status.PUBLISHED})),
    Action.START: (frozenset({Role.CHAIR}), frozenset({Status.PUBLISHED})),
    Action.CLOSE: (frozenset({Role.CHAIR}), frozenset({Status.IN_PROGRESS})),
    Action.ARCHIVE: (frozenset({Role.SECRETARY}), frozenset({Status.CLOSED})),
    Action.RUN_AGENDA: (frozenset({Role.CHAIR}), frozenset({Status.IN_PROGRESS})),
    Action.PRESENT: (STAFF, frozenset({Status.IN_PROGRESS})),
    Action.MANAGE_SPEAKERS: (frozenset({Role.CHAIR}), frozenset({Status.IN_PROGRESS})),
    Action.REQUEST_FLOOR: (frozenset({Role.MEMBER, Role.BRIDGE, Role.GUEST}), frozenset({Status.IN_PROGRESS})),
    Action.PREPARE_POLLS: (STAFF, frozenset({Status.DRAFT, Status.PUBLISHED, Status.IN_PROGRESS})),
    Action.RUN_POLLS: (frozenset({Role.CHAIR}), frozenset({Status.IN_PROGRESS})),
    # Whether a given chair or member votes is their participant's `may_vote` flag, checked by the service.
    Action.VOTE: (VOTING_ROLES, frozenset({Status.IN_PROGRESS})),
    Action.CHECK_IN: (ATTENDEES, frozenset({Status.PUBLISHED, Status.IN_PROGRESS})),
    Action.RECORD_ATTENDANCE: (STAFF, frozenset({Status.PUBLISHED, Status.IN_PROGRESS})),
    # A resolution is drafted from a closed poll during or after the session, the minutes after it;
    # the secretary checks and initials (the certifying signature), the chair signs, the secretariat
    # publishes. Drafts are seen by the staff only (checked by the service).
    Action.PREPARE_RECORDS: (STAFF, frozenset({Status.IN_PROGRESS, Status.CLOSED})),
    Action.REVIEW_RECORDS: (frozenset({Role.SECRETARY}), frozenset({Status.IN_PROGRESS, Status.CLOSED})),
    Action.SIGN_RECORDS: (frozenset({Role.CHAIR}), frozenset({Status.IN_PROGRESS, Status.CLOSED})),
    Action.PUBLISH_RECORDS: (STAFF, frozenset({Status.IN_PROGRESS, Status.CLOSED})),
    # Sending a published record to other agencies is the secretariat's (văn thư) job.
    Action.SEND_RECORDS: (frozenset({Role.SECRETARY}), frozenset({Status.IN_PROGRESS, Status.CLOSED})),
    # The tasks a draft resolution assigns (lead and cooperating agencies, deadline) are the secretariat's
    # to write down, like the draft itself; the chair reads them on the draft and signs.
    Action.PREPARE_TASKS: (frozenset({Role.SECRETARY}), frozenset({Status.IN_PROGRESS, Status.CLOSED})),
    Action.CONFIGURE_ROUND: (STAFF, frozenset({Status.DRAFT})),
    # Whether a chair or member is asked is their participant's `may_vote` flag, checked by the service.
    Action.ANSWER_ROUND: (VOTING_ROLES, frozenset({Status.PUBLISHED})),
    Action.CLOSE_ROUND: (STAFF, frozenset({Status.PUBLISHED})),
    Action.REMIND_ROUND: (STAFF, frozenset({Status.PUBLISHED})),
    Action.STATE_POSITION: (VOTING_ROLES, frozenset({Status.PUBLISHED})),
    Action.ADOPT_UNOPPOSED: (frozenset({Role.CHAIR}), frozenset({Status.IN_PROGRESS})),
    Action.MANAGE_DOCUMENTS: (STAFF, frozenset({Status.DRAFT, Status.PUBLISHED, Status.IN_PROGRESS})),
    Action.ANNOTATE: (ATTENDEES, frozenset({Status.PUBLISHED, Status.IN_PROGRESS, Status.CLOSED})),
    Action.JOIN_BRIDGE: (ATTENDEES, frozenset({Status.IN_PROGRESS})),
    Action.WATCH_SITES: (STAFF, frozenset({Status.IN_PROGRESS})),
}

TRANSITIONS: dict[Action, Status] = {
    Action.PUBLISH: Status.PUBLISHED,
    Action.WITHDRAW: Status.DRAFT,
    Action.START: Status.IN_PROGRESS,
    Action.CLOSE: Status.CLOSED,
    Action.ARCHIVE: Status.ARCHIVED,
}


def who_may(action: Action) -> tuple[frozenset[Role], frozenset[Status]]:
    """The roles and states an action is allowed in (used to generate the permission table)."""
    return _ALLOWED[action]


def decide(role: Role | None, status: Status, action: Action) -> Decision:
    """May someone holding `role` in a meeting (None: not a participant) do `action` while it is in `status`?

    A draft meeting is visible only to its staff: members see a meeting once it is published."""
    if role is None:
        return Decision.no(Refusal.FORBIDDEN, "you are not a participant of this meeting")
    if action is Action.VIEW and status is Status.DRAFT and role not in STAFF:
        return Decision.no(Refusal.FORBIDDEN, "this meeting is still a draft")
    roles, states = _ALLOWED[action]
    if role not in roles:
        return Decision.no(Refusal.FORBIDDEN, f"a {role.value} may not {action.value.replace('_', ' ')}")
    if status not in states:
        return Decision.no(
            Refusal.INVALID_STATE, f"cannot {action.value.replace('_', ' ')} a meeting that is {status.value}"
        )
    return Decision.yes()


def next_status(action: Action) -> Status:
    """Target state of a transition action."""
    try:
        return TRANSITIONS[action]
    except KeyError:
        raise ValueError(f"{action.value} is not a state transition") from None


def may_vote_allowed(role: Role) -> bool:
    """Only chairs and members can be entitled to vote; guests, bridge points and the secretariat never are."""
    return role in VOTING_ROLES
