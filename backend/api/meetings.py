"""Meetings, their participants and their agenda."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.routing import Call, Permission, api
from backend.api.schemas import (
    AgendaItemIn,
    AgendaItemOut,
    AgendaItemUpdate,
    AgendaReorderIn,
    MeetingCreate,
    MeetingDetail,
    MeetingSummary,
    MeetingTransitionIn,
    MeetingUpdate,
    ParticipantGroupIn,
    ParticipantGroupOut,
    ParticipantIn,
    ParticipantOut,
    ParticipantUpdate,
    SavedGroupIn,
    SavedGroupOut,
    UserOut,
)
from backend.domain.meeting_states import TRANSITIONS, Action
from backend.models import AgendaItem, Participant, User
from backend.services import agenda, groups, live, meetings, notifications, participants
from backend.services.files import FileStore
from backend.services.meetings import MeetingView
from backend.services.opinions import Opinions

MEETING = "/api/meetings/{meeting_id:int}"


class MeetingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["draft", "published", "in_progress", "closed", "archived"] | None = None


def _summary_fields(view_meeting: Any, role: Any) -> dict[str, Any]:
    m = view_meeting
    return {"id": m.id, "body_id": m.body_id, "title": m.title, "kind": m.kind, "starts_at": m.starts_at,
            "place": m.place, "status": m.status, "confidentiality": m.confidentiality,
            "my_role": role.value if role else None}


def participant_out(participant: Participant, user: User, deputy: User | None = None) -> dict[str, Any]:
    return {"id": participant.id, "user_id": user.id, "username": user.username, "full_name": user.full_name,
            "title": user.title, "role": participant.role, "may_vote": participant.may_vote,
            "deputy_user_id": participant.deputy_user_id, "deputy_full_name": deputy.full_name if deputy else None}


def detail_out(view: MeetingView) -> dict[str, Any]:
    m = view.meeting
    return {**_summary_fields(m, view.role), "description": m.description, "quorum_rule": m.quorum_rule,
            "body_name": view.body_name,
            "created_at": m.created_at, "updated_at": m.updated_at,
            "participants": [participant_out(p, u, view.deputies.get(p.deputy_user_id or 0))
                             for p, u in view.participants],
            "agenda": view.agenda, "allowed_actions": view.allowed_actions}


@api.route("GET", "/api/meetings", summary="My meetings (those I take part in), soonest first",
           permission=Permission.user("only meetings one takes part in; drafts only for their staff"),
           tag="meetings", query=MeetingQuery, response=list[MeetingSummary])
async def list_meetings(call: Call) -> list[dict[str, Any]]:
    rows = await meetings.mine(call.db, call.user, status=call.query.status)
    return [_summary_fields(m, role) for m, role in rows]


@api.route("POST", "/api/meetings", summary="Create a draft meeting (the creator becomes its secretary)",
           permission=Permission.user("administrators, or the secretariat of the body"), tag="meetings",
           body=MeetingCreate, response=MeetingDetail, status=201)
async def create_meeting(call: Call) -> dict[str, Any]:
    return detail_out(await meetings.create(call.db, call.user, call.body.model_dump()))


@api.route("GET", MEETING, summary="A meeting with its participants and agenda",
           permission=Permission.meeting(Action.VIEW), tag="meetings", response=MeetingDetail)
async def get_meeting(call: Call) -> dict[str, Any]:
    return detail_out(await meetings.detail(call.db, call.user, call.path["meeting_id"]))


@api.route("PATCH", MEETING, summary="Change a meeting's details",
           permission=Permission.meeting(Action.EDIT_DETAILS), tag="meetings", body=MeetingUpdate,
           response=MeetingDetail)
async def update_meeting(call: Call) -> dict[str, Any]:
    return detail_out(await meetings.update(call.db, call.user, call.path["meeting_id"], call.body.changes()))


@api.route("POST", MEETING + "/transitions",
           summary="Publish, withdraw, start, close or archive (who may depends on the action)",
           permission=Permission.meeting(*TRANSITIONS), tag="meetings", body=MeetingTransitionIn,
           response=MeetingDetail)
async def transition_meeting(call: Call) -> dict[str, Any]:
    action = Action(call.body.action)
    outbox = notifications.Outbox()
    view = await meetings.transition(call.db, call.user, call.path["meeting_id"], action, outbox)
    await live.on_transition(call.request.app.state.live, call.path["meeting_id"], view.meeting.status)
    await outbox.deliver(call.request.app.state.live.bus, call.settings, call.db)
    if view.meeting.kind == "opinion_round" and action is Action.PUBLISH:
        rounds = Opinions(call.db, FileStore.for_settings(call.settings), call.settings,
                          call.request.app.state.live)
        await rounds.published(call.path["meeting_id"])
    return detail_out(view)


@api.route("GET", MEETING + "/participants", summary="Who takes part",
           permission=Permission.meeting(Action.VIEW), tag="participants", response=list[ParticipantOut])
async def list_participants(call: Call) -> list[dict[str, Any]]:
    rows, deputies = await participants.listing(call.db, call.user, call.path["meeting_id"])
    return [participant_out(p, u, deputies.get(p.deputy_user_id or 0)) for p, u in rows]


class CandidateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: Annotated[str, Field(max_length=100)] = ""


@api.route("GET", MEETING + "/candidates", summary="Active accounts not yet taking part (to add as participants)",
           permission=Permission.meeting(Action.MANAGE_PARTICIPANTS), tag="participants", query=CandidateQuery,
           response=list[UserOut])
async def list_candidates(call: Call) -> list[User]:
    return await participants.candidates(call.db, call.user, call.path["meeting_id"], call.query.q)


@api.route("POST", MEETING + "/participants", summary="Add a participant with a role",
           permission=Permission.meeting(Action.MANAGE_PARTICIPANTS), tag="participants", body=ParticipantIn,
           response=ParticipantOut, status=201)
async def add_participant(call: Call) -> dict[str, Any]:
    return participant_out(*await participants.add(call.db, call.user, call.path["meeting_id"],
                                                   call.body.model_dump()))


@api.route("POST", MEETING + "/participants/groups",
           summary="Invite a group at once: the body's members, a saved group, or another meeting's participants",
           permission=Permission.meeting(Action.MANAGE_PARTICIPANTS), tag="participants", body=ParticipantGroupIn,
           response=ParticipantGroupOut)
async def add_participant_group(call: Call) -> dict[str, Any]:
    added, skipped = await participants.add_many(call.db, call.user, call.path["meeting_id"], call.body.model_dump())
    return {"added": [participant_out(p, u) for p, u in added],
            "skipped": [{"user_id": u.id, "full_name": u.full_name} for u in skipped]}


def group_out(group: Any, people: list[User]) -> dict[str, Any]:
    return {"id": group.id, "body_id": group.body_id, "name": group.name,
            "people": [{"user_id": u.id, "full_name": u.full_name} for u in people]}


@api.route("GET", "/api/participant-groups", summary="Saved groups of invitees (of the caller's body)",
           permission=Permission.user("the secretariat of the body (administrators: every body's)"),
           tag="participants", response=list[SavedGroupOut])
async def list_saved_groups(call: Call) -> list[dict[str, Any]]:
    return [group_out(g, people) for g, people in await groups.listing(call.db, call.user)]


@api.route("POST", "/api/participant-groups", summary="Save a named group of invitees for reuse",
           permission=Permission.user("administrators, or the secretariat of the body"), tag="participants",
           body=SavedGroupIn, response=SavedGroupOut, status=201)
async def create_saved_group(call: Call) -> dict[str, Any]:
    return group_out(*await groups.create(call.db, call.user, call.body.model_dump()))


@api.route("DELETE", "/api/participant-groups/{group_id:int}", summary="Delete a saved group",
           permission=Permission.user("administrators, or the secretariat of the body"), tag="participants",
           status=204)
async def remove_saved_group(call: Call) -> None:
    await groups.remove(call.db, call.user, call.path["group_id"])


@api.route("PATCH", MEETING + "/participants/{participant_id:int}", summary="Change a participant's role",
           permission=Permission.meeting(Action.MANAGE_PARTICIPANTS), tag="participants",
           body=ParticipantUpdate, response=ParticipantOut)
async def update_participant(call: Call) -> dict[str, Any]:
    return participant_out(*await participants.update(call.db, call.user, call.path["meeting_id"],
                                                      call.path["participant_id"], call.body.changes(), call.bus))


@api.route("DELETE", MEETING + "/participants/{participant_id:int}", summary="Remove a participant",
           permission=Permission.meeting(Action.MANAGE_PARTICIPANTS), tag="participants", status=204)
async def remove_participant(call: Call) -> None:
    await participants.remove(call.db, call.user, call.path["meeting_id"], call.path["participant_id"],
                              call.bus)


@api.route("GET", MEETING + "/agenda", summary="The agenda in order",
           permission=Permission.meeting(Action.VIEW), tag="agenda", response=list[AgendaItemOut])
async def list_agenda(call: Call) -> list[AgendaItem]:
    return await agenda.listing(call.db, call.user, call.path["meeting_id"])


@api.route("POST", MEETING + "/agenda", summary="Add an agenda item (at the end, or at a position)",
           permission=Permission.meeting(Action.MANAGE_AGENDA), tag="agenda", body=AgendaItemIn,
           response=AgendaItemOut, status=201)
async def add_agenda_item(call: Call) -> AgendaItem:
    return await agenda.add(call.db, call.user, call.path["meeting_id"], call.body.model_dump())


@api.route("PATCH", MEETING + "/agenda/{item_id:int}", summary="Change an agenda item",
           permission=Permission.meeting(Action.MANAGE_AGENDA), tag="agenda", body=AgendaItemUpdate,
           response=AgendaItemOut)
async def update_agenda_item(call: Call) -> AgendaItem:
    return await agenda.update(call.db, call.user, call.path["meeting_id"], call.path["item_id"],
                               call.body.changes())


@api.route("DELETE", MEETING + "/agenda/{item_id:int}", summary="Delete an agenda item not yet discussed",
           permission=Permission.meeting(Action.MANAGE_AGENDA), tag="agenda", status=204)
async def delete_agenda_item(call: Call) -> None:
    await agenda.delete(call.db, call.user, call.path["meeting_id"], call.path["item_id"])


@api.route("PUT", MEETING + "/agenda/order", summary="Reorder the agenda (name every item exactly once)",
           permission=Permission.meeting(Action.MANAGE_AGENDA), tag="agenda", body=AgendaReorderIn,
           response=list[AgendaItemOut])
async def reorder_agenda(call: Call) -> list[AgendaItem]:
    return await agenda.reorder(call.db, call.user, call.path["meeting_id"], call.body.item_ids)

