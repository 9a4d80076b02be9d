"""The speaker queue of the current agenda item: request, withdraw, give and end the floor, reorder,
speaking time. Every turn keeps its times for the minutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.domain import speaker_queue as rules
from backend.domain.meeting_states import Action
from backend.domain.rules import RuleError
from backend.exceptions import InvalidState
from backend.models import Meeting, Participant, SpeakerTurn, User
from backend.models.base import utcnow
from backend.services import access, audit
from backend.services.context import Actor, Live
from backend.services.events import meeting_room


def _as_rule(turn: SpeakerTurn) -> rules.Turn:
    assert turn.id is not None
    return rules.Turn(id=turn.id, participant_id=turn.participant_id, status=turn.status, position=turn.position)


async def _turns(s: AsyncSession, meeting_id: int, item_id: int | None) -> list[SpeakerTurn]:
    if item_id is None:
        return []
    return list((await s.exec(select(SpeakerTurn).where(SpeakerTurn.meeting_id == meeting_id,
                                                        SpeakerTurn.agenda_item_id == item_id)
                              .order_by(col(SpeakerTurn.position), col(SpeakerTurn.id)))).all())


async def turns_out(s: AsyncSession, meeting_id: int, item_id: int | None) -> list[dict[str, Any]]:
    """The queue as everyone sees it: the speaker, then the waiting in order, then the finished turns."""
    turns = await _turns(s, meeting_id, item_id)
    if not turns:
        return []
    people = {p.id: p for p in (await s.exec(select(Participant).where(
        col(Participant.id).in_({t.participant_id for t in turns})))).all()}
    names = {u.id: u for u in (await s.exec(select(User).where(
        col(User.id).in_({t.user_id for t in turns})))).all()}
    rank = {rules.SPEAKING: 0, rules.WAITING: 1, rules.DONE: 2, rules.WITHDRAWN: 3}
    out = []
    for t in sorted(turns, key=lambda t: (rank[t.status], t.position, t.id)):
        participant = people.get(t.participant_id)
        user = names.get(t.user_id)
        ends_at = t.started_at + timedelta(seconds=t.limit_seconds) if t.started_at and t.limit_seconds else None
        out.append({"id": t.id, "participant_id": t.participant_id, "user_id": t.user_id,
                    "full_name": user.full_name if user else "", "title": user.title if user else "",
                    "role": participant.role if participant else "",
                    "deputy": participant is not None and participant.user_id != t.user_id,
                    "status": t.status, "position": t.position,
                    "requested_at": t.requested_at.isoformat(),
                    "started_at": t.started_at.isoformat() if t.started_at else None,
                    "ended_at": t.ended_at.isoformat() if t.ended_at else None,
                    "limit_seconds": t.limit_seconds, "ends_at": ends_at.isoformat() if ends_at else None})
    return out


def _current_item(meeting: Meeting) -> int:
    if meeting.current_item_id is None:
        raise InvalidState("no agenda item is under discussion yet", code="no_current_item")
    return meeting.current_item_id


async def _publish(live: Live, meeting_id: int, item_id: int) -> dict[str, Any]:
    async with live.db.read() as s:
        turns = await turns_out(s, meeting_id, item_id)
    payload = {"meeting_id": meeting_id, "item_id": item_id, "turns": turns}
    await live.bus.publish("speakers.changed", payload, room=meeting_room(meeting_id))
    if live.bridge is not None:  # the bridge carries whoever has the floor now
        await live.bridge.floor_changed(meeting_id)
    return payload


def _rule(exc: RuleError) -> Exception:
    return access.from_rule_error(exc)


async def request(live: Live, actor: Actor, meeting_id: int) -> dict[str, Any]:
    async with live.db.write() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.REQUEST_FLOOR)
        item_id = _current_item(meeting)
        turns = await _turns(s, meeting_id, item_id)
        assert member.participant.id is not None
        try:
            rules.may_request([_as_rule(t) for t in turns], member.participant.id)
        except RuleError as exc:
            raise _rule(exc) from exc
        turn = SpeakerTurn(meeting_id=meeting_id, agenda_item_id=item_id, participant_id=member.participant.id,
                           user_id=actor.user_id, position=rules.next_position([_as_rule(t) for t in turns]))
        s.add(turn)
        await s.flush()
        await audit.record(s, "speaker.request", actor_id=actor.user_id, object_type="speaker_turn",
                           object_id=turn.id, meeting_id=meeting_id, details={"item_id": item_id})
        turn_id = turn.id
    payload = await _publish(live, meeting_id, item_id)
    return {"turn_id": turn_id, **payload}


async def withdraw(live: Live, actor: Actor, meeting_id: int) -> dict[str, Any]:
    async with live.db.write() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.REQUEST_FLOOR)
        item_id = _current_item(meeting)
        mine = [t for t in await _turns(s, meeting_id, item_id)
                if t.participant_id == member.participant.id and t.status == rules.WAITING]
        if not mine:
            raise InvalidState("you are not waiting to speak", code="not_in_queue")
        for t in mine:
            t.status = rules.WITHDRAWN
            t.ended_at = utcnow()
            s.add(t)
        await audit.record(s, "speaker.withdraw", actor_id=actor.user_id, object_type="speaker_turn",
                           object_id=mine[0].id, meeting_id=meeting_id)
    return await _publish(live, meeting_id, item_id)


async def give_floor(live: Live, actor: Actor, meeting_id: int, turn_id: int, seconds: int | None) -> dict[str, Any]:
    """The chair gives the floor to a waiting request; whoever was speaking is done."""
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.MANAGE_SPEAKERS)
        item_id = _current_item(meeting)
        turns = await _turns(s, meeting_id, item_id)
        try:
            limit = rules.check_seconds(seconds)
            speaking = rules.may_give_floor([_as_rule(t) for t in turns], turn_id)
        except RuleError as exc:
            raise _rule(exc) from exc
        now = utcnow()
        by_id = {t.id: t for t in turns}
        if speaking is not None:
            current = by_id[speaking.id]
            current.status, current.ended_at = rules.DONE, now
            s.add(current)
        target = by_id[turn_id]
        target.status, target.started_at, target.limit_seconds = rules.SPEAKING, now, limit
        s.add(target)
        await audit.record(s, "speaker.floor_given", actor_id=actor.user_id, object_type="speaker_turn",
                           object_id=turn_id, meeting_id=meeting_id, details={"seconds": limit})
    return await _publish(live, meeting_id, item_id)


async def set_time(live: Live, actor: Actor, meeting_id: int, seconds: int) -> dict[str, Any]:
    """Change the current speaker's time (counted from when they got the floor)."""
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.MANAGE_SPEAKERS)
        item_id = _current_item(meeting)
        try:
            limit = rules.check_seconds(seconds)
        except RuleError as exc:
            raise _rule(exc) from exc
        speaking = [t for t in await _turns(s, meeting_id, item_id) if t.status == rules.SPEAKING]
        if not speaking:
            raise InvalidState("nobody has the floor", code="nobody_speaking")
        speaking[0].limit_seconds = limit
        s.add(speaking[0])
    return await _publish(live, meeting_id, item_id)


