"""Real processes for the Redis scale and fault tests: a private `redis-server` on a free port (the test may
stop and restart it; the machine's Redis is never touched), `ecabinet serve` workers as subprocesses, a
meeting in session with members seeded straight into the database with ready bearer tokens (no argon2
per member), a TCP proxy whose connections can all be cut at once (a Wi-Fi access point restarting), and
the tablets: python-socketio clients that reconnect by themselves and join the meeting again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import socketio

from tests.conftest import free_port, unavailable

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60  # generous: a loaded 2-core machine starts a worker (imports, pools) slowly
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|\"level\":\s*\"(error|critical)\"|Traceback|MaxConnectionsError|"
                        r"Too many connections", re.IGNORECASE)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _die_with_parent() -> None:
    """A child gets SIGTERM if the test process itself dies (Linux), so nothing outlives a crashed run."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PrivateRedis:
    """A redis-server of the test's own, on a free loopback port, nothing saved to disk."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            unavailable("redis-server is not installed")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, returns at once
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            client = aioredis.from_url(self.url(), socket_connect_timeout=1)
            try:
                await client.ping()
                return
            except (OSError, aioredis.RedisError):
                await asyncio.sleep(0.05)
            finally:
                await client.aclose()
        raise AssertionError(f"the private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    async def client_names(self) -> dict[str, int]:
        """Open connections per client name (each e-Cabinet process names its connections)."""
        client = aioredis.from_url(self.url(), socket_connect_timeout=2)
        try:
            found: dict[str, int] = {}
            for c in await client.client_list():
                found[c.get("name") or "?"] = found.get(c.get("name") or "?", 0) + 1
            return found
        finally:
            await client.aclose()


@dataclass
class Worker:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def errors(self) -> list[str]:
        return [line for line in self.output().splitlines() if ERROR_LINE.search(line)]

    def kill(self) -> None:
        """kill -9: no shutdown, nothing cleaned up."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def worker_env(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """What an operator sets. Every test deployment gets a Redis prefix of its own: several test runs (and
    the other helpers' servers) may share one Redis server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ECABINET_SECRET_KEY": secrets.token_urlsafe(48),
                "ECABINET_DATA_DIR": str(data_dir), "ECABINET_MODE": "demo", "ECABINET_LOG_LEVEL": "warning",
                "ECABINET_REDIS_PREFIX": f"ecabinet-test-{uuid.uuid4().hex[:12]}", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def spawn(name: str, env: dict[str, str], log: Path) -> Worker:
    """`ecabinet serve` as an operator starts it (migrations applied once before)."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
    return Worker(name, f"http://127.0.0.1:{port}", process, log)


async def wait_ready(worker: Worker, *, redis: bool = True) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=worker.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker {worker.name} exited with {worker.process.returncode}:\n"
                                     f"{worker.output()[-4000:]}")
            try:
                r = await http.get("/api/health")
                if r.status_code == 200 and (not redis or r.json().get("redis") == "ok"):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"worker {worker.name} did not answer within {START_TIMEOUT_S} s:\n{worker.output()[-4000:]}")


@dataclass
class Seeded:
    meeting_id: int
    chair_id: int
    chair_token: str
    member_ids: list[int]
    member_tokens: list[str]


async def seed(database_url: str, members: int, *, tag: str = "") -> Seeded:
    """A meeting in session with a chair and `members` voting members, each with a bearer token (inserted
    directly: one argon2 hash shared by all, no login per member)."""
    from backend.db import Database
    from backend.models import AgendaItem, AuthSession, Body, Meeting, Participant, User
    from backend.models.base import utcnow
    from backend.services.auth import token_hash
    from backend.services.passwords import hash_password

    tag = tag or uuid.uuid4().hex[:6]
    shared = hash_password("Mat-khau-chung-2026")
    now = utcnow()
    db = Database(database_url)
    try:
        async with db.write() as s:
            body = Body(name=f"Ủy ban thử {tag}", kind="provincial_committee")
            s.add(body)
            await s.flush()
            users = [User(username=f"chutich.{tag}", full_name="Chủ tọa", password_hash=shared, body_id=body.id)]
            users += [User(username=f"tv{i + 1}.{tag}", full_name=f"Thành viên {i + 1}", password_hash=shared,
                           body_id=body.id) for i in range(members)]
            s.add_all(users)
            await s.flush()
            meeting = Meeting(body_id=body.id, title="Phiên họp thử tải", starts_at=now, status="in_progress",
                              started_at=now, created_by=users[0].id)
            s.add(meeting)
            await s.flush()
            item = AgendaItem(meeting_id=meeting.id, position=1, title="Tờ trình", status="current")
            s.add(item)
            await s.flush()
            meeting.current_item_id = item.id
            s.add(meeting)
            tokens = [secrets.token_urlsafe(32) for _ in users]
            s.add_all([Participant(meeting_id=meeting.id, user_id=u.id, role="chair" if i == 0 else "member",
                                   may_vote=True) for i, u in enumerate(users)])
            s.add_all([AuthSession(token_hash=token_hash(t), user_id=u.id, kind="bearer",
                                   expires_at=now + timedelta(hours=12)) for t, u in zip(tokens, users, strict=True)])
            meeting_id = meeting.id
            ids = [int(u.id or 0) for u in users]
        assert meeting_id is not None
        return Seeded(meeting_id, ids[0], tokens[0], ids[1:], tokens[1:])
    finally:
        await db.dispose()


class DropProxy:
    """A TCP forwarder in front of a worker; `drop()` cuts every connection through it at once (RST on both
    sides), as a restarting access point does, and goes on accepting new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer.transport, up_writer.transport)
        self._transports.update(pair)  # type: ignore[arg-type]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._transports.difference_update(pair)  # type: ignore[arg-type]

    def drop(self) -> int:
        cut = list(self._transports)
        for transport in cut:
            transport.abort()
        return len(cut) // 2

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)


