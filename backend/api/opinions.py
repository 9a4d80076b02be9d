"""Opinion rounds between meetings: setting one up, answering with a signed ballot, the board, closing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints
from starlette.responses import Response

from backend.api.routing import Call, Permission, api
from backend.api.schemas import Id, Input
from backend.domain.meeting_states import Action
from backend.services import live, positions
from backend.services.files import FileStore
from backend.services.opinions import MAX_QUESTIONS, Opinions

ROUND = "/api/meetings/{meeting_id:int}/opinion-round"
POSITIONS = "/api/meetings/{meeting_id:int}/positions"
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RoundConfig(Input):
    deadline: AwareDatetime = Field(description="when the round closes (with its time zone)")
    rule: Literal["majority_asked", "majority_answered", "two_thirds_asked"] = "majority_asked"
    reminders_seconds: Annotated[list[Annotated[int, Field(ge=60, le=30 * 86400)]], Field(max_length=5)] = Field(
        default=[86400, 7200], description="reminders this long before the deadline")
    questions: Annotated[list[Question], Field(min_length=1, max_length=MAX_QUESTIONS)]


class Answer(Input):
    question_id: Id
    choice: Literal["agree", "disagree", "other"]
    text: Annotated[str, Field(max_length=5000)] | None = None


class DocumentComment(Input):
    document_id: Id
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class BallotIn(Input):
    answers: Annotated[list[Answer], Field(min_length=1, max_length=MAX_QUESTIONS)]
    comments: Annotated[list[DocumentComment], Field(max_length=50)] = Field(
        default=[], description="comments on the round's documents, signed with the answers")
    credential_id: Id
    secret: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        description="the PKCS#12 passphrase or the token's PIN; never stored")


class PositionIn(Input):
    agenda_item_id: Id
    position: Literal["no_objection", "objection", "wish_to_speak"]
    reason: Annotated[str, Field(max_length=5000)] | None = None


def _opinions(call: Call) -> Opinions:
    return Opinions(call.db, FileStore.for_settings(call.settings), call.settings, call.request.app.state.live)


@api.route("PUT", ROUND, summary="Set the questions, deadline and rule of a draft opinion round",
           permission=Permission.meeting(Action.CONFIGURE_ROUND), tag="opinions", body=RoundConfig,
           response=dict[str, Any])
async def configure_round(call: Call) -> dict[str, Any]:
    return await _opinions(call).configure(call.user, call.path["meeting_id"], call.body.model_dump())


@api.route("GET", ROUND, summary="The round: questions, deadline, my ballot; for the staff the board and counts",
           permission=Permission.meeting(Action.VIEW), tag="opinions", response=dict[str, Any])
async def get_round(call: Call) -> dict[str, Any]:
    return await _opinions(call).get(call.user, call.path["meeting_id"])


@api.route("POST", ROUND + "/ballot", summary="Answer every question and sign the ballot (replaces my earlier one)",
           permission=Permission.meeting(Action.ANSWER_ROUND), tag="opinions", body=BallotIn,
           response=dict[str, Any], status=201)
async def submit_ballot(call: Call) -> dict[str, Any]:
    b = call.body
    return await _opinions(call).submit(call.user, call.path["meeting_id"], [a.model_dump() for a in b.answers],
                                        b.credential_id, b.secret, [c.model_dump() for c in b.comments])


@api.route("DELETE", ROUND + "/ballot", summary="Withdraw my ballot before the deadline",
           permission=Permission.meeting(Action.ANSWER_ROUND), tag="opinions", response=dict[str, Any])
async def withdraw_ballot(call: Call) -> dict[str, Any]:
    return await _opinions(call).withdraw(call.user, call.path["meeting_id"])


@api.route("POST", ROUND + "/close", summary="Close the round before its deadline and freeze the result",
           permission=Permission.meeting(Action.CLOSE_ROUND), tag="opinions", response=dict[str, Any])
async def close_round(call: Call) -> dict[str, Any]:
    return await _opinions(call).close(call.user, call.path["meeting_id"])


@api.route("POST", ROUND + "/remind", summary="Remind now every member asked who has not answered (app and e-mail)",
           permission=Permission.meeting(Action.REMIND_ROUND), tag="opinions", response=dict[str, Any])
async def remind_round(call: Call) -> dict[str, Any]:
    return await _opinions(call).remind(call.user, call.path["meeting_id"])


@api.route("GET", ROUND + "/report", summary="The aggregated report (PDF): the staff at any time, everyone once closed",
           permission=Permission.meeting(Action.VIEW), tag="opinions", produces="application/pdf")
async def round_report(call: Call) -> Response:
    data = await _opinions(call).report(call.user, call.path["meeting_id"])
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="bao-cao-{call.path["meeting_id"]}.pdf"'})


@api.route("GET", "/api/opinion-ballots/{ballot_id:int}/pdf", summary="A signed ballot (its author and the staff)",
           permission=Permission.meeting(Action.VIEW), tag="opinions", produces="application/pdf")
async def ballot_pdf(call: Call) -> Response:
    data = await _opinions(call).ballot_pdf(call.user, call.path["ballot_id"])
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="phieu-{call.path["ballot_id"]}.pdf"'})


@api.route("GET", POSITIONS, summary="Positions on the agenda before the session (mine; the staff see everyone's)",
           permission=Permission.meeting(Action.VIEW), tag="opinions", response=dict[str, Any])
async def list_positions(call: Call) -> dict[str, Any]:
    return await positions.listing(call.db, call.user, call.path["meeting_id"])


@api.route("PUT", POSITIONS, summary="State my position on an agenda item: no objection, objection (reason), "
                                     "or wish to speak",
           permission=Permission.meeting(Action.STATE_POSITION), tag="opinions", body=PositionIn,
           response=dict[str, Any])
async def state_position(call: Call) -> dict[str, Any]:
    return await positions.state(call.db, call.user, call.path["meeting_id"], call.body.model_dump())


@api.route("POST", POSITIONS + "/adopt",
           summary="Adopt together every item each entitled member said \"no objection\" to",
           permission=Permission.meeting(Action.ADOPT_UNOPPOSED), tag="opinions", response=dict[str, Any])
async def adopt_unopposed(call: Call) -> dict[str, Any]:
    out = await positions.adopt_unopposed(call.db, call.user, call.path["meeting_id"])
    await live.broadcast_agenda(call.request.app.state.live, call.path["meeting_id"])
    return out
