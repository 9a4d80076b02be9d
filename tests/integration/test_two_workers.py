"""Two real `ecabinet serve` processes behind one PostgreSQL database and one Redis: what the chair
does on worker A reaches the members connected to worker B, and what the members do on B reaches the
chair on A (python-socketio's Redis manager for events, Redis for presence)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from tests.conftest import POSTGRES_URL, free_port, unavailable
from tests.integration.conftest import _drop_postgres, _fresh_postgres, unique
from tests.integration.live import LiveClient

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
# A Redis database of its own (the other integration tests use 15), flushed before and after.
REDIS_DB = 14
REDIS_URL = os.environ.get("ECABINET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + f"/{REDIS_DB}"
ADMIN_PASSWORD = "Quan-tri-hai-may-2026"
MEMBERS = 3
START_TIMEOUT_S = 60  # generous: a loaded 2-core machine starts a worker (imports, pools) slowly


@dataclass
class Worker:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@dataclass
class Cluster:
    a: Worker
    b: Worker
    admin: httpx.AsyncClient  # bearer token of the administrator, on worker A
    body_id: int


def _env(database_url: str, data_dir: Path, secret_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "ECABINET_SECRET_KEY": secret_key,
                "ECABINET_DATA_DIR": str(data_dir), "ECABINET_MODE": "demo", "ECABINET_LOG_LEVEL": "warning",
                "ECABINET_REDIS_PREFIX": f"ecabinet-test-{uuid.uuid4().hex[:12]}", "PYTHONUNBUFFERED": "1"})
    return env


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> None:
    done = subprocess.run([sys.executable, "-m", "backend.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=60)
    assert done.returncode == 0, f"ecabinet {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _spawn(name: str, port: int, env: dict[str, str], log: Path) -> Worker:
    """`ecabinet serve` as an operator starts it (migrations already applied once)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Worker(name, f"http://127.0.0.1:{port}", process, log)


def _stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(timeout=10)


async def _wait_ready(worker: Worker) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=worker.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                pytest.fail(f"worker {worker.name} exited with {worker.process.returncode}:\n{worker.output()}")
            try:
                r = await http.get("/api/health")
                if r.status_code == 200 and r.json().get("redis") == "ok":
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"worker {worker.name} did not answer /api/health within {START_TIMEOUT_S} s:\n{worker.output()}")


async def _services_up() -> None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        await conn.close()
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    r = aioredis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await r.ping()
    except (OSError, aioredis.RedisError) as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        await r.aclose()


async def _flush_redis() -> None:
    r = aioredis.from_url(REDIS_URL)
    try:
        await r.flushdb()
    finally:
        await r.aclose()


@pytest.fixture(scope="module")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("two-workers")


