"""Positions before a session: for a published session each member marks every agenda item — no
objection, objection (with a reason) or wish to speak. The staff see everyone's positions; when the
session starts, wishes to speak enter the items' speaker queues, and the chair can adopt together, in
one recorded step, every item each entitled member has answered "no objection" to (the Estonian cabinet's
way of keeping a government meeting short). Silence is not consent: an item someone has not answered
goes to the session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.db import Database
from backend.domain import opinions as rules
from backend.domain.meeting_states import STAFF, VOTING_ROLES, Action
from backend.domain.rules import RuleError
from backend.exceptions import BadRequest, Conflict
from backend.models import AgendaItem, AgendaPosition, Meeting, Participant, SpeakerTurn, User, taking_part
from backend.models.base import utcnow
from backend.services import access, audit
from backend.services.context import Actor


async def state(db: Database, actor: Actor, meeting_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Set (or change) my position on one agenda item."""
    async with db.write() as s:
        _, member = await access.require_membership(s, actor, meeting_id, Action.STATE_POSITION)
        if not member.participant.may_vote:
            raise Conflict("only members who take decisions state positions", code="not_asked")
        item = await s.get(AgendaItem, data["agenda_item_id"])
        if item is None or item.meeting_id != meeting_id:
            raise BadRequest(f"item {data['agenda_item_id']} is not on this meeting's agenda", code="unknown_item")
        if data["position"] == rules.Position.OBJECTION.value and not (data.get("reason") or "").strip():
            raise BadRequest("an objection needs its reason", code="reason_required")
        try:
            position = rules.check_position(data["position"], data.get("reason"))
        except RuleError as exc:
            raise access.from_rule_error(exc) from exc
        assert member.participant.id is not None and item.id is not None
        row = (await s.exec(select(AgendaPosition).where(AgendaPosition.agenda_item_id == item.id,
                                                         AgendaPosition.participant_id == member.participant.id))
               ).first() or AgendaPosition(meeting_id=meeting_id, agenda_item_id=item.id,
                                           participant_id=member.participant.id, user_id=actor.user_id,
                                           position=position.value)
        row.position, row.reason = position.value, (data.get("reason") or "").strip()
        row.user_id, row.updated_at = actor.user_id, utcnow()
        s.add(row)
        await audit.record(s, "agenda.position", actor_id=actor.user_id, object_type="agenda_item",
                           object_id=item.id, meeting_id=meeting_id, details={"position": position.value})
        return await _out(s, meeting_id, member.role in STAFF, member.participant.id)


async def listing(db: Database, actor: Actor, meeting_id: int) -> dict[str, Any]:
    async with db.read() as s:
        _, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
        return await _out(s, meeting_id, member.role in STAFF, member.participant.id or 0)


async def queue_wishes(s: AsyncSession, meeting: Meeting) -> int:
    """When the session starts: each wish to speak becomes a waiting turn on its item, in the order stated."""
    wishes = (await s.exec(select(AgendaPosition).join(Participant, col(Participant.id) ==
                                                       col(AgendaPosition.participant_id)).where(
        AgendaPosition.meeting_id == meeting.id, AgendaPosition.position == rules.Position.WISH_TO_SPEAK.value,
        taking_part()).order_by(col(AgendaPosition.updated_at), col(AgendaPosition.id)))).all()
    next_position: dict[int, int] = {}
    for wish in wishes:
        assert meeting.id is not None
        position = next_position.get(wish.agenda_item_id, 0) + 1
        next_position[wish.agenda_item_id] = position
        s.add(SpeakerTurn(meeting_id=meeting.id, agenda_item_id=wish.agenda_item_id,
                          participant_id=wish.participant_id, user_id=wish.user_id, position=position))
    return len(wishes)


