"""Group commit keeps the promise of an acknowledgement: a real `ecabinet serve` is killed (SIGKILL)
while many tablets are voting, right after some of their acks; started again on the same database,
every acknowledged ballot is there exactly once (named: its participant's ballot; secret: its
receipt), the audit chain holds, the voters already counted are refused a second ballot, and the
close counts each stored ballot once. Run on SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sqlmodel import col, func, select

from backend.config import Settings, normalise_database_url
from backend.db import Database
from backend.models import (
    AgendaItem,
    AuditEntry,
    AuthSession,
    Ballot,
    BallotReceipt,
    Body,
    Meeting,
    Participant,
    PollVoter,
    SealedBallot,
    User,
)
from backend.models.base import utcnow
from backend.services import audit, ballot_seal
from backend.services.auth import token_hash
from tests.conftest import free_port
from tests.integration.conftest import _drop_postgres, _fresh_postgres

REPO = Path(__file__).resolve().parents[2]
VOTERS = 80
KILL_AFTER_ACKS = 20  # kill while most ballots are still on their way
START_TIMEOUT_S = 60


@dataclass
class Site:
    env: dict[str, str]
    database_url: str
    log: Path
    meeting_id: int
    chair_token: str
    tokens: list[str]
    participant_of: dict[str, int]  # token -> participant id
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, f"ecabinet {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


async def _seed(database_url: str) -> tuple[int, str, list[str], dict[str, int]]:
    """A meeting in session, its chair and VOTERS members with bearer tokens (inserted directly)."""
    db = Database(normalise_database_url(database_url))
    now = utcnow()
    try:
        async with db.write() as s:
            body = Body(name="Hội đồng thử sự cố", kind="government")
            s.add(body)
            await s.flush()
            users = [User(username=f"crash.{i}", full_name=f"Đại biểu {i}", password_hash="x", body_id=body.id)
                     for i in range(VOTERS + 1)]
            s.add_all(users)
            await s.flush()
            meeting = Meeting(body_id=body.id, title="Kỳ họp", starts_at=now, status="in_progress", started_at=now,
                              created_by=users[0].id)
            s.add(meeting)
            await s.flush()
            item = AgendaItem(meeting_id=meeting.id, position=1, title="Tờ trình", status="current")
            s.add(item)
            await s.flush()
            meeting.current_item_id = item.id
            people = [Participant(meeting_id=meeting.id, user_id=u.id, role="chair" if i == 0 else "member",
                                  may_vote=True) for i, u in enumerate(users)]
            s.add_all(people)
            tokens = [secrets.token_urlsafe(32) for _ in users]
            s.add_all([AuthSession(token_hash=token_hash(t), user_id=u.id, kind="bearer",
                                   expires_at=now + timedelta(hours=2)) for t, u in zip(tokens, users, strict=True)])
            await s.flush()
            assert meeting.id is not None
            participant_of = {t: p.id for t, p in zip(tokens, people, strict=True) if p.id is not None}
            return meeting.id, tokens[0], tokens[1:], participant_of
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    pg_name = None
    if request.param == "postgres":
        pg_name, database_url = await _fresh_postgres()
    else:
        database_url = f"sqlite:///{tmp_path / 'data' / 'ecabinet.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": database_url, "ECABINET_SECRET_KEY": secrets.token_urlsafe(48),
                "ECABINET_DATA_DIR": str(tmp_path / "data"), "ECABINET_MODE": "demo",
                "ECABINET_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"})
    _cli(env, "migrate")
    meeting_id, chair, tokens, participant_of = await _seed(database_url)
    site = Site(env, database_url, tmp_path / "serve.log", meeting_id, chair, tokens, participant_of)
    try:
        yield site
    finally:
        _stop(site)
        if pg_name:
            await _drop_postgres(pg_name)


def _spawn(site: Site) -> None:
    port = free_port()
    site.base_url = f"http://127.0.0.1:{port}"
    with site.log.open("ab") as out:
        site.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=site.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def _start(site: Site) -> None:
    """`ecabinet serve` as an operator starts it, on the site's database (migrated once)."""
    _spawn(site)
    assert site.process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=site.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if site.process.poll() is not None:
                pytest.fail(f"ecabinet serve exited with {site.process.returncode}:\n{site.output()}")
            try:
                if (await http.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"ecabinet serve did not answer within {START_TIMEOUT_S} s:\n{site.output()}")


def _stop(site: Site) -> None:
    if site.process is not None and site.process.poll() is None:
        site.process.kill()
        site.process.wait(timeout=20)


