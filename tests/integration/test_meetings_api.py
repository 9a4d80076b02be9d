"""/api/meetings: who creates, who sees what (drafts only for staff), the state machine through
POST /transitions for every role in every state, editing details, and allowed_actions."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Cast, Client, Server
from tests.integration.helpers import assert_error, audit_head, audit_since, ids, nothing_written, ok

STATES = ["draft", "published", "in_progress", "closed", "archived"]
ROLES = ["chair", "secretary", "member", "guest", "bridge", "outsider"]
STAFF = {"chair", "secretary"}
# What the state machine promises (docs/PERMISSIONS.md), written out independently of the code.
TRANSITIONS = {  # action: (who, from, to)
    "publish": (STAFF, "draft", "published"),
    "withdraw": (STAFF, "published", "draft"),
    "start": ({"chair"}, "published", "in_progress"),
    "close": ({"chair"}, "in_progress", "closed"),
    "archive": ({"secretary"}, "closed", "archived"),
}
EDITABLE = {"draft", "published"}
MANAGEABLE = {"draft", "published", "in_progress"}


def _new_meeting_body(cast: Cast, **extra: Any) -> dict[str, Any]:
    return {"body_id": cast.body["id"], "title": "Phiên họp chuyên đề", "starts_at": "2026-12-10T14:00:00+07:00",
            "place": "Phòng họp số 1", **extra}


def _without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- creating -------------------------------------------------------------------------------------

async def test_the_secretariat_of_the_body_creates_a_draft_and_becomes_its_secretary(root: Client,
                                                                                     cast: Cast) -> None:
    sec = cast["secretary"]
    head = await audit_head(root)
    body = _new_meeting_body(cast, description="Nội dung", confidentiality="confidential", kind="opinion_round")
    meeting = ok(await sec.client.post("/api/meetings", json=body), 201)
    assert meeting["status"] == "draft" and meeting["my_role"] == "secretary"
    assert (meeting["title"], meeting["place"], meeting["description"], meeting["confidentiality"],
            meeting["kind"], meeting["body_id"], meeting["body_name"]) == (
        body["title"], body["place"], body["description"], "confidential", "opinion_round", cast.body["id"],
        cast.body["name"])
    assert _instant(meeting["starts_at"]) == _instant(body["starts_at"])
    assert [(p["user_id"], p["role"], p["may_vote"]) for p in meeting["participants"]] == [(sec.id, "secretary", False)]
    assert meeting["agenda"] == []
    assert ok(await sec.client.get(f"/api/meetings/{meeting['id']}")) == meeting
    entries = await audit_since(root, head)
    assert [(e["action"], e["actor_id"], e["meeting_id"]) for e in entries] == [
        ("meeting.created", sec.id, meeting["id"])]


async def test_an_administrator_may_create_a_meeting_of_any_body(root: Client, cast: Cast) -> None:
    meeting = ok(await root.post("/api/meetings", json=_new_meeting_body(cast, body_id=cast.other_body["id"])), 201)
    assert meeting["my_role"] == "secretary" and meeting["body_id"] == cast.other_body["id"]


async def test_only_the_secretariat_of_that_body_may_create_its_meetings(server: Server, root: Client,
                                                                         cast: Cast) -> None:
    views = tuple((cast[w].client, "/api/meetings") for w in ("other_secretary", "chair", "member"))
    async with nothing_written(root, *views):
        for who in ("other_secretary", "chair", "member", "outsider"):
            assert_error(await cast[who].client.post("/api/meetings", json=_new_meeting_body(cast)), 403, "forbidden")
        async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
            assert_error(await anonymous.post("/api/meetings", json=_new_meeting_body(cast)), 401)
    # The other body's secretariat may create meetings of its own body.
    own = ok(await cast["other_secretary"].client.post(
        "/api/meetings", json=_new_meeting_body(cast, body_id=cast.other_body["id"])), 201)
    assert own["body_id"] == cast.other_body["id"]


async def test_an_unknown_body_is_400(root: Client, cast: Cast) -> None:
    async with nothing_written(root, (cast["secretary"].client, "/api/meetings")):
        assert_error(await cast["secretary"].client.post("/api/meetings", json=_new_meeting_body(
            cast, body_id=2_000_000_000)), 400, "unknown_body")


@pytest.mark.parametrize("change,field", [
    ({"starts_at": "2026-12-10T14:00:00"}, "starts_at"),
    ({"starts_at": "2026-12-10 14:00"}, "starts_at"),
    ({"starts_at": "10/12/2026"}, "starts_at"),
    ({"starts_at": 1796000000}, "starts_at"),
    ({"title": ""}, "title"),
    ({"title": "t" * 301}, "title"),
    ({"place": "p" * 301}, "place"),
    ({"description": "d" * 5001}, "description"),
    ({"kind": "party"}, "kind"),
    ({"confidentiality": "top"}, "confidentiality"),
    ({"status": "published"}, "status"),
    ({"body_id": "1"}, "body_id"),
    ({"body_id": 99999999999}, "body_id"),
])
async def test_invalid_meeting_bodies_are_422(root: Client, cast: Cast, change: dict[str, Any], field: str) -> None:
    async with nothing_written(root, (cast["secretary"].client, "/api/meetings")):
        error = assert_error(await cast["secretary"].client.post("/api/meetings", json={**_new_meeting_body(cast),
                                                                                       **change}),
                             422, "validation_error")
    assert any(d["field"].startswith(field) for d in error["details"]), error


# --- who sees what --------------------------------------------------------------------------------

async def test_my_meetings_lists_only_meetings_i_take_part_in_soonest_first(cast: Cast, new_user: Any) -> None:
    sec = cast["secretary"].client
    me = await new_user("lister", body_id=cast.body["id"])
    made = {}
    for key, starts in [("late", "2027-03-01T08:00:00+07:00"), ("early", "2026-06-01T08:00:00+07:00"),
                        ("not_mine", "2026-07-01T08:00:00+07:00"), ("draft", "2026-05-01T08:00:00+07:00")]:
        m = ok(await sec.post("/api/meetings", json={"body_id": cast.body["id"], "title": key, "starts_at": starts}),
               201)
        if key != "not_mine":
            ok(await sec.post(f"/api/meetings/{m['id']}/participants", json={"user_id": me.id, "role": "member"}), 201)
        if key != "draft":
            ok(await sec.post(f"/api/meetings/{m['id']}/transitions", json={"action": "publish"}))
        made[key] = m["id"]
    listed = ok(await me.client.get("/api/meetings"))
    assert ids(listed) == [made["early"], made["late"]]
    assert {m["my_role"] for m in listed} == {"member"}
    assert ids(ok(await me.client.get("/api/meetings", params={"status": "published"}))) == [made["early"],
                                                                                          made["late"]]
    assert ok(await me.client.get("/api/meetings", params={"status": "draft"})) == []
    assert_error(await me.client.get("/api/meetings", params={"status": "cancelled"}), 422, "validation_error")
    # The secretary sees the draft too.
    assert made["draft"] in ids(ok(await sec.get("/api/meetings", params={"status": "draft"})))


async def test_a_draft_is_visible_to_its_chair_and_secretary_only(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    mid = meeting["id"]
    for who in ("chair", "secretary"):
        assert ok(await cast[who].client.get(f"/api/meetings/{mid}"))["my_role"] == who
        assert mid in ids(ok(await cast[who].client.get("/api/meetings")))
    for who in ("member", "member2", "guest", "bridge", "outsider"):
        c = cast[who].client
        for url in (f"/api/meetings/{mid}", f"/api/meetings/{mid}/participants", f"/api/meetings/{mid}/agenda"):
            assert_error(await c.get(url), 404, "not_found")  # as if it did not exist (finding 7b)
        assert mid not in ids(ok(await c.get("/api/meetings")))
    # An administrator who takes no part does not see it either.
    assert_error(await root.get(f"/api/meetings/{mid}"), 404, "not_found")


async def test_once_published_every_participant_sees_the_meeting_and_outsiders_still_do_not(
        cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    mid = meeting["id"]
    for who, role in [("chair", "chair"), ("secretary", "secretary"), ("member", "member"), ("guest", "guest"),
                      ("bridge", "bridge")]:
        c = cast[who].client
        detail = ok(await c.get(f"/api/meetings/{mid}"))
        assert detail["my_role"] == role and detail["status"] == "published"
        assert {p["user_id"] for p in detail["participants"]} == {p["user_id"] for p in meeting["participants"]}
        assert mid in ids(ok(await c.get("/api/meetings")))
        ok(await c.get(f"/api/meetings/{mid}/participants"))
        ok(await c.get(f"/api/meetings/{mid}/agenda"))
    assert_error(await cast["outsider"].client.get(f"/api/meetings/{mid}"), 404, "not_found")
    assert mid not in ids(ok(await cast["outsider"].client.get("/api/meetings")))


@pytest.mark.parametrize("meeting_id", ["2000000000", "99999999999", "0"])
async def test_unknown_meetings_are_404(cast: Cast, meeting_id: str) -> None:
    c = cast["secretary"].client
    assert_error(await c.get(f"/api/meetings/{meeting_id}"), 404, "not_found")
    assert_error(await c.patch(f"/api/meetings/{meeting_id}", json={"title": "x"}), 404, "not_found")
    assert_error(await c.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "publish"}), 404,
                 "not_found")


# --- the state machine ----------------------------------------------------------------------------

def _expected_refusal(role: str, state: str, action: str) -> tuple[int, str] | None:
    who, source, _ = TRANSITIONS[action]
    if role == "outsider" or (state == "draft" and role not in STAFF):
        return 404, "not_found"  # who may not see the meeting is not told that it exists
    if role not in who:
        return 403, "forbidden"
    if state != source:
        return 409, "invalid_state"
    return None


@pytest.mark.parametrize("state", STATES)
async def test_every_forbidden_transition_is_refused_with_403_or_409_and_changes_nothing(
        cast: Cast, root: Client, new_meeting: Any, state: str) -> None:
    meeting = await new_meeting(state)
    mid = meeting["id"]
    refused = 0
    async with nothing_written(root, (cast["secretary"].client, f"/api/meetings/{mid}")):
        for role in ROLES:
            for action in TRANSITIONS:
                expected = _expected_refusal(role, state, action)
                if expected is None:
                    continue
                r = await cast[role].client.post(f"/api/meetings/{mid}/transitions", json={"action": action})
                assert r.status_code == expected[0], f"{role} {action} in {state}: {r.text}"
                assert_error(r, *expected)
                refused += 1
    assert refused >= 25


ALLOWED = [(role, action) for action, (who, _, _) in TRANSITIONS.items() for role in sorted(who)]


@pytest.mark.parametrize("role,action", ALLOWED)
async def test_each_allowed_transition_moves_the_meeting_and_is_audited(
        cast: Cast, root: Client, new_meeting: Any, role: str, action: str) -> None:
    _, source, target = TRANSITIONS[action]
    meeting = await new_meeting(source)
    head = await audit_head(root)
    moved = ok(await cast[role].client.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": action}))
    assert moved["status"] == target and moved["my_role"] == role
    assert ok(await cast["secretary"].client.get(f"/api/meetings/{meeting['id']}"))["status"] == target
    entries = await audit_since(root, head)
    assert [(e["action"], e["actor_id"], e["meeting_id"], e["details"]) for e in entries] == [
        (f"meeting.{action}", cast[role].id, meeting["id"], {"from": source, "to": target})]
    # The same transition again is now in the wrong state.
    assert_error(await cast[role].client.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": action}),
                 409, "invalid_state")


async def test_a_withdrawn_meeting_is_hidden_again_and_can_be_republished(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    mid = meeting["id"]
    ok(await cast["member"].client.get(f"/api/meetings/{mid}"))
    ok(await cast["chair"].client.post(f"/api/meetings/{mid}/transitions", json={"action": "withdraw"}))
    assert_error(await cast["member"].client.get(f"/api/meetings/{mid}"), 404, "not_found")
    ok(await cast["secretary"].client.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    assert ok(await cast["member"].client.get(f"/api/meetings/{mid}"))["status"] == "published"


async def test_a_meeting_without_a_chair_cannot_be_started(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("published", roles=("member",))
    mid = meeting["id"]
    assert "start" not in meeting["allowed_actions"]
    async with nothing_written(root, (cast["secretary"].client, f"/api/meetings/{mid}")):
        # Only a chair may start, so without one nobody can: the secretary is refused for the role
        # (the service's 400 no_chair check comes after the role check and is unreachable over REST).
        assert_error(await cast["secretary"].client.post(f"/api/meetings/{mid}/transitions",
                                                         json={"action": "start"}), 403, "forbidden")
        assert_error(await cast["member"].client.post(f"/api/meetings/{mid}/transitions",
                                                      json={"action": "start"}), 403, "forbidden")
    # Once a chair is named, the chair starts it.
    ok(await cast["secretary"].client.post(f"/api/meetings/{mid}/participants",
                                           json={"user_id": cast["chair"].id, "role": "chair"}), 201)
    assert ok(await cast["chair"].client.post(f"/api/meetings/{mid}/transitions",
                                              json={"action": "start"}))["status"] == "in_progress"


async def test_unknown_transition_actions_are_422(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    url = f"/api/meetings/{meeting['id']}/transitions"
    async with nothing_written(root, (cast["secretary"].client, f"/api/meetings/{meeting['id']}")):
        for body in ({"action": "reopen"}, {"action": "view"}, {"action": "edit_details"}, {}, {"action": None},
                     {"action": "publish", "force": True}):
            assert_error(await cast["secretary"].client.post(url, json=body), 422, "validation_error")


async def test_two_concurrent_publishes_of_one_meeting_succeed_once(cast: Cast, root: Client,
                                                                    new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    url = f"/api/meetings/{meeting['id']}/transitions"
    head = await audit_head(root)
    answers = await asyncio.gather(cast["secretary"].client.post(url, json={"action": "publish"}),
                                   cast["chair"].client.post(url, json={"action": "publish"}),
                                   cast["secretary"].client.post(url, json={"action": "publish"}))
    assert sorted(r.status_code for r in answers) == [200, 409, 409], [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "invalid_state")
    assert [e["action"] for e in await audit_since(root, head)] == ["meeting.publish"]


# --- editing details ------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["draft", "published"])
@pytest.mark.parametrize("who", ["chair", "secretary"])
async def test_staff_edit_a_meeting_in_draft_or_published(cast: Cast, root: Client, new_meeting: Any,
                                                          state: str, who: str) -> None:
    meeting = await new_meeting(state)
    head = await audit_head(root)
    changes = {"title": "  Phiên họp bất thường  ", "starts_at": "2026-12-11T01:30:00Z", "place": "Trực tuyến",
               "description": "Mô tả mới", "confidentiality": "secret"}
    edited = ok(await cast[who].client.patch(f"/api/meetings/{meeting['id']}", json=changes))
    assert (edited["title"], edited["place"], edited["description"], edited["confidentiality"]) == (
        "Phiên họp bất thường", "Trực tuyến", "Mô tả mới", "secret")
    assert _instant(edited["starts_at"]) == _instant("2026-12-11T08:30:00+07:00")
    assert edited["status"] == state and _instant(edited["updated_at"]) >= _instant(meeting["updated_at"])
    seen = ok(await cast["secretary"].client.get(f"/api/meetings/{meeting['id']}"))
    assert _without(seen, "my_role", "allowed_actions") == _without(edited, "my_role", "allowed_actions")
    entries = await audit_since(root, head)
    assert [(e["action"], e["details"]) for e in entries] == [
        ("meeting.updated", {"changed": ["confidentiality", "description", "place", "starts_at", "title"]})]


@pytest.mark.parametrize("state", ["in_progress", "closed", "archived"])
async def test_a_meeting_under_way_or_over_cannot_be_edited(cast: Cast, root: Client, new_meeting: Any,
                                                            state: str) -> None:
    meeting = await new_meeting(state)
    async with nothing_written(root, (cast["secretary"].client, f"/api/meetings/{meeting['id']}")):
        for who in ("chair", "secretary"):
            assert_error(await cast[who].client.patch(f"/api/meetings/{meeting['id']}", json={"title": "Sửa"}), 409,
                         "invalid_state")
        assert_error(await cast["member"].client.patch(f"/api/meetings/{meeting['id']}", json={"title": "Sửa"}), 403,
                     "forbidden")


async def test_attendees_and_outsiders_cannot_edit_a_meeting(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    async with nothing_written(root, (cast["secretary"].client, f"/api/meetings/{meeting['id']}")):
        for who in ("member", "guest", "bridge"):
            assert_error(await cast[who].client.patch(f"/api/meetings/{meeting['id']}", json={"title": "Sửa"}), 403,
                         "forbidden")
        for outsider in (cast["outsider"].client, cast["other_secretary"].client, root):  # may not even see it
            assert_error(await outsider.patch(f"/api/meetings/{meeting['id']}", json={"title": "Sửa"}), 404,
                         "not_found")


async def test_invalid_meeting_edits_are_422_and_change_nothing(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    sec = cast["secretary"].client
    async with nothing_written(root, (sec, f"/api/meetings/{meeting['id']}")):
        for body in ({"starts_at": "2026-12-11T08:30:00"}, {"title": None}, {"starts_at": None}, {"title": "   "},
                     {"status": "published"}, {"body_id": cast.other_body["id"]}, {"title": "t" * 301}):
            assert_error(await sec.patch(f"/api/meetings/{meeting['id']}", json=body), 422, "validation_error")


# --- allowed_actions ------------------------------------------------------------------------------

def _expected_actions(role: str, state: str) -> set[str]:
    staff = role in STAFF
    expected = {"view"}
    if staff and state in EDITABLE:
        expected.add("edit_details")
    if staff and state in MANAGEABLE:
        expected |= {"manage_agenda", "manage_participants"}
    expected |= {a for a, (who, source, _) in TRANSITIONS.items() if role in who and state == source}
    return expected


CORE_ACTIONS = {"view", "edit_details", "manage_agenda", "manage_participants", *TRANSITIONS}


@pytest.mark.parametrize("state", STATES)
async def test_allowed_actions_say_what_each_role_may_do_in_each_state(cast: Cast, new_meeting: Any,
                                                                       state: str) -> None:
    meeting = await new_meeting(state)
    for role in ("chair", "secretary", "member", "guest", "bridge"):
        r = await cast[role].client.get(f"/api/meetings/{meeting['id']}")
        if state == "draft" and role not in STAFF:
            assert_error(r, 404, "not_found")
            continue
        allowed = set(ok(r)["allowed_actions"])
        # The same table drives test_each_allowed_transition_moves_the_meeting_and_is_audited and
        # test_every_forbidden_transition_is_refused..., so what is offered is what works.
        assert allowed & CORE_ACTIONS == _expected_actions(role, state), (role, state, sorted(allowed))
