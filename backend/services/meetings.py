"""Meetings: create, change, move through their states, list mine, and the full detail view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.domain.meeting_states import Action, Role, Status, decide, next_status
from backend.exceptions import BadRequest, Conflict, Forbidden, InvalidState
from backend.models import AgendaItem, Attendance, Body, Meeting, Participant, User, taking_part
from backend.models.base import utcnow
from backend.services import access, audit, notifications, opinions, participants, polls, positions, speakers
from backend.services.context import Actor


@dataclass(frozen=True)
class MeetingView:
    """A meeting as its caller sees it."""

    meeting: Meeting
    """The meeting row."""
    role: Role | None
    """The caller's role in it."""
    body_name: str
    """Name of the body holding it."""
    participants: list[tuple[Participant, User]]
    """Who attends, with their accounts, chair first."""
    agenda: list[AgendaItem]
    """Agenda items in order."""
    deputies: dict[int, User]
    """Accounts of the participants' named deputies, by id."""
    allowed_actions: list[str]
    """What the caller may do now."""


_ROLE_ORDER = {Role.CHAIR.value: 0, Role.SECRETARY.value: 1, Role.MEMBER.value: 2, Role.BRIDGE.value: 3,
               Role.GUEST.value: 4}


async def create(db: Database, actor: Actor, data: Mapping[str, Any]) -> MeetingView:
    """The secretariat of a body (or an administrator) creates a draft meeting and becomes its secretary."""
    async with db.write() as s:
        body = await s.get(Body, data["body_id"])
        if body is None:
            raise BadRequest(f"no body {data['body_id']}", code="unknown_body")
        if not (actor.is_admin or (actor.is_secretariat and actor.body_id == body.id)):
            raise Forbidden("only the secretariat of this body may create its meetings")
        meeting = Meeting(**data, status=Status.DRAFT.value, created_by=actor.user_id)
        s.add(meeting)
        await s.flush()
        assert meeting.id is not None
        s.add(Participant(meeting_id=meeting.id, user_id=actor.user_id, role=Role.SECRETARY.value, may_vote=False))
        await audit.record(s, "meeting.created", actor_id=actor.user_id, object_type="meeting",
                           object_id=meeting.id, meeting_id=meeting.id, details={"title": meeting.title})
        meeting_id = meeting.id
    return await detail(db, actor, meeting_id)


async def update(db: Database, actor: Actor, meeting_id: int, changes: Mapping[str, Any]) -> MeetingView:
    async with db.write() as s:
        meeting, _ = await access.require(s, actor, meeting_id, Action.EDIT_DETAILS)
        for key, value in changes.items():
            setattr(meeting, key, value)
        meeting.updated_at = utcnow()
        s.add(meeting)
        await audit.record(s, "meeting.updated", actor_id=actor.user_id, object_type="meeting",
                           object_id=meeting_id, meeting_id=meeting_id, details={"changed": sorted(changes)})
    return await detail(db, actor, meeting_id)


async def transition(db: Database, actor: Actor, meeting_id: int, action: Action,
                     outbox: notifications.Outbox | None = None) -> MeetingView:
    """Publish, withdraw, start, close or archive, as the state machine allows. Publishing tells every
    participant but its author (in `outbox`, for the caller to deliver after commit)."""
    outbox = outbox if outbox is not None else notifications.Outbox()
    async with db.write() as s:
        meeting, _ = await access.require(s, actor, meeting_id, action)
        target = next_status(action)
        before = meeting.status
        if meeting.kind == "opinion_round":
            await _round_transition(s, meeting, action)
        if action is Action.START:
            await _start_session(s, meeting)
            await positions.queue_wishes(s, meeting)
        elif action is Action.CLOSE:
            await _end_session(s, meeting, actor.user_id)
        meeting.status = target.value
        meeting.updated_at = utcnow()
        s.add(meeting)
        await audit.record(s, f"meeting.{action.value}", actor_id=actor.user_id, object_type="meeting",
                           object_id=meeting_id, meeting_id=meeting_id,
                           details={"from": before, "to": target.value})
        if action is Action.PUBLISH:
            # An opinion round's members are e-mailed by the round itself (services/opinions.py: published).
            await outbox.add(s, await notifications.people(s, meeting_id) - {actor.user_id}, "meeting_published",
                             notifications.meeting_link(meeting_id), mail=meeting.kind != "opinion_round",
                             meeting=meeting.title, starts_at=meeting.starts_at.isoformat())
    return await detail(db, actor, meeting_id)