@pytest.fixture(scope="module")
async def cluster(cluster_dir: Path) -> AsyncIterator[Cluster]:
    await _services_up()
    pg_name, database_url = await _fresh_postgres()
    await _flush_redis()
    workers: list[Worker] = []
    admin: httpx.AsyncClient | None = None
    try:
        env = _env(database_url, cluster_dir / "data", secrets.token_urlsafe(48))
        await asyncio.to_thread(_cli, env, "migrate")
        await asyncio.to_thread(_cli, env, "user", "add", "admin", "--admin", "--full-name", "Quản trị hệ thống",
                                "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
        for name in ("A", "B"):
            workers.append(_spawn(name, free_port(), env, cluster_dir / f"worker-{name}.log"))
        await asyncio.gather(*(_wait_ready(w) for w in workers))
        admin = httpx.AsyncClient(base_url=workers[0].base_url, timeout=30)
        r = await admin.post("/api/auth/tokens", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 201, r.text
        admin.headers["Authorization"] = f"Bearer {r.json()['token']}"
        r = await admin.post("/api/bodies", json={"name": unique("Ủy ban nhân dân tỉnh hai máy "),
                                                  "kind": "provincial_committee"})
        assert r.status_code == 201, r.text
        yield Cluster(workers[0], workers[1], admin, r.json()["id"])
    finally:
        if admin is not None:
            await admin.aclose()
        for w in workers:
            _stop(w)
        await _flush_redis()
        await _drop_postgres(pg_name)


@dataclass
class Session:
    meeting_id: int
    chair: LiveClient  # on worker A
    members: list[LiveClient]  # on worker B, logged in, not yet connected
    clients: list[LiveClient]


async def _person(cluster: Cluster, key: str) -> tuple[int, str, str]:
    username, password = unique(f"{key}.hai-may."), f"Mat-khau-{key}-2026"
    r = await cluster.admin.post("/api/users", json={"username": username, "full_name": f"Người {key}",
                                                     "password": password, "body_id": cluster.body_id})
    assert r.status_code == 201, r.text
    return r.json()["id"], username, password


@pytest.fixture
async def session(cluster: Cluster) -> AsyncIterator[Session]:
    """A started meeting with a chair (logged in on A) and MEMBERS members (logged in on B)."""
    admin = cluster.admin
    r = await admin.post("/api/meetings", json={"body_id": cluster.body_id, "title": "Phiên họp hai máy chủ",
                                                "starts_at": "2026-12-03T08:00:00+07:00", "place": "Hội trường"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    people = [await _person(cluster, "chair")] + [await _person(cluster, f"member{i}") for i in range(MEMBERS)]
    for i, (user_id, _, _) in enumerate(people):
        r = await admin.post(f"/api/meetings/{mid}/participants",
                             json={"user_id": user_id, "role": "chair" if i == 0 else "member"})
        assert r.status_code == 201, r.text
    r = await admin.post(f"/api/meetings/{mid}/agenda", json={"title": "Tờ trình dự án", "planned_minutes": 20})
    assert r.status_code == 201, r.text
    r = await admin.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"})
    assert r.status_code == 200, r.text
    clients: list[LiveClient] = []
    try:
        chair = LiveClient(cluster.a.base_url)
        clients.append(chair)
        await chair.login(people[0][1], people[0][2])
        async with httpx.AsyncClient(base_url=cluster.a.base_url, timeout=30,
                                     headers={"Authorization": f"Bearer {chair.token}"}) as http:
            r = await http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"})
            assert r.status_code == 200, r.text
        members = []
        for _, username, password in people[1:]:
            m = LiveClient(cluster.b.base_url)
            clients.append(m)
            await m.login(username, password)
            members.append(m)
        yield Session(mid, chair, members, clients)
    finally:
        for c in clients:
            await c.close()


async def test_member_connecting_on_worker_b_appears_in_presence_seen_by_chair_on_worker_a(
        session: Session) -> None:
    chair, member, mid = session.chair, session.members[0], session.meeting_id
    await chair.connect()
    joined = await chair.call("meeting.join", {"meeting_id": mid})
    assert joined["ok"], joined
    assert member.user is not None and chair.user is not None
    assert member.user["id"] not in joined["state"]["presence"]["online"]
    await member.connect()
    ack = await member.call("meeting.join", {"meeting_id": mid})
    assert ack["ok"], ack
    # The join on B is published by B; the chair's socket lives on A.
    seen = await chair.wait_for("presence.roster",
                                lambda d: d["meeting_id"] == mid and member.user["id"] in d["online"])
    assert chair.user["id"] in seen["online"]
    # Presence itself is shared: B's view of the meeting includes the chair who joined on A.
    assert ack["state"]["presence"]["count"] == 2
    await member.close()
    gone = await chair.wait_for("presence.roster",
                                lambda d: d["meeting_id"] == mid and member.user["id"] not in d["online"])
    assert chair.user["id"] in gone["online"]


async def test_poll_run_by_chair_on_worker_a_with_members_voting_on_worker_b(session: Session) -> None:
    chair, members, mid = session.chair, session.members, session.meeting_id
    await chair.connect()
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    for m in members:
        await m.connect()
        assert (await m.call("meeting.join", {"meeting_id": mid}))["ok"]
    member_ids = {m.user["id"] for m in members if m.user}
    await chair.wait_for("presence.roster", lambda d: member_ids <= set(d["online"]))

    created = await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua Tờ trình?"})
    assert created["ok"], created
    poll_id = created["poll"]["id"]
    opened = await chair.call("poll.open", {"poll_id": poll_id})
    assert opened["ok"] and opened["poll"]["status"] == "open", opened

    pushed = await asyncio.gather(*(m.wait_for("poll.changed", lambda d: d["id"] == poll_id and d["status"] == "open")
                                    for m in members))
    assert all(p["entitled"] == MEMBERS + 1 and p["voted"] == 0 for p in pushed), pushed
    choices = ["yes", "yes", "no"] + ["abstain"] * (MEMBERS - 3)
    acks = await asyncio.gather(*(m.call("vote.cast", {"poll_id": poll_id, "choice": c})
                                  for m, c in zip(members, choices, strict=True)))
    assert all(a["ok"] for a in acks), acks

    # Ballots were cast on B; B's coalesced progress reaches the chair on A.
    progress = await chair.wait_for("poll.progress", lambda d: d["poll_id"] == poll_id and d["voted"] == MEMBERS)
    assert progress["entitled"] == MEMBERS + 1 and "counts" not in progress

    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"], closed
    result = closed["poll"]["result"]
    expected = {"yes": choices.count("yes"), "no": choices.count("no"), "abstain": choices.count("abstain")}
    assert result["counts"] == expected
    assert result["total_ballots"] == MEMBERS and result["present"] == MEMBERS + 1
    assert result["passed"] is True and result["winner"] == "yes"
    everyone = await asyncio.gather(*(m.wait_for("poll.closed", lambda d: d["id"] == poll_id) for m in members))
    for seen in everyone:
        assert seen["status"] == "closed" and seen["counts"] == expected and seen["result"] == result
    listed = await members[0].call("poll.ballots", {"poll_id": poll_id})  # asked on B, closed on A
    assert sorted(v["choice"] for v in listed["votes"]) == sorted(choices)


async def test_annotations_cross_workers_and_a_removed_reader_leaves_the_room_on_every_worker(
        cluster: Cluster, session: Session) -> None:
    """Documents' live rooms through Redis: a note made on B reaches the chair on A; when the secretariat
    (on A) takes a reader off, the reader's socket on B leaves the room too."""
    from tests.support.sample_pdfs import sample_pdf

    chair, (reader, dropped, _), mid = session.chair, session.members, session.meeting_id
    assert reader.user is not None and dropped.user is not None
    r = await cluster.admin.post(f"/api/meetings/{mid}/documents", data={
        "title": "Tờ trình hai máy", "audience": "named", "readers": f"{reader.user['id']},{dropped.user['id']}"},
        files={"file": ("to-trinh.pdf", sample_pdf(2), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    await chair.connect()
    for client in (chair, reader, dropped):
        if not client.sio.connected:
            await client.connect()
        opened = await client.call("document.open", {"document_id": doc})
        assert opened["ok"], opened
    note = {"document_id": doc, "page": 1, "kind": "note", "visibility": "shared", "geometry": {"at": [100, 700]}}
    added = await reader.call("annotation.add", {**note, "client_id": "hai-may-0001", "text": "Từ máy B"})
    assert added["ok"], added
    await chair.wait_for("annotation.added", lambda a: a["client_id"] == "hai-may-0001")
    await dropped.wait_for("annotation.added", lambda a: a["client_id"] == "hai-may-0001")
    r = await cluster.admin.patch(f"/api/documents/{doc}", json={"readers": [reader.user["id"]]})
    assert r.status_code == 200, r.text
    await asyncio.sleep(0.5)  # the room is emptied through Redis on B
    for client in (chair, reader):
        assert (await client.call("document.open", {"document_id": doc}))["ok"]
    assert (await reader.call("annotation.add", {**note, "client_id": "hai-may-0002", "text": "Sau khi bớt"}))["ok"]
    await chair.wait_for("annotation.added", lambda a: a["client_id"] == "hai-may-0002")
    await asyncio.sleep(0.3)
    assert [a["client_id"] for a in dropped.events["annotation.added"]] == ["hai-may-0001"]


async def _gone(client: LiveClient, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while client.sio.connected or not client.disconnects:
        assert time.monotonic() < deadline, "the socket is still connected after the revocation"
        await asyncio.sleep(0.02)


async def test_logout_and_deactivation_on_worker_a_drop_the_sockets_on_worker_b_and_their_ballots(
        cluster: Cluster, session: Session) -> None:
    """Revocations reach every worker: the sockets live on B, the REST calls that end their sessions go to A."""
    chair, (leaving, deactivated, staying), mid = session.chair, session.members, session.meeting_id
    await chair.connect()
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    for m in (leaving, deactivated, staying):
        await m.connect()
        assert (await m.call("meeting.join", {"meeting_id": mid}))["ok"]
    created = await chair.call("poll.create", {"meeting_id": mid, "question": "Biểu quyết sau khi thu hồi?"})
    poll_id = created["poll"]["id"]
    assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
    async with httpx.AsyncClient(base_url=cluster.a.base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {leaving.token}"}) as http:
        r = await http.post("/api/auth/logout")
        assert r.status_code == 204, r.text
    assert deactivated.user is not None
    r = await cluster.admin.patch(f"/api/users/{deactivated.user['id']}", json={"is_active": False})
    assert r.status_code == 200, r.text
    for gone in (leaving, deactivated):
        await _gone(gone)
        assert gone.events["session.ended"][-1]["code"] == "session_revoked"
    assert (await staying.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["poll"]["result"]["total_ballots"] == 1


async def test_a_secretary_on_worker_b_made_a_guest_on_worker_a_stops_hearing_the_staff_room(
        cluster: Cluster, session: Session) -> None:
    chair, mid = session.chair, session.meeting_id
    user_id, username, password = await _person(cluster, "secretary")
    r = await cluster.admin.post(f"/api/meetings/{mid}/participants", json={"user_id": user_id, "role": "secretary"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    secretary = LiveClient(cluster.b.base_url)
    session.clients.append(secretary)
    await secretary.login(username, password)
    await secretary.connect()
    assert (await secretary.call("meeting.join", {"meeting_id": mid}))["ok"]
    await chair.connect()
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    first = await chair.call("poll.create", {"meeting_id": mid, "question": "Dự thảo trước khi đổi vai"})
    await secretary.wait_for("poll.changed", lambda d: d["id"] == first["poll"]["id"])
    r = await cluster.admin.patch(f"/api/meetings/{mid}/participants/{pid}", json={"role": "guest"})
    assert r.status_code == 200, r.text
    changed = await secretary.wait_for("meeting.access_changed", lambda d: d["meeting_id"] == mid)
    assert changed["member"] is True
    draft = await chair.call("poll.create", {"meeting_id": mid, "question": "Dự thảo kín sau khi đổi vai"})
    assert draft["ok"], draft
    await asyncio.sleep(0.5)
    assert [d["id"] for d in secretary.events["poll.changed"]] == [first["poll"]["id"]]
    # Still a guest of the meeting on B: what the whole room hears still arrives.
    assert (await chair.call("poll.open", {"poll_id": first["poll"]["id"]}))["ok"]
    await secretary.wait_for("poll.changed", lambda d: d["id"] == first["poll"]["id"] and d["status"] == "open")


async def test_a_device_revoked_on_worker_a_loses_its_socket_on_worker_b_and_the_other_device_stays(
        cluster: Cluster) -> None:
    """Issue 19: the lost tablet's socket lives on B, the administrator revokes it on A; the minister's
    laptop, also on B, keeps its connection."""
    user_id, username, password = await _person(cluster, "minister")
    browsers = [httpx.AsyncClient(base_url=cluster.b.base_url, timeout=30) for _ in range(2)]
    sockets = [socketio.AsyncClient(reconnection=False) for _ in range(2)]
    ended: list[list[object]] = [[], []]
    try:
        for browser, sio, heard in zip(browsers, sockets, ended, strict=True):
            r = await browser.post("/api/auth/login", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            sio.on("session.ended", heard.append)
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            await sio.connect(cluster.b.base_url, headers={"Cookie": cookie}, transports=["websocket"],
                              wait_timeout=20)
        r = await cluster.admin.get(f"/api/users/{user_id}/devices")
        assert r.status_code == 200 and len(r.json()) == 2, r.text
        tablet = (await browsers[0].get("/api/me/device")).json()["device"]["id"]
        r = await cluster.admin.post(f"/api/devices/{tablet}/revoke")
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 20
        while sockets[0].connected:
            assert time.monotonic() < deadline, "the revoked device's socket on worker B is still connected"
            await asyncio.sleep(0.05)
        assert ended[0] and ended[0][-1]["code"] == "session_revoked"  # type: ignore[index]
        r = await browsers[0].get("/api/auth/me")
        assert r.status_code == 401 and r.json()["error"]["code"] == "device_revoked"
        await asyncio.sleep(0.5)
        assert sockets[1].connected and not ended[1]
        assert (await browsers[1].get("/api/auth/me")).status_code == 200
    finally:
        for sio in sockets:
            if sio.connected:
                await sio.disconnect()
        for browser in browsers:
            await browser.aclose()
