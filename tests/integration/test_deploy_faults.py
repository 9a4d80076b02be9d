"""Faults of a production deployment, each provoked for real: three workers (`ecabinet serve --workers 3`)
behind nginx with the shipped site, on a PostgreSQL cluster and a Redis server of this test's own (so they
may be stopped), the data directory on a small tmpfs mounted here (so the disk may fill up).

- a full disk during an upload: a clear 507 `disk_full`, nothing half-written kept, the server goes on;
- PostgreSQL stopped for 10 s: every request a clear 503 `database_unavailable` (sockets: the same in the
  ack), no worker dies, and the service is back by itself once PostgreSQL is;
- `kill -9` of a worker while 200 members vote: every acknowledged ballot is counted exactly once, the
  killed worker's tablets reconnect through nginx to the other workers and resync within 5 s."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from backend.config import normalise_database_url
from backend.db import Database
from tests.conftest import unavailable
from tests.integration.deployment import (
    Deployment,
    PrivateRedis,
    Tablet,
    connect_all,
    deployed,
    join_all,
    probe_routes,
    routes_by_device,
    setup_meeting,
    worker_pids,
)
from tests.support import private_postgres
from tests.support.sample_pdfs import sample_pdf

VOTERS = 200
TMPFS_BYTES = 16 * 1024 * 1024


def _mount_tmpfs(path: Path) -> None:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0755", "ecabinet-test-data",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs for the full-disk test (needs root): {done.stderr.strip()}")


@pytest.fixture(scope="module")
async def faults(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    if (reason := private_postgres.available()) is not None:
        unavailable(reason)
    tmp = tmp_path_factory.mktemp("faults")
    data = tmp / "data"
    _mount_tmpfs(data)
    pg = private_postgres.PrivatePostgres()
    redis = PrivateRedis(tmp)
    try:
        pg.start()
        await redis.wait()
        async with deployed(tmp, database_url=pg.url, redis_url=redis.url, data_dir=data) as running:
            world = await setup_meeting(running.base, VOTERS, pg.url)
            yield {"deployment": running, "pg": pg, "world": world, "data": data}
    finally:
        redis.stop()
        pg.remove()
        subprocess.run(["umount", "-l", str(data)], check=False)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def test_a_full_disk_during_an_upload_answers_507_keeps_nothing_and_the_server_goes_on(
        faults: dict[str, Any]) -> None:
    d: Deployment = faults["deployment"]
    world, data = faults["world"], faults["data"]
    mid = world["meeting_id"]
    sec = {"Authorization": f"Bearer {world['tokens']['thuky']}"}
    document = sample_pdf(200)
    async with httpx.AsyncClient(base_url=d.base, verify=False, timeout=120, headers=sec) as http:
        listed = (await http.get(f"/api/meetings/{mid}/documents")).json()
        before = _files(data)
        # Fill the disk but for less than the document needs.
        stat = os.statvfs(data)
        filler = data / "filler"
        filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - len(document) // 2))
        try:
            r = await http.post(f"/api/meetings/{mid}/documents", data={"title": "Báo cáo dài"},
                                files={"file": ("bao-cao-dai.pdf", document, "application/pdf")})
            assert r.status_code == 507, r.text
            assert r.json()["error"]["code"] == "disk_full", r.text
            assert _files(data) == before | {"filler"}, "no partial file is left in the store"
            assert (await http.get(f"/api/meetings/{mid}/documents")).json() == listed, "no document half-made"
            assert (await http.get("/api/health")).status_code == 200
        finally:
            filler.unlink()
        # With room again, the same upload goes through: the server kept working.
        r = await http.post(f"/api/meetings/{mid}/documents", data={"title": "Báo cáo dài"},
                            files={"file": ("bao-cao-dai.pdf", document, "application/pdf")})
        assert r.status_code == 201, r.text
    assert [ln for ln in d.workers_log().splitlines() if "Traceback" in ln] == []


async def test_postgresql_stopped_for_10_s_answers_503_and_the_service_recovers_by_itself(
        faults: dict[str, Any]) -> None:
    d: Deployment = faults["deployment"]
    pg: private_postgres.PrivatePostgres = faults["pg"]
    world = faults["world"]
    mid = world["meeting_id"]
    member = {"Authorization": f"Bearer {world['members'][0]}"}
    tablet = Tablet(d.base, world["members"][1])
    await tablet.connect()
    assert (await tablet.call("meeting.join", {"meeting_id": mid}))["ok"]
    pids = worker_pids(d.first)
    assert len(pids) == 3
    async with httpx.AsyncClient(base_url=d.base, verify=False, timeout=30, headers=member) as http:
        assert (await http.get(f"/api/meetings/{mid}")).status_code == 200
        await asyncio.to_thread(pg.stop)
        stopped = time.monotonic()
        answers: Counter[tuple[int, str]] = Counter()
        while time.monotonic() - stopped < 10:
            r = await http.get(f"/api/meetings/{mid}")
            answers[(r.status_code, r.json()["error"]["code"] if r.status_code != 200 else "")] += 1
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
            await asyncio.sleep(0.5)
        login = await http.post("/api/auth/tokens", json={"username": "thuky", "password": "x" * 12})
        assert (login.status_code, login.json()["error"]["code"]) == (503, "database_unavailable"), login.text
        ack = await tablet.call("meeting.sync", {"meeting_id": mid})
        assert ack["ok"] is False and ack["error"]["code"] == "database_unavailable", ack
        assert set(answers) == {(503, "database_unavailable")}, answers

        await asyncio.to_thread(pg.start)
        back = time.monotonic()
        while (r := await http.get(f"/api/meetings/{mid}")).status_code != 200:
            assert r.status_code == 503, r.text
            assert time.monotonic() - back < 60, "the service did not come back by itself"
            await asyncio.sleep(0.1)
        recovered = time.monotonic() - back
    print(f"\nPostgreSQL down for {back - stopped:.1f} s: {sum(answers.values())} requests answered 503; "
          f"service back {recovered:.2f} s after PostgreSQL")
    sync = await tablet.call("meeting.sync", {"meeting_id": mid})
    assert sync["ok"], sync
    assert worker_pids(d.first) == pids, "no worker died"
    assert d.supervisor.poll() is None
    assert [ln for ln in d.workers_log().splitlines() if "Traceback" in ln] == []
    await tablet.sio.disconnect()


# The aim is 5 s (printed with the figures; docs/BENCHMARKS.md has the runs). The 6.4-19.6 s of
# 2026-12-04 were the test's own tablets: python-engineio built a TLS context (the CA store read again,
# 35-160 ms of CPU) on the test's event loop for each of the ~75 WebSocket reconnects, blocking every
# tablet for seconds, and its reconnection gave a namespace answer only 1 s (deployment.Tablet now
# connects as the app does). Since: 0.9-4.8 s at load averages 2.6-9.9 on the shared 2-core machine.
# The bound leaves room for a loaded machine and still fails if a tablet waits out a backoff or a
# request timeout (10-15 s).
RESYNC_AIM_S = 5.0
RESYNC_BOUND_S = 10.0


async def test_a_worker_killed_while_200_members_vote_loses_no_acknowledged_ballot(faults: dict[str, Any]) -> None:
    d: Deployment = faults["deployment"]
    world = faults["world"]
    chair = Tablet(d.base, world["tokens"]["chutich"])
    # WebSocket only: 200 tablets' long-polling handshakes would only load this 2-core machine more.
    tablets = [Tablet(d.base, token, transports=("websocket",)) for token in world["members"]]
    try:
        await _vote_through_a_kill(d, faults, chair, tablets)
    finally:  # no client left reconnecting to a deployment that is gone
        await asyncio.gather(*(t.sio.disconnect() for t in [chair, *tablets]), return_exceptions=True)


async def _vote_through_a_kill(d: Deployment, faults: dict[str, Any], chair: Tablet, tablets: list[Tablet]) -> None:
    mid = faults["world"]["meeting_id"]
    await connect_all([chair, *tablets])
    await join_all([chair, *tablets], mid)
    await probe_routes(d.base, [chair, *tablets])
    deadline = time.monotonic() + 20  # nginx writes its log line after the answer has gone
    while not all((routes := routes_by_device(d.tmp)).get(t.route) for t in [chair, *tablets]):
        assert time.monotonic() < deadline, "nginx did not log every tablet's probe"
        await asyncio.sleep(0.2)
    assert all(len(routes[t.route]) == 1 for t in tablets), "each tablet stays on one worker"
    worker_of = {t.route: next(iter(routes[t.route])) for t in tablets}
    spread = Counter(worker_of.values())
    assert len(spread) == 3, spread
    chair_worker = next(iter(routes[chair.route]))
    victim = next(addr for addr, _ in spread.most_common() if addr != chair_worker)
    victim_port = int(victim.rsplit(":", 1)[1])
    moved = [t for t in tablets if worker_of[t.route] == victim]
    pid = worker_pids(d.first)[victim_port]

    created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua dự toán ngân sách?"})
    assert created["ok"], created
    poll_id = created["poll"]["id"]
    assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
    rng = random.Random(16)

    async def vote(t: Tablet) -> dict[str, Any]:
        await asyncio.sleep(rng.uniform(0, 3.0))  # ballots come in over a few seconds, as in a room
        try:
            return await t.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}, timeout=30)
        except Exception as exc:  # the worker died with the ballot in flight: no acknowledgement
            return {"ok": False, "error": {"code": type(exc).__name__}}

    casting = [asyncio.ensure_future(vote(t)) for t in tablets]
    while sum(task.done() for task in casting) < VOTERS // 4:
        await asyncio.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()

    phases: dict[str, list[float]] = {"dropped": [], "connected": [], "joined": []}

    async def resync(t: Tablet) -> tuple[float, dict[str, Any]]:
        await asyncio.wait_for(t.back_after_a_drop(), 60)
        phases["dropped"].append(t.dropped_at[0] - killed)
        phases["connected"].append(time.monotonic() - killed)
        state = await asyncio.wait_for(t.resync(mid), 120)
        phases["joined"].append(time.monotonic() - killed)
        return time.monotonic() - killed, state

    # The moved tablets resync meanwhile; a ballot lost with the worker fails at the drop (as the app's does),
    # and is cast again once its tablet has learnt from the resync whether it counted.
    resyncing = asyncio.gather(*(resync(t) for t in moved))
    acks = await asyncio.gather(*casting)
    unacknowledged = [t for t, ack in zip(tablets, acks, strict=True) if not ack["ok"]]
    assert all(t in moved for t in unacknowledged), "only the killed worker's tablets missed an answer"

    resynced = await resyncing
    slowest = max(seconds for seconds, _ in resynced)
    print(f"\nkill -9 during the vote: {len(moved)} tablets moved, {len(unacknowledged)} ballots unacknowledged; "
          f"the slowest tablet resynced {slowest:.2f} s after the kill (aim {RESYNC_AIM_S:.0f} s: "
          f"{'met' if slowest < RESYNC_AIM_S else 'MISSED'})")
    after = [a for t in moved for a in t.sio.attempts if a[0] >= killed]
    # Each moved tablet's successful reconnect: from its start to the Engine.IO open (TLS, nginx, the
    # WebSocket handshake) and from there to the namespace's answer (the server's connect: authentication).
    opening, answering = [], []
    for t in moved:
        start, end, _ = next(a for a in t.sio.attempts if a[0] >= killed and a[2] == "ok")
        opened = max(o for o in t.sio.opened if start <= o <= end)
        opening.append(opened - start)
        answering.append(end - opened)
    phases["engine.io open"], phases["namespace answer"] = opening, answering
    print("  seconds after the kill (median / slowest): " + "; ".join(
        f"{name} {statistics.median(v):.2f} / {max(v):.2f}" for name, v in phases.items()) + " (the last two: "
          "of the reconnect itself)")
    print(f"  connection attempts after the kill: {len(after)} for {len(moved)} tablets; failed: "
          f"{Counter(a[2] for a in after if a[2] != 'ok').most_common(4)}; slowest attempt "
          f"{max(a[1] - a[0] for a in after):.2f} s; joins asked again: {sum(t.resync_retries for t in moved)}; "
          f"load average {os.getloadavg()[0]:.1f}")

    # A tablet whose ballot was not acknowledged learns from the sync whether it counted, and votes if not.
    states = {t.route: state for t, (_, state) in zip(moved, resynced, strict=True)}
    counted_unacked = 0
    for t in unacknowledged:
        mine = next(p["mine"] for p in states[t.route]["polls"] if p["id"] == poll_id)
        again = await t.call("vote.cast", {"poll_id": poll_id, "choice": "yes"})
        if mine["voted"]:
            counted_unacked += 1
            assert again["error"]["code"] == "already_voted", again
        else:
            assert again["ok"], again
    # Every acknowledged ballot is kept, also those the killed worker acknowledged just before it died.
    # Asked now, not from the resync's state: a tablet whose random wait ended after the kill voted through
    # its new worker, maybe after it had resynced.
    for t in moved:
        if t not in unacknowledged:
            sync = await t.call("meeting.sync", {"meeting_id": mid}, timeout=15)
            assert next(p["mine"] for p in sync["state"]["polls"] if p["id"] == poll_id)["voted"], "acked, kept"

    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"], closed
    assert closed["poll"]["result"]["counts"]["yes"] == VOTERS, closed["poll"]["result"]
    db = Database(normalise_database_url(faults["pg"].url))
    try:
        async with db.read() as s:
            rows, voters = (await s.exec(text(  # type: ignore[call-overload]
                "SELECT count(*), count(DISTINCT participant_id) FROM ballots WHERE poll_id = :p"
            ).bindparams(p=poll_id))).one()
    finally:
        await db.dispose()
    assert rows == voters == VOTERS, "every ballot counted exactly once"
    print(f"{counted_unacked} ballots were committed but their answer lost with the worker; counted once")
    assert slowest < RESYNC_BOUND_S, f"the slowest tablet resynced after {slowest:.1f} s"