async def end_floor(live: Live, actor: Actor, meeting_id: int) -> dict[str, Any]:
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.MANAGE_SPEAKERS)
        item_id = _current_item(meeting)
        if not await end_current(s, meeting_id, actor.user_id):
            raise InvalidState("nobody has the floor", code="nobody_speaking")
    return await _publish(live, meeting_id, item_id)


async def end_current(s: AsyncSession, meeting_id: int, actor_id: int) -> bool:
    """End whoever speaks in the meeting (moving on, closing). True if someone was speaking."""
    speaking = (await s.exec(select(SpeakerTurn).where(SpeakerTurn.meeting_id == meeting_id,
                                                       SpeakerTurn.status == rules.SPEAKING))).all()
    for t in speaking:
        t.status, t.ended_at = rules.DONE, utcnow()
        s.add(t)
        await audit.record(s, "speaker.floor_ended", actor_id=actor_id, object_type="speaker_turn", object_id=t.id,
                           meeting_id=meeting_id)
    return bool(speaking)


async def reorder(live: Live, actor: Actor, meeting_id: int, turn_ids: list[int]) -> dict[str, Any]:
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.MANAGE_SPEAKERS)
        item_id = _current_item(meeting)
        turns = await _turns(s, meeting_id, item_id)
        try:
            order = rules.reorder_waiting([_as_rule(t) for t in turns], turn_ids)
        except RuleError as exc:
            raise _rule(exc) from exc
        by_id = {t.id: t for t in turns}
        for position, turn_id in enumerate(order, start=1):
            by_id[turn_id].position = position
            s.add(by_id[turn_id])
        await audit.record(s, "speaker.reordered", actor_id=actor.user_id, object_type="agenda_item",
                           object_id=item_id, meeting_id=meeting_id, details={"order": order})
    return await _publish(live, meeting_id, item_id)


