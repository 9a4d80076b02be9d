"""Voting: create, open, cast, close, and the result computed from the stored ballots.

A secret ballot is durable when acknowledged, yet nothing at rest links it to its voter. The voter's
transaction writes that they voted (PollVoter), the audit entry (no choice, no receipt) and the
ballot sealed with a key the database never holds (SealedBallot, services/ballot_seal.py): a copy of
the files, the WAL or a backup taken while the poll is open shows who voted and ciphertexts of one
length. The close opens them all in memory, counts them and commits the result (told at once); then,
in one transaction, writes the choices (SecretBallot) in one random order and the receipts
(BallotReceipt) in another, with random ids, deletes the sealed rows, then empties SQLite's WAL or
vacuums PostgreSQL's dead tuples. The plain choices thus exist only as
one batch with one commit and one xmin: no order, offset or transaction id tells whose each is, and
no row pairs a receipt with a choice (a receipt proves that a ballot was counted, not how)."""

from __future__ import annotations

import json
import logging
import random
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert as sql_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from backend.db import Database
from backend.domain import voting
from backend.domain.meeting_states import STAFF, Action
from backend.domain.rules import RuleError
from backend.exceptions import AppError, BadRequest, Conflict, Forbidden, InvalidState, NotFound
from backend.models import (
    AgendaItem,
    Attendance,
    Ballot,
    BallotReceipt,
    Meeting,
    Participant,
    Poll,
    PollVoter,
    SealedBallot,
    SecretBallot,
    User,
    taking_part,
)
from backend.models.base import utcnow
from backend.services import access, attendance, audit
from backend.services.access import Membership
from backend.services.ballot_seal import BallotSeal, BallotSealError
from backend.services.context import Actor, Live
from backend.services.events import meeting_room, room_interval, staff_room

log = logging.getLogger("ecabinet.polls")
MAX_TIME_LIMIT = 24 * 3600
UNSEAL_AFTER_DELIVERY_S = 2.0
"""The longest a secret close's second step waits for the result to leave this worker's sockets."""
_RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed without doubt


def new_receipt() -> str:
    raw = "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _options(poll: Poll) -> list[voting.Option]:
    return [voting.Option(**o) for o in json.loads(poll.options)]


async def _entitled(s: AsyncSession, meeting_id: int) -> int:
    return int((await s.exec(select(func.count()).select_from(Participant).where(
        Participant.meeting_id == meeting_id, Participant.may_vote == True, taking_part()))).one())  # noqa: E712


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
    """The per-voter list a poll publishes: who chose what (named), or every receipt, without choices (secret)."""
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
        if cached is not None:
            return cached
        if not (poll.secret and await _sealed_left(s, poll_id)):
            return _keep(live, poll_id, await _lists(s, poll))
    # The result is told but the receipts are not written yet (the close is finishing them, or its
    # worker died before): finish here (whoever comes second finds it done).
    await _unseal(live, poll_id)
    async with live.db.read() as s:
        return _keep(live, poll_id, await _lists(s, await _load(s, poll_id)))


def _keep(live: Live, poll_id: int, lists: dict[str, Any]) -> dict[str, Any]:
    live.closed_lists[poll_id] = lists
    while len(live.closed_lists) > _CLOSED_LISTS_KEPT:
        live.closed_lists.popitem(last=False)
    return lists


async def _sealed_left(s: AsyncSession, poll_id: int) -> bool:
    return (await s.exec(select(SealedBallot.id).where(SealedBallot.poll_id == poll_id).limit(1))).first() is not None


async def _lists(s: AsyncSession, poll: Poll) -> dict[str, Any]:
    if poll.secret:
        # No choice beside the receipt: a voter can see their ballot counted but cannot show anyone
        # how they voted (a coercer asking for the receipt learns only that they voted).
        receipts = (await s.exec(select(BallotReceipt.receipt).where(
            BallotReceipt.poll_id == poll.id).order_by(col(BallotReceipt.receipt)))).all()
        return {"poll_id": poll.id, "status": poll.status, "votes": None,
                "receipts": [{"receipt": r} for r in receipts]}
    return {"poll_id": poll.id, "status": poll.status, "votes": await _named_votes(s, poll), "receipts": None}


