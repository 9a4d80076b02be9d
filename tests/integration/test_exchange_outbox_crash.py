"""No package lost or sent twice on a crash: a real `ecabinet serve` with its outbox pointed at a loopback
receiver (the gateway and the recipient's inbox in one: it verifies each package's signature, keeps it once
per recipient and document id, and answers 409 to a document it already has) is killed with SIGKILL at each
step boundary of a delivery, then started again on the same database:

1. after the row is queued, before any send (the process that queued never sends);
2. while a send is in flight: the receiver has stored the package and holds its answer, and the server dies
   before it records the delivery (the worst case for a double: the row stays `sending`);
3. after the delivery is recorded.

After the restarts every package is in the recipient's inbox exactly once (counted by distinct document id
AND by what the inbox took), every row is `delivered`, the row of case 2 was taken again once its lease ran
out (not later than lease + one look of the loop + slack), and a delivered row is never sent again. Run on
SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import exchange as ex
from backend.config import Settings, normalise_database_url
from backend.db import Database
from backend.models import AuthSession, Body, Meeting, OutgoingPackage, Participant, Resolution, User
from backend.models.base import utcnow
from backend.services.auth import token_hash
from backend.services.exchange import agencies
from backend.services.files import FileStore
from tests.conftest import free_port
from tests.integration.conftest import _drop_postgres, _fresh_postgres
from tests.support.exchange_packages import DIRECTORY, PDF, SENDER, exchange_pki

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
LEASE_S = 10  # the smallest lease ECABINET_EXCHANGE_LEASE_SECONDS allows
LOOK_S = 1  # ECABINET_EXCHANGE_OUTBOX_SECONDS while the sender should run
OUTBOX_SECRET = "outbox-bearer-of-the-crash-test-2026"


@dataclass
class Receiver:
    """The gateway and the recipient's inbox: every POST is logged; a document is kept once per recipient."""

    anchors: list[x509.Certificate]
    posts: list[str] = field(default_factory=list)
    """The document id of every package posted, in order (duplicates included)."""
    inbox: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(recipient, document id) -> times the inbox took it: must end at 1 each."""
    hold: bool = False
    """Store the next package, then hold the answer (the sender is killed while it waits)."""
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    pki_dir = tmp_path / "data" / "exchange-pki"
    exchange_pki(pki_dir)
    root = x509.load_pem_x509_certificate((pki_dir / "ours-ca" / "root.pem").read_bytes())
    fake = Receiver(anchors=[root])

    async def packages(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {OUTBOX_SECRET}":
            return JSONResponse({"error": {"code": "bad_sender_secret"}}, status_code=401)
        data = await request.body()
        package = await asyncio.to_thread(ex.parse_package, data, trust_anchors=fake.anchors)
        assert isinstance(package, ex.DocumentPackage)
        fake.posts.append(package.document_id)
        fresh = [r.organ_id for r in package.recipients if (r.organ_id, package.document_id) not in fake.inbox]
        for recipient in fresh:
            fake.inbox[(recipient, package.document_id)] += 1
        if fake.hold:
            fake.hold = False
            fake.held.set()
            await fake.release.wait()  # the sender dies meanwhile: its answer is never read
        if not fresh:
            return JSONResponse({"error": {"code": "duplicate"}}, status_code=409)
        return JSONResponse({"forwarded": fresh}, status_code=202)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/packages", packages, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}/packages"
    yield fake
    fake.release.set()
    server.should_exit = True
    await task


@dataclass
class Site:
    env: dict[str, str]
    database_url: str
    log: Path
    token: str
    records: list[int]
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


async def _seed(database_url: str, settings: Settings) -> tuple[str, list[int]]:
    """A meeting in session, its secretary (a bearer token) and three published records with a PDF each."""
    db = Database(normalise_database_url(database_url))
    now = utcnow()
    try:
        await agencies.import_csv(db, DIRECTORY)
        pdf = await FileStore.for_settings(settings).put(PDF)
        async with db.write() as s:
            body = Body(name="Văn phòng Chính phủ", kind="government")
            s.add(body)
            await s.flush()
            secretary = User(username="thuky", full_name="Thư ký", password_hash="x", body_id=body.id,
                             is_secretariat=True)
            s.add(secretary)
            await s.flush()
            assert secretary.id is not None and body.id is not None
            meeting = Meeting(body_id=body.id, title="Phiên họp", starts_at=now, status="in_progress",
                              started_at=now, created_by=secretary.id)
            s.add(meeting)
            await s.flush()
            assert meeting.id is not None
            s.add(Participant(meeting_id=meeting.id, user_id=secretary.id, role="secretary"))
            records = [Resolution(meeting_id=meeting.id, kind="resolution", number=f"{n}/NQ-CP",
                                  title=f"Nghị quyết số {n}", status="published", pdf_sha256=pdf, pdf_size=len(PDF),
                                  created_by=secretary.id, published_at=now) for n in (31, 32)]
            s.add_all(records)
            token = secrets.token_urlsafe(32)
            s.add(AuthSession(token_hash=token_hash(token), user_id=secretary.id, kind="bearer",
                              expires_at=now + timedelta(hours=2)))
            await s.flush()
            return token, [r.id for r in records if r.id is not None]
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def site(request: pytest.FixtureRequest, tmp_path: Path, receiver: Receiver) -> AsyncIterator[Site]:
    pg_name = None
    if request.param == "postgres":
        pg_name, database_url = await _fresh_postgres()
    else:
        database_url = f"sqlite:///{tmp_path / 'data' / 'ecabinet.sqlite3'}"
    pki = exchange_pki(tmp_path / "data" / "exchange-pki")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": database_url, "ECABINET_SECRET_KEY": secrets.token_urlsafe(48),
                "ECABINET_DATA_DIR": str(tmp_path / "data"), "ECABINET_MODE": "demo",
                "ECABINET_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1",
                "ECABINET_EXCHANGE_SIGNING_KEY": str(pki.our_key), "ECABINET_EXCHANGE_SIGNING_CERT": str(pki.our_cert),
                "ECABINET_EXCHANGE_GATEWAY_URL": receiver.url, "ECABINET_EXCHANGE_OUTBOX_SECRET": OUTBOX_SECRET,
                "ECABINET_EXCHANGE_LEASE_SECONDS": str(LEASE_S), "ECABINET_EXCHANGE_RETRY_SECONDS": "1"})
    done = subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    token, records = await _seed(database_url, Settings.from_env(env))
    site = Site(env, database_url, tmp_path / "serve.log", token, records)
    try:
        yield site
    finally:
        _kill(site)
        if pg_name:
            await _drop_postgres(pg_name)


def _spawn(site: Site, look_seconds: int) -> subprocess.Popen[bytes]:
    port = free_port()
    site.base_url = f"http://127.0.0.1:{port}"
    env = {**site.env, "ECABINET_EXCHANGE_OUTBOX_SECONDS": str(look_seconds)}
    with site.log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def _start(site: Site, *, look_seconds: int) -> None:
    """`ecabinet serve` on the site's database; its outbox looks for due packages every `look_seconds` (and
    once at start)."""
    site.process = _spawn(site, look_seconds)
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


def _kill(site: Site) -> None:
    if site.process is not None and site.process.poll() is None:
        os.kill(site.process.pid, signal.SIGKILL)
        site.process.wait(timeout=20)


async def _send(site: Site, record_id: int) -> str:
    async with httpx.AsyncClient(base_url=site.base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {site.token}"}) as http:
        sent = await http.post(f"/api/records/{record_id}/exchange", json={"recipients": [SENDER]})
    assert sent.status_code == 201, sent.text
    return str(sent.json()[0]["document_id"])


async def _rows(site: Site) -> dict[str, OutgoingPackage]:
    db = Database(normalise_database_url(site.database_url))
    try:
        async with db.read() as s:
            return {r.document_id: r for r in (await s.exec(select(OutgoingPackage))).all()}
    finally:
        await db.dispose()


async def _until_delivered(site: Site, document_id: str, within: float) -> float:
    """Seconds until the row of `document_id` is `delivered` (fails after `within`)."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        if (await _rows(site))[document_id].state == "delivered":
            return time.monotonic() - began
        await asyncio.sleep(0.1)
    pytest.fail(f"{document_id} not delivered within {within} s: {(await _rows(site))[document_id]}\n{site.output()}")


