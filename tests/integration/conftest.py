"""Integration plumbing: the real app served by uvicorn on a free loopback port, over a real
database: SQLite and the real PostgreSQL (a fresh database per test session, dropped after)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from backend import migrate
from backend.app import create_app
from backend.config import Settings, normalise_database_url
from backend.db import Database
from backend.services import users
from tests.conftest import POSTGRES_URL, free_port, unavailable

ADMIN_PASSWORD = "Quan-tri-he-thong-2026!"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


@dataclass
class Server:
    base_url: str
    settings: Settings
    db: Database
    backend: str


async def _fresh_postgres() -> tuple[str, str]:
    name = f"ecabinet_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return name, normalise_database_url(f"{base}/{name}")


async def _drop_postgres(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def test_settings(data_dir: Path, database_url: str) -> Settings:
    # Every test logs in from loopback: the per-address limit is for tests/integration/test_login_throttle.py,
    # which runs servers of its own.
    return replace(Settings.from_env({"ECABINET_DATA_DIR": str(data_dir)}), database_url=database_url,
                   login_slowdown_after=2, login_address_limit=1_000_000, login_lock_seconds=60,
                   login_slowdown_max_ms=50, max_json_bytes=64_000,
                   media_host_addresses=("127.0.0.1",),  # WebRTC stays on loopback
                   # Several test runs share one Redis server: each test server keys and channels its own.
                   redis_prefix=f"ecabinet-test-{uuid.uuid4().hex[:12]}",
                   verify_seconds=8, verify_memory_mb=600,  # a hostile verification is killed within seconds
                   **_exchange_settings(data_dir))


def _exchange_settings(data_dir: Path) -> dict[str, Any]:
    """The document exchange on: the gateway's secret, a development PKI's root as the trust anchor and our
    own status-signing key (tests/support/exchange_packages.py)."""
    from tests.support.exchange_packages import GATEWAY_SECRET, exchange_pki

    pki = exchange_pki(data_dir / "exchange-pki")
    return {"exchange_gateway_secret": GATEWAY_SECRET, "exchange_trust_anchors": pki.anchors,
            "exchange_signing_key": pki.our_key, "exchange_signing_cert": pki.our_cert,
            "exchange_parse_seconds": 10, "exchange_parse_memory_mb": 1_000}


@asynccontextmanager
async def serve(backend: str, data_dir: Path, **overrides: Any) -> AsyncIterator[Server]:
    """The real app on a fresh database of `backend` (sqlite or postgres), served on a free loopback port,
    with the administrator account made; `overrides` replace test settings (another agency's exchange)."""
    pg_name = None
    if backend == "postgres":
        pg_name, url = await _fresh_postgres()
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'test.sqlite3'}"
    settings = replace(test_settings(data_dir, url), **overrides)
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    await users.create(db, None, {"username": "admin", "full_name": "Quản trị", "password": ADMIN_PASSWORD,
                                  "is_admin": True})
    try:
        async with serving(settings, db) as base_url:
            yield Server(base_url=base_url, settings=settings, db=db, backend=backend)
    finally:
        await db.dispose()
        if pg_name:
            await _drop_postgres(pg_name)


