"""The live session: joining, the full state a tablet syncs to, presence, attendance and quorum,
and the chair moving through the agenda and the presenter's page (follow-the-chair).

Every change commits first and is then published to the meeting's room."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from backend.domain.meeting_states import STAFF, Action, Status
from backend.exceptions import AppError, BadRequest, Conflict
from backend.models import AgendaItem, Document, DocumentVersion, Meeting, Participant, User, taking_part
from backend.models.base import utcnow
from backend.services import access, attendance, audit, polls, speakers
from backend.services.access import Membership
from backend.services.context import Actor, Live
from backend.services.documents import document_room, readable
from backend.services.events import ROSTER_PUSH_INTERVAL_S, meeting_room, staff_room


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def agenda_out(item: AgendaItem) -> dict[str, Any]:
    return {"id": item.id, "position": item.position, "title": item.title, "presenter": item.presenter,
            "planned_minutes": item.planned_minutes, "status": item.status}


async def _agenda(s: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return list((await s.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)
                              .order_by(col(AgendaItem.position), col(AgendaItem.id)))).all())


def me_out(actor: Actor, member: Membership) -> dict[str, Any]:
    p = member.participant
    return {"user_id": actor.user_id, "participant_id": p.id, "role": member.role.value, "may_vote": p.may_vote,
            "deputy": member.deputy, "staff": member.role in STAFF}


async def participants_out(s: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    # Columns, not entities: every tablet syncs this list, and ORM objects cost more than the query.
    deputy = aliased(User)
    rows: Sequence[Any] = (await s.exec(Select(col(Participant.id), col(User.id), col(User.full_name), col(User.title),
                                        col(Participant.role), col(Participant.may_vote),
                                        col(Participant.deputy_user_id), col(deputy.full_name))
                         .join(User, col(User.id) == col(Participant.user_id))
                         .outerjoin(deputy, col(deputy.id) == col(Participant.deputy_user_id))
                         .where(Participant.meeting_id == meeting_id, taking_part())
                         .order_by(col(Participant.id)))).all()
    return [{"id": pid, "user_id": uid, "full_name": name, "title": title, "role": role, "may_vote": may_vote,
             "deputy_user_id": deputy_id, "deputy_full_name": deputy_name}
            for pid, uid, name, title, role, may_vote, deputy_id, deputy_name in rows]


async def state(live: Live, actor: Actor, meeting_id: int) -> dict[str, Any]:
    """Everything a tablet needs to show the session correctly (after a connect or a reconnect)."""
    async with live.db.read() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
        agenda = await _agenda(s, meeting_id)
        turns = await speakers.turns_out(s, meeting_id, meeting.current_item_id)
        poll_list = await polls.for_sync(s, meeting, member)
        # The lists of people (who takes part, who is present, who is online) are for the staff's
        # console; tablets show counts. At 2,000 members, sending each joining tablet the whole
        # roster made joins cost O(N) each and a join storm O(N²).
        staff = member.role in STAFF
        people = await participants_out(s, meeting_id) if staff else None
        present = await attendance.present(s, meeting_id) if staff else None
        q = await attendance.quorum(s, meeting)
    online = sorted(await live.presence.online(meeting_id))
    return {
        "meeting": {"id": meeting.id, "title": meeting.title, "status": meeting.status, "place": meeting.place,
                    "starts_at": iso(meeting.starts_at), "started_at": iso(meeting.started_at),
                    "quorum_rule": meeting.quorum_rule},
        "agenda": [agenda_out(i) for i in agenda],
        "presenter": presenter_out(meeting),
        "speakers": {"item_id": meeting.current_item_id, "turns": turns},
        "polls": poll_list,
        "participants": people,
        "attendance": present,
        "presence": {"online": online if staff else None, "count": len(online)},
        "quorum": q,
        "me": me_out(actor, member),
        "allowed_actions": access.allowed_actions(member.role, Status(meeting.status)),
        "server_time": iso(utcnow()),
    }


def presenter_out(meeting: Meeting) -> dict[str, Any]:
    return {"item_id": meeting.current_item_id, "document_id": meeting.presenter_document_id,
            "page": meeting.presenter_page}


async def join(live: Live, actor: Actor, meeting_id: int, sid: str) -> Membership:
    """A tablet enters the meeting's room. In a running session, joining checks the participant in."""
    async with live.db.read() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
    await live.presence.add(meeting_id, actor.user_id, sid)
    if meeting.status == Status.IN_PROGRESS.value:
        await attendance.check_in(live, actor, meeting_id, quiet=True)
    await publish_presence(live, meeting_id)
    return member


async def leave(live: Live, actor_user_id: int, meeting_id: int, sid: str) -> None:
    await live.presence.remove(meeting_id, actor_user_id, sid)
    await publish_presence(live, meeting_id)


async def disconnected(live: Live, sid: str) -> None:
    """A socket closed: it leaves every meeting it was online in, including one whose join was still on the
    way (the presence store remembers the socket as gone)."""
    for meeting_id in await live.presence.forget(sid):
        await publish_presence(live, meeting_id)


