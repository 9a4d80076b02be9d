"""The one place where meeting permissions are checked: load the meeting, find the caller's role
in it, and ask the domain's state machine."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.domain.meeting_states import Action, Role, Status, decide
from backend.domain.rules import Decision, Refusal, RuleError
from backend.exceptions import AppError, BadRequest, Forbidden, InvalidState, NotFound
from backend.models import Meeting, Participant
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


async def role_in(s: AsyncSession, meeting_id: int, user_id: int) -> Role | None:
    role = (await s.exec(select(Participant.role).where(
        Participant.meeting_id == meeting_id, Participant.user_id == user_id))).first()
    return Role(role) if role else None


async def require(s: AsyncSession, actor: Actor, meeting_id: int, action: Action) -> tuple[Meeting, Role]:
    """The meeting and the actor's role in it, if the actor may do `action` now; else the matching error."""
    # Changes lock the meeting row (PostgreSQL), so concurrent edits of one meeting queue up.
    meeting = await s.get(Meeting, meeting_id, with_for_update=action is not Action.VIEW)
    if meeting is None:
        raise NotFound(f"no meeting {meeting_id}")
    role = await role_in(s, meeting_id, actor.user_id)
    raise_for(decide(role, Status(meeting.status), action))
    assert role is not None
    return meeting, role


def allowed_actions(role: Role | None, status: Status) -> list[str]:
    return [a.value for a in Action if decide(role, status, a).allowed]