@dataclass
class Tablet:
    """A member's tablet: reconnects by itself and joins the meeting again after every connect."""

    url: str
    token: str
    meeting_id: int
    sio: socketio.AsyncClient = field(default_factory=lambda: socketio.AsyncClient(
        reconnection=True, reconnection_delay=0.5, reconnection_delay_max=5, randomization_factor=0.5))
    joins: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Any] = field(default_factory=list)
    late: int = 0
    events: dict[str, list[Any]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.sio.on("connect", self._connected)
        self.sio.on("*", self._record)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.setdefault(event, []).append(data)

    async def _connected(self) -> None:
        # Not inside the handler: the client reads the join's answer on the loop this handler runs in.
        task = asyncio.get_running_loop().create_task(self._join())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join(self) -> None:
        """As the app does: a join whose answer is late is asked again (a loaded machine is slow, not
        wrong); a refusal is a failure the test shows."""
        for _ in range(5):
            try:
                ack = await self.sio.call("meeting.join", {"meeting_id": self.meeting_id}, timeout=60)
            except socketio.exceptions.TimeoutError:
                self.late += 1
                continue
            except socketio.exceptions.BadNamespaceError:
                return  # disconnected meanwhile: the next connect joins again
            if isinstance(ack, dict) and ack.get("ok"):
                self.joins.append(ack)
            else:
                self.failures.append(ack)
            return
        self.failures.append("no answer to five joins")

    async def connect(self, attempts: int = 3) -> None:
        """A tablet tries again when its first connect times out (a loaded machine answers slowly)."""
        for attempt in range(attempts):
            try:
                await self.sio.connect(self.url, auth={"token": self.token}, transports=["websocket"],
                                       wait_timeout=60)
                return
            except socketio.exceptions.ConnectionError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        for task in list(self._tasks):
            task.cancel()


async def eventually(check: Callable[[], Any], *, timeout: float, what: str | Callable[[], str],
                     every: float = 0.2) -> Any:
    """Polls an (async) condition until it gives a truthy value; fails with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what() if callable(what) else what} (not within {timeout} s; last: {last!r})")


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with sem:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))
