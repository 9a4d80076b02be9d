"""The live session with real Socket.IO clients: connection auth, presence, attendance and quorum,
follow-the-chair, the speaker queue, reconnection, deputies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from tests.integration.conftest import Server
from tests.integration.live import LiveClient


async def _joined(live_factory: Any, person: Any, meeting_id: int) -> tuple[LiveClient, dict[str, Any]]:
    client = await live_factory(person)
    ack = await client.call("meeting.join", {"meeting_id": meeting_id})
    assert ack["ok"], ack
    return client, ack["state"]


async def test_connection_without_or_with_a_bad_token_is_refused(server: Server) -> None:
    for auth in (None, {"token": "not-a-real-token"}):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.base_url, auth=auth, transports=["websocket"], wait_timeout=5)
        await client.disconnect()


async def test_connection_with_the_browser_cookie_is_accepted(session_world: dict[str, Any], server: Server) -> None:
    member = session_world["people"]["member"].client
    cookie = member.http.cookies.get("ecabinet_session")
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.base_url, headers={"Cookie": f"ecabinet_session={cookie}"},
                         transports=["websocket"], wait_timeout=5)
    try:
        ack = await client.call("meeting.sync", {"meeting_id": session_world["meeting_id"]}, timeout=10)
        assert ack["ok"] and ack["state"]["me"]["role"] == "member"
    finally:
        await client.disconnect()


async def test_a_person_with_two_tablets_counts_once_and_leaves_when_both_disconnect(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair, _ = await _joined(live_factory, people["chair"], mid)
    member_id = people["member"].id
    tablet1, _ = await _joined(live_factory, people["member"], mid)
    tablet2, _ = await _joined(live_factory, people["member"], mid)
    await chair.wait_for("presence.roster", lambda d: member_id in d["online"])
    state = (await chair.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert state["presence"]["online"].count(member_id) == 1
    assert state["presence"]["count"] == len(state["presence"]["online"])
    # Tablets hear the count, not the list; the list is the staff's.
    counted = await tablet1.wait_for("presence.changed", lambda d: d["count"] == state["presence"]["count"])
    assert "online" not in counted
    own = (await tablet1.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert own["presence"] == {"online": None, "count": state["presence"]["count"]}
    assert own["attendance"] is None and own["participants"] is None and state["participants"]
    await tablet1.close()
    still = (await chair.call("meeting.sync", {"meeting_id": mid}))["state"]["presence"]["online"]
    assert member_id in still
    await tablet2.close()
    await chair.wait_for("presence.roster", lambda d: member_id not in d["online"])


async def test_joining_a_running_session_checks_in_and_moves_the_quorum(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair, state = await _joined(live_factory, people["chair"], mid)
    # chair, member and member2 are entitled to vote: a majority quorum needs 2 of 3.
    assert state["quorum"]["entitled"] == 3 and state["quorum"]["needed"] == 2
    assert state["quorum"]["present"] == 1 and not state["quorum"]["reached"]
    await _joined(live_factory, people["member"], mid)
    pushed = await chair.wait_for("attendance.changed", lambda d: d["quorum"]["present"] == 2)
    assert pushed["quorum"]["reached"] is True and pushed["count"] == 2 and "attendance" not in pushed
    roster = await chair.wait_for("attendance.roster", lambda d: len(d["attendance"]) == 2)
    assert {a["user_id"] for a in roster["attendance"]} == {people["chair"].id, people["member"].id}
    member_participant = next(p["id"] for p in state["participants"] if p["user_id"] == people["member"].id)
    # The secretariat records someone leaving the room; the quorum drops again.
    sec, _ = await _joined(live_factory, people["secretary"], mid)
    ack = await sec.call("attendance.record", {"meeting_id": mid, "participant_id": member_participant,
                                               "present": False})
    assert ack["ok"], ack
    await chair.wait_for("attendance.changed", lambda d: d["quorum"]["present"] == 1)
    guest, _ = await _joined(live_factory, people["guest"], mid)
    refused = await guest.call("attendance.record", {"meeting_id": mid, "participant_id": member_participant,
                                                     "present": True})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"


async def test_presenter_page_is_broadcast_and_only_staff_may_turn_it(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair, _ = await _joined(live_factory, people["chair"], mid)
    member, _ = await _joined(live_factory, people["member"], mid)
    assert (await chair.call("presenter.page", {"meeting_id": mid, "page": 7}))["ok"]
    pushed = await member.wait_for("presenter.changed", lambda d: d["page"] == 7)
    assert pushed["item_id"] == session_world["items"][0]["id"]
    refused = await member.call("presenter.page", {"meeting_id": mid, "page": 9})
    assert refused["error"]["code"] == "forbidden"
    synced = (await member.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert synced["presenter"]["page"] == 7


async def test_speaker_queue_request_give_time_end_and_withdraw(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair, _ = await _joined(live_factory, people["chair"], mid)
    member, _ = await _joined(live_factory, people["member"], mid)
    member2, _ = await _joined(live_factory, people["member2"], mid)
    bridge, _ = await _joined(live_factory, people["bridge"], mid)
    first = await member.call("speaker.request", {"meeting_id": mid})
    assert first["ok"], first
    twice = await member.call("speaker.request", {"meeting_id": mid})
    assert twice["error"]["code"] == "invalid_state"
    second = await bridge.call("speaker.request", {"meeting_id": mid})
    third = await member2.call("speaker.request", {"meeting_id": mid})
    queue = await chair.wait_for("speakers.changed", lambda d: len(d["turns"]) == 3)
    assert [t["status"] for t in queue["turns"]] == ["waiting"] * 3
    # The chair puts the bridge point first, then gives it the floor for two minutes.
    order = [second["turn_id"], first["turn_id"], third["turn_id"]]
    assert (await chair.call("speaker.reorder", {"meeting_id": mid, "turn_ids": order}))["ok"]
    bad_order = await chair.call("speaker.reorder", {"meeting_id": mid, "turn_ids": [first["turn_id"]]})
    assert bad_order["error"]["code"] == "invalid"
    refused = await member.call("speaker.give", {"meeting_id": mid, "turn_id": first["turn_id"]})
    assert refused["error"]["code"] == "forbidden"
    given = await chair.call("speaker.give", {"meeting_id": mid, "turn_id": second["turn_id"], "seconds": 120})
    assert given["ok"], given
    speaking = await member.wait_for("speakers.changed", lambda d: d["turns"][0]["status"] == "speaking")
    assert speaking["turns"][0]["id"] == second["turn_id"] and speaking["turns"][0]["limit_seconds"] == 120
    assert speaking["turns"][0]["ends_at"] is not None
    assert [t["id"] for t in speaking["turns"][1:]] == [first["turn_id"], third["turn_id"]]
    assert (await chair.call("speaker.time", {"meeting_id": mid, "seconds": 300}))["ok"]
    # Member 2 withdraws; giving the floor to member 1 ends the bridge point's turn.
    assert (await member2.call("speaker.withdraw", {"meeting_id": mid}))["ok"]
    assert (await chair.call("speaker.give", {"meeting_id": mid, "turn_id": first["turn_id"]}))["ok"]
    assert (await chair.call("speaker.end", {"meeting_id": mid}))["ok"]
    nobody = await chair.call("speaker.end", {"meeting_id": mid})
    assert nobody["error"]["code"] == "nobody_speaking"
    final = (await member.call("meeting.sync", {"meeting_id": mid}))["state"]["speakers"]["turns"]
    by_id = {t["id"]: t for t in final}
    assert by_id[second["turn_id"]]["status"] == "done" and by_id[second["turn_id"]]["ended_at"]
    assert by_id[first["turn_id"]]["status"] == "done" and by_id[first["turn_id"]]["started_at"]
    assert by_id[third["turn_id"]]["status"] == "withdrawn"


async def test_a_named_deputy_attends_speaks_and_votes_for_the_member(
        session_world: dict[str, Any], live_factory: Any, server: Server) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec = people["secretary"].client
    participants = (await sec.get(f"/api/meetings/{mid}/participants")).json()
    member_pid = next(p["id"] for p in participants if p["user_id"] == people["member"].id)
    r = await sec.patch(f"/api/meetings/{mid}/participants/{member_pid}",
                        json={"deputy_user_id": people["outsider"].id})
    assert r.status_code == 200, r.text
    assert r.json()["deputy_user_id"] == people["outsider"].id
    chair, _ = await _joined(live_factory, people["chair"], mid)
    deputy, state = await _joined(live_factory, people["outsider"], mid)
    assert state["me"] == {**state["me"], "deputy": True, "participant_id": member_pid, "role": "member"}
    assert (await deputy.call("speaker.request", {"meeting_id": mid}))["ok"]
    poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua báo cáo?"}))["poll"]
    assert (await chair.call("poll.open", {"poll_id": poll["id"]}))["ok"]
    assert (await deputy.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    closed = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]
    assert closed["ballots_published"] is True
    listed = await deputy.call("poll.ballots", {"poll_id": poll["id"]})
    assert listed["votes"] == [{"participant_id": member_pid, "full_name": "Người member", "choice": "yes",
                                "by_deputy": True}]


async def test_a_tablet_that_reconnects_mid_vote_sees_its_ballot_and_cannot_vote_twice(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair, _ = await _joined(live_factory, people["chair"], mid)
    poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Biểu quyết thông qua?"}))["poll"]
    assert (await chair.call("poll.open", {"poll_id": poll["id"]}))["ok"]
    tablet, _ = await _joined(live_factory, people["member"], mid)
    assert (await tablet.call("vote.cast", {"poll_id": poll["id"], "choice": "no"}))["ok"]
    await tablet.close()
    again, state = await _joined(live_factory, people["member"], mid)
    mine = next(p for p in state["polls"] if p["id"] == poll["id"])
    assert mine["status"] == "open" and mine["mine"] == {"voted": True, "choice": "no"} and mine["voted"] == 1
    second = await again.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    assert second["error"]["code"] == "already_voted"
    closed = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]
    assert closed["result"]["counts"] == {"yes": 0, "no": 1, "abstain": 0}


async def test_closing_the_session_ends_the_live_state(session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair, _ = await _joined(live_factory, people["chair"], mid)
    member, _ = await _joined(live_factory, people["member"], mid)
    poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Q?"}))["poll"]
    assert (await chair.call("poll.open", {"poll_id": poll["id"]}))["ok"]
    rest_chair = people["chair"].client
    blocked = await rest_chair.post(f"/api/meetings/{mid}/transitions", json={"action": "close"})
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "poll_open"
    assert (await chair.call("poll.close", {"poll_id": poll["id"]}))["ok"]
    closed = await rest_chair.post(f"/api/meetings/{mid}/transitions", json={"action": "close"})
    assert closed.status_code == 200
    pushed = await member.wait_for("meeting.changed", lambda d: d["status"] == "closed")
    assert pushed["meeting_id"] == mid
    state = (await chair.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert state["attendance"] == [] and state["quorum"]["present"] == 0
    late = await member.call("speaker.request", {"meeting_id": mid})
    assert late["error"]["code"] == "invalid_state"


async def test_events_for_another_meeting_are_refused(session_world: dict[str, Any], live_factory: Any,
                                                      admin: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    outsider = await live_factory(people["outsider"])
    for event, data in [("meeting.join", {"meeting_id": mid}), ("meeting.sync", {"meeting_id": mid}),
                        ("speaker.request", {"meeting_id": mid}), ("agenda.goto", {"meeting_id": mid, "item_id": 1})]:
        ack = await outsider.call(event, data)
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", (event, ack)  # as if there were none
    # The connection stays usable.
    assert (await outsider.call("meeting.sync", {"meeting_id": 2_000_000}))["error"]["code"] == "not_found"
    await asyncio.sleep(0)


async def test_starting_checks_in_the_tablets_already_there_and_sends_the_quorum_with_the_news(
        world: dict[str, Any], live_factory: Any) -> None:
    """Issue 14: the console and the tablets showed different counts for about a second after the start
    (each tablet's join checked it in a moment apart; the coalesced push came later)."""
    people, mid = world["people"], world["meeting"]["id"]
    assert (await people["secretary"].client.post(f"/api/meetings/{mid}/transitions",
                                                  json={"action": "publish"})).status_code == 200
    chair, _ = await _joined(live_factory, people["chair"], mid)
    member, before = await _joined(live_factory, people["member"], mid)
    guest, _ = await _joined(live_factory, people["guest"], mid)
    assert before["quorum"]["present"] == 0
    r = await people["chair"].client.post(f"/api/meetings/{mid}/transitions", json={"action": "start"})
    assert r.status_code == 200, r.text
    pushed = [await c.wait_for("meeting.changed", lambda d: d["status"] == "in_progress") for c in (chair, member)]
    # The chair and the member were in the room: both present before anyone hears of the start; the guest,
    # who does not count, and member2, who is not there, are not.
    assert pushed[0]["quorum"] == pushed[1]["quorum"] and pushed[0]["quorum"]["present"] == 2
    again = (await member.call("meeting.join", {"meeting_id": mid}))["state"]
    assert again["quorum"] == pushed[0]["quorum"]
    assert (await guest.call("meeting.sync", {"meeting_id": mid}))["state"]["quorum"] == pushed[0]["quorum"]
