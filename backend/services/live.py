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
from backend.exceptions import AppError, BadRequest, Conflict, NotFound
from backend.models import AgendaItem, Document, DocumentVersion, Meeting, Participant, User, taking_part
from backend.models.base import utcnow
from backend.services import access, attendance, audit, polls, speakers
from backend.services.access import Membership
from backend.services.context import Actor, Live
from backend.services.documents import document_room, readable
from backend.services.events import ROSTER_PUSH_INTERVAL_S, meeting_room, room_interval, staff_room


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
    """Everything a tablet needs to show the session correctly (after a connect or a reconnect).

    The tablets asking together (a join storm, a reconnect after a network blip) are answered from one
    read: what all see (agenda, speakers, polls and their counts, quorum, presence) is derived once
    for the batch, each one's own part (role, own ballots) with one query for all. A batch starts
    after its requests arrived, so no answer is older than its request."""
    out: dict[str, Any] = await live.batches.submit(
        ("state", meeting_id), lambda batch: _states(live, meeting_id, batch), actor)
    return out


async def _states(live: Live, meeting_id: int, actors: Sequence[Actor]) -> list[dict[str, Any] | Exception]:
    out: list[dict[str, Any] | Exception] = []
    async with live.db.read() as s:
        meeting = await s.get(Meeting, meeting_id)
        if meeting is None:
            return [NotFound(f"no meeting {meeting_id}")] * len(actors)
        members = await access.memberships(s, meeting_id, (a.user_id for a in actors))
        allowed: dict[int, Membership] = {}
        for actor in actors:
            try:
                allowed[actor.user_id] = access.check(meeting, members.get(actor.user_id), Action.VIEW)
            except AppError as exc:
                out.append(exc)
                continue
            out.append({})
        if not allowed:
            return out
        agenda = [agenda_out(i) for i in await _agenda(s, meeting_id)]
        turns = await speakers.turns_out(s, meeting_id, meeting.current_item_id)
        staff_in = any(m.role in STAFF for m in allowed.values())
        poll_list = await polls.for_sync_many(s, meeting, list(allowed.values()), drafts=staff_in)
        # The lists of people (who takes part, who is present, who is online) are for the staff's
        # console; tablets show counts. At 2,000 members, sending each joining tablet the whole
        # roster made joins cost O(N) each and a join storm O(N²).
        people = await participants_out(s, meeting_id) if staff_in else None
        present = await attendance.present(s, meeting_id) if staff_in else None
        q = await attendance.quorum(s, meeting)
    online = sorted(await live.presence.online(meeting_id))
    status = Status(meeting.status)
    shared = {
        "meeting": {"id": meeting.id, "title": meeting.title, "status": meeting.status, "place": meeting.place,
                    "starts_at": iso(meeting.starts_at), "started_at": iso(meeting.started_at),
                    "quorum_rule": meeting.quorum_rule},
        "agenda": agenda,
        "presenter": presenter_out(meeting),
        "speakers": {"item_id": meeting.current_item_id, "turns": turns},
        "quorum": q,
        "server_time": iso(utcnow()),
    }
    actions = {role: access.allowed_actions(role, status) for role in {m.role for m in allowed.values()}}
    for i, actor in enumerate(actors):
        if isinstance(out[i], Exception):
            continue
        member = allowed[actor.user_id]
        staff = member.role in STAFF
        out[i] = {
            **shared,
            "polls": poll_list(member),
            "participants": people if staff else None,
            "attendance": present if staff else None,
            "presence": {"online": online if staff else None, "count": len(online)},
            "me": me_out(actor, member),
            "allowed_actions": actions[member.role],
        }
    return out


def presenter_out(meeting: Meeting) -> dict[str, Any]:
    return {"item_id": meeting.current_item_id, "document_id": meeting.presenter_document_id,
            "page": meeting.presenter_page}


async def join(live: Live, actor: Actor, meeting_id: int, sid: str) -> Membership:
    """A tablet enters the meeting's room. In a running session, joining checks the participant in.
    Joins arriving together are checked with one read and checked in with one write (group commit)."""
    member: Membership = await live.batches.submit(
        ("join", meeting_id), lambda batch: _joins(live, meeting_id, batch), (actor, sid))
    return member


async def _joins(live: Live, meeting_id: int,
                 batch: Sequence[tuple[Actor, str]]) -> list[Membership | Exception]:
    out: list[Membership | Exception] = []
    async with live.db.read() as s:
        meeting = await s.get(Meeting, meeting_id)
        if meeting is None:
            return [NotFound(f"no meeting {meeting_id}")] * len(batch)
        members = await access.memberships(s, meeting_id, (a.user_id for a, _ in batch))
        for actor, _ in batch:
            try:
                out.append(access.check(meeting, members.get(actor.user_id), Action.VIEW))
            except AppError as exc:
                out.append(exc)
        in_progress = meeting.status == Status.IN_PROGRESS.value
        absent: set[int] = set()
        if in_progress:
            absent = await attendance.absent(s, meeting_id, [m.participant.id for m in out
                                                             if isinstance(m, Membership)])
    for (actor, sid), member in zip(batch, out, strict=True):
        if isinstance(member, Membership):
            await live.presence.add(meeting_id, actor.user_id, sid)
    if absent:
        # Only those not checked in yet make a write: a reconnect storm reads.
        who = [(actor, m) for (actor, _), m in zip(batch, out, strict=True)
               if isinstance(m, Membership) and m.participant.id in absent]
        refused = await attendance.check_in_many(live, meeting_id, [actor for actor, _ in who])
        for i, (actor, _) in enumerate(batch):
            if actor.user_id in refused:
                out[i] = refused[actor.user_id]
    await publish_presence(live, meeting_id)
    return out


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
    live.progress.pace(("presence", meeting_id), room_interval(ROSTER_PUSH_INTERVAL_S, len(online)))
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
    """After a meeting changes state (REST), tell its room, with the quorum as it is now (at the start, with
    every tablet already in the room checked in), so no screen shows a count the others do not."""
    if status == Status.IN_PROGRESS.value:
        q = await attendance.check_in_connected(live, meeting_id, await live.presence.online(meeting_id))
    else:
        async with live.db.read() as s:
            meeting = await s.get(Meeting, meeting_id)
            q = await attendance.quorum(s, meeting) if meeting is not None else {}
    await live.bus.publish("meeting.changed", {"meeting_id": meeting_id, "status": status, "quorum": q},
                           room=meeting_room(meeting_id))
    if live.bridge is not None and status != Status.IN_PROGRESS.value:
        await live.bridge.meeting_closed(meeting_id)


