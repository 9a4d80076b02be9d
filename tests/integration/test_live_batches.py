"""Assembly scale (issue 18): a storm of joins and a storm of ballots are written in batches (group
commit), not one write transaction per tablet, and nothing is traded away: everyone is checked in
once, every ballot is counted once, each audit entry is chained after the one before."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import socketio
from sqlalchemy import event
from sqlmodel import col, func, select

from backend.models import Attendance, AuditEntry, AuthSession, Ballot
from backend.models.base import utcnow
from backend.services import audit
from backend.services.auth import token_hash
from tests.integration.conftest import Server, bulk_members
from tests.integration.live import LiveClient

TABLETS = 150


@contextmanager
def write_transactions(server: Server) -> Iterator[list[int]]:
    """Counts the commits of the app's engine (reads end in a rollback: only writes commit)."""
    counted = [0]

    def on_commit(_conn: Any) -> None:
        counted[0] += 1

    event.listen(server.db.engine.sync_engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(server.db.engine.sync_engine, "commit", on_commit)


async def _tablets(server: Server, mid: int, prefix: str) -> list[LiveClient]:
    clients = []
    for token in await bulk_members(server, mid, TABLETS, prefix=prefix):
        c = LiveClient(server.base_url)
        await c.connect(token=token)
        clients.append(c)
    return clients


@contextmanager
def session_reads(server: Server) -> Iterator[list[int]]:
    """Counts the statements that read login sessions (a socket's token check at connect)."""
    counted = [0]

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM auth_sessions" in statement:
            counted[0] += 1

    event.listen(server.db.engine.sync_engine, "before_cursor_execute", on_statement)
    try:
        yield counted
    finally:
        event.remove(server.db.engine.sync_engine, "before_cursor_execute", on_statement)


async def test_a_connect_storm_checks_the_tokens_together_and_still_refuses_each_bad_one(
        session_world: dict[str, Any], server: Server) -> None:
    """A room of tablets connecting at once (or reconnecting after an access point restarted) is checked
    in a few reads, and the sessions due for their extension are extended in a few writes, not one of
    each per tablet; a bad token among them is still refused, alone."""
    mid = session_world["meeting_id"]
    tokens = await bulk_members(server, mid, TABLETS, prefix="connect")  # sessions due for their extension
    clients = [LiveClient(server.base_url) for _ in tokens]
    intruders = [LiveClient(server.base_url) for _ in range(3)]
    refused: list[Any] = []
    for intruder in intruders:
        intruder.sio.on("connect_error", refused.append)
    try:
        with session_reads(server) as reads, write_transactions(server) as commits:
            outcomes = await asyncio.gather(
                *(c.connect(token=t) for c, t in zip(clients, tokens, strict=True)),
                *(c.connect(token=f"forged-{i}-{'x' * 40}") for i, c in enumerate(intruders)),
                return_exceptions=True)
        assert all(o is None for o in outcomes[:TABLETS]), [o for o in outcomes if o is not None][:3]
        refusals = outcomes[TABLETS:]
        assert all(isinstance(o, socketio.exceptions.ConnectionError) for o in refusals), refusals
        assert len(refused) == 3 and all("session has ended" in str(r) for r in refused), refused
        assert reads[0] <= TABLETS // 3, f"{reads[0]} reads of sessions for {TABLETS} tablets"
        assert 1 <= commits[0] <= TABLETS // 3, f"{commits[0]} writes for {TABLETS} tablets"
        async with server.db.read() as s:
            extended = (await s.exec(select(func.min(AuthSession.expires_at)).where(
                col(AuthSession.token_hash).in_([token_hash(t) for t in tokens])))).one()
        assert extended > utcnow() + timedelta(hours=server.settings.session_hours) - timedelta(minutes=5)
        acks = await asyncio.gather(*(c.call("meeting.join", {"meeting_id": mid}, timeout=60) for c in clients))
        assert all(a["ok"] and a["state"]["me"]["role"] == "member" for a in acks)
        # Each socket's session is checked again every few seconds (ECABINET_SESSION_RECHECK_MS): the
        # checks falling due together, as when the whole room votes, are one read too.
        await asyncio.sleep(server.settings.session_recheck_ms / 1000 + 0.2)
        with session_reads(server) as reads:
            syncs = await asyncio.gather(*(c.call("meeting.sync", {"meeting_id": mid}, timeout=60)
                                           for c in clients))
        assert all(a["ok"] for a in syncs)
        assert reads[0] <= TABLETS // 3, f"{reads[0]} session checks for {TABLETS} tablets' events"
    finally:
        await asyncio.gather(*(c.close() for c in [*clients, *intruders]))


async def test_a_join_storm_checks_everyone_in_once_with_far_fewer_writes_than_tablets(
        session_world: dict[str, Any], server: Server) -> None:
    mid = session_world["meeting_id"]
    clients = await _tablets(server, mid, "storm")
    try:
        with write_transactions(server) as commits:
            acks = await asyncio.gather(*(c.call("meeting.join", {"meeting_id": mid}, timeout=60) for c in clients))
        assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
        # One transaction per tablet before group commit; a few batches now.
        assert commits[0] <= TABLETS // 3, commits[0]
        assert {a["state"]["me"]["role"] for a in acks} == {"member"}
        assert all(a["state"]["meeting"]["id"] == mid and a["state"]["participants"] is None for a in acks)
        again = await asyncio.gather(*(c.call("meeting.sync", {"meeting_id": mid}, timeout=60) for c in clients))
        assert min(a["state"]["quorum"]["present"] for a in again) >= TABLETS
        async with server.db.read() as s:
            rows = (await s.exec(select(Attendance.participant_id, func.count()).where(
                Attendance.meeting_id == mid, col(Attendance.checked_out_at).is_(None))
                .group_by(col(Attendance.participant_id)))).all()
            assert len(rows) >= TABLETS and all(n == 1 for _, n in rows)
            intact, _, _ = await audit.verify(s)
            assert intact
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_ballots_cast_together_are_written_in_far_fewer_transactions_and_each_counts_once(
        session_world: dict[str, Any], server: Server) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    clients = await _tablets(server, mid, "gc")
    chair = LiveClient(server.base_url)
    await chair.login(people["chair"].username, people["chair"].password)
    await chair.connect()
    try:
        assert all(a["ok"] for a in await asyncio.gather(
            *(c.call("meeting.join", {"meeting_id": mid}, timeout=60) for c in [chair, *clients])))
        created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua?"})
        poll_id = created["poll"]["id"]
        assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
        with write_transactions(server) as commits:
            # Each tablet casts twice at the same instant: the second is refused, whichever batch it is in.
            acks = await asyncio.gather(*(c.call("vote.cast", {"poll_id": poll_id, "choice": ch}, timeout=60)
                                          for c in clients for ch in ("yes", "no")))
        assert commits[0] <= TABLETS // 3, commits[0]
        ok = [a for a in acks if a["ok"]]
        refused = [a for a in acks if not a["ok"]]
        assert len(ok) == TABLETS and {a["error"]["code"] for a in refused} == {"already_voted"}
        closed = await chair.call("poll.close", {"poll_id": poll_id})
        assert closed["poll"]["result"]["total_ballots"] == TABLETS
        async with server.db.read() as s:
            ballots = (await s.exec(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id))).one()
            entries = (await s.exec(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "vote.cast", AuditEntry.object_id == poll_id))).one()
            intact, _, _ = await audit.verify(s)
        assert ballots == entries == TABLETS
        assert intact
        late = await clients[0].call("vote.cast", {"poll_id": poll_id, "choice": "yes"})
        assert late["error"]["code"] == "poll_closed"
    finally:
        await chair.close()
        await asyncio.gather(*(c.close() for c in clients))