async def for_sync(s: AsyncSession, meeting: Meeting, member: Membership) -> list[dict[str, Any]]:
    """Polls of the meeting with the caller's own ballot (drafts only for the staff)."""
    return (await for_sync_many(s, meeting, [member], drafts=member.role in STAFF))(member)


async def for_sync_many(s: AsyncSession, meeting: Meeting, members: Sequence[Membership], *,
                        drafts: bool) -> Callable[[Membership], list[dict[str, Any]]]:
    """`for_sync` of many members (a batch of joining tablets): each poll's public part is read once,
    everyone's own ballots with one query per kind of poll. `drafts`: some of them are staff."""
    stmt = select(Poll).where(Poll.meeting_id == meeting.id).order_by(col(Poll.id))
    if not drafts:
        stmt = stmt.where(Poll.status != voting.PollStatus.DRAFT.value)
    found = list((await s.exec(stmt)).all())
    shown = [(poll, await public(s, poll)) for poll in found]
    ids = {m.participant.id for m in members}
    named = [p.id for p in found if not p.secret]
    secret = [p.id for p in found if p.secret]
    choices: dict[tuple[int, int], str] = {}
    if named:
        choices = {(poll_id, pid): choice for poll_id, pid, choice in (await s.exec(
            select(Ballot.poll_id, Ballot.participant_id, Ballot.choice).where(
                col(Ballot.poll_id).in_(named), col(Ballot.participant_id).in_(ids)))).all()}
    voted: set[tuple[int, int]] = set()
    if secret:
        voted = {(poll_id, pid) for poll_id, pid in (await s.exec(
            select(PollVoter.poll_id, PollVoter.participant_id).where(
                col(PollVoter.poll_id).in_(secret), col(PollVoter.participant_id).in_(ids)))).all()}

    def of(member: Membership) -> list[dict[str, Any]]:
        staff = member.role in STAFF
        out = []
        for poll, shared in shown:
            if poll.status == voting.PollStatus.DRAFT.value and not staff:
                continue
            assert poll.id is not None and member.participant.id is not None
            key = (poll.id, member.participant.id)
            mine = ({"voted": key in voted, "choice": None} if poll.secret
                    else {"voted": key in choices, "choice": choices.get(key)})
            out.append({**shared, "mine": mine})
        return out

    return of


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
        if poll.secret:
            poll.seal_key_id = _seal_for(live, poll).key_id
        poll.status, poll.opened_at = voting.PollStatus.OPEN.value, now
        poll.closes_at = now + timedelta(seconds=poll.time_limit_seconds) if poll.time_limit_seconds else None
        s.add(poll)
        await audit.record(s, "poll.opened", actor_id=actor.user_id, object_type="poll", object_id=poll.id,
                           meeting_id=poll.meeting_id)
        out = await public(s, poll)
    await live.bus.publish("poll.changed", out, room=meeting_room(poll.meeting_id))
    return out


@dataclass(frozen=True)
class _CastRequest:
    actor: Actor
    choice: str
    receipt: str | None


async def cast(live: Live, actor: Actor, poll_id: int, choice: str, receipt: str | None = None) -> dict[str, Any]:
    """One ballot per entitled participant (or their deputy). Ballots arriving together are written
    together, in one transaction with their audit entries (group commit); the answer comes after that
    commit. The database's unique constraints make a second, simultaneous ballot fail rather than
    count twice."""
    result = await live.batches.submit(("cast", poll_id), lambda batch: _cast_batch(live, poll_id, batch),
                                       _CastRequest(actor, choice, receipt))
    meeting_id = result.pop("meeting_id")
    live.progress.trigger(("poll", poll_id), lambda: publish_progress(live, poll_id, meeting_id))
    return result


