"""Issue 12, finding 3: a secret ballot cannot be linked to its voter from the database files, the WAL,
a backup or PostgreSQL's row metadata, neither while the poll is open nor after it closed; an
acknowledged ballot survives a crash; and only a participant who is present may vote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from backend.models import Participant, Poll, User
from backend.services import audit
from tests.conftest import free_port
from tests.integration import linkage
from tests.integration.conftest import Server, _drop_postgres, _fresh_postgres, bulk_members, unique
from tests.integration.live import LiveClient
from tests.integration.test_cli import ecabinet

VOTERS = 12


async def _join(live_factory: Any, person: Any, mid: int) -> LiveClient:
    c = await live_factory(person)
    assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
    return c


async def _secret_poll(chair: LiveClient, mid: int, options: list[str] | None = None) -> int:
    created = await chair.call("poll.create", {"meeting_id": mid, "question": "Bầu Phó Chủ tịch?", "secret": True,
                                               "quorum_required": False, **({"options": options} if options else {})})
    assert created["ok"], created
    opened = await chair.call("poll.open", {"poll_id": created["poll"]["id"]})
    assert opened["ok"], opened
    return int(created["poll"]["id"])


async def _copies(server: Server, where: Path, poll_id: int, truth: list[tuple[int, str]]) -> linkage.Findings:
    if server.backend == "sqlite":
        return linkage.analyse_sqlite(Path(server.db.url.split(":///", 1)[1]), where, poll_id, truth)
    return await linkage.analyse_postgres(server.db.url, poll_id, truth)


async def test_secret_ballots_cannot_be_linked_to_voters_from_copies_of_the_database(
        session_world: dict[str, Any], live_factory: Any, server: Server, tmp_path: Path) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    prefix = unique("kin")
    tokens = await bulk_members(server, mid, VOTERS, prefix=prefix)
    async with server.db.read() as s:
        pids = list((await s.exec(select(Participant.id).join(User, col(User.id) == col(Participant.user_id)).where(
            Participant.meeting_id == mid, col(User.username).startswith(prefix)).order_by(col(Participant.id)))).all())
    voters = []
    for token in tokens:
        c = await live_factory()
        await c.connect(token=token)
        assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
        voters.append(c)
    # Every voter picks a different option: a right guess is a real link, not luck with yes/no.
    poll_id = await _secret_poll(chair, mid, [f"Ứng viên {i}" for i in range(1, VOTERS + 1)])
    truth: list[tuple[int, str]] = []
    receipts: list[str] = []
    during = None
    for i, voter in enumerate(voters):
        ack = await voter.call("vote.cast", {"poll_id": poll_id, "choice": f"c{i + 1}"})
        assert ack["ok"], ack
        receipts.append(ack["receipt"])
        truth.append((int(pids[i] or 0), f"c{i + 1}"))
        if i + 1 == VOTERS // 2:  # a copy while the poll is open, half the members having voted
            during = await _copies(server, tmp_path / "during", poll_id, truth)
            kept = linkage.sqlite_secrets(tmp_path / "during" / "backup.sqlite3", poll_id) \
                if server.backend == "sqlite" else []
    assert during is not None
    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"] and closed["poll"]["result"]["total_ballots"] == VOTERS
    assert closed["poll"]["result"]["counts"] == {**{f"c{i}": 1 for i in range(1, VOTERS + 1)}, "abstain": 0}
    after = await _copies(server, tmp_path / "after", poll_id, truth)

    assert (during.beyond_chance(), after.beyond_chance()) == ({}, {}), (during.linked, after.linked)
    # What the close deleted is gone from the files, the WAL and the heap pages, not just unlisted.
    if server.backend == "sqlite":
        assert kept, "the open poll's rows were found in the copy"
        assert linkage.sqlite_residue(Path(server.db.url.split(":///", 1)[1]), kept) == []
    else:
        assert await linkage.postgres_residue(server.db.url, ["secret_ballots", "sealed_ballots"]) == []
    # The audit log says who voted, never what nor with which receipt, and its chain still holds.
    entries = (await session_world["admin"].get("/api/audit", params={"meeting_id": mid})).json()
    casts = [e for e in entries if e["action"] == "vote.cast" and e["object_id"] == poll_id]
    assert len(casts) == VOTERS
    for entry in casts:
        assert set(entry["details"]) <= {"participant_id", "changed"}, entry
    assert not any(r in json.dumps(casts) for r in receipts)
    ok, _, broken = await audit.verify_chain(server.db)
    assert ok, broken
    # The published list proves inclusion, not a choice: receipts only.
    listed = await voters[0].call("poll.ballots", {"poll_id": poll_id})
    assert listed["ok"] and len(listed["receipts"]) == VOTERS
    assert all(set(r) == {"receipt"} for r in listed["receipts"]), listed["receipts"][:2]


async def test_a_participant_marked_absent_cannot_vote_until_checked_in(
        session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    secretary = await _join(live_factory, people["secretary"], mid)
    sync = (await secretary.call("meeting.sync", {"meeting_id": mid}))["state"]
    member_pid = next(p["id"] for p in sync["participants"] if p["user_id"] == people["member"].id)
    assert (await secretary.call("attendance.record", {"meeting_id": mid, "participant_id": member_pid,
                                                       "present": False}))["ok"]
    for secret in (False, True):
        created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua?", "secret": secret})
        poll_id = created["poll"]["id"]
        assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
        refused = await member.call("vote.cast", {"poll_id": poll_id, "choice": "yes"})
        assert refused["ok"] is False and refused["error"]["code"] == "not_present", refused
        assert (await member.call("attendance.check_in", {"meeting_id": mid}))["ok"]
        assert (await member.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
        assert (await chair.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
        result = (await chair.call("poll.close", {"poll_id": poll_id}))["poll"]["result"]
        # The minutes never show more votes than members present.
        assert result["total_ballots"] == 2 and result["present"] >= result["total_ballots"], result
        assert (await secretary.call("attendance.record", {"meeting_id": mid, "participant_id": member_pid,
                                                           "present": False}))["ok"]


def _serve(data_dir: Path, port: int, database_url: str) -> subprocess.Popen[bytes]:
    """`ecabinet serve` as an operator runs it (demo mode: the ballot key file sits in the data directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"ECABINET_DATA_DIR": str(data_dir), "ECABINET_LOG_LEVEL": "warning", "DATABASE_URL": database_url})
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


