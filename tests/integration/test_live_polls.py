"""Voting with real Socket.IO clients: named and secret polls, majority rules, time limits, receipts,
concurrency (200 members at the same instant), and everything a bad ballot gets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlmodel import select

from backend.models import Ballot, BallotReceipt, PollVoter, SealedBallot, SecretBallot
from tests.integration.conftest import Server, bulk_members
from tests.integration.live import LiveClient


async def _join(live_factory: Any, person: Any, mid: int) -> LiveClient:
    c = await live_factory(person)
    assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
    return c


async def _poll(chair: LiveClient, mid: int, **options: Any) -> dict[str, Any]:
    ack = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua Nghị quyết phiên họp?",
                                           **options})
    assert ack["ok"], ack
    opened = await chair.call("poll.open", {"poll_id": ack["poll"]["id"]})
    assert opened["ok"], opened
    return dict(opened["poll"])


async def test_named_poll_from_open_to_immutable_result(session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    member2 = await _join(live_factory, people["member2"], mid)
    poll = await _poll(chair, mid, majority="majority_entitled")
    pushed = await member.wait_for("poll.changed", lambda d: d["id"] == poll["id"] and d["status"] == "open")
    assert [o["label"] for o in pushed["options"]] == ["Tán thành", "Không tán thành", "Không biểu quyết"]
    assert pushed["counts"] is None and pushed["entitled"] == 3
    assert (await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    assert (await member2.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    assert (await chair.call("vote.cast", {"poll_id": poll["id"], "choice": "abstain"}))["ok"]
    progress = await member.wait_for("poll.progress", lambda d: d["voted"] == 3)
    assert "counts" not in progress  # interim counts only where the poll allows
    closed = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]
    result = closed["result"]
    assert result["counts"] == {"yes": 2, "no": 0, "abstain": 1}
    assert result["passed"] is True and result["winner"] == "yes" and result["threshold"] == 2
    assert result["quorum_reached"] is True and result["present"] == 3
    assert "votes" not in closed and closed["ballots_published"] is True  # the list is asked for, not pushed
    listed = await member2.call("poll.ballots", {"poll_id": poll["id"]})
    assert listed["ok"] and listed["receipts"] is None
    assert sorted(v["choice"] for v in listed["votes"]) == ["abstain", "yes", "yes"]
    seen = await member2.wait_for("poll.closed", lambda d: d["id"] == poll["id"])
    assert seen["result"] == result
    late = await member.call("vote.cast", {"poll_id": poll["id"], "choice": "no"})
    assert late["error"]["code"] == "poll_closed"
    again = await chair.call("poll.close", {"poll_id": poll["id"]})
    assert again["error"]["code"] == "poll_not_open"
    state = (await member.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert next(p for p in state["polls"] if p["id"] == poll["id"])["result"] == result


async def test_interim_counts_and_changing_a_vote_where_the_poll_allows(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    poll = await _poll(chair, mid, allow_change=True, show_interim=True)
    assert (await member.call("vote.cast", {"poll_id": poll["id"], "choice": "no"}))["ok"]
    changed = await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    assert changed["ok"] and changed["changed"] is True
    progress = await chair.wait_for("poll.progress", lambda d: d.get("counts", {}).get("yes") == 1)
    assert progress["counts"] == {"yes": 1, "no": 0, "abstain": 0} and progress["voted"] == 1
    interim = await chair.call("poll.ballots", {"poll_id": poll["id"]})  # named + interim: the list is public
    assert [v["choice"] for v in interim["votes"]] == ["yes"]
    closed = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]
    assert closed["result"]["counts"]["yes"] == 1 and closed["result"]["total_ballots"] == 1


async def test_secret_poll_publishes_receipts_and_stores_nothing_linking_ballot_to_voter(
        session_world: dict[str, Any], live_factory: Any, server: Server) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    member2 = await _join(live_factory, people["member2"], mid)
    poll = await _poll(chair, mid, secret=True, allow_change=True, show_interim=True)
    assert poll["show_interim"] is False  # never interim counts in a secret poll: timing would betray voters
    first = await member.call("vote.cast", {"poll_id": poll["id"], "choice": "no"})
    second = await member2.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    assert first["ok"] and second["ok"]
    receipt = first["receipt"]
    assert len(receipt) == 19 and receipt != second["receipt"]
    no_receipt = await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    assert no_receipt["error"]["code"] == "receipt_required"
    wrong = await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes", "receipt": "AAAA-BBBB-CCCC-DDDD"})
    assert wrong["error"]["code"] == "unknown_receipt"
    assert (await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes", "receipt": receipt}))["ok"]
    state = (await member.call("meeting.sync", {"meeting_id": mid}))["state"]
    assert next(p for p in state["polls"] if p["id"] == poll["id"])["mine"] == {"voted": True, "choice": None}
    early = await member.call("poll.ballots", {"poll_id": poll["id"]})
    assert early["ok"] is False and early["error"]["code"] == "ballots_not_published"
    assert (await chair.call("poll.close", {"poll_id": poll["id"]}))["ok"]
    listed = await member2.call("poll.ballots", {"poll_id": poll["id"]})
    assert listed["votes"] is None
    # The published list shows the receipts, never a choice beside them (nothing to show a coercer).
    assert listed["receipts"] == sorted([{"receipt": receipt}, {"receipt": second["receipt"]}],
                                        key=lambda r: r["receipt"])
    assert listed["receipts"] and "yes" not in json.dumps(listed)
    # What is stored: who voted (no choice), anonymous choices and, apart, receipts (no voter, no time,
    # random ids, nothing pairing a receipt with a choice); no sealed ballot is left.
    async with server.db.read() as s:
        ballots = (await s.exec(select(SecretBallot).where(SecretBallot.poll_id == poll["id"]))).all()
        kept = (await s.exec(select(BallotReceipt).where(BallotReceipt.poll_id == poll["id"]))).all()
        sealed = (await s.exec(select(SealedBallot).where(SealedBallot.poll_id == poll["id"]))).all()
        voters = (await s.exec(select(PollVoter).where(PollVoter.poll_id == poll["id"]))).all()
        named = (await s.exec(select(Ballot).where(Ballot.poll_id == poll["id"]))).all()
    assert named == [] and sealed == []
    assert sorted(b.choice for b in ballots) == ["yes", "yes"]
    assert {r.receipt for r in kept} == {receipt, second["receipt"]}
    assert set(SecretBallot.model_fields) == {"id", "poll_id", "choice"}
    assert set(BallotReceipt.model_fields) == {"id", "poll_id", "receipt"}
    assert {v.participant_id for v in voters} and all(not hasattr(v, "choice") for v in voters)
    # The audit log says that the member voted, never what.
    audit = (await session_world["admin"].get("/api/audit", params={"meeting_id": mid})).json()
    casts = [e for e in audit if e["action"] == "vote.cast" and e["object_id"] == poll["id"]]
    assert len(casts) == 3 and all("choice" not in e["details"] for e in casts)
    assert "yes" not in json.dumps(casts) and "no\"" not in json.dumps(casts)


async def test_majority_rules_and_quorum_decide_the_result(session_world: dict[str, Any],
                                                           live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    # 3 entitled, 2 present. Cast: 1 yes, 1 no.
    poll = await _poll(chair, mid, majority="majority_cast")
    await chair.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    await member.call("vote.cast", {"poll_id": poll["id"], "choice": "no"})
    tie = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]["result"]
    assert tie["passed"] is False and tie["threshold"] == 2
    poll = await _poll(chair, mid, majority="two_thirds")
    await chair.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    two_thirds = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]["result"]
    assert two_thirds["passed"] is True and two_thirds["threshold"] == 2
    # The member leaves the room: 1 of 3 present, below the quorum of 2; the vote cannot pass.
    assert (await member.call("attendance.check_out", {"meeting_id": mid}))["ok"]
    poll = await _poll(chair, mid, majority="majority_cast", quorum_required=True)
    await chair.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"})
    no_quorum = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]["result"]
    assert no_quorum["quorum_reached"] is False and no_quorum["passed"] is False
    poll = await _poll(chair, mid, options=["Phương án A", "Phương án B"], quorum_required=False)
    await chair.call("vote.cast", {"poll_id": poll["id"], "choice": "c2"})
    choice = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]["result"]
    assert choice["winner"] == "c2" and choice["passed"] is True


async def test_a_poll_closes_by_itself_when_its_time_is_up(session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    poll = await _poll(chair, mid, time_limit_seconds=10)
    assert poll["closes_at"] is not None
    assert (await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    closed = await member.wait_for("poll.closed", lambda d: d["id"] == poll["id"], timeout=15)
    assert closed["result"]["counts"]["yes"] == 1 and closed["status"] == "closed"


async def test_bad_ballots_get_clear_acks_and_change_nothing(session_world: dict[str, Any], live_factory: Any,
                                                             server: Server) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    guest = await _join(live_factory, people["guest"], mid)
    outsider = await live_factory(people["outsider"])
    draft = (await chair.call("poll.create", {"meeting_id": mid, "question": "Chưa mở?"}))["poll"]
    poll = await _poll(chair, mid)
    cases = [
        (member, "vote.cast", {"poll_id": draft["id"], "choice": "yes"}, "poll_closed"),
        (member, "vote.cast", {"poll_id": poll["id"], "choice": "maybe"}, "unknown_option"),
        (member, "vote.cast", {"poll_id": 2_000_000, "choice": "yes"}, "unknown_poll"),
        (guest, "vote.cast", {"poll_id": poll["id"], "choice": "yes"}, "forbidden"),
        (outsider, "vote.cast", {"poll_id": poll["id"], "choice": "yes"}, "unknown_poll"),
        (member, "poll.close", {"poll_id": poll["id"]}, "forbidden"),
        (member, "poll.create", {"meeting_id": mid, "question": "Của tôi?"}, "forbidden"),
        (member, "vote.cast", {"poll_id": str(poll["id"]), "choice": "yes"}, "validation_error"),
        (member, "vote.cast", {"poll_id": poll["id"], "choice": "yes", "extra": 1}, "validation_error"),
        (member, "vote.cast", "yes", "validation_error"),
        (member, "vote.cast", None, "validation_error"),
        (member, "vote.cast", {"poll_id": poll["id"], "choice": "y" * 50_000}, "payload_too_large"),
        (member, "vote.steal", {"poll_id": poll["id"]}, "unknown_event"),
        (chair, "poll.open", {"poll_id": draft["id"]}, "poll_open"),
        (outsider, "poll.ballots", {"poll_id": poll["id"]}, "unknown_poll"),
        (member, "poll.ballots", {"poll_id": draft["id"]}, "unknown_poll"),
        (member, "poll.ballots", {"poll_id": poll["id"]}, "ballots_not_published"),
        (member, "poll.ballots", {"poll_id": "x"}, "validation_error"),
        (chair, "poll.create", {"meeting_id": mid, "question": "X", "options": ["Một"]}, "invalid"),
    ]
    for client, event, data, code in cases:
        ack = await client.call(event, data)
        assert ack["ok"] is False and ack["error"]["code"] == code, (event, data if len(str(data)) < 200 else "…", ack)
        assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
    async with server.db.read() as s:
        assert (await s.exec(select(Ballot).where(Ballot.poll_id == poll["id"]))).all() == []
    # Every connection is still usable.
    assert (await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    assert (await guest.call("meeting.sync", {"meeting_id": mid}))["ok"]


async def test_two_hundred_members_casting_at_the_same_instant_make_exactly_two_hundred_ballots(
        session_world: dict[str, Any], server: Server, live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    tokens = await bulk_members(server, mid, 200, prefix="tv")
    chair = await _join(live_factory, people["chair"], mid)
    clients = []
    for token in tokens:
        c = LiveClient(server.base_url)
        await c.connect(token=token)
        clients.append(c)
    try:
        joined = await asyncio.gather(*(c.call("meeting.join", {"meeting_id": mid}) for c in clients),
                                      return_exceptions=True)
        dropped = [(i, c.disconnects) for i, c in enumerate(clients) if c.disconnects]
        assert all(isinstance(a, dict) and a["ok"] for a in joined), (dropped, [a for a in joined if not (
            isinstance(a, dict) and a["ok"])][:3])
        poll = await _poll(chair, mid, majority="majority_cast")
        choices = ["yes" if i % 4 else "no" for i in range(200)]
        acks = await asyncio.gather(*(c.call("vote.cast", {"poll_id": poll["id"], "choice": ch}, timeout=60)
                                      for c, ch in zip(clients, choices, strict=True)))
        assert [a["ok"] for a in acks] == [True] * 200, [a for a in acks if not a["ok"]][:3]
        progress = await chair.wait_for("poll.progress", lambda d: d["voted"] == 200, timeout=20)
        assert progress["entitled"] == 203
        # Coalesced: far fewer progress pushes than ballots.
        assert len(chair.events["poll.progress"]) < 60
        closed = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]
        assert closed["result"]["counts"] == {"yes": 150, "no": 50, "abstain": 0}
        everyone = await asyncio.gather(*(c.wait_for("poll.closed", lambda d: d["id"] == poll["id"], timeout=20)
                                          for c in clients))
        assert all(d["result"]["total_ballots"] == 200 for d in everyone)
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_the_same_member_casting_twice_at_the_same_instant_counts_once(
        session_world: dict[str, Any], live_factory: Any, server: Server) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    for secret in (False, True):
        poll = await _poll(chair, mid, secret=secret)
        tablets = [await _join(live_factory, people["member"], mid) for _ in range(4)]
        acks = await asyncio.gather(*(t.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}) for t in tablets))
        assert sum(a["ok"] for a in acks) == 1, acks
        assert {a["error"]["code"] for a in acks if not a["ok"]} == {"already_voted"}
        closed = (await chair.call("poll.close", {"poll_id": poll["id"]}))["poll"]
        assert closed["result"]["total_ballots"] == 1
        for t in tablets:
            await t.close()