async def _cast_batch(live: Live, poll_id: int, batch: Sequence[_CastRequest]) -> list[dict[str, Any] | Exception]:
    try:
        return await _cast_together(live, poll_id, batch)
    except (IntegrityError, OperationalError, DBAPIError) as exc:
        if len(batch) == 1 and isinstance(exc, IntegrityError):
            return [Conflict("you have already voted in this poll", code="already_voted")]
        # A ballot of the batch raced with another worker's (the same participant on two tablets):
        # nothing was written; each goes alone, as before group commit.
        log.info("a batch of %d ballots went one by one: %s", len(batch), type(exc).__name__)
    out: list[dict[str, Any] | Exception] = []
    for r in batch:
        try:
            out.append((await _cast_together(live, poll_id, [r]))[0])
        except IntegrityError:
            out.append(Conflict("you have already voted in this poll", code="already_voted"))
        except Exception as exc:
            out.append(exc)
    return out


async def _cast_together(live: Live, poll_id: int, batch: Sequence[_CastRequest]) -> list[dict[str, Any] | Exception]:
    """Every ballot of the batch checked as one alone would be (its own refusal, the others go on),
    with one query per kind of fact for them all; then written with their audit entries."""
    out: list[dict[str, Any] | Exception] = []
    async with live.db.write() as s:
        try:
            # Shared lock: ballots go in side by side, and closing waits for them (PostgreSQL).
            poll = await _load(s, poll_id, share=True)
        except NotFound as exc:
            return [exc] * len(batch)
        assert poll.id is not None
        meeting = await s.get(Meeting, poll.meeting_id)
        assert meeting is not None
        members = await access.memberships(s, poll.meeting_id, (r.actor.user_id for r in batch))
        ids = [m.participant.id for m in members.values()]
        present = set((await s.exec(select(Attendance.participant_id).where(
            Attendance.meeting_id == poll.meeting_id, col(Attendance.checked_out_at).is_(None),
            col(Attendance.participant_id).in_(ids)))).all())
        voters: dict[int, Any] = {}  # participant id -> their Ballot (named) or PollVoter id (secret)
        if poll.secret:
            voters = {pid: vid for vid, pid in (await s.exec(select(PollVoter.id, PollVoter.participant_id).where(
                PollVoter.poll_id == poll.id, col(PollVoter.participant_id).in_(ids)))).all()}
        else:
            voters = {b.participant_id: b for b in (await s.exec(select(Ballot).where(
                Ballot.poll_id == poll.id, col(Ballot.participant_id).in_(ids)))).all()}
        options = _options(poll)
        seal = None
        entries: list[audit.Entry] = []
        fresh: list[Any] = []
        sealed: list[SealedBallot] = []
        now = utcnow()
        for r in batch:
            try:
                member = access.check(meeting, members.get(r.actor.user_id), Action.VOTE, unseen=_missing(poll_id))
                if poll.status != voting.PollStatus.OPEN.value or (poll.closes_at and poll.closes_at <= now):
                    raise InvalidState("this poll is not open", code="poll_closed")
                if not member.participant.may_vote:
                    raise Forbidden("you are not entitled to vote in this meeting", code="not_entitled")
                participant_id = member.participant.id
                assert participant_id is not None
                # Only members present vote: the minutes never count more ballots than people in the room.
                if participant_id not in present:
                    raise Forbidden("check in to the meeting before voting", code="not_present")
                try:
                    voting.check_choice(options, r.choice)
                except RuleError as exc:
                    raise BadRequest(exc.reason, code="unknown_option") from exc
                if poll.secret:
                    seal = seal or _seal_for(live, poll)
                    done = await _cast_secret(s, poll, seal, voters, participant_id, r, fresh, sealed)
                else:
                    done = _cast_named(poll, voters, participant_id, r, fresh, now)
            except AppError as exc:
                out.append(exc)
                continue
            entries.append(audit.Entry("vote.cast", r.actor.user_id, "poll", poll.id, poll.meeting_id,
                                       {"participant_id": participant_id, "changed": done["changed"],
                                        **({} if poll.secret else {"choice": r.choice})}))
            out.append({"poll_id": poll.id, "meeting_id": poll.meeting_id, "choice": r.choice, **done})
        # The sealed ballots of a batch go in an order of their own (not the voters' order).
        random.SystemRandom().shuffle(sealed)
        s.add_all(fresh)
        s.add_all(sealed)
        await s.flush()
        await audit.record_many(s, entries)
    return out


