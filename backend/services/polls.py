"""Voting: create, open, cast, close, and the result computed from the stored ballots.

Secret polls keep the fact of voting (PollVoter) apart from the anonymous ballot (SecretBallot,
found again only by its receipt code, which only the voter's device holds). At close the ballots of
a secret poll are rewritten in random order in one transaction, so not even the storage order or
the database's transaction ids link a ballot to the moment, and so to the person, that cast it."""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from backend.db import Database
from backend.domain import voting
from backend.domain.meeting_states import STAFF, Action
from backend.domain.rules import RuleError
from backend.exceptions import BadRequest, Conflict, Forbidden, InvalidState, NotFound
from backend.models import AgendaItem, Ballot, Meeting, Participant, Poll, PollVoter, SecretBallot, User
from backend.models.base import utcnow
from backend.services import access, attendance, audit
from backend.services.access import Membership
from backend.services.context import Actor, Live
from backend.services.events import meeting_room, staff_room

MAX_TIME_LIMIT = 24 * 3600
_RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed without doubt


def new_receipt() -> str:
    raw = "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _options(poll: Poll) -> list[voting.Option]:
    return [voting.Option(**o) for o in json.loads(poll.options)]


async def _entitled(s: AsyncSession, meeting_id: int) -> int:
    return int((await s.exec(select(func.count()).select_from(Participant).where(
        Participant.meeting_id == meeting_id, Participant.may_vote == True))).one())  # noqa: E712


async def _voted(s: AsyncSession, poll: Poll) -> int:
    table = PollVoter if poll.secret else Ballot
    return int((await s.exec(select(func.count()).select_from(table).where(
        table.poll_id == poll.id))).one())


async def _counts(s: AsyncSession, poll: Poll) -> dict[str, int]:
    table = SecretBallot if poll.secret else Ballot
    rows = (await s.exec(select(table.choice, func.count()).where(
        table.poll_id == poll.id).group_by(table.choice))).all()
    return {choice: int(n) for choice, n in rows}


async def _named_votes(s: AsyncSession, poll: Poll) -> list[dict[str, Any]]:
    # Columns, not entities: thousands of ORM objects per request cost more than the query.
    rows: Sequence[Any] = (await s.exec(Select(col(Participant.id), col(User.full_name), col(Ballot.choice),
                                        col(Ballot.cast_by), col(Participant.user_id))
                         .join(Participant, col(Participant.id) == col(Ballot.participant_id))
                         .join(User, col(User.id) == col(Participant.user_id))
                         .where(Ballot.poll_id == poll.id).order_by(col(User.full_name)))).all()
    return [{"participant_id": pid, "full_name": name, "choice": choice, "by_deputy": cast_by != user_id}
            for pid, name, choice, cast_by, user_id in rows]


async def public(s: AsyncSession, poll: Poll) -> dict[str, Any]:
    """What everyone in the meeting may see of a poll now (never who chose what in a secret poll).

    The per-voter lists (named votes, secret receipts) are not in here: at 2,000 members they weigh
    ~200 KB, and sending them with every result to every tablet would make the result late. A
    tablet asks for them with `ballots()` when it shows them."""
    out: dict[str, Any] = {
        "id": poll.id, "meeting_id": poll.meeting_id, "agenda_item_id": poll.agenda_item_id,
        "question": poll.question, "options": [asdict(o) for o in _options(poll)], "secret": poll.secret,
        "majority": poll.majority, "quorum_required": poll.quorum_required, "allow_change": poll.allow_change,
        "show_interim": poll.show_interim, "time_limit_seconds": poll.time_limit_seconds, "status": poll.status,
        "opened_at": poll.opened_at.isoformat() if poll.opened_at else None,
        "closes_at": poll.closes_at.isoformat() if poll.closes_at else None,
        "closed_at": poll.closed_at.isoformat() if poll.closed_at else None,
        "voted": await _voted(s, poll), "entitled": await _entitled(s, poll.meeting_id),
        "counts": None, "result": None, "ballots_published": _ballots_published(poll),
    }
    if poll.status == voting.PollStatus.CLOSED.value and poll.result:
        out["result"] = json.loads(poll.result)
        out["counts"] = out["result"]["counts"]
    elif poll.status == voting.PollStatus.OPEN.value and poll.show_interim:
        out["counts"] = {o.key: 0 for o in _options(poll)} | await _counts(s, poll)
    return out


def _ballots_published(poll: Poll) -> bool:
    """Named votes once closed (or while open when the poll shows interim results); receipts once closed."""
    if poll.status == voting.PollStatus.CLOSED.value:
        return True
    return poll.status == voting.PollStatus.OPEN.value and poll.show_interim and not poll.secret


# A closed poll's lists never change: each worker keeps the last few (Live.closed_lists), so that a
# room of tablets checking their receipts at once costs one query, not one per tablet.
_CLOSED_LISTS_KEPT = 16


