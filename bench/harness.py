"""What every benchmark shares: the services (PostgreSQL, Redis), starting `ecabinet serve` workers on a
fresh database, seeding people the same way (bearer tokens and one precomputed password hash inserted
straight into the database: setting up is never what is measured), and reading a process's CPU time
and memory.

    async with Deployment.create(work, db_kind="postgres", redis="private") as dep:
        seeded = await seed(dep.database_url, 500, secretary=True)
        urls = await dep.start_workers(2)

Everything listens on 127.0.0.1. PostgreSQL: ECABINET_BENCH_POSTGRES_URL (default
postgresql://127.0.0.1:5432/test), a fresh database per run, dropped after. Redis: ECABINET_BENCH_REDIS_URL
(default redis://127.0.0.1:6379/13, flushed before and after), or a private redis-server on a free port
(`redis="private"`), which no other run on the machine can hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

POSTGRES_URL = os.environ.get("ECABINET_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECABINET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
START_TIMEOUT_S = 120  # a loaded machine starts a worker slowly
SHARED_PASSWORD = "Mat-khau-chung-2026"


# --------------------------------------------------------------------------------------------------
# small helpers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_bytes(pid: int) -> int:
    """Resident memory of a process now (VmRSS, Linux /proc); 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _die_with_parent() -> None:
    """Servers started by the benchmark get SIGTERM if the benchmark itself is killed (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    """A server subprocess with its log; always stopped in a finally."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logfile: Path) -> None:
        self.name = name
        self.logfile = logfile
        with logfile.open("wb") as out:
            self.popen = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self) -> str:
        return self.logfile.read_text(errors="replace")[-3000:] if self.logfile.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


async def wait_http(proc: Proc, url: str, path: str) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
            try:
                r = await http.get(url + path)
                if r.status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer within {START_TIMEOUT_S} s:\n{proc.tail()}")


# --------------------------------------------------------------------------------------------------
# services


async def postgres_up() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except Exception:
        return False
    await conn.close()
    return True


async def redis_up(url: str = REDIS_URL) -> bool:
    import redis.asyncio as aioredis

    r = aioredis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await r.ping())
    except Exception:
        return False
    finally:
        await r.aclose()


