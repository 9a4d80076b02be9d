"""Issue 18: a secret poll's result reaches the room as fast as a named poll's. Its close commits the
result (a few rows, whatever the number of ballots) and tells it; only then are the ballots written
out as anonymous choices and receipts. A worker dying in between leaves a closed poll with a final,
durable result and sealed ballots, which the receipts' list or the housekeeping sweep unseal later,
each ballot once."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import func, select

from backend.models import BallotReceipt, Poll, SealedBallot, SecretBallot
from backend.services import ballot_seal, polls
from backend.services.context import Live
from backend.services.events import Coalescer
from backend.services.presence import MemoryPresence
from tests.integration.conftest import Server, bulk_members, unique
from tests.integration.live import LiveClient

VOTERS = 30
CHOICES = ["yes", "no", "abstain"]


class _Told:
    """A bus that notes, when the result is published, what the database had done and held by then."""

    def __init__(self, server: Server, statements: list[str]) -> None:
        self.server, self.statements = server, statements
        self.before: list[str] | None = None
        self.status: str | None = None
        self.waited_after: int | None = None
        """How many statements had run when the close waited for the result to reach the sockets."""

    async def publish(self, event: str, data: dict[str, Any], *, room: str) -> None:
        if event == "poll.closed":
            self.before = list(self.statements)
            async with self.server.db.read() as s:  # another connection: only what was committed
                self.status = (await s.get(Poll, data["id"])).status  # type: ignore[union-attr]

    async def delivered(self, within: float) -> None:
        assert self.before is not None, "waited for a delivery before publishing"
        self.waited_after = len(self.statements)


def _live(server: Server, bus: Any) -> Live:
    return Live(db=server.db, bus=bus, presence=MemoryPresence(), progress=Coalescer(0.25),
                seal=ballot_seal.for_settings(server.settings))


async def _voted_poll(server: Server, chair: LiveClient, mid: int,
                      voters: list[LiveClient]) -> tuple[int, dict[str, str]]:
    created = await chair.call("poll.create", {"meeting_id": mid, "question": "Bầu?", "secret": True,
                                               "quorum_required": False})
    assert created["ok"], created
    poll_id = int(created["poll"]["id"])
    assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
    receipts: dict[str, str] = {}
    for voter, choice in zip(voters, itertools.cycle(CHOICES), strict=False):
        ack = await voter.call("vote.cast", {"poll_id": poll_id, "choice": choice})
        assert ack["ok"], ack
        receipts[ack["receipt"]] = choice
    return poll_id, receipts


async def _stored(server: Server, poll_id: int) -> tuple[int, Counter[str], list[str]]:
    async with server.db.read() as s:
        sealed = (await s.exec(select(func.count()).select_from(SealedBallot).where(
            SealedBallot.poll_id == poll_id))).one()
        choices = Counter((await s.exec(select(SecretBallot.choice).where(SecretBallot.poll_id == poll_id))).all())
        receipts = list((await s.exec(select(BallotReceipt.receipt).where(BallotReceipt.poll_id == poll_id))).all())
    return int(sealed), choices, receipts


async def _room(server: Server, live_factory: Any,
                session_world: dict[str, Any]) -> tuple[LiveClient, int, list[LiveClient]]:
    mid = session_world["meeting_id"]
    chair = await live_factory(session_world["people"]["chair"])
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    voters = []
    for token in await bulk_members(server, mid, VOTERS, prefix=unique("sc")):
        c = await live_factory(connect=False)
        await c.connect(token=token)
        assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
        voters.append(c)
    return chair, mid, voters


async def test_a_secret_close_tells_its_result_before_writing_anything_per_ballot_and_then_unseals_each_once(
        session_world: dict[str, Any], live_factory: Any, server: Server) -> None:
    chair, mid, voters = await _room(server, live_factory, session_world)
    poll_id, receipts = await _voted_poll(server, chair, mid, voters)
    statements: list[str] = []

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    told = _Told(server, statements)
    event.listen(server.db.engine.sync_engine, "before_cursor_execute", on_statement)
    try:
        out = await polls.close(_live(server, told), None, poll_id)
    finally:
        event.remove(server.db.engine.sync_engine, "before_cursor_execute", on_statement)

    expected = Counter(receipts.values())
    assert out["result"]["counts"] == {c: expected[c] for c in CHOICES}
    # Told once the closed poll and its result were committed, and before any row per ballot.
    assert told.before is not None and told.status == "closed"
    per_ballot = [s for s in told.before if s.startswith(("INSERT INTO SECRET_BALLOTS", "INSERT INTO BALLOT_RECEIPTS",
                                                          "DELETE FROM SEALED_BALLOTS"))]
    assert per_ballot == [], per_ballot
    assert len(told.before) <= 30, told.before  # a handful of statements, whatever the number of ballots
    # The unsealing waited until the sockets had taken the result (it competed with the fan-out at 2,000).
    assert told.waited_after is not None
    assert not [s for s in statements[:told.waited_after] if s.startswith("INSERT INTO SECRET_BALLOTS")]
    # Then every ballot was written out once, as a choice and, apart, a receipt.
    sealed, choices, stored = await _stored(server, poll_id)
    assert (sealed, choices) == (0, expected)
    assert sorted(stored) == sorted(receipts)


async def test_a_close_cut_off_after_its_result_keeps_the_result_and_unseals_later_each_ballot_once(
        session_world: dict[str, Any], live_factory: Any, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    chair, mid, voters = await _room(server, live_factory, session_world)
    live = _live(server, _Told(server, []))
    done: dict[int, tuple[dict[str, str], dict[str, Any]]] = {}
    for _ in range(2):
        poll_id, receipts = await _voted_poll(server, chair, mid, voters)

        async def died(*_: Any, **__: Any) -> bool:  # the worker dies right after telling the result
            return False

        with monkeypatch.context() as m:
            m.setattr(polls, "_unseal", died)
            out = await polls.close(live, None, poll_id)
        done[poll_id] = (receipts, out["result"])
        # What the crash leaves: the result final and durable; the ballots still sealed, nothing in clear.
        async with server.db.read() as s:
            poll = await s.get(Poll, poll_id)
            assert poll is not None and poll.status == "closed" and poll.result
        assert await _stored(server, poll_id) == (VOTERS, Counter(), [])
    (first, (receipts1, _)), (second, (receipts2, result2)) = done.items()

    # A tablet asking for the receipts finishes the unsealing itself and gets every one.
    listed = await voters[0].call("poll.ballots", {"poll_id": first})
    assert listed["ok"], listed
    assert sorted(r["receipt"] for r in listed["receipts"]) == sorted(receipts1)
    sealed, choices, _ = await _stored(server, first)
    assert (sealed, choices) == (0, Counter(receipts1.values()))

    # The housekeeping sweep (as after a restart) finishes the other; a second sweep finds nothing.
    await polls.unseal_left(live, closed_before=timedelta(0))
    sealed, choices, stored = await _stored(server, second)
    assert (sealed, choices) == (0, Counter(receipts2.values()))
    assert sorted(stored) == sorted(receipts2)
    assert {c: choices[c] for c in CHOICES} == result2["counts"]
    assert await polls.unseal_left(live, closed_before=timedelta(0)) == 0