async def ballots(live: Live, actor: Actor, poll_id: int) -> dict[str, Any]:
    """The per-voter list a poll publishes: who chose what (named), or every (receipt, choice) (secret)."""
    async with live.db.read() as s:
        poll = await _load(s, poll_id)
        _, member = await access.require_membership(s, actor, poll.meeting_id, Action.VIEW, unseen=_missing(poll_id))
        if poll.status == voting.PollStatus.DRAFT.value and member.role not in STAFF:
            raise _missing(poll_id)
        if not _ballots_published(poll):
            raise InvalidState("this poll publishes its ballots when it closes", code="ballots_not_published")
        if poll.status != voting.PollStatus.CLOSED.value:
            return await _lists(s, poll)
        cached = live.closed_lists.get(poll_id)
        if cached is None:
            cached = live.closed_lists[poll_id] = await _lists(s, poll)
            while len(live.closed_lists) > _CLOSED_LISTS_KEPT:
                live.closed_lists.popitem(last=False)
        return cached


async def _lists(s: AsyncSession, poll: Poll) -> dict[str, Any]:
    if poll.secret:
        receipts = (await s.exec(select(SecretBallot.receipt, SecretBallot.choice).where(
            SecretBallot.poll_id == poll.id).order_by(col(SecretBallot.receipt)))).all()
        return {"poll_id": poll.id, "status": poll.status, "votes": None,
                "receipts": [{"receipt": r, "choice": c} for r, c in receipts]}
    return {"poll_id": poll.id, "status": poll.status, "votes": await _named_votes(s, poll), "receipts": None}


async def _mine(s: AsyncSession, poll: Poll, member: Membership) -> dict[str, Any]:
    if poll.secret:
        voted = (await s.exec(select(PollVoter.id).where(PollVoter.poll_id == poll.id, PollVoter.participant_id ==
                                                         member.participant.id))).first() is not None
        return {"voted": voted, "choice": None}
    ballot = (await s.exec(select(Ballot).where(Ballot.poll_id == poll.id,
                                                Ballot.participant_id == member.participant.id))).first()
    return {"voted": ballot is not None, "choice": ballot.choice if ballot else None}


async def for_sync(s: AsyncSession, meeting: Meeting, member: Membership) -> list[dict[str, Any]]:
    """Polls of the meeting with the caller's own ballot (drafts only for the staff)."""
    stmt = select(Poll).where(Poll.meeting_id == meeting.id).order_by(col(Poll.id))
    if member.role not in STAFF:
        stmt = stmt.where(Poll.status != voting.PollStatus.DRAFT.value)
    out = []
    for poll in (await s.exec(stmt)).all():
        out.append({**await public(s, poll), "mine": await _mine(s, poll, member)})
    return out


async def listing(db: Database, actor: Actor, meeting_id: int) -> list[dict[str, Any]]:
    """The meeting's polls as REST shows them (drafts only for the staff), e.g. to draft a resolution."""
    async with db.read() as s:
        meeting, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
        return await for_sync(s, meeting, member)


async def any_open(s: AsyncSession, meeting_id: int) -> bool:
    return (await s.exec(select(Poll.id).where(Poll.meeting_id == meeting_id,
                                               Poll.status == voting.PollStatus.OPEN.value))).first() is not None


async def _load(s: AsyncSession, poll_id: int, *, share: bool = False, lock: bool = False) -> Poll:
    stmt = select(Poll).where(Poll.id == poll_id)
    if lock:
        stmt = stmt.with_for_update()
    elif share:
        stmt = stmt.with_for_update(read=True)
    poll = (await s.exec(stmt)).first()
    if poll is None:
        raise _missing(poll_id)
    return poll