@asynccontextmanager
async def serving(settings: Settings, db: Database) -> AsyncIterator[str]:
    """The app under uvicorn on a free loopback port, as `ecabinet serve` runs it (uvicorn believes no
    X-Forwarded-For: the app does, from ECABINET_TRUSTED_PROXIES only); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, db=db), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", proxy_headers=False)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        await task


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with serve(request.param, tmp_path_factory.mktemp(f"data-{request.param}")) as running:
        yield running


class Client:
    """A real HTTP client that logs in like the browser (cookie + CSRF header) or like an API client."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        self.csrf: str | None = None
        self.user: dict[str, Any] | None = None

    async def login(self, username: str, password: str) -> httpx.Response:
        r = await self.http.post("/api/auth/login", json={"username": username, "password": password})
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
            self.user = r.json()["user"]
        return r

    async def login_bearer(self, username: str, password: str) -> httpx.Response:
        r = await self.http.post("/api/auth/tokens", json={"username": username, "password": password})
        if r.status_code == 201:
            self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"
            self.user = r.json()["user"]
        return r

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        headers.update(extra or {})
        return headers

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.get(url, **kw)

    async def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None,
                   **kw: Any) -> httpx.Response:
        return await self.http.post(url, json=json, headers=self._headers(headers), **kw)

    async def patch(self, url: str, json: Any = None, headers: dict[str, str] | None = None,
                    **kw: Any) -> httpx.Response:
        return await self.http.patch(url, json=json, headers=self._headers(headers), **kw)

    async def put(self, url: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.http.put(url, json=json, headers=self._headers(headers), **kw)

    async def delete(self, url: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.http.delete(url, headers=self._headers(headers), **kw)

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def client_factory(server: Server) -> AsyncIterator[Any]:
    made: list[Client] = []

    def make() -> Client:
        c = Client(server)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


@pytest.fixture
async def admin(client_factory: Any) -> Client:
    c = client_factory()
    r = await c.login("admin", ADMIN_PASSWORD)
    assert r.status_code == 200, r.text
    return c


@dataclass
class Person:
    id: int
    username: str
    password: str
    client: Client


@pytest.fixture
async def world(server: Server, admin: Client, client_factory: Any) -> dict[str, Any]:
    return await build_world(admin, client_factory)


async def build_world(admin: Client, client_factory: Any) -> dict[str, Any]:
    """A body, its secretariat, a chair, two members, a guest, a bridge point and an outsider, all logged in,
    and a draft meeting created by the secretariat with the chair and members added."""
    body = (await admin.post("/api/bodies", json={"name": unique("Ủy ban nhân dân tỉnh "), "kind":
                                                  "provincial_committee"})).json()
    people: dict[str, Person] = {}
    for key, secretariat in [("secretary", True), ("chair", False), ("member", False), ("member2", False),
                             ("guest", False), ("bridge", False), ("outsider", False)]:
        username = unique(f"{key}.")
        password = f"Mat-khau-{key}-2026"
        r = await admin.post("/api/users", json={"username": username, "full_name": f"Người {key}",
                                                 "password": password, "is_secretariat": secretariat,
                                                 "body_id": body["id"]})
        assert r.status_code == 201, r.text
        c = client_factory()
        assert (await c.login(username, password)).status_code == 200
        people[key] = Person(r.json()["id"], username, password, c)
    r = await people["secretary"].client.post("/api/meetings", json={
        "body_id": body["id"], "title": "Phiên họp thường kỳ tháng 12", "starts_at": "2026-12-03T08:00:00+07:00",
        "place": "Hội trường UBND tỉnh"})
    assert r.status_code == 201, r.text
    meeting = r.json()
    sec = people["secretary"].client
    for key, role in [("chair", "chair"), ("member", "member"), ("member2", "member"), ("guest", "guest"),
                      ("bridge", "bridge")]:
        r = await sec.post(f"/api/meetings/{meeting['id']}/participants",
                           json={"user_id": people[key].id, "role": role})
        assert r.status_code == 201, r.text
    return {"body": body, "meeting": meeting, "people": people, "admin": admin}


@pytest.fixture
async def live_factory(server: Server) -> AsyncIterator[Any]:
    """Makes logged-in, connected Socket.IO clients; disconnects them all at the end."""
    from tests.integration.live import LiveClient

    made: list[LiveClient] = []

    async def make(person: Person | None = None, *, connect: bool = True) -> LiveClient:
        c = LiveClient(server.base_url)
        made.append(c)
        if person is not None:
            await c.login(person.username, person.password)
            if connect:
                await c.connect()
        return c

    yield make
    for c in made:
        await c.close()


@pytest.fixture
async def session_world(world: dict[str, Any]) -> dict[str, Any]:
    return await start_session(world)


async def start_session(world: dict[str, Any]) -> dict[str, Any]:
    """The `world` meeting with two agenda items, published and started by its chair."""
    meeting_id = world["meeting"]["id"]
    sec = world["people"]["secretary"].client
    items = []
    for title in ["Báo cáo kinh tế - xã hội", "Dự án Luật Đất đai (sửa đổi)"]:
        r = await sec.post(f"/api/meetings/{meeting_id}/agenda", json={"title": title, "planned_minutes": 20})
        assert r.status_code == 201, r.text
        items.append(r.json())
    assert (await sec.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "publish"})).status_code == 200
    chair = world["people"]["chair"].client
    r = await chair.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"})
    assert r.status_code == 200, r.text
    return {**world, "items": items, "meeting_id": meeting_id}


async def bulk_members(server: Server, meeting_id: int, count: int, *, prefix: str) -> list[str]:
    """`count` voting members of a meeting with ready bearer tokens, inserted directly (hashing and
    logging in 200 people one by one would only test argon2's speed)."""
    import secrets
    from datetime import timedelta

    from backend.models import AuthSession, Participant, User
    from backend.models.base import utcnow
    from backend.services.auth import token_hash
    from backend.services.passwords import hash_password

    shared_hash = hash_password("Mat-khau-chung-2026")
    tokens: list[str] = []
    async with server.db.write() as s:
        for i in range(count):
            user = User(username=unique(f"{prefix}."), full_name=f"Thành viên {i + 1}", password_hash=shared_hash)
            s.add(user)
            await s.flush()
            assert user.id is not None
            s.add(Participant(meeting_id=meeting_id, user_id=user.id, role="member", may_vote=True))
            token = secrets.token_urlsafe(32)
            s.add(AuthSession(token_hash=token_hash(token), user_id=user.id, kind="bearer",
                              expires_at=utcnow() + timedelta(hours=1)))
            tokens.append(token)
    return tokens


