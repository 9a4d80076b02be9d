"""The one place where meeting permissions are checked: load the meeting, find the caller's role
in it, and ask the domain's state machine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.domain.meeting_states import Action, Role, Status, decide
from backend.domain.rules import Decision, Refusal, RuleError
from backend.exceptions import AppError, BadRequest, Forbidden, InvalidState, NotFound
from backend.models import Meeting, Participant, taking_part
from backend.services.context import Actor


def raise_for(decision: Decision) -> None:
    if decision.allowed:
        return
    raise error_for(decision.refusal or Refusal.FORBIDDEN, decision.reason)


def error_for(refusal: Refusal, reason: str) -> AppError:
    if refusal is Refusal.INVALID_STATE:
        return InvalidState(reason)
    if refusal is Refusal.INVALID:
        return BadRequest(reason, code="invalid")
    return Forbidden(reason)


def from_rule_error(exc: RuleError) -> AppError:
    return error_for(exc.refusal, exc.reason)


@dataclass(frozen=True)
class Membership:
    participant: Participant
    """The participant the actor is, or stands in for."""
    role: Role
    """That participant's role."""
    deputy: bool
    """True when the actor is the participant's named deputy."""


async def membership(s: AsyncSession, meeting_id: int, user_id: int) -> Membership | None:
    """The actor's own participation, else the participant they are the named deputy of."""
    own = (await s.exec(select(Participant).where(
        Participant.meeting_id == meeting_id, Participant.user_id == user_id, taking_part()))).first()
    if own is not None:
        return Membership(own, Role(own.role), False)
    stand_in = (await s.exec(select(Participant).where(
        Participant.meeting_id == meeting_id, Participant.deputy_user_id == user_id, taking_part()))).first()
    if stand_in is not None:
        return Membership(stand_in, Role(stand_in.role), True)
    return None


async def memberships(s: AsyncSession, meeting_id: int, user_ids: Iterable[int]) -> dict[int, Membership]:
    """`membership` of many users at once (one query; a batch of ballots or joins)."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = (await s.exec(select(Participant).where(
        Participant.meeting_id == meeting_id, taking_part(),
        or_(col(Participant.user_id).in_(wanted), col(Participant.deputy_user_id).in_(wanted)))
        .order_by(col(Participant.id)))).all()
    out: dict[int, Membership] = {}
    for p in rows:  # one's own participation first, then the first participant one stands in for
        if p.user_id in wanted:
            out[p.user_id] = Membership(p, Role(p.role), False)
    for p in rows:
        if p.deputy_user_id in wanted and p.deputy_user_id not in out:
            out[p.deputy_user_id] = Membership(p, Role(p.role), True)
    return out


def check(meeting: Meeting, member: Membership | None, action: Action, *,
          unseen: NotFound | None = None) -> Membership:
    """The decision of `require_membership` for a meeting and membership already loaded."""
    role, status = (member.role if member else None), Status(meeting.status)
    decision = decide(role, status, action)
    if not decision.allowed and not decide(role, status, Action.VIEW).allowed:
        raise unseen or NotFound(f"no meeting {meeting.id}")
    raise_for(decision)
    assert member is not None
    return member


async def require_membership(s: AsyncSession, actor: Actor, meeting_id: int, action: Action, *,
                             lock: bool | None = None, unseen: NotFound | None = None) -> tuple[Meeting, Membership]:
    """The meeting and the actor's membership, if the actor may do `action` now; else the matching error.
    Changes lock the meeting row (PostgreSQL), so concurrent changes of one meeting queue up.

    Someone who may not even see the meeting (not a participant, or a draft outside its staff) gets the
    answer of a meeting that does not exist, or `unseen` (the "no such poll/document/..." of the object
    they asked for): a 403 would tell them that it exists. Who may see it but not do `action` gets 403."""
    lock = action is not Action.VIEW if lock is None else lock
    meeting = await s.get(Meeting, meeting_id, with_for_update=lock)
    if meeting is None:
        raise unseen or NotFound(f"no meeting {meeting_id}")
    member = await membership(s, meeting_id, actor.user_id)
    return meeting, check(meeting, member, action, unseen=unseen)


async def require(s: AsyncSession, actor: Actor, meeting_id: int, action: Action) -> tuple[Meeting, Role]:
    """The meeting and the actor's role in it, if the actor may do `action` now; else the matching error."""
    meeting, member = await require_membership(s, actor, meeting_id, action)
    return meeting, member.role


def allowed_actions(role: Role | None, status: Status) -> list[str]:
    return [a.value for a in Action if decide(role, status, a).allowed]
