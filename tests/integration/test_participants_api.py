"""/api/meetings/{id}/participants: staff add, change and remove participants; voting rights follow
the role; a meeting always keeps a chair or secretary; nothing is half-written."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import select

from backend.models import SpeakerTurn
from tests.integration.conftest import Cast, Client, Server, unique
from tests.integration.helpers import assert_error, audit_head, audit_since, nothing_written, ok


def _url(meeting: dict[str, Any], participant_id: int | None = None) -> str:
    base = f"/api/meetings/{meeting['id']}/participants"
    return base if participant_id is None else f"{base}/{participant_id}"


def _pid(meeting: dict[str, Any], user_id: int) -> int:
    return int(next(p["id"] for p in meeting["participants"] if p["user_id"] == user_id))


async def _participants(cast: Cast, meeting: dict[str, Any]) -> dict[int, tuple[str, bool]]:
    rows = ok(await cast["secretary"].client.get(_url(meeting)))
    return {p["user_id"]: (p["role"], p["may_vote"]) for p in rows}


@pytest.mark.parametrize("who", ["secretary", "chair"])
async def test_staff_add_a_participant_and_it_is_audited(cast: Cast, root: Client, new_meeting: Any,
                                                         new_user: Any, who: str) -> None:
    meeting = await new_meeting("draft", roles=("chair",))
    person = await new_user("invitee")
    head = await audit_head(root)
    added = ok(await cast[who].client.post(_url(meeting), json={"user_id": person.id, "role": "member"}), 201)
    assert (added["user_id"], added["username"], added["full_name"], added["role"], added["may_vote"]) == (
        person.id, person.username, "Người invitee", "member", True)
    assert (await _participants(cast, meeting))[person.id] == ("member", True)
    entries = await audit_since(root, head)
    assert [(e["action"], e["object_id"], e["meeting_id"], e["details"]) for e in entries] == [
        ("participant.added", added["id"], meeting["id"], {"user_id": person.id, "role": "member", "may_vote": True})]


async def test_voting_rights_default_by_role(cast: Cast, new_meeting: Any, new_user: Any) -> None:
    meeting = await new_meeting("draft", roles=())
    expected = {"chair": True, "member": True, "secretary": False, "guest": False, "bridge": False}
    for role, may_vote in expected.items():
        person = await new_user(role)
        added = ok(await cast["secretary"].client.post(_url(meeting), json={"user_id": person.id, "role": role}), 201)
        assert added["may_vote"] is may_vote, role
    # A member may be seated without a vote (e.g. an observer from the ministry).
    person = await new_user("observer")
    added = ok(await cast["secretary"].client.post(_url(meeting), json={"user_id": person.id, "role": "member",
                                                                        "may_vote": False}), 201)
    assert added["may_vote"] is False


@pytest.mark.parametrize("role", ["guest", "bridge", "secretary"])
async def test_a_role_that_never_votes_cannot_be_given_a_vote(cast: Cast, root: Client, new_meeting: Any,
                                                              role: str) -> None:
    meeting = await new_meeting("draft", roles=("member",))
    sec = cast["secretary"].client
    member_pid = _pid(meeting, cast["member"].id)
    async with nothing_written(root, (sec, _url(meeting))):
        assert_error(await sec.post(_url(meeting), json={"user_id": cast["guest"].id, "role": role, "may_vote": True}),
                     400, "may_not_vote")
        assert_error(await sec.patch(_url(meeting, member_pid), json={"role": role, "may_vote": True}), 400,
                     "may_not_vote")


async def test_changing_a_role_resets_the_vote_to_the_roles_default_unless_given(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("draft", roles=("member", "guest"))
    sec = cast["secretary"].client
    member_pid, guest_pid = _pid(meeting, cast["member"].id), _pid(meeting, cast["guest"].id)
    assert ok(await sec.patch(_url(meeting, member_pid), json={"role": "guest"}))["may_vote"] is False
    assert ok(await sec.patch(_url(meeting, guest_pid), json={"role": "chair"}))["may_vote"] is True
    assert ok(await sec.patch(_url(meeting, guest_pid), json={"may_vote": False}))["may_vote"] is False
    demoted = ok(await sec.patch(_url(meeting, guest_pid), json={"role": "member", "may_vote": False}))
    assert demoted["may_vote"] is False
    assert_error(await sec.patch(_url(meeting, member_pid), json={"may_vote": True}), 400, "may_not_vote")
    assert await _participants(cast, meeting) == {cast["secretary"].id: ("secretary", False),
                                                  cast["member"].id: ("guest", False),
                                                  cast["guest"].id: ("member", False)}


async def test_attendees_and_outsiders_cannot_manage_participants(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    target = _pid(meeting, cast["member2"].id)
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        for who in ("member", "guest", "bridge", "outsider", "other_secretary"):
            c = cast[who].client
            # Attendees see the meeting (403); who takes no part is not told it exists (404).
            status, code = (403, "forbidden") if who in ("member", "guest", "bridge") else (404, "not_found")
            assert_error(await c.post(_url(meeting), json={"user_id": cast["outsider"].id, "role": "guest"}), status,
                         code)
            assert_error(await c.patch(_url(meeting, target), json={"role": "guest"}), status, code)
            assert_error(await c.delete(_url(meeting, target)), status, code)
        # A global administrator who takes no part is an outsider here too.
        assert_error(await root.post(_url(meeting), json={"user_id": cast["outsider"].id, "role": "guest"}), 404)


async def test_adding_someone_twice_is_409_already_participant(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    sec = cast["secretary"].client
    async with nothing_written(root, (sec, _url(meeting))):
        for role in ("member", "guest", "chair"):
            assert_error(await sec.post(_url(meeting), json={"user_id": cast["member"].id, "role": role}), 409,
                         "already_participant")
        assert_error(await sec.post(_url(meeting), json={"user_id": cast["secretary"].id, "role": "member"}), 409,
                     "already_participant")


async def test_concurrent_adds_of_one_person_make_one_participant(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft", roles=())
    sec = cast["secretary"].client
    answers = await asyncio.gather(*(sec.post(_url(meeting), json={"user_id": cast["member"].id, "role": "member"})
                                     for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409], [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "already_participant")
    assert list(await _participants(cast, meeting)).count(cast["member"].id) == 1


async def test_unknown_or_deactivated_users_cannot_be_added(cast: Cast, root: Client, new_meeting: Any,
                                                           new_user: Any) -> None:
    meeting = await new_meeting("draft")
    sec = cast["secretary"].client
    gone = await new_user("gone")
    ok(await root.patch(f"/api/users/{gone.id}", json={"is_active": False}))
    async with nothing_written(root, (sec, _url(meeting))):
        assert_error(await sec.post(_url(meeting), json={"user_id": 2_000_000_000, "role": "member"}), 400,
                     "unknown_user")
        assert_error(await sec.post(_url(meeting), json={"user_id": gone.id, "role": "member"}), 400, "inactive_user")
        for body in ({"user_id": 0, "role": "member"}, {"user_id": "5", "role": "member"},
                     {"user_id": cast["outsider"].id, "role": "admin"}, {"user_id": cast["outsider"].id},
                     {"user_id": cast["outsider"].id, "role": "guest", "deputy": 1},
                     {"user_id": 99999999999, "role": "member"}):
            assert_error(await sec.post(_url(meeting), json=body), 422, "validation_error")


async def test_removing_or_demoting_the_last_staff_member_is_409(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft", roles=("chair", "member"))
    sec, chair = cast["secretary"].client, cast["chair"].client
    sec_pid, chair_pid = _pid(meeting, cast["secretary"].id), _pid(meeting, cast["chair"].id)
    # With two staff, one may go.
    assert (await chair.delete(_url(meeting, sec_pid))).status_code == 204
    assert_error(await sec.get(f"/api/meetings/{meeting['id']}"), 404)
    async with nothing_written(root, (chair, _url(meeting))):
        assert_error(await chair.delete(_url(meeting, chair_pid)), 409, "last_staff")
        for role in ("member", "guest", "bridge"):
            assert_error(await chair.patch(_url(meeting, chair_pid), json={"role": role}), 409, "last_staff")
    # Staff to staff is fine.
    assert ok(await chair.patch(_url(meeting, chair_pid), json={"role": "secretary"}))["role"] == "secretary"


async def test_a_removed_participant_loses_access_and_the_removal_is_audited(cast: Cast, root: Client,
                                                                             new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    pid = _pid(meeting, cast["member2"].id)
    head = await audit_head(root)
    r = await cast["chair"].client.delete(_url(meeting, pid))
    assert r.status_code == 204 and r.content == b""
    assert_error(await cast["member2"].client.get(f"/api/meetings/{meeting['id']}"), 404)
    assert cast["member2"].id not in await _participants(cast, meeting)
    assert [(e["action"], e["object_id"], e["details"]) for e in await audit_since(root, head)] == [
        ("participant.removed", pid, {"user_id": cast["member2"].id, "role": "member"})]
    assert_error(await cast["chair"].client.delete(_url(meeting, pid)), 404, "not_found")


async def test_a_participant_of_another_meeting_is_404_under_this_one(cast: Cast, root: Client,
                                                                     new_meeting: Any) -> None:
    here, there = await new_meeting("draft"), await new_meeting("draft")
    foreign = _pid(there, cast["member"].id)
    sec = cast["secretary"].client
    async with nothing_written(root, (sec, _url(here)), (sec, _url(there))):
        for pid in (foreign, 2_000_000_000):
            assert_error(await sec.patch(_url(here, pid), json={"role": "guest"}), 404, "not_found")
            assert_error(await sec.delete(_url(here, pid)), 404, "not_found")
        assert_error(await sec.delete(_url(here, 99999999999)), 404, "not_found")


async def test_participants_can_change_while_in_progress_but_not_once_closed(cast: Cast, root: Client,
                                                                            new_meeting: Any) -> None:
    live = await new_meeting("in_progress", roles=("chair", "member"))
    added = ok(await cast["chair"].client.post(_url(live), json={"user_id": cast["guest"].id, "role": "guest"}), 201)
    assert added["role"] == "guest"
    for state in ("closed", "archived"):
        meeting = await new_meeting(state)
        pid = _pid(meeting, cast["member"].id)
        async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
            for who in ("chair", "secretary"):
                c = cast[who].client
                assert_error(await c.post(_url(meeting), json={"user_id": cast["outsider"].id, "role": "guest"}), 409,
                             "invalid_state")
                assert_error(await c.patch(_url(meeting, pid), json={"role": "guest"}), 409, "invalid_state")
                assert_error(await c.delete(_url(meeting, pid)), 409, "invalid_state")


# --- deputies --------------------------------------------------------------------------------------

async def test_a_members_named_deputy_sees_the_meeting_until_removed(cast: Cast, root: Client, new_meeting: Any,
                                                                      new_user: Any) -> None:
    meeting = await new_meeting("published")
    deputy = await new_user("deputy")
    pid = _pid(meeting, cast["member"].id)
    assert_error(await deputy.client.get(f"/api/meetings/{meeting['id']}"), 404)
    named = ok(await cast["secretary"].client.patch(_url(meeting, pid), json={"deputy_user_id": deputy.id}))
    assert (named["deputy_user_id"], named["deputy_full_name"], named["role"]) == (deputy.id, "Người deputy", "member")
    seen = ok(await deputy.client.get(f"/api/meetings/{meeting['id']}"))
    assert seen["my_role"] == "member"
    assert meeting["id"] in [m["id"] for m in ok(await deputy.client.get("/api/meetings"))]
    # The deputy stands in; they do not manage anything.
    assert_error(await deputy.client.post(_url(meeting), json={"user_id": cast["outsider"].id, "role": "guest"}), 403)
    cleared = ok(await cast["secretary"].client.patch(_url(meeting, pid), json={"deputy_user_id": None}))
    assert cleared["deputy_user_id"] is None and cleared["deputy_full_name"] is None
    assert_error(await deputy.client.get(f"/api/meetings/{meeting['id']}"), 404)


async def test_deputy_rules_are_enforced_without_half_writes(cast: Cast, root: Client, new_meeting: Any,
                                                            new_user: Any) -> None:
    meeting = await new_meeting("draft")
    deputy = await new_user("deputy")
    sec = cast["secretary"].client
    member, member2, guest = (_pid(meeting, cast[k].id) for k in ("member", "member2", "guest"))
    ok(await sec.patch(_url(meeting, member), json={"deputy_user_id": deputy.id}))
    async with nothing_written(root, (sec, _url(meeting))):
        assert_error(await sec.patch(_url(meeting, guest), json={"deputy_user_id": cast["outsider"].id}), 400,
                     "deputy_not_allowed")
        assert_error(await sec.patch(_url(meeting, member2), json={"deputy_user_id": cast["chair"].id}), 409,
                     "deputy_is_participant")
        assert_error(await sec.patch(_url(meeting, member2), json={"deputy_user_id": cast["member2"].id}), 409,
                     "deputy_is_participant")
        assert_error(await sec.patch(_url(meeting, member2), json={"deputy_user_id": deputy.id}), 409,
                     "already_deputy")
        assert_error(await sec.patch(_url(meeting, member2), json={"deputy_user_id": 2_000_000_000}), 400,
                     "unknown_user")
        assert_error(await sec.post(_url(meeting), json={"user_id": cast["outsider"].id, "role": "guest",
                                                         "deputy_user_id": cast["bridge"].id}), 400,
                     "deputy_not_allowed")


async def test_a_named_deputy_cannot_also_be_added_as_a_participant(cast: Cast, root: Client, new_meeting: Any,
                                                                    new_user: Any) -> None:
    meeting = await new_meeting("draft")
    deputy = await new_user("deputy")
    sec = cast["secretary"].client
    ok(await sec.patch(_url(meeting, _pid(meeting, cast["member"].id)), json={"deputy_user_id": deputy.id}))
    async with nothing_written(root, (sec, _url(meeting))):
        assert_error(await sec.post(_url(meeting), json={"user_id": deputy.id, "role": "guest"}), 409,
                     "deputy_is_participant")


# --- candidates ------------------------------------------------------------------------------------

async def test_candidates_are_active_accounts_not_yet_taking_part(cast: Cast, root: Client, new_meeting: Any,
                                                                  new_user: Any) -> None:
    meeting = await new_meeting("published")
    fresh, gone = await new_user("ung-vien"), await new_user("ung-vien")
    ok(await root.patch(f"/api/users/{gone.id}", json={"is_active": False}))
    url = f"/api/meetings/{meeting['id']}/candidates"
    for who in ("secretary", "chair"):
        client = cast[who].client
        # The shared test server holds hundreds of accounts and a list shows 500: look people up by name.
        for person, expected in ((fresh, True), (cast["outsider"], True), (gone, False)):
            found = {u["id"] for u in ok(await client.get(url, params={"q": person.username}))}
            assert (person.id in found) is expected, (who, person.username)
        everyone = {u["id"] for u in ok(await client.get(url))}
        assert not everyone & {p["user_id"] for p in meeting["participants"]}
    named = ok(await cast["secretary"].client.get(f"/api/meetings/{meeting['id']}/candidates",
                                                  params={"q": fresh.username}))
    assert [u["id"] for u in named] == [fresh.id]
    assert_error(await cast["secretary"].client.get(f"/api/meetings/{meeting['id']}/candidates",
                                                    params={"q": "x" * 101}), 422, "validation_error")


async def test_only_staff_of_a_meeting_still_open_list_candidates(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    for who in ("member", "guest", "bridge"):
        assert_error(await cast[who].client.get(f"/api/meetings/{meeting['id']}/candidates"), 403, "forbidden")
    assert_error(await cast["outsider"].client.get(f"/api/meetings/{meeting['id']}/candidates"), 404, "not_found")
    closed = await new_meeting("closed")
    assert_error(await cast["secretary"].client.get(f"/api/meetings/{closed['id']}/candidates"), 409,
                 "invalid_state")


# --- removal during a session ----------------------------------------------------------------------

async def test_a_participant_who_checked_in_voted_took_a_position_and_spoke_can_be_removed(
        server: Server, world: dict[str, Any], live_factory: Any) -> None:
    """Removal keeps the record (attendance, ballot, position, speaker turn) and takes every right away:
    never a 500 because something points at the person."""
    people, mid = world["people"], world["meeting"]["id"]
    sec, chair_http, member_http = (people[k].client for k in ("secretary", "chair", "member"))
    item = ok(await sec.post(f"/api/meetings/{mid}/agenda", json={"title": "Dự thảo Nghị định A"}), 201)
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    ok(await member_http.put(f"/api/meetings/{mid}/positions", json={"agenda_item_id": item["id"],
                                                                      "position": "wish_to_speak"}))
    ok(await chair_http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}))
    chair, member = await live_factory(people["chair"]), await live_factory(people["member"])
    for c in (chair, member):
        assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
    assert (await member.call("attendance.check_in", {"meeting_id": mid}))["ok"]
    pid = _pid(ok(await sec.get(f"/api/meetings/{mid}")), people["member"].id)
    async with server.db.read() as s:
        turn = (await s.exec(select(SpeakerTurn).where(SpeakerTurn.participant_id == pid))).one()
    assert (given := await chair.call("speaker.give", {"meeting_id": mid, "turn_id": turn.id}))["ok"], given
    poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua Nghị định A?"}))["poll"]
    assert (await chair.call("poll.open", {"poll_id": poll["id"]}))["ok"]
    for c in (member, chair):
        assert (await c.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    closed = await chair.call("poll.close", {"poll_id": poll["id"]})
    assert closed["ok"] and closed["poll"]["result"]["counts"]["yes"] == 2, closed
    entitled_before = (await chair.call("meeting.sync", {"meeting_id": mid}))["state"]["quorum"]["entitled"]

    r = await sec.delete(_url(world["meeting"], pid))
    assert r.status_code == 204, r.text

    # No rights left: the meeting, its live state, its roster and quorum are closed to them.
    # (answered like a meeting that does not exist: they are told nothing of it any more)
    assert_error(await member_http.get(f"/api/meetings/{mid}"), 404)
    assert mid not in [m["id"] for m in ok(await member_http.get("/api/meetings"))]
    refused = await member.call("meeting.sync", {"meeting_id": mid})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    refused = await member.call("speaker.request", {"meeting_id": mid})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    assert people["member"].id not in [p["user_id"] for p in ok(await sec.get(_url(world["meeting"])))]
    state = (await chair.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert people["member"].id not in [p["user_id"] for p in state["participants"]]
    assert state["quorum"]["entitled"] == entitled_before - 1
    assert pid not in [p["participant_id"] for p in state["attendance"]]
    assert all(t["participant_id"] != pid or t["status"] == "done" for t in state["speakers"]["turns"])
    # Their ballot stays in the poll's named ballots.
    ballots = await chair.call("poll.ballots", {"poll_id": poll["id"]})
    assert ("Người member", "yes") in [(v["full_name"], v["choice"]) for v in ballots["votes"]], ballots

    ok(await chair_http.post(f"/api/meetings/{mid}/transitions", json={"action": "close"}))
    r = await sec.post(f"/api/meetings/{mid}/records", json={"kind": "minutes", "number": unique("BB-"),
                                                             "title": "Biên bản phiên họp"})
    assert r.status_code == 201, r.text
    pdf = (await sec.get(f"/api/records/{r.json()['id']}/pdf")).content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # The minutes still name them among those present and the speakers, and count their vote.
    assert re.search(r"Người member\s+Thành viên\s+Có mặt", text), text
    assert "Người member phát biểu" in text
    assert re.search(r"Thông qua Nghị định A\?.*Số phiếu: 2/\d.*Tán thành\s+2\s", text, re.S), text


async def test_removed_then_added_again_comes_back_on_the_same_record(cast: Cast, new_meeting: Any) -> None:
    meeting = await new_meeting("published")
    sec = cast["secretary"].client
    pid = _pid(meeting, cast["member2"].id)
    assert (await sec.delete(_url(meeting, pid))).status_code == 204
    # Asked by name, as the secretariat's search box does: the server may hold more accounts than one answer lists.
    name = ok(await cast["member2"].client.get("/api/auth/me"))["user"]["username"]
    found = ok(await sec.get(f"/api/meetings/{meeting['id']}/candidates", params={"q": name}))
    assert cast["member2"].id in [u["id"] for u in found]
    back = ok(await sec.post(_url(meeting), json={"user_id": cast["member2"].id, "role": "guest"}), 201)
    assert (back["id"], back["role"], back["may_vote"]) == (pid, "guest", False)
    ok(await cast["member2"].client.get(f"/api/meetings/{meeting['id']}"))
    assert_error(await sec.post(_url(meeting), json={"user_id": cast["member2"].id, "role": "member"}), 409,
                 "already_participant")


async def test_a_removed_members_positions_no_longer_weigh(server: Server, cast: Cast, new_meeting: Any) -> None:
    """An objection or a wish to speak stated before removal neither blocks adoption nor queues a turn."""
    meeting = await new_meeting("draft")
    sec, mid = cast["secretary"].client, meeting["id"]
    item = ok(await sec.post(f"/api/meetings/{mid}/agenda", json={"title": "Tờ trình D"}), 201)
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    url = f"/api/meetings/{mid}/positions"
    ok(await cast["member"].client.put(url, json={"agenda_item_id": item["id"], "position": "objection",
                                                  "reason": "Chưa đủ hồ sơ."}))
    ok(await cast["member2"].client.put(url, json={"agenda_item_id": item["id"], "position": "wish_to_speak"}))
    assert ok(await sec.get(url))["items"][0]["adoptable"] is False
    for key in ("member", "member2"):
        assert (await sec.delete(_url(meeting, _pid(meeting, cast[key].id)))).status_code == 204
    staff_view = ok(await sec.get(url))["items"][0]
    assert staff_view["positions"] == []
    removed = {_pid(meeting, cast[k].id) for k in ("member", "member2")}
    assert not removed & {p["participant_id"] for p in staff_view["not_answered"]}, "nor are they waited for"
    # Silence is not consent: the ones still entitled say "no objection", then the item is adoptable.
    for person in staff_view["not_answered"]:
        who = next(k for k in ("chair", "member", "member2", "guest") if _pid(meeting, cast[k].id) ==
                   person["participant_id"])
        ok(await cast[who].client.put(url, json={"agenda_item_id": item["id"], "position": "no_objection"}))
    assert ok(await sec.get(url))["items"][0]["adoptable"] is True
    ok(await cast["chair"].client.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}))
    async with server.db.read() as s:
        assert (await s.exec(select(SpeakerTurn).where(SpeakerTurn.meeting_id == mid))).all() == []


# --- group invitations (issue 15, point 11) -----------------------------------------------------------------


async def test_the_administrator_is_neither_offered_nor_accepted_as_an_invitee(cast: Cast, root: Client,
                                                                                new_meeting: Any) -> None:
    meeting = await new_meeting("draft", roles=("chair",))
    admin_id = ok(await root.get("/api/auth/me"))["user"]["id"]
    offered = ok(await cast["secretary"].client.get(f"/api/meetings/{meeting['id']}/candidates",
                                                    params={"q": "admin"}))
    assert admin_id not in {u["id"] for u in offered}
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        r = await cast["secretary"].client.post(_url(meeting), json={"user_id": admin_id, "role": "member"})
        assert_error(r, 400, "admin_not_invitable")
    member = ok(await cast["secretary"].client.post(_url(meeting), json={"user_id": cast["member"].id,
                                                                         "role": "member"}), 201)
    async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
        r = await cast["secretary"].client.patch(_url(meeting, member["id"]), json={"deputy_user_id": admin_id})
        assert_error(r, 400, "admin_not_invitable")  # nor as someone's deputy


async def test_staff_invite_every_member_of_the_body_at_once(cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft", roles=("chair", "member"))
    url = _url(meeting) + "/groups"
    for who in ("member", "outsider", "other_secretary"):
        async with nothing_written(root, (cast["secretary"].client, _url(meeting))):
            # (a draft meeting is the staff's: to anyone else it answers as no meeting at all)
            assert_error(await cast[who].client.post(url, json={"source": "body"}), 404)
    out = ok(await cast["secretary"].client.post(url, json={"source": "body", "role": "guest"}))
    added = {p["user_id"]: p["role"] for p in out["added"]}
    for key in ("member2", "guest", "bridge", "outsider"):
        assert added[cast[key].id] == "guest"
    assert cast["other_secretary"].id not in added  # another body's people are not this body's members
    skipped = {p["user_id"] for p in out["skipped"]}
    assert {cast["chair"].id, cast["member"].id, cast["secretary"].id} <= skipped  # already taking part
    now = await _participants(cast, meeting)
    assert now[cast["chair"].id] == ("chair", True) and now[cast["bridge"].id] == ("guest", False)
    again = ok(await cast["secretary"].client.post(url, json={"source": "body"}))
    assert again["added"] == []


async def test_a_saved_group_is_kept_by_its_bodys_secretariat_and_invited(cast: Cast, root: Client,
                                                                          new_meeting: Any) -> None:
    sec = cast["secretary"].client
    name = f"Thường trực {meeting_suffix()}"
    people = [cast["member"].id, cast["member2"].id]
    for who, status in (("member", 403), ("chair", 403), ("other_secretary", 403)):
        r = await cast[who].client.post("/api/participant-groups",
                                        json={"name": name, "user_ids": people, "body_id": cast.body["id"]})
        assert_error(r, status)
    admin_id = ok(await root.get("/api/auth/me"))["user"]["id"]
    assert_error(await sec.post("/api/participant-groups", json={"name": name, "user_ids": [admin_id]}), 400,
                 "admin_not_invitable")
    group = ok(await sec.post("/api/participant-groups", json={"name": name, "user_ids": people}), 201)
    assert (group["body_id"], [p["user_id"] for p in group["people"]]) == (cast.body["id"], people)
    assert_error(await sec.post("/api/participant-groups", json={"name": name, "user_ids": people}), 409,
                 "group_exists")
    assert group["id"] in {g["id"] for g in ok(await sec.get("/api/participant-groups"))}
    assert group["id"] not in {g["id"] for g in ok(await cast["other_secretary"].client.get("/api/participant-groups"))}
    assert ok(await cast["member"].client.get("/api/participant-groups")) == []

    meeting = await new_meeting("draft", roles=("chair",))
    url = _url(meeting) + "/groups"
    assert_error(await cast["member"].client.post(url, json={"source": "group", "group_id": group["id"]}), 404)
    out = ok(await sec.post(url, json={"source": "group", "group_id": group["id"]}))
    assert [(p["user_id"], p["role"], p["may_vote"]) for p in out["added"]] == [
        (cast["member"].id, "member", True), (cast["member2"].id, "member", True)]
    assert_error(await sec.post(url, json={"source": "group"}), 400, "group_required")

    assert_error(await cast["other_secretary"].client.delete(f"/api/participant-groups/{group['id']}"), 404)
    ok(await sec.delete(f"/api/participant-groups/{group['id']}"), 204)
    assert group["id"] not in {g["id"] for g in ok(await sec.get("/api/participant-groups"))}


async def test_copying_a_previous_meetings_participants_keeps_their_roles(cast: Cast, root: Client,
                                                                          new_meeting: Any) -> None:
    before = await new_meeting("draft")
    ok(await cast["secretary"].client.patch(_url(before, _pid(before, cast["member2"].id)), json={"may_vote": False}))
    meeting = await new_meeting("draft", roles=())
    url = _url(meeting) + "/groups"
    # Someone who cannot see the earlier meeting cannot copy from it.
    other = ok(await cast["other_secretary"].client.post("/api/meetings", json={
        "body_id": cast.other_body["id"], "title": "Khác", "starts_at": "2026-12-03T08:00:00+07:00"}), 201)
    assert_error(await cast["secretary"].client.post(url, json={"source": "meeting", "meeting_id": other["id"]}), 404)
    assert_error(await cast["secretary"].client.post(url, json={"source": "meeting"}), 400, "meeting_required")
    out = ok(await cast["secretary"].client.post(url, json={"source": "meeting", "meeting_id": before["id"]}))
    copied = await _participants(cast, meeting)
    assert {k: v for k, v in copied.items()} == {k: v for k, v in (await _participants(cast, before)).items()}
    assert copied[cast["member2"].id] == ("member", False) and copied[cast["chair"].id] == ("chair", True)
    assert cast["secretary"].id in {p["user_id"] for p in out["skipped"]}  # the creator was already there


def meeting_suffix() -> str:
    import uuid
    return uuid.uuid4().hex[:8]
