"""Attendance (who is present, for the minutes and the quorum) and the live quorum."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.domain import quorum as quorum_rules
from backend.domain.meeting_states import Action
from backend.exceptions import AppError, NotFound
from backend.models import Attendance, Meeting, Participant, User, taking_part
from backend.models.base import utcnow
from backend.services import access, audit, auth
from backend.services.context import Actor, Live
from backend.services.events import ROSTER_PUSH_INTERVAL_S, meeting_room, room_interval, staff_room


async def quorum(s: AsyncSession, meeting: Meeting, *, also_present: int = 0) -> dict[str, Any]:
    """Computed from the database: entitled voters, and how many of them are checked in (or their deputy),
    plus `also_present` counted by the caller (voters of a poll who left after voting)."""
    entitled = (await s.exec(select(func.count()).select_from(Participant).where(
        Participant.meeting_id == meeting.id, Participant.may_vote == True, taking_part()))).one()  # noqa: E712
    present = (await s.exec(select(func.count(func.distinct(Attendance.participant_id)))
                            .join(Participant, col(Participant.id) == col(Attendance.participant_id))
                            .where(Attendance.meeting_id == meeting.id, col(Attendance.checked_out_at).is_(None),
                                   Participant.may_vote == True, taking_part()))).one()  # noqa: E712
    q = quorum_rules.compute(quorum_rules.QuorumRule(meeting.quorum_rule), int(entitled), int(present) + also_present)
    return {"rule": q.rule, "entitled": q.entitled, "present": q.present, "needed": q.needed, "reached": q.reached}


async def is_present(s: AsyncSession, meeting_id: int, participant_id: int) -> bool:
    return (await s.exec(select(Attendance.id).where(
        Attendance.meeting_id == meeting_id, Attendance.participant_id == participant_id,
        col(Attendance.checked_out_at).is_(None)))).first() is not None


async def absent(s: AsyncSession, meeting_id: int, participant_ids: Iterable[int | None]) -> set[int]:
    """Of these participants, those not checked in now (one query for a batch of joins)."""
    ids = {i for i in participant_ids if i is not None}
    if not ids:
        return set()
    here = set((await s.exec(select(Attendance.participant_id).where(
        Attendance.meeting_id == meeting_id, col(Attendance.checked_out_at).is_(None),
        col(Attendance.participant_id).in_(ids)))).all())
    return ids - here


async def check_in_many(live: Live, meeting_id: int, actors: Sequence[Actor]) -> dict[int, AppError]:
    """`check_in` (quiet) of many tablets in one transaction, with their audit entries: a join storm
    writes a few times, not once per tablet. Answers the refusals, by user id."""
    refused: dict[int, AppError] = {}
    async with live.db.write() as s:
        meeting = await s.get(Meeting, meeting_id, with_for_update=True)
        if meeting is None:
            return {a.user_id: NotFound(f"no meeting {meeting_id}") for a in actors}
        members = await access.memberships(s, meeting_id, (a.user_id for a in actors))
        allowed: list[tuple[Actor, Participant]] = []
        for actor in actors:
            try:
                allowed.append((actor, access.check(meeting, members.get(actor.user_id), Action.CHECK_IN).participant))
            except AppError as exc:
                refused[actor.user_id] = exc
        todo = await absent(s, meeting_id, (p.id for _, p in allowed))
        entries: list[audit.Entry] = []
        for actor, participant in allowed:
            if participant.id not in todo:
                continue
            todo.discard(participant.id)  # two tablets of one person in the batch: one check-in
            assert participant.id is not None
            s.add(Attendance(meeting_id=meeting_id, participant_id=participant.id, user_id=actor.user_id,
                             recorded_by=actor.user_id))
            entries.append(audit.Entry("attendance.check_in", actor.user_id, "participant", participant.id,
                                       meeting_id, {"user_id": actor.user_id,
                                                    "deputy": actor.user_id != participant.user_id}))
        await s.flush()
        await audit.record_many(s, entries)
    if entries:
        await publish_attendance(live, meeting_id)
    return refused


async def present(s: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    rows = (await s.exec(select(Attendance.participant_id, Attendance.user_id, Attendance.checked_in_at).where(
        Attendance.meeting_id == meeting_id, col(Attendance.checked_out_at).is_(None)))).all()
    return [{"participant_id": pid, "user_id": uid, "since": since.isoformat()} for pid, uid, since in rows]


async def publish_attendance(live: Live, meeting_id: int) -> None:
    """Coalesced like presence: a burst of check-ins makes a few pushes, each with the current state."""
    live.progress.trigger(("attendance", meeting_id), lambda: _push_attendance(live, meeting_id),
                          interval=ROSTER_PUSH_INTERVAL_S)


async def _push_attendance(live: Live, meeting_id: int) -> None:
    """Everyone hears the quorum; only the staff, who record attendance, get the whole list (at 2,000
    members the list is ~150 KB, too much to send to every tablet several times a second)."""
    async with live.db.read() as s:
        meeting = await s.get(Meeting, meeting_id)
        if meeting is None:
            return
        q = await quorum(s, meeting)
        roster = await present(s, meeting_id)
    live.progress.pace(("attendance", meeting_id), room_interval(ROSTER_PUSH_INTERVAL_S, len(roster)))
    await live.bus.publish("attendance.changed", {"meeting_id": meeting_id, "quorum": q, "count": len(roster)},
                           room=meeting_room(meeting_id))
    await live.bus.publish("attendance.roster", {"meeting_id": meeting_id, "attendance": roster},
                           room=staff_room(meeting_id))


async def check_in(live: Live, actor: Actor, meeting_id: int, *, quiet: bool = False) -> dict[str, Any]:
    """The participant (or their deputy) is present. Checking in twice changes nothing."""
    async with live.db.write() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.CHECK_IN)
        changed = await _check_in(s, actor.user_id, meeting_id, member.participant, recorded_by=actor.user_id)
    if changed or not quiet:
        await publish_attendance(live, meeting_id)
    return {"checked_in": True, "changed": changed}


async def check_in_connected(live: Live, meeting_id: int, user_ids: set[int]) -> dict[str, Any]:
    """At the start: everyone whose tablet is already in the meeting's room is present, in one transaction,
    before anyone hears that the session started. The quorum returned goes out with that news, so the console
    and every tablet show the same count from the first moment (each tablet's own join used to check it in
    a moment apart, and the screens disagreed until the next coalesced push)."""
    changed = False
    async with live.db.write() as s:
        users = (await s.exec(select(User).where(col(User.id).in_(sorted(user_ids))))).all() if user_ids else []
        for user in users:
            if user.id is None:
                continue
            try:
                _, member = await access.require_membership(s, auth.actor_for(user), meeting_id, Action.CHECK_IN,
                                                            lock=False)
            except AppError:
                continue  # not taking part, or may not check in (a guest watching)
            changed = await _check_in(s, user.id, meeting_id, member.participant, recorded_by=user.id) or changed
        meeting = await s.get(Meeting, meeting_id)
        q = await quorum(s, meeting) if meeting is not None else {}
    if changed:
        await publish_attendance(live, meeting_id)
    return q


async def _check_in(s: AsyncSession, user_id: int, meeting_id: int, participant: Participant, *,
                    recorded_by: int) -> bool:
    open_row = (await s.exec(select(Attendance).where(
        Attendance.meeting_id == meeting_id, Attendance.participant_id == participant.id,
        col(Attendance.checked_out_at).is_(None)))).first()
    if open_row is not None:
        return False
    assert participant.id is not None
    s.add(Attendance(meeting_id=meeting_id, participant_id=participant.id, user_id=user_id, recorded_by=recorded_by))
    await audit.record(s, "attendance.check_in", actor_id=recorded_by, object_type="participant",
                       object_id=participant.id, meeting_id=meeting_id,
                       details={"user_id": user_id, "deputy": user_id != participant.user_id})
    return True


async def check_out(live: Live, actor: Actor, meeting_id: int) -> dict[str, Any]:
    async with live.db.write() as s:
        _, member = await access.require_membership(s, actor, meeting_id, Action.CHECK_IN)
        changed = await _check_out(s, meeting_id, member.participant, recorded_by=actor.user_id)
    await publish_attendance(live, meeting_id)
    return {"checked_in": False, "changed": changed}


async def _check_out(s: AsyncSession, meeting_id: int, participant: Participant, *, recorded_by: int) -> bool:
    open_row = (await s.exec(select(Attendance).where(
        Attendance.meeting_id == meeting_id, Attendance.participant_id == participant.id,
        col(Attendance.checked_out_at).is_(None)))).first()
    if open_row is None:
        return False
    open_row.checked_out_at = utcnow()
    s.add(open_row)
    await audit.record(s, "attendance.check_out", actor_id=recorded_by, object_type="participant",
                       object_id=participant.id, meeting_id=meeting_id)
    return True


async def record_attendance(live: Live, actor: Actor, meeting_id: int, participant_id: int,
                            present: bool) -> dict[str, Any]:
    """The secretariat marks someone present (in the room without a tablet) or gone."""
    async with live.db.write() as s:
        await access.require_membership(s, actor, meeting_id, Action.RECORD_ATTENDANCE)
        participant = await s.get(Participant, participant_id)
        if participant is None or participant.meeting_id != meeting_id:
            raise NotFound(f"no participant {participant_id} in meeting {meeting_id}")
        if present:
            changed = await _check_in(s, participant.user_id, meeting_id, participant, recorded_by=actor.user_id)
        else:
            changed = await _check_out(s, meeting_id, participant, recorded_by=actor.user_id)
    await publish_attendance(live, meeting_id)
    return {"changed": changed}