async def flush_redis(url: str = REDIS_URL) -> None:
    import redis.asyncio as aioredis

    r = aioredis.from_url(url)
    try:
        await r.flushdb()
    finally:
        await r.aclose()


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def base_env(data_dir: Path) -> dict[str, str]:
    """The environment of every server a benchmark starts: demo mode, warnings only, a fresh secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"ECABINET_DATA_DIR": str(data_dir), "ECABINET_MODE": "demo", "ECABINET_LOG_LEVEL": "warning",
                "ECABINET_SECRET_KEY": secrets.token_urlsafe(48), "PYTHONUNBUFFERED": "1"})
    return env


@dataclass
class Deployment:
    """A fresh database (migrated), optionally Redis, and the `ecabinet serve` workers started on it."""

    work: Path
    db_kind: str
    env: dict[str, str]
    database_url: str
    """The async SQLAlchemy URL the workers use (for seeding)."""
    servers: list[Proc] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    _pg_name: str | None = None
    _redis: Proc | None = None
    _shared_redis: bool = False
    _pg_cluster: Path | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def create(cls, work: Path, *, db_kind: str, redis: str = "",
                     private_postgres: bool = False) -> AsyncIterator[Deployment]:
        """db_kind: "postgres" or "sqlite"; redis: "" (none: one worker), "shared" (REDIS_URL, flushed)
        or "private" (a redis-server of this run on a free port). private_postgres: a PostgreSQL cluster
        of this run (initdb on a free port, when we are root and PostgreSQL's binaries are installed),
        whose connections no other job on the machine can use up; else a fresh database on the shared
        server."""
        from backend.config import normalise_database_url

        data = work / "data"
        data.mkdir(parents=True, exist_ok=True)
        env = base_env(data)
        dep = cls(work, db_kind, env, "")
        try:
            if db_kind == "postgres" and private_postgres and _private_postgres_possible():
                env["DATABASE_URL"] = await dep._private_postgres()
            elif db_kind == "postgres":
                dep._pg_name = f"ecabinet_bench_{uuid.uuid4().hex[:10]}"
                await pg_admin(f'CREATE DATABASE "{dep._pg_name}"')
                env["DATABASE_URL"] = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{dep._pg_name}"
            else:
                env["DATABASE_URL"] = f"sqlite:///{data / 'bench.sqlite3'}"
            dep.database_url = normalise_database_url(env["DATABASE_URL"])
            if redis == "shared":
                await flush_redis()
                env["REDIS_URL"], dep._shared_redis = REDIS_URL, True
            elif redis == "private":
                env["REDIS_URL"] = await dep._private_redis()
            done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "backend.cli", "migrate"],
                                           env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"migrate failed: {done.stderr[-2000:]}")
            yield dep
        finally:
            await dep.close()

    async def _private_redis(self) -> str:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        port = free_port()
        self._redis = Proc("redis", [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                     "--appendonly", "no", "--dir", str(self.work)], self.env, self.work / "redis.log")
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not await redis_up(url):
            if self._redis.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self._redis.tail()}")
            await asyncio.sleep(0.1)
        return url

    async def _private_postgres(self) -> str:
        root = Path(tempfile.mkdtemp(prefix="ecabinet-bench-pg-"))
        shutil.chown(root, "postgres", "postgres")
        self._pg_cluster = root
        port = free_port()
        as_postgres = ["runuser", "-u", "postgres", "--"]
        for argv in ([str(_pg_bin() / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres"],
                     [str(_pg_bin() / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "postgres.log"), "-w",
                      "-t", str(START_TIMEOUT_S), "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                      "-c max_connections=300", "start"]):
            done = await asyncio.to_thread(subprocess.run, [*as_postgres, *argv], capture_output=True, text=True,
                                           timeout=START_TIMEOUT_S + 30)
            if done.returncode != 0:
                raise RuntimeError(f"private PostgreSQL: {' '.join(argv[:1])} failed: {done.stderr[-2000:]}")
        import asyncpg

        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=30)
        try:
            await conn.execute('CREATE DATABASE "bench"')
        finally:
            await conn.close()
        return f"postgresql://postgres@127.0.0.1:{port}/bench"

    async def start_workers(self, n: int, *, argv_prefix: list[str] | None = None) -> list[str]:
        """n `ecabinet serve` processes on free ports (never migrating: done once above); their URLs."""
        fresh = []
        for _ in range(n):
            w = len(self.servers) + 1
            port = free_port()
            self.servers.append(Proc(f"worker {w}", [*(argv_prefix or []), sys.executable, "-m", "backend.cli",
                                                     "serve", "--host", "127.0.0.1", "--port", str(port),
                                                     "--no-migrate"], self.env, self.work / f"worker{w}.log"))
            fresh.append((self.servers[-1], f"http://127.0.0.1:{port}"))
        await asyncio.gather(*(wait_http(p, u, "/api/health") for p, u in fresh))
        self.urls += [u for _, u in fresh]
        return [u for _, u in fresh]

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.servers]

    def logs(self) -> dict[str, str]:
        return {p.name: p.logfile.read_text(errors="replace") if p.logfile.exists() else "" for p in self.servers}

    async def close(self) -> None:
        for p in self.servers:
            p.stop()
        if self._redis is not None:
            self._redis.stop()
        if self._shared_redis:
            with contextlib.suppress(Exception):
                await flush_redis()
        if self._pg_name:
            with contextlib.suppress(Exception):
                await pg_admin(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
        if self._pg_cluster is not None:
            await asyncio.to_thread(subprocess.run, ["runuser", "-u", "postgres", "--", str(_pg_bin() / "pg_ctl"),
                                                     "-D", str(self._pg_cluster / "data"), "-m", "immediate",
                                                     "stop"], capture_output=True, timeout=60)
            shutil.rmtree(self._pg_cluster, ignore_errors=True)


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else Path("/usr/lib/postgresql/15/bin")


def _private_postgres_possible() -> bool:
    return os.geteuid() == 0 and (_pg_bin() / "initdb").exists() and shutil.which("runuser") is not None


# --------------------------------------------------------------------------------------------------
# seeding: the same people for every benchmark


@dataclass
class Account:
    id: int
    username: str
    token: str
    """A ready bearer token (valid 12 hours: connecting never extends, that is writes, it)."""
    credential_id: int | None = None


@dataclass
class Seeded:
    body_id: int
    members: list[Account]
    chair: Account | None = None
    secretary: Account | None = None
    meeting_id: int | None = None
    agenda_item_ids: list[int] = field(default_factory=list)

    @property
    def chair_token(self) -> str:
        assert self.chair is not None
        return self.chair.token

    @property
    def member_tokens(self) -> list[str]:
        return [m.token for m in self.members]


async def seed(database_url: str, n: int, *, chair: bool = True, secretary: bool = False, meeting: bool = True,
               agenda_items: int = 1, body_name: str = "", certificates: tuple[Path, str] | None = None) -> Seeded:
    """A body with n members (bench.m1 ... bench.mN), a chair (bench.chair) and a secretariat
    (bench.sec) if asked, each with a bearer token; one shared precomputed argon2 hash, no per-user
    login. With `meeting`: a meeting in session chaired by bench.chair with every member a voting
    participant and `agenda_items` items, the first current. With certificates=(pki_dir, passphrase):
    every member also gets a signing certificate from a development CA made there."""
    from backend.db import Database
    from backend.models import AgendaItem, AuthSession, Body, Meeting, Participant, User
    from backend.models.base import utcnow
    from backend.services.auth import token_hash
    from backend.services.credentials import _row
    from backend.services.passwords import hash_password

    shared = hash_password(SHARED_PASSWORD)
    now = utcnow()
    expires = now + timedelta(hours=12)
    db = Database(database_url)
    try:
        async with db.write() as s:
            body = Body(name=body_name or f"Bench {uuid.uuid4().hex[:6]}", kind="government")
            s.add(body)
            await s.flush()
            staff: dict[str, User] = {}
            if chair:
                staff["chair"] = User(username="bench.chair", full_name="Chủ tọa", password_hash=shared,
                                      body_id=body.id)
            if secretary:
                staff["secretary"] = User(username="bench.sec", full_name="Thư ký", password_hash=shared,
                                          body_id=body.id, is_secretariat=True)
            members = [User(username=f"bench.m{i + 1}", full_name=f"Thành viên {i + 1}", title="Bộ trưởng",
                            password_hash=shared, body_id=body.id) for i in range(n)]
            users = [*staff.values(), *members]
            s.add_all(users)
            await s.flush()
            tokens = {id(u): secrets.token_urlsafe(32) for u in users}
            s.add_all([AuthSession(token_hash=token_hash(tokens[id(u)]), user_id=u.id, kind="bearer",
                                   expires_at=expires) for u in users])
            creds: dict[int, int] = {}
            if certificates is not None:
                from signing import init_ca, issue_signing_certificate, read_pkcs12

                ca = init_ca(certificates[0])
                rows = []
                for u in members:
                    p12 = issue_signing_certificate(ca, common_name=u.full_name, title=u.title,
                                                    passphrase=certificates[1])
                    _, cert, _ = read_pkcs12(p12, certificates[1])
                    assert u.id is not None
                    rows.append(_row(u.id, cert, "file", pkcs12=p12))
                s.add_all(rows)
                await s.flush()
                creds = {r.user_id: r.id or 0 for r in rows}
            out = Seeded(body.id or 0, [Account(u.id or 0, u.username, tokens[id(u)], creds.get(u.id or 0))
                                        for u in members])
            if "chair" in staff:
                out.chair = Account(staff["chair"].id or 0, "bench.chair", tokens[id(staff["chair"])])
            if "secretary" in staff:
                out.secretary = Account(staff["secretary"].id or 0, "bench.sec", tokens[id(staff["secretary"])])
            if meeting:
                m = Meeting(body_id=body.id, title="Phiên họp đo tải", starts_at=now, status="in_progress",
                            started_at=now, created_by=users[0].id)
                s.add(m)
                await s.flush()
                items = [AgendaItem(meeting_id=m.id, position=i + 1, title=f"Tờ trình số {i + 1}",
                                    status="current" if i == 0 else "pending") for i in range(max(1, agenda_items))]
                s.add_all(items)
                await s.flush()
                m.current_item_id = items[0].id
                s.add(m)
                s.add_all([Participant(meeting_id=m.id, user_id=u.id, role=_role(u, staff), may_vote=True)
                           for u in ([staff["chair"]] if "chair" in staff else []) + members])
                if "secretary" in staff:  # as when the secretariat creates the meeting (services/meetings.py)
                    s.add(Participant(meeting_id=m.id, user_id=staff["secretary"].id, role="secretary",
                                      may_vote=False))
                out.meeting_id = m.id
                out.agenda_item_ids = [i.id or 0 for i in items]
        return out
    finally:
        await db.dispose()


def _role(user: Any, staff: dict[str, Any]) -> str:
    return "chair" if staff.get("chair") is user else "member"