def _cast_named(poll: Poll, voters: dict[int, Any], participant_id: int, r: _CastRequest, fresh: list[Any],
                now: datetime) -> dict[str, Any]:
    ballot: Ballot | None = voters.get(participant_id)
    if ballot is None:
        assert poll.id is not None
        ballot = Ballot(poll_id=poll.id, participant_id=participant_id, choice=r.choice, cast_by=r.actor.user_id,
                        cast_at=now)
        voters[participant_id] = ballot  # a second ballot of the same batch finds it
        fresh.append(ballot)
        return {"changed": False}
    if not poll.allow_change:
        raise Conflict("you have already voted in this poll", code="already_voted")
    ballot.choice, ballot.cast_by, ballot.cast_at = r.choice, r.actor.user_id, now
    fresh.append(ballot)
    return {"changed": True}


def _seal_for(live: Live, poll: Poll) -> BallotSeal:
    """The key of this worker, if it is the one the poll's ballots are sealed with: a worker with
    another key refuses ballots rather than acknowledge ones nobody could count."""
    if live.seal is None:
        raise InvalidState("this server has no key to seal secret ballots", code="ballot_key_missing")
    if poll.seal_key_id is not None and poll.seal_key_id != live.seal.key_id:
        raise InvalidState("this server's ballot key is not the one this poll was opened with",
                           code="ballot_key_mismatch")
    return live.seal


async def _cast_secret(s: AsyncSession, poll: Poll, seal: BallotSeal, voters: dict[int, Any], participant_id: int,
                       r: _CastRequest, fresh: list[Any], sealed: list[SealedBallot]) -> dict[str, Any]:
    assert poll.id is not None
    if participant_id not in voters:
        voters[participant_id] = None  # a second ballot of the same batch finds it
        fresh.append(PollVoter(poll_id=poll.id, participant_id=participant_id, cast_by=r.actor.user_id))
        code = new_receipt()
        sealed.append(SealedBallot(id=seal.tag(poll.id, code), poll_id=poll.id,
                                   sealed=seal.seal(poll.id, code, r.choice)))
        return {"changed": False, "receipt": code}
    if not poll.allow_change:
        raise Conflict("you have already voted in this poll", code="already_voted")
    if not r.receipt:
        raise BadRequest("changing a secret vote needs the receipt your tablet received", code="receipt_required")
    code = r.receipt.strip().upper()
    tag = seal.tag(poll.id, code)
    ballot = next((b for b in sealed if b.id == tag), None) or (await s.exec(select(SealedBallot).where(
        SealedBallot.poll_id == poll.id, SealedBallot.id == tag))).first()
    if ballot is None:
        raise BadRequest("this receipt does not belong to a ballot of this poll", code="unknown_receipt")
    ballot.sealed = seal.seal(poll.id, code, r.choice)
    if ballot not in sealed:
        fresh.append(ballot)
    return {"changed": True, "receipt": code}


async def publish_progress(live: Live, poll_id: int, meeting_id: int) -> None:
    async with live.db.read() as s:
        poll = await s.get(Poll, poll_id)
        if poll is None or poll.status != voting.PollStatus.OPEN.value:
            return
        payload: dict[str, Any] = {"poll_id": poll_id, "meeting_id": meeting_id, "voted": await _voted(s, poll),
                   "entitled": await _entitled(s, meeting_id)}
        # The entitled bound the room's size: a big assembly hears progress less often.
        live.progress.pace(("poll", poll_id), room_interval(live.progress.interval, payload["entitled"]))
        if poll.show_interim:
            payload["counts"] = {o.key: 0 for o in _options(poll)} | await _counts(s, poll)
    await live.bus.publish("poll.progress", payload, room=meeting_room(meeting_id))


