"""The production layout as an operator deploys it (docs/operator.md, deploy/): Debian's nginx with the
generated configuration (TLS, HSTS, the static app, sticky /socket.io), `ecabinet serve --workers 3` on
PostgreSQL and Redis. A short session runs through nginx (members spread over the workers, a poll, a
document upload and download); then one worker is killed with SIGKILL: its members reconnect through
nginx to another worker, resync, and the next poll counts every ballot; the supervisor starts the
worker again."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend import migrate
from backend.config import normalise_database_url
from backend.db import Database
from backend.services import users
from tests.conftest import REDIS_URL, free_port, unavailable
from tests.integration.conftest import _drop_postgres, _fresh_postgres
from tests.support.sample_pdfs import sample_pdf

REPO = Path(__file__).resolve().parents[2]
MEMBERS = 30
ADMIN = ("quantri", "Quan-tri-he-thong-2026!")
PASSWORD = "Mat-khau-trien-khai-2026"


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = directory / "site.crt", directory / "site.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def _nginx_conf(tmp: Path, port: int, first_worker: int, env: dict[str, str]) -> Path:
    crt, pem = _certificate(tmp)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir()
    extra = [f"access_log {tmp}/access.log routed;", f"client_body_temp_path {tmp}/body;",
             f"proxy_temp_path {tmp}/proxy;", f"fastcgi_temp_path {tmp}/fastcgi;", f"uwsgi_temp_path {tmp}/uwsgi;",
             f"scgi_temp_path {tmp}/scgi;"]
    site = subprocess.run(
        [sys.executable, "-m", "backend.cli", "nginx-config", "--server-name", "127.0.0.1", "--listen",
         f"127.0.0.1:{port}", "--listen-http", "", "--cert", str(crt), "--key", str(pem), "--frontend-dir",
         str(REPO / "frontend"), "--workers", "3", "--port", str(first_worker), "--relay-port", "0",
         *[arg for line in extra for arg in ("--extra", line)]],
        capture_output=True, text=True, check=True, env=env, cwd=REPO).stdout
    (tmp / "site.conf").write_text(site)
    main = f"""daemon off;
user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    log_format routed '$upstream_addr $cookie_ecabinet_route $status $request_uri';
    include {tmp}/site.conf;
}}
"""
    (tmp / "nginx.conf").write_text(main)
    return tmp / "nginx.conf"


class Tablet:
    """A member's tablet: a bearer token, its own routing cookie, a live connection through nginx."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.route = secrets.token_hex(12)
        self.sio = socketio.AsyncClient(ssl_verify=False, reconnection=True, reconnection_delay=0.2,
                                        reconnection_delay_max=1.0)
        self.connected = asyncio.Event()
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    async def _on_connect(self) -> None:
        self.connected.set()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.connected.clear()

    async def connect(self) -> None:
        # Long-polling first, then the upgrade, as a browser behind a strict proxy does: without stickiness
        # a poll reaching another worker than the handshake's is refused.
        await self.sio.connect(self.base, auth={"token": self.token}, transports=["polling", "websocket"],
                               wait_timeout=15, headers={"Cookie": f"ecabinet_route={self.route}"})

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.sio.call(event, data, timeout=20)
        return ack