async def _round_transition(s: AsyncSession, meeting: Meeting, action: Action) -> None:
    """An opinion round opens when its meeting is published; it is never started like a session, and
    it closes through its own route (or its deadline)."""
    if action is Action.PUBLISH:
        await opinions.open_round(s, meeting)
    elif action is Action.WITHDRAW:
        raise InvalidState("a round that was sent to the members cannot be withdrawn; close it instead",
                           code="round_sent")
    elif action in (Action.START, Action.CLOSE):
        raise InvalidState("an opinion round is not a session: it closes at its deadline or with "
                           "POST /api/meetings/{id}/opinion-round/close", code="not_a_session")


async def _start_session(s: AsyncSession, meeting: Meeting) -> None:
    """The session opens on the first agenda item not yet done."""
    meeting.started_at = utcnow()
    first = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id,
                                                   AgendaItem.status != "done")
                          .order_by(col(AgendaItem.position), col(AgendaItem.id)))).first()
    if first is not None:
        first.status = "current"
        meeting.current_item_id = first.id
        s.add(first)


async def _end_session(s: AsyncSession, meeting: Meeting, actor_id: int) -> None:
    """Closing needs no poll open; whoever speaks stops, the current item is done, everyone leaves."""
    assert meeting.id is not None
    if await polls.any_open(s, meeting.id):
        raise Conflict("close the open poll before closing the session", code="poll_open")
    await speakers.end_current(s, meeting.id, actor_id)
    now = utcnow()
    if meeting.current_item_id is not None:
        item = await s.get(AgendaItem, meeting.current_item_id)
        if item is not None and item.status == "current":
            item.status = "done"
            s.add(item)
    for row in (await s.exec(select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                      col(Attendance.checked_out_at).is_(None)))).all():
        row.checked_out_at = now
        s.add(row)
    meeting.ended_at = now


async def mine(db: Database, actor: Actor, *, status: str | None = None) -> list[tuple[Meeting, Role]]:
    """Meetings the actor takes part in and may see (a draft only for its staff), soonest first."""
    stmt = (select(Meeting, Participant.role).join(Participant, col(Participant.meeting_id) == col(Meeting.id))
            .where(or_(Participant.user_id == actor.user_id, Participant.deputy_user_id == actor.user_id),
                   taking_part())
            .order_by(col(Meeting.starts_at), col(Meeting.id)))
    if status is not None:
        stmt = stmt.where(Meeting.status == status)
    async with db.read() as s:
        rows = (await s.exec(stmt)).all()
    visible, seen = [], set()
    for meeting, role_name in rows:
        role = Role(role_name)
        if meeting.id not in seen and decide(role, Status(meeting.status), Action.VIEW).allowed:
            seen.add(meeting.id)
            visible.append((meeting, role))
    return visible


async def detail(db: Database, actor: Actor, meeting_id: int) -> MeetingView:
    async with db.read() as s:
        meeting, role = await access.require(s, actor, meeting_id, Action.VIEW)
        body = await s.get(Body, meeting.body_id)
        people = (await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                               .where(Participant.meeting_id == meeting_id, taking_part()))).all()
        agenda = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                               .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all()
        deputies = await participants.deputies_of(s, [p for p, _ in people])
    ordered = sorted(people, key=lambda pu: (_ROLE_ORDER.get(pu[0].role, 9), pu[1].full_name))
    return MeetingView(meeting=meeting, role=role, body_name=body.name if body else "",
                       participants=list(ordered), agenda=list(agenda), deputies=deputies,
                       allowed_actions=access.allowed_actions(role, Status(meeting.status)))