# --- shared fixtures of the REST API tests ---------------------------------------------------------
#
# argon2 with its production cost takes ~165 ms of CPU per hash or check; the API tests create and log
# in hundreds of accounts on two databases. The server runs in this process, so give it the same
# algorithm (argon2id) at the lowest cost: the code paths are the real ones, only cheaper.
from argon2 import PasswordHasher  # noqa: E402

from backend.services import passwords as _passwords  # noqa: E402

_passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_passwords._DUMMY_HASH = _passwords._hasher.hash("e-cabinet timing equaliser")

STAFF_ROLES = ("chair", "secretary")


@dataclass
class Cast:
    """People shared by the tests of one server (never log them out or change their accounts):
    `secretary` is the secretariat of `body`, `other_secretary` the secretariat of `other_body`."""

    body: dict[str, Any]
    other_body: dict[str, Any]
    people: dict[str, Person]

    def __getitem__(self, key: str) -> Person:
        return self.people[key]


async def _make_person(admin: Client, server: Server, key: str, *, body_id: int | None,
                       secretariat: bool = False, bearer: bool = False) -> Person:
    username = unique(f"{key.replace('_', '-')}.")
    password = f"Mat-khau-{key}-2026"
    r = await admin.post("/api/users", json={"username": username, "full_name": f"Người {key}",
                                             "password": password, "is_secretariat": secretariat,
                                             "body_id": body_id})
    assert r.status_code == 201, r.text
    c = Client(server)
    login = c.login_bearer if bearer else c.login
    assert (await login(username, password)).status_code in (200, 201)
    return Person(r.json()["id"], username, password, c)


@pytest.fixture(scope="session")
async def root(server: Server) -> AsyncIterator[Client]:
    """The administrator, logged in once per server (cookie session)."""
    c = Client(server)
    r = await c.login("admin", ADMIN_PASSWORD)
    assert r.status_code == 200, r.text
    yield c
    await c.close()


@pytest.fixture(scope="session")
async def cast(server: Server, root: Client) -> AsyncIterator[Cast]:
    bodies = []
    for label in ("Ủy ban nhân dân tỉnh ", "Chính phủ "):
        r = await root.post("/api/bodies", json={"name": unique(label), "kind": "provincial_committee"})
        assert r.status_code == 201, r.text
        bodies.append(r.json())
    people: dict[str, Person] = {}
    for key in ("secretary", "chair", "member", "member2", "guest", "bridge", "outsider"):
        people[key] = await _make_person(root, server, key, body_id=bodies[0]["id"], secretariat=key == "secretary")
    people["other_secretary"] = await _make_person(root, server, "other_secretary", body_id=bodies[1]["id"],
                                                   secretariat=True)
    yield Cast(bodies[0], bodies[1], people)
    for p in people.values():
        await p.client.close()


@pytest.fixture
async def new_user(server: Server, root: Client) -> AsyncIterator[Any]:
    """Make a fresh account, logged in (cookie, or bearer token with bearer=True), for tests that
    log out, lock, change or deactivate it."""
    made: list[Person] = []

    async def make(key: str = "user", *, body_id: int | None = None, secretariat: bool = False,
                   bearer: bool = False) -> Person:
        p = await _make_person(root, server, key, body_id=body_id, secretariat=secretariat, bearer=bearer)
        made.append(p)
        return p

    yield make
    for p in made:
        await p.client.close()


@pytest.fixture
def new_meeting(cast: Cast) -> Any:
    """Make a fresh meeting of the cast's body, created by its secretary, with chair, member, member2,
    guest and bridge (or the `roles` given), driven to `state` by the roles allowed to."""

    async def make(state: str = "draft", *, roles: tuple[str, ...] = ("chair", "member", "member2", "guest",
                                                                        "bridge"),
                   starts_at: str = "2026-12-03T08:00:00+07:00", title: str = "Phiên họp thường kỳ") -> dict[str, Any]:
        sec = cast["secretary"].client
        r = await sec.post("/api/meetings", json={"body_id": cast.body["id"], "title": title,
                                                  "starts_at": starts_at, "place": "Hội trường"})
        assert r.status_code == 201, r.text
        meeting = r.json()
        for key in roles:
            role = "member" if key.startswith("member") else key
            r = await sec.post(f"/api/meetings/{meeting['id']}/participants",
                               json={"user_id": cast[key].id, "role": role})
            assert r.status_code == 201, r.text
        path = ["draft", "published", "in_progress", "closed", "archived"]
        steps = [("publish", "secretary"), ("start", "chair"), ("close", "chair"), ("archive", "secretary")]
        for action, who in steps[:path.index(state)]:
            r = await cast[who].client.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": action})
            assert r.status_code == 200, r.text
        r = await sec.get(f"/api/meetings/{meeting['id']}")
        assert r.status_code == 200 and r.json()["status"] == state, r.text
        return r.json()

    return make
