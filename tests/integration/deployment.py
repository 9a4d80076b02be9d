"""A production layout on loopback, for the deployment and fault tests: Debian's nginx with the shipped
site (deploy/nginx/ecabinet.conf, its ports, certificate and paths replaced by the test's own), three
web workers under `ecabinet serve --workers 3`, optionally relays (`ecabinet relay --name`), on a
PostgreSQL database and a Redis server given by the test. Tablets are real python-socketio clients
that reach the workers through nginx with their own routing cookie, as the app does."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import socketio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend import migrate
from backend.config import normalise_database_url
from backend.db import Database
from backend.services import users
from tests.conftest import free_port, free_ports, unavailable
from tests.support.sample_pdfs import sample_pdf

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SITE = REPO / "deploy" / "nginx" / "ecabinet.conf"
ADMIN = ("quantri", "Quan-tri-he-thong-2026!")
PASSWORD = "Mat-khau-trien-khai-2026"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        unavailable("nginx is not installed (`make test` installs Debian's nginx)")
    assert found is not None
    return found


def certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
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


def _replace(text: str, old: str, new: str, *, count: int = 1) -> str:
    """Every replacement must find its text: the shipped file is the one under test."""
    assert text.count(old) == count, f"the shipped nginx site has {text.count(old)} × {old!r}, expected {count}"
    return text.replace(old, new)


def shipped_site(tmp: Path, https: int, http: int, workers: list[int], relays: dict[str, int]) -> Path:
    """deploy/nginx/ecabinet.conf on the test's loopback ports, certificate and folders; the rest as shipped."""
    crt, pem = certificate(tmp)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(exist_ok=True)
    site = SHIPPED_SITE.read_text()
    site = _replace(site, "listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;")
    site = _replace(site, "listen 80;", f"listen 127.0.0.1:{http};")
    site = _replace(site, "ssl_certificate /etc/ssl/ecabinet/fullchain.pem;", f"ssl_certificate {crt};")
    site = _replace(site, "ssl_certificate_key /etc/ssl/ecabinet/privkey.pem;", f"ssl_certificate_key {pem};")
    site = _replace(site, "root /opt/ecabinet/frontend;", f"root {REPO / 'frontend'};")
    for shipped_port, port in zip((8001, 8002, 8003), workers, strict=True):
        site = _replace(site, f"server 127.0.0.1:{shipped_port} ", f"server 127.0.0.1:{port} ")
    if relays:
        site = _replace(site, "server 127.0.0.1:8090;", f"server 127.0.0.1:{relays['main']};")
    else:  # the workers carry the bridge: the shipped relay upstream goes
        site = re.sub(r"upstream ecabinet_relay_main \{.*?\}\n", "", site, flags=re.S)
        site = re.sub(r"    location /relay/main/ \{.*?\n    \}\n", "", site, flags=re.S)
    extra = [f"access_log {tmp}/access.log routed;", f"client_body_temp_path {tmp}/body;",
             f"proxy_temp_path {tmp}/proxy;", f"fastcgi_temp_path {tmp}/fastcgi;", f"uwsgi_temp_path {tmp}/uwsgi;",
             f"scgi_temp_path {tmp}/scgi;"]
    (tmp / "site.conf").write_text("\n".join(extra) + "\n" + site)
    main = f"""daemon off;
user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    log_format routed '$upstream_addr $cookie_ecabinet_route $status $request_uri';
    include {tmp}/site.conf;
}}
"""
    (tmp / "nginx.conf").write_text(main)
    return tmp / "nginx.conf"


_TLS: ssl.SSLContext | None = None


def _tls_session() -> aiohttp.ClientSession:
    """An HTTP session for one connection that trusts the test's self-signed certificate, from one TLS
    context shared by every tablet. With `ssl_verify=False` python-engineio builds a new context (the
    system's CA store read again, ~35 ms of CPU on a loaded machine) on the event loop for every WebSocket
    connect: 75 tablets reconnecting at once blocked the test's loop for seconds. A browser does not."""
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
        _TLS.check_hostname = False
        _TLS.verify_mode = ssl.CERT_NONE
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_TLS))