async def test_a_big_assembly_hears_vote_progress_less_often_and_still_the_last_count(
        session_world: dict[str, Any], server: Server) -> None:
    """Each push to a meeting's room is one send per tablet: an assembly of 2,000 hearing the progress
    four times a second, as a cabinet does, spent on those sends the CPU its ballots needed. Above 500
    tablets the progress comes proportionally less often (once a second at 2,000), and the last push
    still carries the final count."""
    people, mid = session_world["people"], session_world["meeting_id"]
    tokens = await bulk_members(server, mid, 2000, prefix="assembly")
    voters = tokens[:60]
    clients = await _connected(server, voters)
    chair = LiveClient(server.base_url)
    await chair.login(people["chair"].username, people["chair"].password)
    await chair.connect()
    try:
        assert all(a["ok"] for a in await asyncio.gather(
            *(c.call("meeting.join", {"meeting_id": mid}, timeout=60) for c in [chair, *clients])))
        created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua báo cáo?"})
        poll_id = created["poll"]["id"]
        assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
        listener = clients[-1]
        listener.events["poll.progress"].clear()
        rng = random.Random(18)

        async def vote(c: LiveClient) -> dict[str, Any]:
            await asyncio.sleep(rng.uniform(0, 3.0))  # ballots over three seconds
            return await c.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}, timeout=60)

        started = time.monotonic()
        assert all(a["ok"] for a in await asyncio.gather(*(vote(c) for c in clients)))
        last = await listener.wait_for("poll.progress", lambda p: p["voted"] == len(voters), timeout=10)
        elapsed = time.monotonic() - started
        pushes = [p for p in listener.events["poll.progress"] if p["poll_id"] == poll_id]
        assert last["entitled"] >= 2000
        # At four a second there would be 4 per second of voting; at 2,000 tablets, one.
        assert len(pushes) <= elapsed + 2, f"{len(pushes)} progress pushes in {elapsed:.1f} s"
    finally:
        await chair.close()
        await asyncio.gather(*(c.close() for c in clients))


async def _connected(server: Server, tokens: list[str]) -> list[LiveClient]:
    clients = [LiveClient(server.base_url) for _ in tokens]
    await asyncio.gather(*(c.connect(token=t) for c, t in zip(clients, tokens, strict=True)))
    return clients
