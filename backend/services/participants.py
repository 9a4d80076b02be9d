"""Who attends a meeting and in which role."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.domain import speaker_queue
from backend.domain.meeting_states import STAFF, Action, Role, may_vote_allowed
from backend.exceptions import BadRequest, Conflict, NotFound
from backend.models import Attendance, Participant, SavedGroup, SpeakerTurn, User, taking_part
from backend.models.base import utcnow
from backend.services import access, audit, groups, users
from backend.services.context import Actor
from backend.services.events import EventBus, Revocation


def _vote_flag(role: Role, may_vote: bool | None) -> bool:
    if may_vote is None:
        return may_vote_allowed(role)
    if may_vote and not may_vote_allowed(role):
        raise BadRequest(f"a {role.value} cannot be entitled to vote", code="may_not_vote")
    return may_vote


async def listing(db: Database, actor: Actor, meeting_id: int) -> tuple[list[tuple[Participant, User]],
                                                                         dict[int, User]]:
    """The participants with their accounts, and the accounts of their deputies by id."""
    async with db.read() as s:
        await access.require(s, actor, meeting_id, Action.VIEW)
        rows = list((await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                                  .where(Participant.meeting_id == meeting_id, taking_part())
                                  .order_by(col(Participant.id)))).all())
        return rows, await deputies_of(s, [p for p, _ in rows])


async def candidates(db: Database, actor: Actor, meeting_id: int, query: str = "") -> list[User]:
    """Active accounts that could be added to the meeting (for whoever manages its participants)."""
    async with db.read() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_PARTICIPANTS)
        taken = select(Participant.user_id).where(Participant.meeting_id == meeting_id, taking_part())
        standing_in = select(Participant.deputy_user_id).where(Participant.meeting_id == meeting_id, taking_part(),
                                                               col(Participant.deputy_user_id).is_not(None))
        # The system administrator runs the installation; they are never a meeting's participant.
        stmt = (select(User).where(User.is_active == True, User.is_admin == False,  # noqa: E712
                                   col(User.id).not_in(taken), col(User.id).not_in(standing_in))
                .order_by(col(User.full_name), col(User.id)).limit(500))
        if query:
            stmt = stmt.where(users.matches(query))
        return list((await s.exec(stmt)).all())


async def deputies_of(s: AsyncSession, people: list[Participant]) -> dict[int, User]:
    ids = {p.deputy_user_id for p in people if p.deputy_user_id}
    if not ids:
        return {}
    return {u.id: u for u in (await s.exec(select(User).where(col(User.id).in_(ids)))).all() if u.id}


async def _check_deputy(s: AsyncSession, meeting_id: int, participant: Participant, deputy_id: int | None) -> \
        User | None:
    """A member's deputy: an active account that does not take part itself nor stands in for another."""
    if deputy_id is None:
        return None
    if participant.role != Role.MEMBER.value:
        raise BadRequest("only a member can be represented by a deputy", code="deputy_not_allowed")
    deputy = await s.get(User, deputy_id)
    if deputy is None:
        raise BadRequest(f"no user {deputy_id}", code="unknown_user")
    if not deputy.is_active:
        raise BadRequest(f"the account {deputy.username!r} is deactivated", code="inactive_user")
    if deputy.is_admin:
        raise BadRequest("the system administrator cannot be invited to a meeting", code="admin_not_invitable")
    if deputy_id == participant.user_id or await _find(s, meeting_id, user_id=deputy_id) is not None:
        raise Conflict("a deputy cannot take part in the meeting in their own right", code="deputy_is_participant")
    other = (await s.exec(select(Participant.id).where(Participant.meeting_id == meeting_id, taking_part(),
                                                       Participant.deputy_user_id == deputy_id,
                                                       Participant.id != participant.id))).first()
    if other is not None:
        raise Conflict("this person already stands in for another member", code="already_deputy")
    return deputy