async def test_no_package_is_lost_or_taken_twice_when_the_server_is_killed_at_each_step(
        site: Site, receiver: Receiver) -> None:
    first, second = site.records

    # 1. Killed after queueing, before any send (this process looks only at its start).
    await _start(site, look_seconds=3600)
    await asyncio.sleep(1.5)  # its look at start is over
    doc1 = await _send(site, first)
    _kill(site)
    row = (await _rows(site))[doc1]
    assert (row.state, row.attempts) == ("queued", 0) and receiver.posts == []
    files = FileStore.for_settings(Settings.from_env(site.env))
    assert files.path(row.package_sha256).exists(), "the queued row's package is kept"

    # 2. Killed while the send is in flight: the inbox took it, the answer never came back.
    receiver.hold = True
    await _start(site, look_seconds=LOOK_S)
    await asyncio.wait_for(receiver.held.wait(), 30)
    _kill(site)
    killed_at = time.monotonic()
    row = (await _rows(site))[doc1]
    assert (row.state, row.attempts) == ("sending", 1), "the delivery was not recorded before the kill"
    assert receiver.inbox[(SENDER, doc1)] == 1

    # Started again: the row is taken again once its lease ran out, answered 409 (already there): delivered.
    await _start(site, look_seconds=LOOK_S)
    await _until_delivered(site, doc1, LEASE_S + 30)
    stuck = time.monotonic() - killed_at
    assert stuck <= LEASE_S + LOOK_S + 8, f"the row stayed `sending` {stuck:.1f} s (lease {LEASE_S} s)"
    row = (await _rows(site))[doc1]
    assert row.attempts == 2 and row.last_error == ""

    # 3. Killed right after a delivery is recorded: never sent again.
    doc2 = await _send(site, second)
    await _until_delivered(site, doc2, 30)
    _kill(site)
    await _start(site, look_seconds=LOOK_S)
    await asyncio.sleep(3 * LOOK_S + 1)  # several looks of the loop
    _kill(site)

    rows = await _rows(site)
    assert {d: (r.state, r.attempts) for d, r in rows.items()} == {doc1: ("delivered", 2), doc2: ("delivered", 1)}
    # Exactly once in the inbox, by distinct id and by what it took; the only resend was the one in flight.
    assert sorted(receiver.inbox) == sorted([(SENDER, doc1), (SENDER, doc2)])
    assert set(receiver.inbox.values()) == {1}
    assert Counter(receiver.posts) == {doc1: 2, doc2: 1}