async def _client(site: Site, token: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(site.base_url, auth={"token": token}, transports=["websocket"], wait_timeout=30)
    ack = await sio.call("meeting.join", {"meeting_id": site.meeting_id}, timeout=60)
    assert ack["ok"], ack
    return sio


async def _vote_and_kill(site: Site, poll_secret: bool) -> tuple[int, dict[str, Any]]:
    """Opens a poll, has every member vote at once, SIGKILLs the server after KILL_AFTER_ACKS acks.
    Answers the poll id and the acks received (token -> ack)."""
    chair = await _client(site, site.chair_token)
    created = await chair.call("poll.create", {"meeting_id": site.meeting_id, "question": "Thông qua?",
                                               "secret": poll_secret}, timeout=60)
    assert created["ok"], created
    poll_id = created["poll"]["id"]
    members = await asyncio.gather(*(_client(site, t) for t in site.tokens))
    opened = await chair.call("poll.open", {"poll_id": poll_id}, timeout=60)
    assert opened["ok"], opened
    acks: dict[str, Any] = {}
    enough = asyncio.Event()

    async def vote(token: str, sio: socketio.AsyncClient, i: int) -> None:
        try:
            ack = await sio.call("vote.cast", {"poll_id": poll_id, "choice": "no" if i % 3 == 0 else "yes"},
                                 timeout=60)
        except Exception:  # the server died before answering: this ballot was never acknowledged
            return
        if ack.get("ok"):
            acks[token] = ack
            if len(acks) >= KILL_AFTER_ACKS:
                enough.set()

    voting = [asyncio.create_task(vote(t, sio, i)) for i, (t, sio) in enumerate(zip(site.tokens, members,
                                                                                   strict=True))]
    await asyncio.wait_for(enough.wait(), 60)
    assert site.process is not None
    os.kill(site.process.pid, signal.SIGKILL)  # right after those acks, with more ballots in flight
    site.process.wait(timeout=20)
    # An ack comes before the end of its connection, so once every client has seen its end, what was
    # acknowledged has arrived; python-socketio would wait out the 60 s timeout of each call left.
    clients = [chair, *members]
    deadline = time.monotonic() + 30
    while any(sio.connected for sio in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the answers read before each end are handled in tasks of their own
    for task in voting:
        task.cancel()
    await asyncio.gather(*voting, return_exceptions=True)
    for sio in clients:
        await sio.disconnect()
    return poll_id, dict(acks)


async def _stored(site: Site, poll_id: int, poll_secret: bool) -> tuple[list[int], int, int, bool]:
    """(participant ids with a ballot or voter row, sealed ballots, vote.cast audit entries, chain intact)."""
    db = Database(normalise_database_url(site.database_url))
    try:
        async with db.read() as s:
            table = PollVoter if poll_secret else Ballot
            voters = list((await s.exec(select(table.participant_id).where(table.poll_id == poll_id))).all())
            sealed = int((await s.exec(select(func.count()).select_from(SealedBallot).where(
                SealedBallot.poll_id == poll_id))).one())
            cast = int((await s.exec(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "vote.cast", AuditEntry.object_id == poll_id))).one())
            intact, _, _ = await audit.verify(s)
        return voters, sealed, cast, intact
    finally:
        await db.dispose()


async def _receipts(site: Site, poll_id: int) -> list[str]:
    db = Database(normalise_database_url(site.database_url))
    try:
        async with db.read() as s:
            return list((await s.exec(select(BallotReceipt.receipt).where(BallotReceipt.poll_id == poll_id)
                                      .order_by(col(BallotReceipt.receipt)))).all())
    finally:
        await db.dispose()


async def test_every_acknowledged_ballot_is_counted_once_after_the_worker_is_killed_mid_vote(site: Site) -> None:
    await _start(site)
    for poll_secret in (False, True):
        await _crash_mid_vote_then_count(site, poll_secret)
        _stop(site)
        if not poll_secret:
            await _start(site)


async def _crash_mid_vote_then_count(site: Site, poll_secret: bool) -> None:
    kind = "secret" if poll_secret else "named"
    poll_id, acks = await _vote_and_kill(site, poll_secret)
    assert len(acks) >= KILL_AFTER_ACKS

    voters, sealed, cast, intact = await _stored(site, poll_id, poll_secret)
    acked = {site.participant_of[t] for t in acks}
    assert acked <= set(voters), f"{kind}: an acknowledged ballot was lost in the crash"
    assert len(voters) == len(set(voters)), f"{kind}: a ballot was stored twice"
    assert cast == len(voters), f"{kind}: every stored ballot has its audit entry, and no entry is without its ballot"
    assert intact, f"{kind}: the audit chain broke"
    if poll_secret:
        assert sealed == len(voters)
        seal = ballot_seal.for_settings(Settings(secret_key=site.env["ECABINET_SECRET_KEY"]))
        db = Database(normalise_database_url(site.database_url))
        try:
            async with db.read() as s:
                tags = set((await s.exec(select(SealedBallot.id).where(SealedBallot.poll_id == poll_id))).all())
        finally:
            await db.dispose()
        assert {seal.tag(poll_id, a["receipt"]) for a in acks.values()} <= tags

    # The same server again, on the same database: those counted are refused a second ballot.
    await _start(site)
    first = next(iter(acks))
    again = await _client(site, first)
    twice = await again.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}, timeout=60)
    assert twice["ok"] is False and twice["error"]["code"] == "already_voted", twice
    chair = await _client(site, site.chair_token)
    closed = await chair.call("poll.close", {"poll_id": poll_id}, timeout=60)
    assert closed["ok"], closed
    assert closed["poll"]["result"]["total_ballots"] == len(voters)
    late = await again.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}, timeout=60)
    assert late["ok"] is False and late["error"]["code"] in ("poll_closed", "already_voted"), late
    if poll_secret:
        receipts = await _receipts(site, poll_id)
        assert len(receipts) == len(set(receipts)) == len(voters)
        assert {a["receipt"] for a in acks.values()} <= set(receipts)
    await again.disconnect()
    await chair.disconnect()
    _, _, _, intact = await _stored(site, poll_id, poll_secret)
    assert intact