async def add(db: Database, actor: Actor, meeting_id: int,
              data: Mapping[str, Any]) -> tuple[Participant, User, User | None]:
    role = Role(data["role"])
    try:
        async with db.write() as s:
            await access.require(s, actor, meeting_id, Action.MANAGE_PARTICIPANTS)
            user = await s.get(User, data["user_id"])
            if user is None:
                raise BadRequest(f"no user {data['user_id']}", code="unknown_user")
            if not user.is_active:
                raise BadRequest(f"the account {user.username!r} is deactivated", code="inactive_user")
            if user.is_admin:
                raise BadRequest("the system administrator cannot be invited to a meeting", code="admin_not_invitable")
            if await _find(s, meeting_id, user_id=user.id) is not None:
                raise Conflict(f"{user.full_name} already takes part in this meeting", code="already_participant")
            stands_in = (await s.exec(select(Participant.id).where(Participant.meeting_id == meeting_id, taking_part(),
                                                                   Participant.deputy_user_id == user.id))).first()
            if stands_in is not None:
                raise Conflict(f"{user.full_name} already stands in for a member of this meeting",
                               code="deputy_is_participant")
            # Someone removed earlier comes back on their old row (it holds their attendance and ballots).
            participant = await _find(s, meeting_id, user_id=user.id, removed=True) or Participant(
                meeting_id=meeting_id, user_id=data["user_id"], role=role.value)
            participant.role, participant.may_vote = role.value, _vote_flag(role, data.get("may_vote"))
            participant.removed_at = None
            deputy = await _check_deputy(s, meeting_id, participant, data.get("deputy_user_id"))
            participant.deputy_user_id = deputy.id if deputy else None
            s.add(participant)
            await s.flush()
            await audit.record(s, "participant.added", actor_id=actor.user_id, object_type="participant",
                               object_id=participant.id, meeting_id=meeting_id,
                               details={"user_id": user.id, "role": role.value, "may_vote": participant.may_vote})
    except IntegrityError as exc:
        raise Conflict("this person already takes part in this meeting", code="already_participant") from exc
    return participant, user, deputy


async def add_many(db: Database, actor: Actor, meeting_id: int,
                   data: Mapping[str, Any]) -> tuple[list[tuple[Participant, User]], list[User]]:
    """Invite a group at once: every active account of the meeting's body (source "body"), a saved group
    of that body ("group"), or the participants of another meeting with their roles and votes
    ("meeting"). People already taking part, standing in as deputies, deactivated, or the system
    administrator are skipped (and named), never an error: the rest are added in one transaction."""
    source = data["source"]
    try:
        async with db.write() as s:
            meeting, _ = await access.require(s, actor, meeting_id, Action.MANAGE_PARTICIPANTS)
            wanted: list[tuple[User, Role, bool | None]] = []
            if source == "meeting":
                other_id = data.get("meeting_id")
                if other_id is None or other_id == meeting_id:
                    raise BadRequest("name another meeting to copy its participants", code="meeting_required")
                # Reading another meeting's participants needs the right to see that meeting.
                await access.require(s, actor, other_id, Action.VIEW)
                rows = (await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                                     .where(Participant.meeting_id == other_id, taking_part())
                                     .order_by(col(Participant.id)))).all()
                wanted = [(u, Role(p.role), p.may_vote) for p, u in rows]
            else:
                role = Role(data.get("role") or Role.MEMBER.value)
                if source == "group":
                    if data.get("group_id") is None:
                        raise BadRequest("name the saved group to invite", code="group_required")
                    group = await s.get(SavedGroup, data["group_id"])
                    if group is None or group.body_id != meeting.body_id:
                        raise NotFound(f"no saved group {data['group_id']} for this meeting's body")
                    people = await groups.people(s, group)
                else:
                    people = list((await s.exec(select(User).where(User.body_id == meeting.body_id)
                                                .order_by(col(User.full_name), col(User.id)))).all())
                wanted = [(u, role, None) for u in people]
            taken = set((await s.exec(select(Participant.user_id).where(Participant.meeting_id == meeting_id,
                                                                        taking_part()))).all())
            taken |= {d for d in (await s.exec(select(Participant.deputy_user_id).where(
                Participant.meeting_id == meeting_id, taking_part()))).all() if d is not None}
            # Someone removed earlier comes back on their own record, as `add` does.
            removed = {p.user_id: p for p in (await s.exec(select(Participant).where(
                Participant.meeting_id == meeting_id, col(Participant.removed_at).is_not(None)))).all()}
            added: list[tuple[Participant, User]] = []
            skipped: list[User] = []
            for user, role, may_vote in wanted:
                if user.id in taken or not user.is_active or user.is_admin:
                    skipped.append(user)
                    continue
                if may_vote and not may_vote_allowed(role):
                    may_vote = None
                participant = removed.pop(user.id or 0, None) or Participant(
                    meeting_id=meeting_id, user_id=user.id or 0, role=role.value)
                participant.role, participant.may_vote = role.value, _vote_flag(role, may_vote)
                participant.removed_at, participant.deputy_user_id = None, None
                s.add(participant)
                await s.flush()
                taken.add(user.id or 0)
                added.append((participant, user))
                await audit.record(s, "participant.added", actor_id=actor.user_id, object_type="participant",
                                   object_id=participant.id, meeting_id=meeting_id,
                                   details={"user_id": user.id, "role": role.value, "may_vote": participant.may_vote,
                                            "source": source})
    except IntegrityError as exc:
        raise Conflict("someone in the group was added meanwhile; try again", code="already_participant") from exc
    return added, skipped