async def create(live: Live, actor: Actor, meeting_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
    async with live.db.write() as s:
        meeting, _ = await access.require_membership(s, actor, meeting_id, Action.PREPARE_POLLS)
        item_id = data.get("agenda_item_id") or meeting.current_item_id
        if item_id is not None:
            item = await s.get(AgendaItem, item_id)
            if item is None or item.meeting_id != meeting_id:
                raise BadRequest(f"item {item_id} is not on this meeting's agenda", code="unknown_item")
        limit = data.get("time_limit_seconds")
        if limit is not None and not 10 <= limit <= MAX_TIME_LIMIT:
            raise BadRequest(f"a time limit is 10 to {MAX_TIME_LIMIT} seconds", code="invalid")
        try:
            options = voting.build_options(data.get("options"))
            majority = voting.Majority(data.get("majority", voting.Majority.CAST.value))
        except RuleError as exc:
            raise access.from_rule_error(exc) from exc
        poll = Poll(meeting_id=meeting_id, agenda_item_id=item_id, question=data["question"],
                    options=json.dumps([asdict(o) for o in options], ensure_ascii=False),
                    secret=bool(data.get("secret", False)), majority=majority.value,
                    quorum_required=bool(data.get("quorum_required", True)),
                    allow_change=bool(data.get("allow_change", False)),
                    show_interim=bool(data.get("show_interim", False)) and not data.get("secret", False),
                    time_limit_seconds=limit, created_by=actor.user_id)
        s.add(poll)
        await s.flush()
        await audit.record(s, "poll.created", actor_id=actor.user_id, object_type="poll", object_id=poll.id,
                           meeting_id=meeting_id, details={"question": poll.question, "secret": poll.secret})
        out = await public(s, poll)
    await live.bus.publish("poll.changed", out, room=staff_room(meeting_id))
    return out


async def open_poll(live: Live, actor: Actor, poll_id: int) -> dict[str, Any]:
    async with live.db.write() as s:
        poll = await _load(s, poll_id, lock=True)
        await access.require_membership(s, actor, poll.meeting_id, Action.RUN_POLLS, unseen=_missing(poll_id))
        if poll.status != voting.PollStatus.DRAFT.value:
            raise InvalidState(f"the poll is {poll.status}", code="poll_not_draft")
        if await any_open(s, poll.meeting_id):
            raise Conflict("another poll is open in this meeting", code="poll_open")
        now = utcnow()
        poll.status, poll.opened_at = voting.PollStatus.OPEN.value, now
        poll.closes_at = now + timedelta(seconds=poll.time_limit_seconds) if poll.time_limit_seconds else None
        s.add(poll)
        await audit.record(s, "poll.opened", actor_id=actor.user_id, object_type="poll", object_id=poll.id,
                           meeting_id=poll.meeting_id)
        out = await public(s, poll)
    await live.bus.publish("poll.changed", out, room=meeting_room(poll.meeting_id))
    return out


async def cast(live: Live, actor: Actor, poll_id: int, choice: str, receipt: str | None = None) -> dict[str, Any]:
    """One ballot per entitled participant (or their deputy). The database's unique constraints make a
    second, simultaneous ballot fail rather than count twice."""
    try:
        result = await _cast(live, actor, poll_id, choice, receipt)
    except IntegrityError as exc:
        # A simultaneous ballot of the same participant won the race.
        raise Conflict("you have already voted in this poll", code="already_voted") from exc
    meeting_id = result.pop("meeting_id")
    live.progress.trigger(("poll", poll_id), lambda: publish_progress(live, poll_id, meeting_id))
    return result


async def _cast(live: Live, actor: Actor, poll_id: int, choice: str, receipt: str | None) -> dict[str, Any]:
    async with live.db.write() as s:
        # Shared lock: ballots go in side by side, and closing waits for them (PostgreSQL).
        poll = await _load(s, poll_id, share=True)
        _, member = await access.require_membership(s, actor, poll.meeting_id, Action.VOTE, lock=False,
                                                    unseen=_missing(poll_id))
        if poll.status != voting.PollStatus.OPEN.value or (poll.closes_at and poll.closes_at <= utcnow()):
            raise InvalidState("this poll is not open", code="poll_closed")
        if not member.participant.may_vote:
            raise Forbidden("you are not entitled to vote in this meeting", code="not_entitled")
        try:
            voting.check_choice(_options(poll), choice)
        except RuleError as exc:
            raise BadRequest(exc.reason, code="unknown_option") from exc
        participant_id = member.participant.id
        assert participant_id is not None
        if poll.secret:
            out = await _cast_secret(s, poll, participant_id, actor.user_id, choice, receipt)
        else:
            out = await _cast_named(s, poll, participant_id, actor.user_id, choice)
        await audit.record(s, "vote.cast", actor_id=actor.user_id, object_type="poll", object_id=poll.id,
                           meeting_id=poll.meeting_id,
                           details={"participant_id": participant_id, "changed": out["changed"],
                                    **({} if poll.secret else {"choice": choice})})
        return {"poll_id": poll.id, "meeting_id": poll.meeting_id, "choice": choice, **out}


async def _cast_named(s: AsyncSession, poll: Poll, participant_id: int, user_id: int, choice: str) -> dict[str, Any]:
    ballot = (await s.exec(select(Ballot).where(Ballot.poll_id == poll.id,
                                                Ballot.participant_id == participant_id))).first()
    if ballot is None:
        assert poll.id is not None
        s.add(Ballot(poll_id=poll.id, participant_id=participant_id, choice=choice, cast_by=user_id))
        await s.flush()
        return {"changed": False}
    if not poll.allow_change:
        raise Conflict("you have already voted in this poll", code="already_voted")
    ballot.choice, ballot.cast_by, ballot.cast_at = choice, user_id, utcnow()
    s.add(ballot)
    return {"changed": True}


async def _cast_secret(s: AsyncSession, poll: Poll, participant_id: int, user_id: int, choice: str,
                       receipt: str | None) -> dict[str, Any]:
    voted = (await s.exec(select(PollVoter.id).where(PollVoter.poll_id == poll.id,
                                                     PollVoter.participant_id == participant_id))).first()
    if voted is None:
        assert poll.id is not None
        s.add(PollVoter(poll_id=poll.id, participant_id=participant_id, cast_by=user_id))
        code = new_receipt()
        s.add(SecretBallot(id=uuid.uuid4().hex, poll_id=poll.id, receipt=code, choice=choice))
        await s.flush()
        return {"changed": False, "receipt": code}
    if not poll.allow_change:
        raise Conflict("you have already voted in this poll", code="already_voted")
    if not receipt:
        raise BadRequest("changing a secret vote needs the receipt your tablet received", code="receipt_required")
    ballot = (await s.exec(select(SecretBallot).where(SecretBallot.poll_id == poll.id,
                                                      SecretBallot.receipt == receipt.strip().upper()))).first()
    if ballot is None:
        raise BadRequest("this receipt does not belong to a ballot of this poll", code="unknown_receipt")
    ballot.choice = choice
    s.add(ballot)
    return {"changed": True, "receipt": ballot.receipt}


async def publish_progress(live: Live, poll_id: int, meeting_id: int) -> None:
    async with live.db.read() as s:
        poll = await s.get(Poll, poll_id)
        if poll is None or poll.status != voting.PollStatus.OPEN.value:
            return
        payload: dict[str, Any] = {"poll_id": poll_id, "meeting_id": meeting_id, "voted": await _voted(s, poll),
                   "entitled": await _entitled(s, meeting_id)}
        if poll.show_interim:
            payload["counts"] = {o.key: 0 for o in _options(poll)} | await _counts(s, poll)
    await live.bus.publish("poll.progress", payload, room=meeting_room(meeting_id))


async def close(live: Live, actor: Actor | None, poll_id: int) -> dict[str, Any]:
    """Close (by the chair, or by the clock when `actor` is None) and freeze the result."""
    async with live.db.write() as s:
        poll = await _load(s, poll_id, lock=True)
        if actor is not None:
            await access.require_membership(s, actor, poll.meeting_id, Action.RUN_POLLS, unseen=_missing(poll_id))
        if poll.status != voting.PollStatus.OPEN.value:
            raise InvalidState(f"the poll is {poll.status}", code="poll_not_open")
        meeting = await s.get(Meeting, poll.meeting_id)
        assert meeting is not None
        q = await attendance.quorum(s, meeting)
        result = voting.tally(_options(poll), await _counts(s, poll), rule=voting.Majority(poll.majority),
                              entitled=q["entitled"], present=q["present"], quorum_required=poll.quorum_required,
                              quorum_needed=q["needed"])
        poll.status, poll.closed_at = voting.PollStatus.CLOSED.value, utcnow()
        poll.result = json.dumps({**asdict(result), "quorum_needed": q["needed"]}, ensure_ascii=False)
        s.add(poll)
        if poll.secret:
            await _reshuffle(s, poll)
        await audit.record(s, "poll.closed", actor_id=actor.user_id if actor else None, object_type="poll",
                           object_id=poll.id, meeting_id=poll.meeting_id,
                           details={"counts": result.counts, "passed": result.passed, "by_clock": actor is None})
        out = await public(s, poll)
    await live.bus.publish("poll.closed", out, room=meeting_room(poll.meeting_id))
    return out


async def _reshuffle(s: AsyncSession, poll: Poll) -> None:
    ballots = [(b.receipt, b.choice) for b in (await s.exec(select(SecretBallot).where(
        SecretBallot.poll_id == poll.id))).all()]
    random.SystemRandom().shuffle(ballots)
    await s.exec(sql_delete(SecretBallot).where(col(SecretBallot.poll_id) == poll.id))
    assert poll.id is not None
    s.add_all([SecretBallot(id=uuid.uuid4().hex, poll_id=poll.id, receipt=r, choice=c) for r, c in ballots])
    await s.flush()


async def close_due(live: Live) -> int:
    """Close every open poll whose time is up (each worker runs this; only one wins each poll)."""
    async with live.db.read() as s:
        due = (await s.exec(select(Poll.id).where(Poll.status == voting.PollStatus.OPEN.value,
                                                  col(Poll.closes_at).is_not(None),
                                                  col(Poll.closes_at) <= utcnow()))).all()
    closed = 0
    for poll_id in due:
        try:
            assert poll_id is not None
            await close(live, None, poll_id)
            closed += 1
        except InvalidState:
            pass  # another worker closed it first
    return closed


def _missing(poll_id: int) -> NotFound:
    return NotFound(f"no poll {poll_id}", code="unknown_poll")