async def adopt_unopposed(db: Database, actor: Actor, meeting_id: int) -> dict[str, Any]:
    """The chair adopts together every pending item each entitled member said "no objection" to."""
    async with db.write() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.ADOPT_UNOPPOSED)
        # The current item too: at the start the session opens on the first item, which may be one of them.
        items = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id,
                                                       col(AgendaItem.status).in_(["pending", "current"]))
                              .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all()
        by_item: dict[int, dict[int, rules.Position]] = {}
        for p in (await s.exec(select(AgendaPosition).where(AgendaPosition.meeting_id == meeting_id))).all():
            by_item.setdefault(p.agenda_item_id, {})[p.participant_id] = rules.Position(p.position)
        entitled = {p.id or 0 for p, _ in await _entitled(s, meeting_id)}
        chosen = rules.adoptable([i.id or 0 for i in items], by_item, entitled)
        if not chosen:
            raise Conflict("no pending item has a \"no objection\" from every member entitled to a position",
                           code="nothing_to_adopt")
        for item in items:
            if item.id in chosen:
                item.status, item.updated_at = "adopted", utcnow()
                s.add(item)
        if meeting.current_item_id in chosen:
            # The session moves on to the first item that still needs debate.
            following = next((i for i in items if i.id not in chosen and i.status == "pending"), None)
            meeting.current_item_id = following.id if following else None
            if following is not None:
                following.status = "current"
                s.add(following)
            s.add(meeting)
        await audit.record(s, "agenda.adopted_together", actor_id=actor.user_id, object_type="meeting",
                           object_id=meeting_id, meeting_id=meeting_id,
                           details={"items": chosen, "titles": [i.title for i in items if i.id in chosen]})
        out = await _out(s, meeting_id, True, member.participant.id or 0)
        return {**out, "adopted": chosen}


async def _entitled(s: AsyncSession, meeting_id: int) -> list[tuple[Participant, User]]:
    """The participants asked for a position: chair and members with a vote (as `state` allows)."""
    rows = (await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                         .where(Participant.meeting_id == meeting_id, Participant.may_vote == True,  # noqa: E712
                                col(Participant.role).in_([r.value for r in VOTING_ROLES]), taking_part())
                         .order_by(col(User.full_name), col(Participant.id)))).all()
    return list(rows)


async def _out(s: AsyncSession, meeting_id: int, staff: bool, participant_id: int) -> dict[str, Any]:
    items = (await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                          .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all()
    rows = (await s.exec(select(AgendaPosition, User).join(Participant, col(Participant.id) ==
                                                           col(AgendaPosition.participant_id))
                         .join(User, col(User.id) == col(Participant.user_id))
                         # A removed participant's positions stay stored but no longer weigh.
                         .where(AgendaPosition.meeting_id == meeting_id, taking_part())
                         .order_by(col(User.full_name)))).all()
    by_item: dict[int, dict[int, rules.Position]] = {}
    for p, _ in rows:
        by_item.setdefault(p.agenda_item_id, {})[p.participant_id] = rules.Position(p.position)
    entitled_rows = await _entitled(s, meeting_id)
    entitled = {p.id or 0 for p, _ in entitled_rows}
    adoptable = set(rules.adoptable([i.id or 0 for i in items if i.status in ("pending", "current")], by_item,
                                    entitled))
    out = []
    for item in items:
        mine = next((p for p, _ in rows if p.agenda_item_id == item.id and p.participant_id == participant_id), None)
        entry: dict[str, Any] = {
            "agenda_item_id": item.id, "title": item.title, "status": item.status,
            "mine": {"position": mine.position, "reason": mine.reason} if mine else None,
            "adoptable": item.id in adoptable,
        }
        if staff:
            entry["positions"] = [{"participant_id": p.participant_id, "full_name": u.full_name,
                                   "position": p.position, "reason": p.reason}
                                  for p, u in rows if p.agenda_item_id == item.id]
            silent = rules.silent(entitled, by_item.get(item.id or 0, {}))
            entry["not_answered"] = [{"participant_id": p.id, "full_name": u.full_name}
                                     for p, u in entitled_rows if p.id in silent]
        out.append(entry)
    return {"meeting_id": meeting_id, "items": out, "entitled": len(entitled)}