async def update(db: Database, actor: Actor, meeting_id: int, participant_id: int,
                 changes: Mapping[str, Any], bus: EventBus) -> tuple[Participant, User, User | None]:
    async with db.write() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_PARTICIPANTS)
        participant = await _find(s, meeting_id, participant_id=participant_id)
        concerned = {participant.user_id, participant.deputy_user_id}
        role = Role(changes.get("role", participant.role))
        if role not in STAFF and Role(participant.role) in STAFF:
            await _keep_one_staff(s, meeting_id, participant_id)
        may_vote = changes.get("may_vote", participant.may_vote if "role" not in changes else None)
        participant.role = role.value
        participant.may_vote = _vote_flag(role, may_vote)
        deputy_id = changes["deputy_user_id"] if "deputy_user_id" in changes else participant.deputy_user_id
        deputy = await _check_deputy(s, meeting_id, participant, deputy_id)
        participant.deputy_user_id = deputy.id if deputy else None
        s.add(participant)
        user = await s.get(User, participant.user_id)
        assert user is not None
        await audit.record(s, "participant.updated", actor_id=actor.user_id, object_type="participant",
                           object_id=participant_id, meeting_id=meeting_id,
                           details={"role": participant.role, "may_vote": participant.may_vote,
                                    "deputy_user_id": participant.deputy_user_id})
    await _recheck_rooms(bus, meeting_id, concerned | {participant.deputy_user_id})
    return participant, user, deputy


async def remove(db: Database, actor: Actor, meeting_id: int, participant_id: int, bus: EventBus) -> None:
    """Take a person out of the meeting. The row stays, marked removed: their attendance, ballots,
    positions and speaker turns are part of the record; from now on they have no role in it."""
    async with db.write() as s:
        await access.require(s, actor, meeting_id, Action.MANAGE_PARTICIPANTS)
        participant = await _find(s, meeting_id, participant_id=participant_id)
        if Role(participant.role) in STAFF:
            await _keep_one_staff(s, meeting_id, participant_id)
        now = utcnow()
        participant.removed_at = now
        s.add(participant)
        await _leave_the_room(s, participant_id, now)
        await audit.record(s, "participant.removed", actor_id=actor.user_id, object_type="participant",
                           object_id=participant_id, meeting_id=meeting_id,
                           details={"user_id": participant.user_id, "role": participant.role})
    await _recheck_rooms(bus, meeting_id, {participant.user_id, participant.deputy_user_id})


async def _recheck_rooms(bus: EventBus, meeting_id: int, users: set[int | None]) -> None:
    """After commit: the open sockets of these people (the participant, the deputies before and after)
    leave the meeting's rooms they may no longer be in, on every worker."""
    for user_id in sorted(u for u in users if u is not None):
        await bus.revoke(Revocation(user_id, meeting_id=meeting_id))


async def _leave_the_room(s: AsyncSession, participant_id: int, now: datetime) -> None:
    """A removed person is checked out, their requests for the floor withdrawn and their turn ended."""
    for row in (await s.exec(select(Attendance).where(Attendance.participant_id == participant_id,
                                                      col(Attendance.checked_out_at).is_(None)))).all():
        row.checked_out_at = now
        s.add(row)
    for turn in (await s.exec(select(SpeakerTurn).where(
            SpeakerTurn.participant_id == participant_id,
            col(SpeakerTurn.status).in_([speaker_queue.WAITING, speaker_queue.SPEAKING])))).all():
        if turn.status == speaker_queue.SPEAKING:
            turn.status, turn.ended_at = speaker_queue.DONE, now
        else:
            turn.status = speaker_queue.WITHDRAWN
        s.add(turn)


async def _find(s: AsyncSession, meeting_id: int, *, participant_id: int | None = None,
                user_id: int | None = None, removed: bool = False) -> Participant:
    """A participant of the meeting (by id or by account): one taking part, or with removed=True one removed."""
    stmt = select(Participant).where(Participant.meeting_id == meeting_id,
                                     col(Participant.removed_at).is_not(None) if removed else taking_part())
    if participant_id is not None:
        stmt = stmt.where(Participant.id == participant_id)
    if user_id is not None:
        stmt = stmt.where(Participant.user_id == user_id)
    found = (await s.exec(stmt)).first()
    if found is None and participant_id is not None:
        raise NotFound(f"no participant {participant_id} in meeting {meeting_id}")
    return found  # type: ignore[return-value]


async def _keep_one_staff(s: AsyncSession, meeting_id: int, leaving_id: int) -> None:
    """A meeting always keeps someone (chair or secretary) who can manage it."""
    others = (await s.exec(select(func.count()).select_from(Participant).where(
        Participant.meeting_id == meeting_id, Participant.id != leaving_id, taking_part(),
        col(Participant.role).in_([r.value for r in STAFF])))).one()
    if others == 0:
        raise Conflict("a meeting needs at least one chair or secretary", code="last_staff")