async def close(live: Live, actor: Actor | None, poll_id: int) -> dict[str, Any]:
    """Close (by the chair, or by the clock when `actor` is None) and freeze the result.

    A secret poll closes in two transactions. The first counts the ballots opened in memory and
    commits the closed poll, its result and the audit entry: a few rows, whatever the number of
    ballots, and the result is told as soon as it is durable. The second (`_unseal`) writes the
    choices and the receipts and deletes the sealed rows: it adds nothing to the result, and the
    sealed rows it leaves behind if the worker dies in between say no more than they did while the
    poll was open; whoever next needs the receipts, or the housekeeping sweep, finishes it."""
    opened: list[tuple[str, str]] = []
    async with live.db.write() as s:
        poll = await _load(s, poll_id, lock=True)
        if actor is not None:
            await access.require_membership(s, actor, poll.meeting_id, Action.RUN_POLLS, unseen=_missing(poll_id))
        if poll.status != voting.PollStatus.OPEN.value:
            raise InvalidState(f"the poll is {poll.status}", code="poll_not_open")
        counts = await _counts(s, poll)
        if poll.secret:
            opened = await _open_sealed(s, poll, _seal_for(live, poll))
            for _, choice in opened:
                counts[choice] = counts.get(choice, 0) + 1
        meeting = await s.get(Meeting, poll.meeting_id)
        assert meeting is not None
        q = await attendance.quorum(s, meeting, also_present=await _voters_gone(s, poll))
        result = voting.tally(_options(poll), counts, rule=voting.Majority(poll.majority),
                              entitled=q["entitled"], present=q["present"], quorum_required=poll.quorum_required,
                              quorum_needed=q["needed"])
        poll.status, poll.closed_at = voting.PollStatus.CLOSED.value, utcnow()
        poll.result = json.dumps({**asdict(result), "quorum_needed": q["needed"]}, ensure_ascii=False)
        s.add(poll)
        await audit.record(s, "poll.closed", actor_id=actor.user_id if actor else None, object_type="poll",
                           object_id=poll.id, meeting_id=poll.meeting_id,
                           details={"counts": result.counts, "passed": result.passed, "by_clock": actor is None})
        out = await public(s, poll)
    live.progress.cancel(("poll", poll_id))
    await live.bus.publish("poll.closed", out, room=meeting_room(poll.meeting_id))
    if poll.secret:
        # The second step waits until this worker's sockets have taken the result: at 2,000 tablets its
        # writes (4,000 rows, 2,000 deleted and wiped) competed with the fan-out and made the result late.
        await live.bus.delivered(within=UNSEAL_AFTER_DELIVERY_S)
        try:
            await _unseal(live, poll_id, opened)
        except Exception:  # the result stands and is told; the receipts' list or the sweep finishes this
            log.exception("poll %s: closed, its ballots not yet unsealed", poll_id)
    return out


async def _open_sealed(s: AsyncSession, poll: Poll, seal: BallotSeal) -> list[tuple[str, str]]:
    """(receipt, choice) of every sealed ballot of the poll, in memory only."""
    assert poll.id is not None
    sealed = (await s.exec(select(SealedBallot.sealed).where(SealedBallot.poll_id == poll.id))).all()
    try:
        return seal.unseal_many(poll.id, sealed)
    except BallotSealError as exc:
        raise InvalidState("this poll's ballots are sealed with another key than this server's",
                           code="ballot_key_mismatch") from exc