def _spawn(argv: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _worker_pids(first_port: int) -> dict[int, int]:
    """Port -> pid of the workers the supervisor started (read from /proc)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"backend.cli" in argv and b"--no-migrate" in argv and b"--port" in argv:
            port = int(argv[argv.index(b"--port") + 1])
            if first_port <= port < first_port + 3:
                found[port] = int(entry.name)
    return found


async def _ready(url: str, *, timeout: float = 60, verify: bool = True) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(verify=verify, timeout=3) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


async def _poll(chair: Tablet, tablets: list[Tablet], meeting_id: int, question: str) -> dict[str, Any]:
    created = await chair.call("poll.create", {"meeting_id": meeting_id, "question": question})
    assert created["ok"], created
    poll_id = created["poll"]["id"]
    assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
    acks = await asyncio.gather(*(t.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}) for t in tablets))
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"], closed
    return dict(closed["poll"])


@pytest.fixture
async def deployment(tmp_path: Path) -> Any:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        unavailable("nginx is not installed (`make test` installs Debian's nginx)")
    try:
        import redis.asyncio as aioredis

        probe = aioredis.from_url(REDIS_URL)
        await probe.ping()
        await probe.aclose()
    except Exception as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    pg_name, url = await _fresh_postgres()
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    await users.create(db, None, {"username": ADMIN[0], "full_name": "Quản trị", "password": ADMIN[1],
                                  "is_admin": True})
    await db.dispose()
    first, https = free_port(), free_port()
    while first + 2 >= 65535 or https in (first, first + 1, first + 2):
        first, https = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": normalise_database_url(url), "REDIS_URL": REDIS_URL,
                "ECABINET_DATA_DIR": str(tmp_path / "data"), "ECABINET_HOST": "127.0.0.1",
                "ECABINET_TRUSTED_PROXIES": "127.0.0.1", "ECABINET_MEDIA_HOST_ADDRESSES": "127.0.0.1",
                "ECABINET_REDIS_PREFIX": f"ecabinet-test-{uuid.uuid4().hex[:12]}"})
    log = (tmp_path / "workers.log").open("wb")
    supervisor = _spawn([sys.executable, "-m", "backend.cli", "serve", "--workers", "3", "--port", str(first)],
                        env, log)
    conf = _nginx_conf(tmp_path, https, first, env)
    proxy = _spawn([nginx, "-p", str(tmp_path), "-c", str(conf)], env, log)
    try:
        for i in range(3):
            await _ready(f"http://127.0.0.1:{first + i}/api/health")
        await _ready(f"https://127.0.0.1:{https}/api/health", verify=False)
        yield {"base": f"https://127.0.0.1:{https}", "first": first, "tmp": tmp_path, "db_url": url,
               "supervisor": supervisor}
    finally:
        proxy.terminate()
        supervisor.send_signal(signal.SIGTERM)
        for process in (proxy, supervisor):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        await _drop_postgres(pg_name)


async def _setup_meeting(base: str) -> tuple[int, str, str, list[str]]:
    """Through nginx: a body, a secretary, a chair, a published and started meeting with MEMBERS members.
    Returns the meeting id, the chair's and the secretary's tokens, and the members' tokens."""
    async with httpx.AsyncClient(base_url=base, verify=False, timeout=30) as http:
        token = (await http.post("/api/auth/tokens", json={"username": ADMIN[0], "password": ADMIN[1]})).json()
        admin = {"Authorization": f"Bearer {token['token']}"}
        body = (await http.post("/api/bodies", headers=admin, json={"name": "Ủy ban nhân dân tỉnh Phú Thọ",
                                                                    "kind": "provincial_committee"})).json()
        tokens: dict[str, str] = {}
        ids: dict[str, int] = {}
        for name in ["thuky", "chutich", *(f"tv{i}" for i in range(MEMBERS))]:
            r = await http.post("/api/users", headers=admin, json={
                "username": name, "full_name": f"Người {name}", "password": PASSWORD, "body_id": body["id"],
                "is_secretariat": name == "thuky"})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        async def login(name: str) -> None:
            r = await http.post("/api/auth/tokens", json={"username": name, "password": PASSWORD})
            assert r.status_code == 201, r.text
            tokens[name] = r.json()["token"]
        await asyncio.gather(*(login(n) for n in ids))
        sec = {"Authorization": f"Bearer {tokens['thuky']}"}
        meeting = (await http.post("/api/meetings", headers=sec, json={
            "body_id": body["id"], "title": "Phiên họp UBND tỉnh tháng 12", "starts_at": "2026-12-03T08:00:00+07:00",
            "place": "Hội trường tỉnh"})).json()
        mid = meeting["id"]
        for name, uid in ids.items():
            if name == "thuky":
                continue
            role = "chair" if name == "chutich" else "member"
            r = await http.post(f"/api/meetings/{mid}/participants", headers=sec, json={"user_id": uid, "role": role})
            assert r.status_code == 201, r.text
        item = (await http.post(f"/api/meetings/{mid}/agenda", headers=sec,
                                json={"title": "Báo cáo kinh tế - xã hội", "planned_minutes": 20})).json()
        upload = await http.post(f"/api/meetings/{mid}/documents", headers=sec,
                                 data={"title": "Báo cáo", "agenda_item_id": str(item["id"])},
                                 files={"file": ("bao-cao.pdf", sample_pdf(3), "application/pdf")})
        assert upload.status_code == 201, upload.text
        assert (await http.post(f"/api/meetings/{mid}/transitions", headers=sec,
                                json={"action": "publish"})).status_code == 200
        chair = {"Authorization": f"Bearer {tokens['chutich']}"}
        assert (await http.post(f"/api/meetings/{mid}/transitions", headers=chair,
                                json={"action": "start"})).status_code == 200
        download = await http.get(f"/api/documents/{upload.json()['id']}/download",
                                  headers={"Authorization": f"Bearer {tokens['tv0']}"})
        assert download.status_code == 200 and download.content.startswith(b"%PDF-"), download.status_code
    return mid, tokens["chutich"], tokens["thuky"], [tokens[f"tv{i}"] for i in range(MEMBERS)]


async def test_a_session_through_nginx_on_three_workers_survives_a_killed_worker(deployment: Any) -> None:
    base, first, tmp = deployment["base"], deployment["first"], deployment["tmp"]
    async with httpx.AsyncClient(verify=False, timeout=30) as http:
        home = await http.get(f"{base}/")
        assert home.status_code == 200 and "<html" in home.text.lower()
        assert "max-age=" in home.headers["strict-transport-security"]
        assert "script-src 'self'" in home.headers["content-security-policy"]
        assert (await http.get(f"{base}/src/app.js")).status_code == 200, "nginx serves the app itself"
        assert (await http.get(f"{base}/package.json")).status_code == 404, "only what the browser needs is served"
    mid, chair_token, _, member_tokens = await _setup_meeting(base)

    chair = Tablet(base, chair_token)
    tablets = [Tablet(base, t) for t in member_tokens]
    await asyncio.gather(chair.connect(), *(t.connect() for t in tablets))
    joined = await asyncio.gather(*(t.call("meeting.join", {"meeting_id": mid}) for t in [chair, *tablets]))
    assert all(j["ok"] for j in joined), [j for j in joined if not j["ok"]][:3]

    # Sticky and spread: each device's requests reached one worker, and the devices reached all three.
    log_lines = (tmp / "access.log").read_text().splitlines()
    routes: dict[str, set[str]] = {}
    for line in log_lines:
        upstream, cookie, status, uri = (line.split(" ", 3) + ["", "", "", ""])[:4]
        if uri.startswith("/socket.io/") and cookie != "-":
            routes.setdefault(cookie, set()).add(upstream)
    by_device = {t.route: routes.get(t.route, set()) for t in tablets}
    assert all(len(workers) == 1 for workers in by_device.values()), by_device
    spread = Counter(next(iter(w)) for w in by_device.values())
    assert len(spread) == 3, spread

    first_poll = await _poll(chair, tablets, mid, "Thông qua báo cáo?")
    assert first_poll["result"]["counts"]["yes"] == MEMBERS

    # Kill the worker that carries the most tablets (not the chair's, so the chair keeps running the poll).
    chair_worker = next(iter(routes.get(chair.route, {"?"})))
    victim_addr = next(addr for addr, _ in spread.most_common() if addr != chair_worker)
    victim_port = int(victim_addr.rsplit(":", 1)[1])
    pids = _worker_pids(first)
    assert set(pids) == {first, first + 1, first + 2}, pids
    moved = [t for t in tablets if next(iter(by_device[t.route])) == victim_addr]
    os.kill(pids[victim_port], signal.SIGKILL)
    started = time.monotonic()

    async def back(t: Tablet) -> float:
        await asyncio.wait_for(_disconnected_then_connected(t), 20)
        assert (await t.call("meeting.join", {"meeting_id": mid}))["ok"]
        sync = await t.call("meeting.sync", {"meeting_id": mid})
        assert sync["ok"] and sync["state"]["meeting"]["id"] == mid, sync
        return time.monotonic() - started

    resynced = await asyncio.gather(*(back(t) for t in moved))
    assert max(resynced) < 5.0, f"the slowest tablet resynced after {max(resynced):.1f} s"
    second_poll = await _poll(chair, tablets, mid, "Thông qua kế hoạch năm 2027?")
    assert second_poll["result"]["counts"]["yes"] == MEMBERS, "every ballot counts, once"
    # The supervisor started the killed worker again.
    await _ready(f"http://127.0.0.1:{victim_port}/api/health", timeout=30)
    assert _worker_pids(first)[victim_port] != pids[victim_port]
    errors = [ln for ln in (tmp / "workers.log").read_text(errors="replace").splitlines()
              if re.search(r"\bERROR\b|Traceback", ln)]
    assert errors == [], errors[:10]
    await asyncio.gather(chair.sio.disconnect(), *(t.sio.disconnect() for t in tablets))


async def _disconnected_then_connected(t: Tablet) -> None:
    while t.connected.is_set():
        await asyncio.sleep(0.05)
    await t.connected.wait()