async def _tablet(base: str, username: str, password: str, mid: int | None = None) -> LiveClient:
    c = LiveClient(base)
    await c.login(username, password)
    await c.connect()
    if mid is not None:
        assert (await c.call("meeting.join", {"meeting_id": mid}))["ok"]
    return c


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_acknowledged_secret_ballot_survives_a_crash_and_is_counted_once(tmp_path: Path,
                                                                                   backend: str) -> None:
    pg_name, url = await _fresh_postgres() if backend == "postgres" else (None, "")
    try:
        await _crash_after_the_ack(tmp_path, url)
    finally:
        if pg_name:
            await _drop_postgres(pg_name)


async def _crash_after_the_ack(tmp_path: Path, database_url: str) -> None:
    assert ecabinet(tmp_path, "demo", extra_env={"DATABASE_URL": database_url}).returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, port, database_url)
    tablets: list[LiveClient] = []
    try:
        chair = await _tablet(base, "thutuong", "ChuToa@2026")
        headers = {"Authorization": f"Bearer {chair.token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            mid = next(m["id"] for m in (await http.get("/api/meetings")).json() if m["status"] == "published")
            assert (await http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"})).status_code == 200
        assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
        member = await _tablet(base, "bo.tuphap", "ThanhVien@2026", mid)
        tablets += [chair, member]
        poll_id = await _secret_poll(chair, mid)
        ack = await member.call("vote.cast", {"poll_id": poll_id, "choice": "no"})
        assert ack["ok"] and ack["receipt"], ack
        proc.kill()  # the moment the ack is in: no clean shutdown, nothing flushed on the way out
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        for t in tablets:
            await t.close()
    proc = _serve(tmp_path, port, database_url)
    tablets = []
    try:
        chair = await _tablet(base, "thutuong", "ChuToa@2026", mid)
        member = await _tablet(base, "bo.tuphap", "ThanhVien@2026", mid)
        tablets += [chair, member]
        again = await member.call("vote.cast", {"poll_id": poll_id, "choice": "no"})  # the tablet retries
        assert again["ok"] is False and again["error"]["code"] == "already_voted", again
        closed = await chair.call("poll.close", {"poll_id": poll_id})
        assert closed["ok"], closed
        result = closed["poll"]["result"]
        assert result["counts"] == {"yes": 0, "no": 1, "abstain": 0} and result["total_ballots"] == 1, result
        listed = await member.call("poll.ballots", {"poll_id": poll_id})
        assert listed["receipts"] == [{"receipt": ack["receipt"]}]
    finally:
        for t in tablets:
            await t.close()
        proc.terminate()
        proc.wait(timeout=30)


async def test_a_worker_with_another_ballot_key_refuses_ballots_it_could_not_count(
        session_world: dict[str, Any], live_factory: Any, server: Server) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair = await _join(live_factory, people["chair"], mid)
    member = await _join(live_factory, people["member"], mid)
    poll_id = await _secret_poll(chair, mid)
    assert (await member.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
    async with server.db.write() as s:  # as if the poll had been opened by a worker with another key
        poll = await s.get(Poll, poll_id)
        assert poll is not None and poll.seal_key_id
        ours, poll.seal_key_id = poll.seal_key_id, "0" * 16
        s.add(poll)
    refused = await chair.call("vote.cast", {"poll_id": poll_id, "choice": "no"})
    assert refused["ok"] is False and refused["error"]["code"] == "ballot_key_mismatch", refused
    kept_open = await chair.call("poll.close", {"poll_id": poll_id})
    assert kept_open["ok"] is False and kept_open["error"]["code"] == "ballot_key_mismatch", kept_open
    async with server.db.write() as s:
        poll = await s.get(Poll, poll_id)
        assert poll is not None and poll.status == "open"
        poll.seal_key_id = ours
        s.add(poll)
    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"] and closed["poll"]["result"]["counts"]["yes"] == 1
    assert closed["poll"]["result"]["total_ballots"] == 1