class _TabletClient(socketio.AsyncClient):  # type: ignore[misc]
    """python-socketio's client as a browser's socket.io-client behaves, and recording each connection
    attempt (the reconnection loop's too): when, and how it ended.

    Its reconnection loop connects with `wait_timeout` left at 1 s: under a reconnect storm a namespace
    answer later than that is given up (and the work the server did thrown away), the next try waits out
    the backoff, and the client's `connected` flags disagree (the 'connect' handler ran, the
    'disconnect' one never does), so a call on it waits out its whole timeout. The app's socket.io-client
    waits up to its `timeout` (10 s, frontend/src/lib/socket.js): so does this one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts: list[tuple[float, float, str]] = []
        self.opened: list[float] = []
        """When each Engine.IO connection opened (its namespace connect is sent then)."""

    async def _handle_eio_connect(self) -> None:
        self.opened.append(time.monotonic())
        await super()._handle_eio_connect()

    async def connect(self, *args: Any, wait_timeout: float = 10, **kwargs: Any) -> None:
        started = time.monotonic()
        try:
            await super().connect(*args, wait_timeout=wait_timeout, **kwargs)
        except Exception as exc:
            self.attempts.append((started, time.monotonic(), f"{type(exc).__name__}: {exc}"[:80]))
            raise
        self.attempts.append((started, time.monotonic(), "ok"))


class Tablet:
    """A member's tablet: a bearer token, its own routing cookie, a live connection through nginx."""

    def __init__(self, base: str, token: str, *, transports: tuple[str, ...] = ("polling", "websocket")) -> None:
        self.base, self.token, self.transports = base, token, list(transports)
        self.route = secrets.token_hex(12)
        # request_timeout: a loaded machine may take more than engine.io's 5 s to answer a handshake.
        self.sio = _TabletClient(http_session=_tls_session, reconnection=True, reconnection_delay=0.2,
                                        reconnection_delay_max=1.0, request_timeout=30)
        self.connected = asyncio.Event()
        self._lost: asyncio.Future[None] | None = None
        self.drops = 0
        """How many times the connection was lost."""
        self.dropped_at: list[float] = []
        self.resync_retries = 0
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    def _lost_now(self) -> asyncio.Future[None]:
        """Resolved when the current connection is lost."""
        if self._lost is None or (self._lost.done() and self.connected.is_set()):
            self._lost = asyncio.get_running_loop().create_future()
        return self._lost

    async def _on_connect(self) -> None:
        self.connected.set()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.drops += 1
        self.dropped_at.append(time.monotonic())
        self.connected.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    async def connect(self, tries: int = 3) -> None:
        # Long-polling first, then the upgrade, as a browser behind a strict proxy does: without stickiness
        # a poll reaching another worker than the handshake's is refused. A tablet whose first attempt
        # fails (a loaded machine) tries again, as the app does.
        for attempt in range(tries):
            try:
                await self.sio.connect(self.base, auth={"token": self.token}, transports=self.transports,
                                       wait_timeout=60, headers={"Cookie": f"ecabinet_route={self.route}"})
                return
            except socketio.exceptions.ConnectionError:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(1)

    async def call(self, event: str, data: Any, timeout: float = 60) -> dict[str, Any]:
        """The event's answer. A connection lost before it fails the call at once, as the app's
        socket.io-client rejects its pending answers then (python-socketio's would wait out `timeout`
        for an answer that can no longer come: it forgets its callbacks at a disconnect)."""
        lost = self._lost_now()
        asking = asyncio.ensure_future(self.sio.call(event, data, timeout=timeout))
        await asyncio.wait({asking, lost}, return_when=asyncio.FIRST_COMPLETED)
        if not asking.done():
            asking.cancel()
            raise socketio.exceptions.DisconnectedError(f"the connection was lost before {event} was answered")
        ack: dict[str, Any] = asking.result()
        return ack

    async def resync(self, meeting_id: int) -> dict[str, Any]:
        """After a drop: join again once connected; the join answers with the meeting's whole state, as
        the app's live store takes it (no sync after it). A request lost with a connection that dropped
        again (nginx sends a device back to its own worker once that one is up again) is asked again, as
        the app does on each reconnection. Returns the join's state."""
        while True:
            while not (self.connected.is_set() and self.sio.connected):
                await asyncio.sleep(0.02)
            try:
                joined = await self.call("meeting.join", {"meeting_id": meeting_id}, timeout=15)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError):
                self.resync_retries += 1
                continue
            assert joined["ok"], joined
            state: dict[str, Any] = joined["state"]
            return state

    async def back_after_a_drop(self, drops_before: int = 0) -> None:
        """Returns once the connection was lost (after `drops_before` losses) and is up again."""
        while self.drops <= drops_before:
            await asyncio.sleep(0.05)
        await self.connected.wait()