async def rooms_allowed(live: Live, actor: Actor, meeting_id: int, document_ids: Iterable[int]) -> set[str]:
    """Of the meeting's rooms (everyone's, the staff's) and the rooms of `document_ids`, those `actor` may
    be in now: after a change of their participation, the realtime layer takes their connections out of
    the others. The same checks as joining (`join`) and opening a document."""
    allowed: set[str] = set()
    async with live.db.read() as s:
        try:
            _, member = await access.require_membership(s, actor, meeting_id, Action.VIEW, lock=False)
        except AppError:
            member = None
        if member is not None:
            allowed.add(meeting_room(meeting_id))
            if member.role in STAFF:
                allowed.add(staff_room(meeting_id))
        for document_id in document_ids:
            try:
                await readable(s, actor, document_id)
            except AppError:
                continue
            allowed.add(document_room(document_id))
    return allowed


async def publish_presence(live: Live, meeting_id: int) -> None:
    """Coalesced: when hundreds of tablets join at once, the room hears a few updates, not hundreds."""
    live.progress.trigger(("presence", meeting_id), lambda: _push_presence(live, meeting_id),
                          interval=ROSTER_PUSH_INTERVAL_S)


async def _push_presence(live: Live, meeting_id: int) -> None:
    """Everyone hears how many are online; the staff, who see who, get the list."""
    online = sorted(await live.presence.online(meeting_id))
    await live.bus.publish("presence.changed", {"meeting_id": meeting_id, "count": len(online)},
                           room=meeting_room(meeting_id))
    await live.bus.publish("presence.roster", {"meeting_id": meeting_id, "online": online},
                           room=staff_room(meeting_id))


async def goto_item(live: Live, actor: Actor, meeting_id: int, item_id: int) -> dict[str, Any]:
    """The chair moves the session to an agenda item: the previous one is done, this one is current."""
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.RUN_AGENDA)
        agenda = await _agenda(s, meeting_id)
        target = next((i for i in agenda if i.id == item_id), None)
        if target is None:
            raise BadRequest(f"item {item_id} is not on this meeting's agenda", code="unknown_item")
        if await polls.any_open(s, meeting_id):
            raise Conflict("close the open poll before moving on", code="poll_open")
        await speakers.end_current(s, meeting_id, actor.user_id)
        for item in agenda:
            if item.status == "current" and item.id != item_id:
                item.status = "done"
                s.add(item)
        target.status = "current"
        meeting.current_item_id = item_id
        meeting.presenter_document_id = None
        meeting.presenter_page = 1
        s.add_all([target, meeting])
        await audit.record(s, "agenda.goto", actor_id=actor.user_id, object_type="agenda_item", object_id=item_id,
                           meeting_id=meeting_id)
        payload = {"meeting_id": meeting_id, "current_item_id": item_id, "agenda": [agenda_out(i) for i in agenda],
                   "presenter": presenter_out(meeting)}
        turns = await speakers.turns_out(s, meeting_id, item_id)
    await live.bus.publish("agenda.changed", payload, room=meeting_room(meeting_id))
    await live.bus.publish("speakers.changed", {"meeting_id": meeting_id, "item_id": item_id, "turns": turns},
                           room=meeting_room(meeting_id))
    return payload


async def broadcast_agenda(live: Live, meeting_id: int) -> None:
    """Everyone's agenda and the current item's queue again (after items were adopted together)."""
    async with live.db.read() as s:
        meeting = await s.get(Meeting, meeting_id)
        if meeting is None:
            return
        agenda = await _agenda(s, meeting_id)
        payload = {"meeting_id": meeting_id, "current_item_id": meeting.current_item_id,
                   "agenda": [agenda_out(i) for i in agenda], "presenter": presenter_out(meeting)}
        turns = await speakers.turns_out(s, meeting_id, meeting.current_item_id)
    await live.bus.publish("agenda.changed", payload, room=meeting_room(meeting_id))
    await live.bus.publish("speakers.changed", {"meeting_id": meeting_id, "item_id": meeting.current_item_id,
                                                "turns": turns}, room=meeting_room(meeting_id))


async def set_page(live: Live, actor: Actor, meeting_id: int, page: int, document_id: int | None) -> dict[str, Any]:
    """The presenter's document and page, which following tablets show."""
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.PRESENT)
        if document_id is not None:
            document = await s.get(Document, document_id)
            if document is None or document.meeting_id != meeting_id or document.removed_at is not None:
                raise BadRequest(f"document {document_id} is not one of this meeting's", code="unknown_document")
            if document.current_version and not 1 <= page <= await _page_count(s, document):
                raise BadRequest(f"page {page} does not exist in document {document_id}", code="unknown_page")
        meeting.presenter_page = page
        meeting.presenter_document_id = document_id
        s.add(meeting)
        payload = {"meeting_id": meeting_id, **presenter_out(meeting)}
    await live.bus.publish("presenter.changed", payload, room=meeting_room(meeting_id))
    return payload


async def _page_count(s: AsyncSession, document: Document) -> int:
    version = (await s.exec(select(DocumentVersion.page_count).where(
        DocumentVersion.document_id == document.id, DocumentVersion.number == document.current_version))).first()
    return int(version or 0)


async def on_transition(live: Live, meeting_id: int, status: str) -> None:
    """After a meeting changes state (REST), tell its room."""
    await live.bus.publish("meeting.changed", {"meeting_id": meeting_id, "status": status},
                           room=meeting_room(meeting_id))
    if live.bridge is not None and status != Status.IN_PROGRESS.value:
        await live.bridge.meeting_closed(meeting_id)


