"""Opinion rounds between meetings (phiếu lấy ý kiến): the secretariat sets the questions, the
deadline and the rule on a draft meeting of kind `opinion_round`; publishing the meeting opens the
round; each member asked (a chair or member who may vote, or their deputy) answers and signs a
written ballot; the round closes at its deadline (also after a restart: `close_due`) or earlier by
the staff, and its result is computed from the current ballots.

A ballot is rendered as a PDF and signed with the member's own key before anything is stored; a
failed signature stores nothing. Resubmitting keeps the earlier ballot (no longer current)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

import signing
from backend.config import Settings
from backend.db import Database
from backend.domain import opinions as rules
from backend.domain.meeting_states import STAFF, Action, Status
from backend.domain.rules import RuleError
from backend.exceptions import BadRequest, Conflict, InvalidState, NotFound
from backend.models import (
    Body,
    Document,
    Meeting,
    OpinionAnswer,
    OpinionBallot,
    OpinionDocumentComment,
    OpinionQuestion,
    OpinionReminder,
    OpinionRound,
    Participant,
    User,
    taking_part,
)
from backend.models.base import utcnow
from backend.services import access, audit, credentials, mail, notifications, signing_guard
from backend.services.context import Actor, Live
from backend.services.documents import may_read, named_readers
from backend.services.events import ROSTER_PUSH_INTERVAL_S, Coalescer, EventBus, NullBus, user_room
from backend.services.files import FileStore
from backend.services.records import sign_in_thread

MAX_QUESTIONS = 30
CLOSING_NOTICE_S = 7200
"""How long before its deadline a round tells those who have not answered that it closes soon."""


class Opinions:
    """The use cases, bound to the database, the file store, the settings and the live event bus
    (members hear that a round waits for them, the staff see answers arrive, everyone hears it close)."""

    def __init__(self, db: Database, files: FileStore, settings: Settings, live: Live | None = None) -> None:
        self.db, self.files, self.settings = db, files, settings
        self.bus: EventBus = live.bus if live else NullBus()
        self.progress: Coalescer | None = live.progress if live else None

    async def notify(self, event: str, payload: dict[str, Any], user_ids: set[int]) -> None:
        """After commit: one push to each person's own room (every device they have connected)."""
        for user_id in sorted(user_ids):
            await self.bus.publish(event, payload, room=user_room(user_id))

    async def published(self, meeting_id: int) -> None:
        """The round's meeting was published (the round is open): tell everyone asked, in the app and
        by e-mail when SMTP is configured."""
        async with self.db.read() as s:
            meeting = await s.get(Meeting, meeting_id)
            rnd = await _round(s, meeting_id)
            if meeting is None or rnd is None:
                return
            people = await _people(s, meeting_id)
            users = (await s.exec(select(User).where(col(User.id).in_(people["asked"])))).all()
        await self.notify("opinion_round.opened", {"meeting_id": meeting_id, "title": meeting.title,
                                                   "deadline": rnd.deadline.isoformat()}, people["asked"])
        local = rnd.deadline.astimezone(ZoneInfo(self.settings.signing_timezone))
        await mail.send(self.settings, [(u.full_name, u.email) for u in users if u.email],
                        f"[e-Cabinet] Xin ý kiến: {meeting.title}",
                        f"Kính gửi đồng chí,\n\nVăn phòng xin ý kiến của đồng chí về \"{meeting.title}\". "
                        f"Hạn cuối: {local:%H:%M} ngày {local:%d/%m/%Y}.\n\n"
                        "Vui lòng đăng nhập e-Cabinet để cho ý kiến và ký phiếu.\n")

    # --- the secretariat ------------------------------------------------------------------------

    async def configure(self, actor: Actor, meeting_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Questions, deadline, rule and reminders of a draft round (replaces what was set)."""
        async with self.db.write() as s:
            meeting, _ = await access.require_membership(s, actor, meeting_id, Action.CONFIGURE_ROUND)
            if meeting.kind != "opinion_round":
                raise BadRequest("this meeting is a session, not an opinion round", code="not_an_opinion_round")
            if data["deadline"] <= utcnow():
                raise BadRequest("the deadline must be in the future", code="deadline_passed")
            rnd = await _round(s, meeting_id)
            if rnd is None:
                rnd = OpinionRound(meeting_id=meeting_id, deadline=data["deadline"])
            rnd.deadline, rnd.rule = data["deadline"], rules.Rule(data.get("rule", rnd.rule)).value
            rnd.reminders = json.dumps(sorted(set(data.get("reminders_seconds", json.loads(rnd.reminders))),
                                              reverse=True))
            s.add(rnd)
            await s.flush()
            for old in (await s.exec(select(OpinionQuestion).where(OpinionQuestion.round_id == rnd.id))).all():
                await s.delete(old)
            assert rnd.id is not None
            for i, text in enumerate(data["questions"]):
                s.add(OpinionQuestion(round_id=rnd.id, position=i, text=text))
            await audit.record(s, "opinion_round.configured", actor_id=actor.user_id, object_type="opinion_round",
                               object_id=rnd.id, meeting_id=meeting_id,
                               details={"deadline": rnd.deadline.isoformat(), "rule": rnd.rule,
                                        "questions": len(data["questions"])})
            return await self._out(s, rnd, meeting, actor)

    async def close(self, actor: Actor | None, meeting_id: int) -> dict[str, Any]:
        """Close the round (by the staff, or by the clock when `actor` is None) and freeze the result."""
        async with self.db.write() as s:
            if actor is not None:
                meeting, _ = await access.require_membership(s, actor, meeting_id, Action.CLOSE_ROUND)
            else:
                found = await s.get(Meeting, meeting_id)
                if found is None:
                    raise NotFound(f"no meeting {meeting_id}")
                meeting = found
            rnd = await _round(s, meeting_id, lock=True)
            if rnd is None or rnd.status != rules.RoundStatus.OPEN.value:
                raise InvalidState("this round is not open", code="round_not_open")
            rnd.status, rnd.closed_at = rules.RoundStatus.CLOSED.value, utcnow()
            rnd.closed_by = actor.user_id if actor else None
            meeting.status, meeting.updated_at = Status.CLOSED.value, utcnow()
            s.add(rnd)
            s.add(meeting)
            result = await _result(s, rnd, meeting_id)
            await audit.record(s, "opinion_round.closed", actor_id=actor.user_id if actor else None,
                               object_type="opinion_round", object_id=rnd.id, meeting_id=meeting_id,
                               details={"by_deadline": actor is None,
                                        "passed": {q["id"]: q["outcome"]["passed"] for q in result}})
            out = await self._out(s, rnd, meeting, actor)
            people = await _people(s, meeting_id)
        await self.notify("opinion_round.closed", {"meeting_id": meeting_id, "by_deadline": actor is None},
                          people["asked"] | people["staff"])
        return out

    async def remind(self, actor: Actor, meeting_id: int) -> dict[str, Any]:
        """A reminder now, on demand, to every member asked who has not answered."""
        async with self.db.read() as s:
            await access.require_membership(s, actor, meeting_id, Action.REMIND_ROUND)
        sent = await self._remind(meeting_id, [f"manual:{uuid.uuid4().hex[:12]}"], actor.user_id)
        if sent is None:
            raise InvalidState("this round is not open", code="round_not_open")
        return sent

    async def remind_due(self) -> int:
        """Scheduled reminders whose time has come (each slot goes out once, whichever worker wins it;
        the schedule is stored, so a restart neither loses nor repeats one)."""
        now = utcnow()
        async with self.db.read() as s:
            rounds = (await s.exec(select(OpinionRound).where(
                OpinionRound.status == rules.RoundStatus.OPEN.value, col(OpinionRound.deadline) > now))).all()
            due = []
            for rnd in rounds:
                done = set((await s.exec(select(OpinionReminder.slot).where(
                    OpinionReminder.round_id == rnd.id))).all())
                # Slots that came due together (after a restart, say) make one reminder, not several.
                slots = [f"before:{offset}" for offset in json.loads(rnd.reminders)
                         if f"before:{offset}" not in done and now >= rnd.deadline - timedelta(seconds=int(offset))]
                if slots:
                    due.append((rnd.meeting_id, slots))
        sent = 0
        for meeting_id, slots in due:
            if await self._remind(meeting_id, slots, None) is not None:
                sent += 1
        await self.closing_notices()
        return sent

    async def closing_notices(self) -> int:
        """Once per round, CLOSING_NOTICE_S before its deadline: tell those who have not answered that it
        closes soon (not for a round sent out that close to its deadline: it was news then)."""
        now = utcnow()
        async with self.db.read() as s:
            rounds = (await s.exec(select(OpinionRound).where(
                OpinionRound.status == rules.RoundStatus.OPEN.value, col(OpinionRound.deadline) > now,
                col(OpinionRound.deadline) <= now + timedelta(seconds=CLOSING_NOTICE_S),
                col(OpinionRound.closing_notified_at).is_(None)))).all()
        told = 0
        for rnd in rounds:
            outbox = notifications.Outbox()
            async with self.db.write() as s:
                # The conditional update makes one worker win the round.
                won = await s.exec(update(OpinionRound).where(
                    col(OpinionRound.id) == rnd.id, col(OpinionRound.closing_notified_at).is_(None))
                    .values(closing_notified_at=now))
                meeting = await s.get(Meeting, rnd.meeting_id)
                late = rnd.opened_at is not None and rnd.opened_at >= rnd.deadline - timedelta(seconds=CLOSING_NOTICE_S)
                if not won.rowcount or meeting is None or late:
                    continue
                answered = set((await s.exec(select(OpinionBallot.participant_id).where(
                    OpinionBallot.round_id == rnd.id, OpinionBallot.current == True))).all())  # noqa: E712
                waiting: set[int] = set()
                for p, _ in await _asked(s, rnd.meeting_id):
                    if p.id not in answered:
                        waiting |= {p.user_id} | ({p.deputy_user_id} if p.deputy_user_id else set())
                await outbox.add(s, waiting, "round_closing", notifications.meeting_link(rnd.meeting_id),
                                 meeting=meeting.title, deadline=rnd.deadline.isoformat())
            await outbox.deliver(self.bus, self.settings, self.db)
            told += 1
        return told

    async def _remind(self, meeting_id: int, slots: list[str], actor_id: int | None) -> dict[str, Any] | None:
        """Record the slots (the unique index makes one worker win), then push and e-mail once."""
        outbox = notifications.Outbox()
        try:
            async with self.db.write() as s:
                rnd = await _round(s, meeting_id)
                meeting = await s.get(Meeting, meeting_id)
                if rnd is None or meeting is None or rnd.status != rules.RoundStatus.OPEN.value:
                    return None
                assert rnd.id is not None
                answered = {b for b in (await s.exec(select(OpinionBallot.participant_id).where(
                    OpinionBallot.round_id == rnd.id, OpinionBallot.current == True))).all()}  # noqa: E712
                waiting = [(p, u) for p, u in await _asked(s, meeting_id) if p.id not in answered]
                rows = [OpinionReminder(round_id=rnd.id, slot=slot, sent_by=actor_id, recipients=len(waiting))
                        for slot in slots]
                s.add_all(rows)
                await s.flush()
                await audit.record(s, "opinion_round.reminded", actor_id=actor_id, object_type="opinion_round",
                                   object_id=rnd.id, meeting_id=meeting_id,
                                   details={"slots": slots, "recipients": len(waiting)})
                deputies = {p.deputy_user_id for p, _ in waiting if p.deputy_user_id}
                deputy_users = (await s.exec(select(User).where(col(User.id).in_(deputies)))).all() if deputies else []
                title, deadline = meeting.title, rnd.deadline
                people = [u for _, u in waiting] + list(deputy_users)
                # In the app too (e-mailed below, so not by the outbox).
                await outbox.add(s, {u.id for u in people if u.id is not None}, "round_reminder",
                                 notifications.meeting_link(meeting_id), mail=False, meeting=title,
                                 deadline=deadline.isoformat())
        except IntegrityError:
            return None  # another worker sent this scheduled reminder
        await outbox.deliver(self.bus, self.settings, self.db)
        local = deadline.astimezone(ZoneInfo(self.settings.signing_timezone))
        await self.notify("opinion_round.reminder", {"meeting_id": meeting_id, "title": title,
                                                     "deadline": deadline.isoformat()},
                          {u.id for u in people if u.id is not None})
        emails = await mail.send(
            self.settings, [(u.full_name, u.email) for u in people if u.email],
            f"[e-Cabinet] Nhắc cho ý kiến: {title}",
            f"Kính gửi đồng chí,\n\nĐồng chí chưa gửi phiếu lấy ý kiến về \"{title}\". "
            f"Hạn cuối: {local:%H:%M} ngày {local:%d/%m/%Y}.\n\n"
            "Vui lòng đăng nhập e-Cabinet để cho ý kiến và ký phiếu.\n")
        async with self.db.write() as s:
            for stored in (await s.exec(select(OpinionReminder).where(
                    col(OpinionReminder.id).in_([r.id for r in rows])))).all():
                stored.emails = emails
                s.add(stored)
        return {"slots": slots, "recipients": len(waiting), "emails": emails}

    # --- the members ----------------------------------------------------------------------------

    async def submit(self, actor: Actor, meeting_id: int, answers: Sequence[Mapping[str, Any]], credential_id: int,
                     secret: str, comments: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """Answer every question, render the ballot, sign it with the member's key, store it; a wrong
        passphrase is slowed, counted and audited (signing_guard)."""
        return await signing_guard.guarded(
            self.db, self.settings, actor, credential_id, meeting_id=meeting_id,
            attempt=lambda: self._submit(actor, meeting_id, answers, credential_id, secret, comments))

    async def _submit(self, actor: Actor, meeting_id: int, answers: Sequence[Mapping[str, Any]], credential_id: int,
                      secret: str, comments: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """Answer every question, render the ballot, sign it with the member's key, store it.

        Rendering and signing (~0.1 s of CPU) happen outside any transaction, so ballots are signed side
        by side; the short write that stores one checks the round again (it may have closed meanwhile)."""
        async with self.db.read() as s:
            meeting, member = await access.require_membership(s, actor, meeting_id, Action.ANSWER_ROUND)
            if not member.participant.may_vote:
                raise Conflict("you are not among the members asked", code="not_asked")
            rnd = await _round(s, meeting_id)
            assert rnd is not None
            try:
                rules.may_submit(rules.RoundStatus(rnd.status), rnd.deadline, utcnow())
                checked = await _checked_answers(s, rnd, answers)
            except RuleError as exc:
                raise access.from_rule_error(exc) from exc
            noted = await _checked_comments(s, meeting_id, member, comments)
            cred = await credentials.load_own(s, actor, credential_id)
            user = await s.get(User, actor.user_id)
            body = await s.get(Body, meeting.body_id)
            assert user is not None and member.participant.id is not None
            deputy_for = None
            if member.deputy:
                owner = await s.get(User, member.participant.user_id)
                deputy_for = owner.full_name if owner else None
        pdf = await self._signed_ballot(body.name if body else "", meeting.title, user, checked, deputy_for, cred,
                                        secret, tuple((d.title, text) for d, text in noted))
        digest = await self.files.put(pdf)
        async with self.db.write() as s:
            rnd = await _open_round(s, meeting_id)
            previous = await _current_ballot(s, rnd, member.participant.id or 0)
            if previous is not None:
                previous.current = None
                s.add(previous)
                await s.flush()
            ballot = OpinionBallot(round_id=rnd.id or 0, participant_id=member.participant.id, user_id=actor.user_id,
                                   credential_id=cred.id or 0, pdf_sha256=digest)
            s.add(ballot)
            try:
                await s.flush()
            except IntegrityError as exc:
                raise Conflict("another submission of yours was stored at the same instant",
                               code="already_submitted") from exc
            assert ballot.id is not None
            for question, choice, text in checked:
                s.add(OpinionAnswer(ballot_id=ballot.id, question_id=question.id or 0, choice=choice.value, text=text))
            for document, text in noted:
                s.add(OpinionDocumentComment(ballot_id=ballot.id, document_id=document.id or 0, text=text))
            await audit.record(s, "opinion_ballot.submitted", actor_id=actor.user_id, object_type="opinion_ballot",
                               object_id=ballot.id, meeting_id=meeting_id,
                               details={"participant_id": member.participant.id, "pdf_sha256": digest,
                                        "replaces": previous.id if previous else None, "certificate": cred.fingerprint})
            out = await self._out(s, rnd, meeting, actor)
        await self._progress(meeting_id)
        return out

    async def withdraw(self, actor: Actor, meeting_id: int) -> dict[str, Any]:
        async with self.db.write() as s:
            meeting, member = await access.require_membership(s, actor, meeting_id, Action.ANSWER_ROUND)
            rnd = await _open_round(s, meeting_id)
            ballot = await _current_ballot(s, rnd, member.participant.id or 0)
            if ballot is None:
                raise NotFound("you have no ballot in this round", code="no_ballot")
            ballot.current, ballot.withdrawn_at = None, utcnow()
            s.add(ballot)
            await audit.record(s, "opinion_ballot.withdrawn", actor_id=actor.user_id, object_type="opinion_ballot",
                               object_id=ballot.id, meeting_id=meeting_id)
            out = await self._out(s, rnd, meeting, actor)
        await self._progress(meeting_id)
        return out

    async def _progress(self, meeting_id: int) -> None:
        """The staff's board: coalesced like the session's rosters (a burst of ballots makes one push a
        second, each with the current board), since a board is a row per member asked."""
        if self.progress is not None:
            self.progress.trigger(("opinion_round", meeting_id), lambda: self._push_progress(meeting_id),
                                  interval=ROSTER_PUSH_INTERVAL_S)
        else:
            await self._push_progress(meeting_id)

    async def _push_progress(self, meeting_id: int) -> None:
        async with self.db.read() as s:
            rnd = await _round(s, meeting_id)
            assert rnd is not None
            asked = await _asked(s, meeting_id)
            payload = {"meeting_id": meeting_id, "answered": await _answered_count(s, rnd), "asked": len(asked),
                       "board": await _board(s, rnd, asked)}
            people = await _people(s, meeting_id)
        await self.notify("opinion_round.progress", jsonable(payload), people["staff"])

    # --- reading --------------------------------------------------------------------------------

    async def get(self, actor: Actor, meeting_id: int) -> dict[str, Any]:
        async with self.db.read() as s:
            meeting, _ = await access.require_membership(s, actor, meeting_id, Action.VIEW)
            rnd = await _round(s, meeting_id)
            if rnd is None:
                raise NotFound("this meeting has no opinion round", code="no_round")
            return await self._out(s, rnd, meeting, actor)

    async def report(self, actor: Actor, meeting_id: int) -> bytes:
        """The aggregated report (Báo cáo tổng hợp ý kiến): counts and outcome per question, every other
        opinion quoted with its author, who answered (with their signed ballot) and who did not. The staff
        may have an interim one; everyone in the round gets it once the round is closed."""
        async with self.db.read() as s:
            meeting, member = await access.require_membership(s, actor, meeting_id, Action.VIEW)
            rnd = await _round(s, meeting_id)
            if rnd is None:
                raise NotFound("this meeting has no opinion round", code="no_round")
            closed = rnd.status == rules.RoundStatus.CLOSED.value
            if not closed and member.role not in STAFF:
                raise InvalidState("the report comes when the round closes", code="round_not_closed")
            doc = await _report_doc(s, rnd, meeting, self.settings)
        rendered = await asyncio.to_thread(signing.render_opinion_report, doc)
        return rendered.pdf

    async def ballot_pdf(self, actor: Actor, ballot_id: int) -> bytes:
        """A signed ballot: its author and the meeting's staff may read it."""
        async with self.db.read() as s:
            ballot = await s.get(OpinionBallot, ballot_id)
            rnd = await s.get(OpinionRound, ballot.round_id) if ballot else None
            if ballot is None or rnd is None:
                raise NotFound(f"no ballot {ballot_id}", code="unknown_ballot")
            _, member = await access.require_membership(
                s, actor, rnd.meeting_id, Action.VIEW, unseen=NotFound(f"no ballot {ballot_id}", code="unknown_ballot"))
            if member.role not in STAFF and member.participant.id != ballot.participant_id:
                raise NotFound(f"no ballot {ballot_id}", code="unknown_ballot")
        return await self.files.get(ballot.pdf_sha256)

    async def _out(self, s: AsyncSession, rnd: OpinionRound, meeting: Meeting, actor: Actor | None) -> dict[str, Any]:
        assert meeting.id is not None
        member = await access.membership(s, meeting.id, actor.user_id) if actor else None
        staff = actor is None or (member is not None and member.role in STAFF)
        questions = await _questions(s, rnd)
        out: dict[str, Any] = {
            "meeting_id": meeting.id, "status": rnd.status, "deadline": rnd.deadline, "rule": rnd.rule,
            "reminders_seconds": json.loads(rnd.reminders), "opened_at": rnd.opened_at, "closed_at": rnd.closed_at,
            "questions": [{"id": q.id, "position": q.position, "text": q.text} for q in questions],
            "asked": await _asked_count(s, meeting.id), "answered": await _answered_count(s, rnd), "mine": None,
            "board": None,
            "i_am_asked": member is not None and member.participant.may_vote,
            "reminders": None, "result": None,
        }
        if member is not None and member.participant.may_vote:
            out["mine"] = await _mine(s, rnd, member.participant.id or 0)
        if staff:
            out["board"] = await _board(s, rnd, await _asked(s, meeting.id))
            out["reminders"] = [{"slot": r.slot, "sent_at": r.sent_at, "recipients": r.recipients,
                                 "emails": r.emails} for r in (await s.exec(select(OpinionReminder).where(
                                     OpinionReminder.round_id == rnd.id).order_by(col(OpinionReminder.id)))).all()]
        if rnd.status == rules.RoundStatus.CLOSED.value or staff:
            out["result"] = await _result(s, rnd, meeting.id)
        return out

    async def _signed_ballot(self, body_name: str, round_title: str, user: User,
                             checked: list[tuple[OpinionQuestion, rules.Choice, str]], deputy_for: str | None,
                             cred: Any, secret: str, comments: tuple[tuple[str, str], ...] = ()) -> bytes:
        now = utcnow().astimezone(ZoneInfo(self.settings.signing_timezone))
        signatory = signing.Signatory("member", "", (user.title or "").upper(), user.full_name)
        doc = signing.OpinionBallotDoc(
            issuer=signing.Issuer(body_name.upper()), round_title=round_title,
            member_name=user.full_name, member_title=user.title or "", submitted_at=now,
            answers=tuple(signing.OpinionAnswerLine(q.text, rules.CHOICE_LABELS[c], t) for q, c, t in checked),
            signatory=signatory, deputy_for=deputy_for, comments=comments)
        rendered = await asyncio.to_thread(signing.render_opinion_ballot, doc)
        slot = rendered.slots[0]
        options = signing.SignOptions(field_name="member", page_index=slot.page_index, box=slot.box,
                                      appearance=signing.Appearance(user.full_name, user.title or ""),
                                      time_zone=self.settings.signing_timezone)
        return await sign_in_thread(cred, secret, rendered.pdf, options, credentials.dev_chain(self.settings))


async def open_round(s: AsyncSession, meeting: Meeting) -> None:
    """Called when the round's meeting is published: the round opens (checked in the same transaction)."""
    assert meeting.id is not None
    rnd = await _round(s, meeting.id)
    if rnd is None or not await _questions(s, rnd):
        raise InvalidState("set the questions and the deadline before sending the round", code="round_not_ready")
    if rnd.deadline <= utcnow():
        raise InvalidState("the deadline has passed: set a new one first", code="deadline_passed")
    if not await _asked(s, meeting.id):
        raise InvalidState("add the members to ask before sending the round", code="nobody_asked")
    rnd.status, rnd.opened_at = rules.RoundStatus.OPEN.value, utcnow()
    s.add(rnd)


async def close_due(opinions: Opinions) -> int:
    """Close every open round whose deadline has passed (each worker runs this; one wins each round).
    Persisted deadlines make this work after a restart too."""
    async with opinions.db.read() as s:
        due = (await s.exec(select(OpinionRound.meeting_id).where(
            OpinionRound.status == rules.RoundStatus.OPEN.value, col(OpinionRound.deadline) <= utcnow()))).all()
    closed = 0
    for meeting_id in due:
        try:
            await opinions.close(None, meeting_id)
            closed += 1
        except InvalidState:
            pass  # another worker closed it first
    return closed


def jsonable(value: Any) -> Any:
    """Datetimes as ISO strings, for a push (REST answers are serialised by their schema)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


async def _people(s: AsyncSession, meeting_id: int) -> dict[str, set[int]]:
    """User ids to notify: those asked (and their deputies), and the staff."""
    rows = (await s.exec(select(Participant).where(Participant.meeting_id == meeting_id, taking_part()))).all()
    asked = {p.user_id for p in rows if p.may_vote}
    asked |= {p.deputy_user_id for p in rows if p.may_vote and p.deputy_user_id}
    staff = {p.user_id for p in rows if p.role in {r.value for r in STAFF}}
    return {"asked": asked, "staff": staff}


async def _round(s: AsyncSession, meeting_id: int, *, lock: bool = False) -> OpinionRound | None:
    stmt = select(OpinionRound).where(OpinionRound.meeting_id == meeting_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await s.exec(stmt)).first()


async def _questions(s: AsyncSession, rnd: OpinionRound) -> list[OpinionQuestion]:
    return list((await s.exec(select(OpinionQuestion).where(OpinionQuestion.round_id == rnd.id)
                              .order_by(col(OpinionQuestion.position)))).all())


async def _asked(s: AsyncSession, meeting_id: int) -> list[tuple[Participant, User]]:
    rows = (await s.exec(select(Participant, User).join(User, col(User.id) == col(Participant.user_id))
                         .where(Participant.meeting_id == meeting_id, Participant.may_vote == True,  # noqa: E712
                                taking_part())
                         .order_by(col(User.full_name)))).all()
    return [(p, u) for p, u in rows]


async def _open_round(s: AsyncSession, meeting_id: int) -> OpinionRound:
    """The round, locked, if ballots may still be submitted or withdrawn now; else the rule's refusal."""
    rnd = await _round(s, meeting_id, lock=True)
    assert rnd is not None and rnd.id is not None
    try:
        rules.may_submit(rules.RoundStatus(rnd.status), rnd.deadline, utcnow())
    except RuleError as exc:
        raise access.from_rule_error(exc) from exc
    return rnd


async def _current_ballot(s: AsyncSession, rnd: OpinionRound, participant_id: int) -> OpinionBallot | None:
    """The ballot of this member that counts now, if any."""
    return (await s.exec(select(OpinionBallot).where(
        OpinionBallot.round_id == rnd.id, OpinionBallot.participant_id == participant_id,
        OpinionBallot.current == True))).first()  # noqa: E712


async def _asked_count(s: AsyncSession, meeting_id: int) -> int:
    return int((await s.exec(select(func.count()).select_from(Participant).where(
        Participant.meeting_id == meeting_id, Participant.may_vote == True, taking_part()))).one())  # noqa: E712


async def _answered_count(s: AsyncSession, rnd: OpinionRound) -> int:
    return int((await s.exec(select(func.count()).select_from(OpinionBallot).where(
        OpinionBallot.round_id == rnd.id, OpinionBallot.current == True))).one())  # noqa: E712


async def _checked_answers(s: AsyncSession, rnd: OpinionRound, answers: Sequence[Mapping[str, Any]]
                           ) -> list[tuple[OpinionQuestion, rules.Choice, str]]:
    questions = {q.id or 0: q for q in await _questions(s, rnd)}
    given = {int(a["question_id"]): a for a in answers}
    if len(given) != len(answers):
        raise BadRequest("each question is answered once", code="duplicate_answer")
    unknown = set(given) - set(questions)
    if unknown:
        raise BadRequest(f"no question {sorted(unknown)[0]} in this round", code="unknown_question")
    missing = [qid for qid in questions if qid not in given]
    if missing:
        raise BadRequest("answer every question", code="unanswered_question")
    out = []
    for qid, question in questions.items():
        a = given[qid]
        choice = rules.check_answer(a["choice"], a.get("text"))
        out.append((question, choice, (a.get("text") or "").strip()))
    return out


MAX_COMMENTS = 50


async def _checked_comments(s: AsyncSession, meeting_id: int, member: access.Membership,
                            comments: Sequence[Mapping[str, Any]]) -> list[tuple[Document, str]]:
    """Comments on the round's documents: one per document, each on a document of this round that the
    member may read, with its text."""
    if len(comments) > MAX_COMMENTS:
        raise BadRequest(f"at most {MAX_COMMENTS} document comments", code="too_many_comments")
    out: list[tuple[Document, str]] = []
    seen: set[int] = set()
    for comment in comments:
        document_id, text = int(comment["document_id"]), str(comment.get("text") or "").strip()
        if document_id in seen:
            raise BadRequest("one comment per document", code="duplicate_comment")
        seen.add(document_id)
        document = await s.get(Document, document_id)
        if (document is None or document.meeting_id != meeting_id or document.removed_at is not None
                or not may_read(document, member, await named_readers(s, document_id))):
            raise BadRequest(f"document {document_id} is not one of this round's documents you may read",
                             code="unknown_document")
        if not text:
            raise BadRequest("a comment needs its text", code="empty_comment")
        out.append((document, text))
    return out


async def _mine(s: AsyncSession, rnd: OpinionRound, participant_id: int) -> dict[str, Any] | None:
    ballot = await _current_ballot(s, rnd, participant_id)
    if ballot is None:
        return None
    answers = (await s.exec(select(OpinionAnswer).where(OpinionAnswer.ballot_id == ballot.id))).all()
    comments = (await s.exec(select(OpinionDocumentComment).where(OpinionDocumentComment.ballot_id == ballot.id)
                             .order_by(col(OpinionDocumentComment.id)))).all()
    return {"ballot_id": ballot.id, "submitted_at": ballot.submitted_at,
            "answers": [{"question_id": a.question_id, "choice": a.choice, "text": a.text} for a in answers],
            "comments": [{"document_id": c.document_id, "text": c.text} for c in comments]}


async def _board(s: AsyncSession, rnd: OpinionRound, asked: list[tuple[Participant, User]]) -> list[dict[str, Any]]:
    current = {b.participant_id: b for b in (await s.exec(select(OpinionBallot).where(
        OpinionBallot.round_id == rnd.id, OpinionBallot.current == True))).all()}  # noqa: E712
    return [{"participant_id": p.id, "full_name": u.full_name, "title": u.title,
             "answered": p.id in current, "ballot_id": current[p.id].id if p.id in current else None,
             "submitted_at": current[p.id].submitted_at if p.id in current else None} for p, u in asked]


async def round_of(s: AsyncSession, meeting_id: int) -> OpinionRound | None:
    return await _round(s, meeting_id)


async def written_results(s: AsyncSession, rnd: OpinionRound, meeting_id: int) -> tuple[signing.PollResult, ...]:
    """Each question's outcome in the shape the documents print (resolutions, the report)."""
    end = rnd.closed_at or utcnow()
    out = []
    for item in await _result(s, rnd, meeting_id):
        o = item["outcome"]
        counts = o["counts"]
        out.append(signing.PollResult(
            question=item["text"], options=tuple((rules.CHOICE_LABELS[c], counts[c.value]) for c in rules.Choice),
            rule=rules.RULE_LABELS[rules.Rule(rnd.rule)], entitled=o["asked"], present=o["answered"],
            voted=o["answered"], quorum_needed=o["threshold"], quorum_met=True, passed=o["passed"], secret=False,
            opened_at=rnd.opened_at or rnd.created_at, closed_at=end, written=True))
    return tuple(out)


async def _report_doc(s: AsyncSession, rnd: OpinionRound, meeting: Meeting, settings: Settings
                      ) -> signing.OpinionReportDoc:
    assert meeting.id is not None
    asked = await _asked(s, meeting.id)
    ballots = (await s.exec(select(OpinionBallot, User).join(User, col(User.id) == col(OpinionBallot.user_id))
                            .where(OpinionBallot.round_id == rnd.id, OpinionBallot.current == True)  # noqa: E712
                            .order_by(col(User.full_name)))).all()
    by_participant = {b.participant_id: (b, u) for b, u in ballots}
    owner_names = {p.id: u.full_name for p, u in asked}

    def author(ballot: OpinionBallot, signer: User) -> str:
        owner = owner_names.get(ballot.participant_id, signer.full_name)
        return signer.full_name if owner == signer.full_name else f"{signer.full_name} (thay {owner})"

    def ref(ballot: OpinionBallot) -> str:
        return f"số {ballot.id}, SHA-256 {ballot.pdf_sha256[:12]}"

    others = (await s.exec(select(OpinionAnswer).where(
        col(OpinionAnswer.ballot_id).in_([b.id for b, _ in ballots]), OpinionAnswer.text != ""))).all()
    by_ballot = {b.id: (b, u) for b, u in ballots}
    end = rnd.closed_at or utcnow()
    questions = []
    for q, result in zip(await _questions(s, rnd), await written_results(s, rnd, meeting.id), strict=True):
        quoted = tuple(signing.OtherOpinion(author(*by_ballot[a.ballot_id]), a.text, ref(by_ballot[a.ballot_id][0]))
                       for a in others if a.question_id == q.id)
        questions.append(signing.OpinionQuestionReport(result, quoted))
    commented = (await s.exec(select(OpinionDocumentComment, Document)
                              .join(Document, col(Document.id) == OpinionDocumentComment.document_id)
                              .where(col(OpinionDocumentComment.ballot_id).in_([b.id for b, _ in ballots]))
                              .order_by(col(Document.position), col(Document.id), col(OpinionDocumentComment.id)))
                 ).all()
    document_comments: dict[str, list[signing.OtherOpinion]] = {}
    for comment, document in commented:
        ballot, signer = by_ballot[comment.ballot_id]
        document_comments.setdefault(document.title, []).append(
            signing.OtherOpinion(author(ballot, signer), comment.text, ref(ballot)))
    body = await s.get(Body, meeting.body_id)
    return signing.OpinionReportDoc(
        issuer=signing.Issuer(body.name.upper() if body else ""), number="",
        issued_at=end.astimezone(ZoneInfo(settings.signing_timezone)), round_title=meeting.title,
        questions=tuple(questions),
        answered=tuple((author(b, u), ref(b)) for b, u in ballots),
        not_answered=tuple(u.full_name for p, u in asked if p.id not in by_participant),
        closed=rnd.status == rules.RoundStatus.CLOSED.value,
        document_comments=tuple((title, tuple(quoted)) for title, quoted in document_comments.items()))


async def _result(s: AsyncSession, rnd: OpinionRound, meeting_id: int) -> list[dict[str, Any]]:
    asked = len(await _asked(s, meeting_id))
    rows = (await s.exec(select(OpinionAnswer.question_id, OpinionAnswer.choice, func.count())
                         .join(OpinionBallot, col(OpinionBallot.id) == col(OpinionAnswer.ballot_id))
                         .where(OpinionBallot.round_id == rnd.id, OpinionBallot.current == True)  # noqa: E712
                         .group_by(col(OpinionAnswer.question_id), col(OpinionAnswer.choice)))).all()
    counts: dict[int, dict[str, int]] = {}
    for qid, choice, n in rows:
        counts.setdefault(qid, {})[choice] = int(n)
    out = []
    for q in await _questions(s, rnd):
        outcome = rules.decide(rules.Rule(rnd.rule), asked, counts.get(q.id or 0, {}))
        out.append({"id": q.id, "text": q.text,
                    "outcome": {"counts": outcome.counts, "asked": outcome.asked, "answered": outcome.answered,
                                "threshold": outcome.threshold, "passed": outcome.passed}})
    return out