def spawn(argv: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def worker_pids(first_port: int) -> dict[int, int]:
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


async def ready(url: str, *, timeout: float = 60, verify: bool = True) -> None:
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


class PrivateRedis:
    """redis-server of the test's own on a free port (no other test's events, and it may be stopped)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--logfile", str(directory / "redis.log")], stdin=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    async def wait(self) -> None:
        import redis.asyncio as aioredis

        deadline = time.monotonic() + 20
        while True:
            client = aioredis.from_url(self.url)
            try:
                await client.ping()
                return
            except Exception:
                assert time.monotonic() < deadline, "redis-server did not start"
                await asyncio.sleep(0.1)
            finally:
                await client.aclose()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Deployment:
    base: str
    first: int
    tmp: Path
    db_url: str
    env: dict[str, str]
    supervisor: subprocess.Popen[bytes]
    relays: dict[str, str] = field(default_factory=dict)
    """Relay name -> its own base URL (not through nginx)."""

    def workers_log(self) -> str:
        return (self.tmp / "workers.log").read_text(errors="replace")

    def logged_errors(self) -> list[str]:
        return [ln for ln in self.workers_log().splitlines() if re.search(r"\bERROR\b|Traceback", ln)]


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@asynccontextmanager
async def deployed(tmp: Path, *, database_url: str, redis_url: str, data_dir: Path,
                   relay_names: tuple[str, ...] = ()) -> AsyncIterator[Deployment]:
    """nginx (shipped site) + `ecabinet serve --workers 3` (+ relays) on a migrated database with an
    administrator; everything stopped at the end."""
    nginx = nginx_binary()
    database_url = normalise_database_url(database_url)
    await asyncio.to_thread(migrate.upgrade, database_url)
    db = Database(normalise_database_url(database_url))
    try:
        await users.create(db, None, {"username": ADMIN[0], "full_name": "Quản trị", "password": ADMIN[1],
                                      "is_admin": True})
    finally:
        await db.dispose()
    used: set[int] = set()

    def port() -> int:
        while (p := free_port()) in used:
            pass
        used.add(p)
        return p

    first = free_ports(3)
    used |= {first, first + 1, first + 2}
    https, http = port(), port()
    relay_ports = {name: port() for name in relay_names}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": normalise_database_url(database_url), "REDIS_URL": redis_url,
                "ECABINET_DATA_DIR": str(data_dir), "ECABINET_HOST": "127.0.0.1",
                "ECABINET_TRUSTED_PROXIES": "127.0.0.1", "ECABINET_MEDIA_HOST_ADDRESSES": "127.0.0.1",
                "ECABINET_SESSION_RECHECK_MS": "1000"})
    if relay_names:
        env["ECABINET_RELAY_PATH"] = "/relay"
    log = (tmp / "workers.log").open("ab")
    processes: list[subprocess.Popen[bytes]] = []
    supervisor = spawn([sys.executable, "-m", "backend.cli", "serve", "--workers", "3", "--port", str(first)],
                       env, log)
    processes.append(supervisor)
    for name, rport in relay_ports.items():
        processes.append(spawn([sys.executable, "-m", "backend.cli", "relay", "--name", name, "--port", str(rport)],
                               env, log))
    conf = shipped_site(tmp, https, http, [first, first + 1, first + 2], relay_ports)
    proxy = spawn([nginx, "-p", str(tmp), "-c", str(conf)], env, log)
    processes.append(proxy)
    try:
        try:
            for i in range(3):
                await ready(f"http://127.0.0.1:{first + i}/api/health", timeout=300)
            for name, rport in relay_ports.items():
                await ready(f"http://127.0.0.1:{rport}/relay/{name}/health", timeout=300)
            await ready(f"https://127.0.0.1:{https}/api/health", verify=False)
        except AssertionError as exc:
            log.flush()
            tail = (tmp / "workers.log").read_text(errors="replace")[-6000:]
            raise AssertionError(f"{exc}; the end of the workers' log:\n{tail}") from None
        yield Deployment(base=f"https://127.0.0.1:{https}", first=first, tmp=tmp, db_url=database_url, env=env,
                         supervisor=supervisor,
                         relays={name: f"http://127.0.0.1:{p}" for name, p in relay_ports.items()})
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()


async def setup_meeting(base: str, members: int, db_url: str) -> dict[str, Any]:
    """Through nginx: a body, a secretary, a chair, a bridge point, a published and started meeting with a
    document. The `members` voting members are inserted directly with ready tokens (logging in hundreds of
    people one by one would only measure argon2). Returns ids and tokens."""
    async with httpx.AsyncClient(base_url=base, verify=False, timeout=60) as http:
        token = (await http.post("/api/auth/tokens", json={"username": ADMIN[0], "password": ADMIN[1]})).json()
        admin = {"Authorization": f"Bearer {token['token']}"}
        body = (await http.post("/api/bodies", headers=admin, json={"name": "Ủy ban nhân dân tỉnh Phú Thọ",
                                                                    "kind": "provincial_committee"})).json()
        tokens: dict[str, str] = {}
        ids: dict[str, int] = {}
        for name in ("thuky", "chutich", "diemcau"):
            r = await http.post("/api/users", headers=admin, json={
                "username": name, "full_name": f"Người {name}", "password": PASSWORD, "body_id": body["id"],
                "is_secretariat": name == "thuky"})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
            r = await http.post("/api/auth/tokens", json={"username": name, "password": PASSWORD})
            assert r.status_code == 201, r.text
            tokens[name] = r.json()["token"]
        sec = {"Authorization": f"Bearer {tokens['thuky']}"}
        meeting = (await http.post("/api/meetings", headers=sec, json={
            "body_id": body["id"], "title": "Phiên họp UBND tỉnh tháng 12", "starts_at": "2026-12-03T08:00:00+07:00",
            "place": "Hội trường tỉnh"})).json()
        mid = meeting["id"]
        for name, role in (("chutich", "chair"), ("diemcau", "bridge")):
            r = await http.post(f"/api/meetings/{mid}/participants", headers=sec,
                                json={"user_id": ids[name], "role": role})
            assert r.status_code == 201, r.text
        member_tokens = await _bulk_members(db_url, mid, members)
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
    return {"meeting_id": mid, "item_id": item["id"], "document_id": upload.json()["id"], "tokens": tokens,
            "members": member_tokens, "ids": ids}


async def _bulk_members(db_url: str, meeting_id: int, count: int) -> list[str]:
    from backend.models import AuthSession, Participant, User
    from backend.models.base import utcnow
    from backend.services.auth import token_hash
    from backend.services.passwords import hash_password

    shared_hash = hash_password("Mat-khau-chung-2026")
    tokens: list[str] = []
    db = Database(normalise_database_url(db_url))
    try:
        async with db.write() as s:
            for i in range(count):
                user = User(username=f"tv{meeting_id}.{i}", full_name=f"Thành viên {i + 1}", password_hash=shared_hash)
                s.add(user)
                await s.flush()
                assert user.id is not None
                s.add(Participant(meeting_id=meeting_id, user_id=user.id, role="member", may_vote=True))
                token = secrets.token_urlsafe(32)
                s.add(AuthSession(token_hash=token_hash(token), user_id=user.id, kind="bearer",
                                  expires_at=utcnow() + timedelta(hours=2)))
                tokens.append(token)
    finally:
        await db.dispose()
    return tokens


def routes_by_device(tmp: Path) -> dict[str, set[str]]:
    """Routing cookie -> the workers nginx sent its /socket.io requests (and /api/health probes) to."""
    routes: dict[str, set[str]] = {}
    for line in (tmp / "access.log").read_text().splitlines():
        upstream, cookie, _status, uri = (line.split(" ", 3) + ["", "", "", ""])[:4]
        if uri.startswith(("/socket.io/", "/api/health")) and cookie != "-":
            # After a failover nginx logs "a, b" (the dead worker tried first): the one that answered counts.
            routes.setdefault(cookie, set()).add(upstream.split(", ")[-1])
    return routes


async def connect_all(tablets: list[Tablet], *, at_once: int = 25) -> None:
    """Connects tablets a batch at a time (a room of tablets coming up, not one instant)."""
    for start in range(0, len(tablets), at_once):
        await asyncio.gather(*(t.connect() for t in tablets[start:start + at_once]))


async def probe_routes(base: str, tablets: list[Tablet]) -> None:
    """One /api/health per tablet with its routing cookie: nginx logs at once which worker the cookie goes
    to (a WebSocket is logged only when it closes)."""
    async with httpx.AsyncClient(base_url=base, verify=False, timeout=60) as http:
        for t in tablets:
            assert (await http.get("/api/health", headers={"Cookie": f"ecabinet_route={t.route}"})).status_code == 200


async def join_all(tablets: list[Tablet], meeting_id: int, *, at_once: int = 25) -> None:
    for start in range(0, len(tablets), at_once):
        joined = await asyncio.gather(*(t.call("meeting.join", {"meeting_id": meeting_id})
                                        for t in tablets[start:start + at_once]))
        assert all(j["ok"] for j in joined), [j for j in joined if not j["ok"]][:3]


async def poll(chair: Tablet, tablets: list[Tablet], meeting_id: int, question: str) -> dict[str, Any]:
    created = await chair.call("poll.create", {"meeting_id": meeting_id, "question": question})
    assert created["ok"], created
    poll_id = created["poll"]["id"]
    assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
    acks = await asyncio.gather(*(t.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}) for t in tablets))
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    closed = await chair.call("poll.close", {"poll_id": poll_id})
    assert closed["ok"], closed
    return dict(closed["poll"])