async def _unseal(live: Live, poll_id: int, opened: list[tuple[str, str]] | None = None) -> bool:
    """A closed secret poll's sealed ballots become anonymous choices and, apart, receipts: each list
    in its own random order, fresh random ids, in one transaction (one commit, one xmin for all),
    then the deleted rows are wiped from the files. `opened`: the close's own reading of them (the
    poll is closed, so they are still all of them); None: read and open them again (a close that
    did not finish). Idempotent: False when another worker or request did it first."""
    async with live.db.write() as s:
        poll = await _load(s, poll_id, lock=True)
        if not poll.secret or poll.status != voting.PollStatus.CLOSED.value:
            return False
        assert poll.id is not None
        left = await _sealed_left(s, poll.id)
        if opened is None or (opened and not left):
            if not left:
                return False
            opened = await _open_sealed(s, poll, _seal_for(live, poll))
        # Ballots cast before sealing existed (migration 0011) are rewritten too, so none keeps its place.
        choices = [c for _, c in opened] + list((await s.exec(select(SecretBallot.choice).where(
            SecretBallot.poll_id == poll.id))).all())
        receipts = [r for r, _ in opened]
        rng = random.SystemRandom()
        rng.shuffle(choices)
        rng.shuffle(receipts)
        await s.exec(sql_delete(SealedBallot).where(col(SealedBallot.poll_id) == poll.id))
        await s.exec(sql_delete(SecretBallot).where(col(SecretBallot.poll_id) == poll.id))
        # Rows, not ORM objects, each list in one statement: at 2,000 ballots, building 4,000 objects
        # took most of the close.
        conn = await s.connection()
        if choices:
            await conn.execute(sql_insert(SecretBallot.__table__),  # type: ignore[attr-defined]
                               [{"id": uuid.uuid4().hex, "poll_id": poll.id, "choice": c} for c in choices])
        if receipts:
            await conn.execute(sql_insert(BallotReceipt.__table__),  # type: ignore[attr-defined]
                               [{"id": uuid.uuid4().hex, "poll_id": poll.id, "receipt": r} for r in receipts])
    live.closed_lists.pop(poll_id, None)
    await live.db.forget_deleted(["sealed_ballots", "secret_ballots"])
    return True


async def unseal_left(live: Live, *, closed_before: timedelta = timedelta(seconds=10)) -> int:
    """Finish the closes that committed their result but not the unsealing (the worker died in
    between). Only polls closed a while ago: a close in progress finishes its own."""
    async with live.db.read() as s:
        left = (await s.exec(select(Poll.id).where(
            Poll.secret == True, Poll.status == voting.PollStatus.CLOSED.value,  # noqa: E712
            col(Poll.closed_at) <= utcnow() - closed_before,
            col(Poll.id).in_(select(SealedBallot.poll_id))))).all()
    done = 0
    for poll_id in left:
        assert poll_id is not None
        try:
            done += await _unseal(live, poll_id)
        except InvalidState as exc:  # another key: this worker cannot open them; one with the key will
            log.warning("poll %s: its sealed ballots stay sealed: %s", poll_id, exc.message)
    return done


async def _voters_gone(s: AsyncSession, poll: Poll) -> int:
    """Entitled voters of this poll no longer checked in: they were present when they voted (casting
    requires it), so the result counts them present and never shows more ballots than people."""
    table = PollVoter if poll.secret else Ballot
    here = select(Attendance.participant_id).where(Attendance.meeting_id == poll.meeting_id,
                                                   col(Attendance.checked_out_at).is_(None))
    return int((await s.exec(select(func.count()).select_from(table)
                             .join(Participant, col(Participant.id) == col(table.participant_id))
                             .where(table.poll_id == poll.id, Participant.may_vote == True,  # noqa: E712
                                    col(table.participant_id).not_in(here)))).one())


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
        except InvalidState as exc:
            if exc.code != "poll_not_open":  # not "another worker closed it first": say why it stays open
                log.warning("poll %s is due but cannot close: %s", poll_id, exc.message)
    return closed


def _missing(poll_id: int) -> NotFound:
    return NotFound(f"no poll {poll_id}", code="unknown_poll")
