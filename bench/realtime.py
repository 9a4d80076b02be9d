"""Realtime benchmark: N members on real Socket.IO connections against the real server.

For each (workers, N) it starts `ecabinet serve` (1 worker: in-process Socket.IO manager; 2 workers:
REDIS_URL set, members split over both ports, PostgreSQL), seeds N members with ready bearer tokens
straight into the database, and spreads N python-socketio AsyncClient connections over several client
processes. It measures:

  connect    all N connected and answered `meeting.join`
  ballots    from the chair's `poll.open` ack until every member's `vote.cast` is acknowledged
             (each member casts as soon as it receives `poll.changed` with status open)
  close      latency from the chair emitting `poll.close` to `poll.closed` received on each client
             (p50 / p99 / max over every client and round; all clocks are time.time() on one machine)

The same fan-out is measured on a bare python-socketio ASGI server under uvicorn (no application:
`join` enters a room, `go` broadcasts to it), with a small payload and with a payload as big as our
`poll.closed`. "overhead" = our close p99 / bare small p99. Then every member asks for the closed
poll's published list (`poll.ballots`: named votes, or a secret poll's receipts), spread over 3 s as
the tablets do when they check their receipts: "list to all" is the time until the last answer.

    .venv/bin/python bench/realtime.py                      # 500,1000,2000 members x 1,2 workers
    .venv/bin/python bench/realtime.py --quick              # 200 members, 1 worker (smoke, < 60 s)
    .venv/bin/python bench/realtime.py --members 2000 --workers 2 --rounds 3

Everything listens on 127.0.0.1. PostgreSQL (ECABINET_BENCH_POSTGRES_URL, default
postgresql://127.0.0.1:5432/test; a fresh database per run, dropped after) and Redis
(ECABINET_BENCH_REDIS_URL, default redis://127.0.0.1:6379/13; flushed before and after) are used
when reachable; without PostgreSQL one worker runs on SQLite and two-worker runs are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

POSTGRES_URL = os.environ.get("ECABINET_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECABINET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TARGET_MEMBERS = 2000
TARGET_P99_MS = 300.0  # close -> result on every tablet, named and secret polls (issue 18)
TARGET_OVERHEAD = 1.5  # ... and no worse than this times the bare server's fan-out p99
TARGET_JOIN_S = 10.0  # 2,000 tablets connected and joined on one worker
TARGET_BALLOTS_PER_S = 400.0  # ballots acknowledged per second on one worker
CONNECT_CONCURRENCY = 64  # simultaneous handshakes per client process
START_TIMEOUT_S = 90  # a shared, loaded machine starts a worker slowly
FETCH_SPREAD_S = 3.0  # tablets spread their automatic receipt check (frontend/src/views/live_parts.js)


# --------------------------------------------------------------------------------------------------
# small helpers


from bench.harness import (  # noqa: E402  (shared by every benchmark: bench/harness.py)
    Proc,
    cpu_seconds,
    flush_redis,
    free_port,
    log,
    pct,
    pg_admin,
    postgres_up,
    raise_fd_limit,
    redis_up,
    wait_http,
)
from bench.harness import Seeded as Seeded  # noqa: E402
from bench.harness import seed as _seed  # noqa: E402

# --------------------------------------------------------------------------------------------------
# the bare python-socketio server (run as `realtime.py --bare-server PORT [--bare-redis URL]`)


def bare_server(port: int, redis_url: str) -> None:
    import socketio
    import uvicorn

    manager = socketio.AsyncRedisManager(redis_url, channel="ecabinet-bench-bare") if redis_url else None
    # The same server options as backend/realtime/server.py.
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=None,
                               max_http_buffer_size=1_000_000, ping_interval=20, ping_timeout=20,
                               logger=False, engineio_logger=False)

    @sio.event
    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        await sio.enter_room(sid, "room")
        return {"ok": True}

    @sio.event
    async def go(sid: str, data: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"round": data["round"]}
        if data.get("pad"):
            payload["pad"] = "x" * int(data["pad"])
        await sio.emit("ev", payload, room="room")
        return {"ok": True}

    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning")


# --------------------------------------------------------------------------------------------------
# client processes: many AsyncClient connections each, driven by the coordinator over a pipe


def client_process(conn: Connection, mode: str, assignments: list[tuple[str, str]], meeting_id: int) -> None:
    raise_fd_limit()
    try:
        asyncio.run(_client_main(conn, mode, assignments, meeting_id))
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()


async def _client_main(conn: Connection, mode: str, assignments: list[tuple[str, str]], meeting_id: int) -> None:
    import aiohttp
    import socketio

    loop = asyncio.get_running_loop()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    times: dict[tuple[str, int], list[float]] = defaultdict(list)
    failures: dict[tuple[str, int], list[str]] = defaultdict(list)
    checks: dict[tuple[str, int], list[Any]] = defaultdict(list)
    clients: list[Any] = []
    tasks: set[asyncio.Task[Any]] = set()

    def make(index: int, token: str) -> Any:
        sio = socketio.AsyncClient(reconnection=False, http_session=http)
        voted: set[int] = set()
        choice = "no" if index % 4 == 0 else "yes"

        async def cast(poll_id: int) -> None:
            try:
                ack = await sio.call("vote.cast", {"poll_id": poll_id, "choice": choice}, timeout=180)
            except Exception as exc:  # timeouts, disconnects: counted as failed ballots
                ack = {"ok": False, "error": repr(exc)}
            key = ("ballot", poll_id)
            if isinstance(ack, dict) and ack.get("ok"):
                times[key].append(time.time())
            else:
                failures[key].append(str(ack)[:200])

        async def on_poll_changed(data: Any) -> None:
            if data.get("status") == "open" and data["id"] not in voted:
                voted.add(data["id"])
                task = asyncio.create_task(cast(data["id"]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        async def on_poll_closed(data: Any) -> None:
            now = time.time()
            times[("closed", data["id"])].append(now)
            checks[("closed", data["id"])].append((data["result"]["total_ballots"], bool(data["ballots_published"])))

        async def on_ev(data: Any) -> None:
            times[("ev", data["round"])].append(time.time())

        if mode == "ecabinet":
            sio.on("poll.changed", on_poll_changed)
            sio.on("poll.closed", on_poll_closed)
        else:
            sio.on("ev", on_ev)
        sio.bench_token = token  # type: ignore[attr-defined]
        sio.bench_joined = False  # type: ignore[attr-defined]
        return sio

    async def connect_one(sio: Any, url: str, sem: asyncio.Semaphore) -> str | None:
        async with sem:
            try:
                await sio.connect(url, auth={"token": sio.bench_token}, transports=["websocket"], wait_timeout=60)
                if mode == "ecabinet":
                    ack = await sio.call("meeting.join", {"meeting_id": meeting_id}, timeout=120)
                else:
                    ack = await sio.call("join", {}, timeout=120)
                if not ack.get("ok"):
                    return f"join refused: {str(ack)[:200]}"
                times[("joined", 0)].append(time.time())
                sio.bench_joined = True
                return None
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"[:200]

    async def recv() -> Any:
        return await loop.run_in_executor(None, conn.recv)

    try:
        while True:
            cmd = await recv()
            op = cmd["op"]
            if op == "ready":
                conn.send({"ready": True})
            elif op == "connect":
                await asyncio.sleep(max(0.0, cmd["start_at"] - time.time()))
                sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
                for i, (url, token) in enumerate(assignments):
                    clients.append((make(cmd["first_index"] + i, token), url))
                try:
                    errors = await asyncio.wait_for(
                        asyncio.gather(*(connect_one(c, url, sem) for c, url in clients)), cmd["timeout"])
                except TimeoutError:
                    errors = ["timed out"] * (len(clients) - len(times[("joined", 0)]))
                    # Stragglers leave, so they neither vote nor count in what follows.
                    late = [c for c, _ in clients if not c.bench_joined]
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.gather(*(c.disconnect() for c in late),
                                                              return_exceptions=True), 30)
                bad = [e for e in errors if e]
                conn.send({"joined": len(times[("joined", 0)]), "failed": len(bad), "errors": bad[:5],
                           "last": max(times[("joined", 0)], default=None)})
            elif op == "collect":
                key = (cmd["kind"], cmd["key"])
                want = len(times[("joined", 0)])
                deadline = time.monotonic() + cmd["timeout"]
                while len(times[key]) + len(failures[key]) < want and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                conn.send({"times": list(times[key]), "failures": failures[key][:5], "failed": len(failures[key]),
                           "checks": sorted(set(checks[key]))})
            elif op == "fetch":
                # Every tablet asks for the published list (a secret poll: each voter's tablet checks its
                # receipt when the result arrives), spread over 3 s as the tablet app does.
                async def fetch(sio: Any) -> None:
                    await asyncio.sleep(random.uniform(0, FETCH_SPREAD_S))
                    try:
                        ack = await sio.call("poll.ballots", {"poll_id": cmd["poll_id"]}, timeout=180)
                    except Exception as exc:
                        ack = {"ok": False, "error": repr(exc)}
                    if isinstance(ack, dict) and ack.get("ok"):
                        times[("fetch", cmd["poll_id"])].append(time.time())
                    else:
                        failures[("fetch", cmd["poll_id"])].append(str(ack)[:200])

                await asyncio.sleep(max(0.0, cmd["start_at"] - time.time()))
                await asyncio.gather(*(fetch(c) for c, _ in clients if c.bench_joined))
                key = ("fetch", cmd["poll_id"])
                conn.send({"times": list(times[key]), "failures": failures[key][:5], "failed": len(failures[key])})
            elif op == "quit":
                async def bye(sio: Any) -> None:
                    with contextlib.suppress(Exception):
                        await sio.disconnect()

                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*(bye(c) for c, _ in clients)), 30)
                conn.send({"bye": True})
                return
    finally:
        for t in list(tasks):
            t.cancel()
        await http.close()


@dataclass
class ClientPool:
    """N member connections spread over `procs` processes (spawned, so no event loop is forked)."""

    mode: str
    members: list[tuple[str, str]]  # (url, token) per member
    meeting_id: int
    procs: int
    pipes: list[Connection] = field(default_factory=list)
    processes: list[Any] = field(default_factory=list)

    def start(self) -> None:
        ctx = mp.get_context("spawn")
        k = max(1, min(self.procs, len(self.members)))
        self.slices = [self.members[i::k] for i in range(k)]
        for part in self.slices:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=client_process, args=(child, self.mode, part, self.meeting_id), daemon=True)
            p.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(p)

    async def ask(self, cmds: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            pipe.send(cmd)

        def get(pipe: Connection) -> dict[str, Any]:
            if not pipe.poll(timeout):
                raise TimeoutError(f"a client process did not answer {cmds[0]['op']} within {timeout:.0f} s")
            answer: dict[str, Any] = pipe.recv()
            return answer

        return list(await asyncio.gather(*(asyncio.to_thread(get, p) for p in self.pipes)))

    async def ready(self) -> None:
        """Spawned and imported (not part of any timing)."""
        await self.ask([{"op": "ready"}] * len(self.pipes), 90)

    async def connect(self, timeout: float) -> tuple[int, float, list[str]]:
        start_at = time.time() + 0.2  # every process starts together
        first, cmds = 0, []
        for part in self.slices:
            cmds.append({"op": "connect", "start_at": start_at, "timeout": timeout, "first_index": first})
            first += len(part)
        answers = await self.ask(cmds, timeout + 30)
        joined = sum(a["joined"] for a in answers)
        last = max((a["last"] for a in answers if a["last"]), default=start_at)
        errors = [e for a in answers for e in a["errors"]]
        return joined, last - start_at, errors

    async def collect(self, kind: str, key: int, timeout: float) -> dict[str, Any]:
        answers = await self.ask([{"op": "collect", "kind": kind, "key": key, "timeout": timeout}] * len(self.pipes),
                                 timeout + 30)
        return {"times": [t for a in answers for t in a["times"]], "failed": sum(a["failed"] for a in answers),
                "failures": [f for a in answers for f in a["failures"]][:5],
                "checks": sorted({c for a in answers for c in map(tuple, a["checks"])})}

    async def fetch_ballots(self, poll_id: int, timeout: float) -> tuple[float, int, int]:
        """All members ask for the poll's published list (spread): seconds until the last answer, answers, failures."""
        start_at = time.time() + 0.1
        answers = await self.ask([{"op": "fetch", "poll_id": poll_id, "start_at": start_at}] * len(self.pipes),
                                 timeout)
        times = [t for a in answers for t in a["times"]]
        return (max(times) - start_at if times else float("nan")), len(times), sum(a["failed"] for a in answers)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ask([{"op": "quit"}] * len(self.pipes), 40)
        for p in self.processes:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


# --------------------------------------------------------------------------------------------------
# services and seeding


async def seed(database_url: str, n: int) -> Seeded:
    """A meeting in session with a chair and n voting members, each with a bearer token (bench/harness.py)."""
    return await _seed(database_url, n)


# --------------------------------------------------------------------------------------------------
# one scenario on e-Cabinet, one on the bare server


@dataclass
class Result:
    system: str
    workers: int
    db: str
    members: int
    joined: int = 0
    connect_s: float = float("nan")
    ballots_s: float = float("nan")
    ballots_ok: int = 0
    ballots_failed: int = 0
    progress_s: float = float("nan")
    close_ack_ms: float = float("nan")
    close_ack_secret_ms: float = float("nan")
    latencies_ms: list[float] = field(default_factory=list)
    secret_latencies_ms: list[float] = field(default_factory=list)
    """close -> result of the secret polls (latencies_ms holds every poll's, named and secret)."""
    named_latencies_ms: list[float] = field(default_factory=list)
    expected_receipts: int = 0
    payload_bytes: int = 0
    list_bytes: int = 0
    fetch_s: float = float("nan")
    connect_cpu_server: float = float("nan")
    connect_cpu_clients: float = float("nan")
    poll_cpu_server: float = float("nan")
    poll_wall: float = float("nan")
    error: str = ""
    partial: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.latencies_ms)

    def p(self, q: float) -> float:
        return pct(self.latencies_ms, q)

    def p_named(self, q: float) -> float:
        return pct(self.named_latencies_ms, q)

    def p_secret(self, q: float) -> float:
        return pct(self.secret_latencies_ms, q)

    @property
    def joins_per_s(self) -> float:
        return self.joined / self.connect_s if self.connect_s > 0 else float("nan")

    @property
    def ballots_per_s(self) -> float:
        return self.joined / self.ballots_s if self.ballots_s > 0 else float("nan")


def connect_timeout(n: int) -> float:
    return max(120.0, n * 0.15)


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"ECABINET_DATA_DIR": str(data_dir), "ECABINET_MODE": "demo", "ECABINET_LOG_LEVEL": "warning",
                "ECABINET_SECRET_KEY": secrets.token_urlsafe(48), "PYTHONUNBUFFERED": "1"})
    return env


async def run_ecabinet(n: int, workers: int, db_kind: str, rounds: int, procs: int, work: Path) -> Result:
    import socketio

    res = Result("e-Cabinet", workers, db_kind, n)
    servers: list[Proc] = []
    pool: ClientPool | None = None
    chair: Any = None
    pg_name = None
    env = _base_env(work / "data")
    try:
        if db_kind == "postgres":
            pg_name = f"ecabinet_bench_{uuid.uuid4().hex[:10]}"
            await pg_admin(f'CREATE DATABASE "{pg_name}"')
            env["DATABASE_URL"] = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{pg_name}"
        else:
            env["DATABASE_URL"] = f"sqlite:///{work / 'data' / 'bench.sqlite3'}"
        if workers > 1:
            await flush_redis()
            env["REDIS_URL"] = REDIS_URL
        migrate = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "backend.cli", "migrate"], env=env,
                                          cwd=REPO, capture_output=True, text=True, timeout=120)
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrate.stderr[-2000:]}")
        from backend.config import normalise_database_url

        seeded = await seed(normalise_database_url(env["DATABASE_URL"]), n)
        urls = []
        for w in range(workers):
            port = free_port()
            profile = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "-r", "50", "-o",
                       str(work / f"worker{w + 1}.pyspy"), "--"] if os.environ.get("ECABINET_BENCH_PYSPY") else []
            servers.append(Proc(f"worker {w + 1}", [*profile, sys.executable, "-m", "backend.cli", "serve", "--host",
                                                    "127.0.0.1", "--port", str(port), "--no-migrate"], env,
                                work / f"worker{w + 1}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        await asyncio.gather(*(wait_http(p, u, "/api/health") for p, u in zip(servers, urls, strict=True)))

        progress: list[tuple[float, dict[str, Any]]] = []
        chair = socketio.AsyncClient(reconnection=False)
        chair.on("poll.progress", lambda d: progress.append((time.time(), d)))
        await chair.connect(urls[0], auth={"token": seeded.chair_token}, transports=["websocket"], wait_timeout=30)
        ack = await chair.call("meeting.join", {"meeting_id": seeded.meeting_id}, timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"chair could not join: {ack}")

        pool = ClientPool("ecabinet", [(urls[i % workers], t) for i, t in enumerate(seeded.member_tokens)],
                          seeded.meeting_id, procs)
        pool.start()
        log(f"e-Cabinet {workers}w/{db_kind} N={n}: connecting")
        server_pids = [p.popen.pid for p in servers]
        client_pids = [p.pid for p in pool.processes]
        await pool.ready()
        cpu0 = cpu_seconds(server_pids), cpu_seconds(client_pids)
        res.joined, res.connect_s, errors = await pool.connect(timeout=connect_timeout(n))
        res.connect_cpu_server = cpu_seconds(server_pids) - cpu0[0]
        res.connect_cpu_clients = cpu_seconds(client_pids) - cpu0[1]
        if errors:
            res.notes.append(f"connect: {len(errors)} failed, e.g. {sorted(set(errors))[:3]}")
        if res.joined == 0:
            raise RuntimeError(f"no member could connect and join: {errors[:3]}")
        if res.joined < n:
            res.partial = True
            log(f"  only {res.joined}/{n} joined within {connect_timeout(n):.0f} s; the rest left; "
                "going on with those")
            await asyncio.sleep(5.0)
        log(f"  connected {res.joined} in {res.connect_s:.1f} s (server CPU {res.connect_cpu_server:.1f} s, "
            f"clients CPU {res.connect_cpu_clients:.1f} s)")
        await asyncio.sleep(1.0)  # let the coalesced presence/attendance pushes of the joins drain
        cpu1, wall1 = cpu_seconds(server_pids), time.monotonic()

        ballot_spans, progress_spans, close_acks, secret_acks = [], [], [], []
        for r in range(rounds):
            secret = r % 2 == 1  # named, secret, named, ...: a secret close unseals and shuffles
            created = await chair.call("poll.create", {"meeting_id": seeded.meeting_id, "secret": secret,
                                                       "question": f"Thông qua Tờ trình (lần {r + 1})?"}, timeout=60)
            if not created.get("ok"):
                raise RuntimeError(f"poll.create failed: {created}")
            poll_id = created["poll"]["id"]
            progress.clear()
            opened = await chair.call("poll.open", {"poll_id": poll_id}, timeout=60)
            t_open_ack = time.time()
            if not opened.get("ok"):
                raise RuntimeError(f"poll.open failed: {opened}")
            ballots = await pool.collect("ballot", poll_id, timeout=60 + n * 0.1)
            res.ballots_ok += len(ballots["times"])
            res.ballots_failed += ballots["failed"]
            if ballots["failures"]:
                res.notes.append(f"ballot failures: {ballots['failures'][:2]}")
            if ballots["times"]:
                ballot_spans.append(max(ballots["times"]) - t_open_ack)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(d["voted"] >= len(ballots["times"]) for _, d in progress):
                await asyncio.sleep(0.01)
            seen = [t for t, d in progress if d["voted"] >= len(ballots["times"])]
            if seen:
                progress_spans.append(seen[0] - t_open_ack)
            t_close = time.time()
            closed = await chair.call("poll.close", {"poll_id": poll_id}, timeout=120)
            ack_ms = (time.time() - t_close) * 1000
            (secret_acks if secret else close_acks).append(ack_ms)
            if not closed.get("ok"):
                raise RuntimeError(f"poll.close failed: {closed}")
            res.payload_bytes = len(json.dumps(closed["poll"], ensure_ascii=False).encode())
            got = await pool.collect("closed", poll_id, timeout=60 + n * 0.05)
            res.latencies_ms += [(t - t_close) * 1000 for t in got["times"]]
            (res.secret_latencies_ms if secret else res.named_latencies_ms).extend(
                (t - t_close) * 1000 for t in got["times"])
            res.expected_receipts += res.joined
            wrong = [c for c in got["checks"] if c[0] != len(ballots["times"])]
            if wrong:
                res.notes.append(f"round {r + 1}: poll.closed with unexpected total_ballots {wrong[:3]}")
            if r == rounds - 1:
                listed = await chair.call("poll.ballots", {"poll_id": poll_id}, timeout=120)
                res.list_bytes = len(json.dumps(listed, ensure_ascii=False).encode())
                res.fetch_s, fetched, fetch_failed = await pool.fetch_ballots(poll_id, 120 + n * 0.1)
                if fetched != res.joined or fetch_failed:
                    res.notes.append(f"ballot list fetched by {fetched}/{res.joined} ({fetch_failed} failed)")
            took = [(t - t_close) * 1000 for t in got["times"]]
            span = ballot_spans[-1] if ballot_spans else 0
            kind = "secret" if secret else "named"
            log(f"  round {r + 1} ({kind}): ballots {len(ballots['times'])}/{n} in {span:.2f}"
                f" s, closed received by {len(got['times'])}/{n}, first {min(took, default=0):.0f} ms, p50 "
                f"{pct(took, 50):.0f}, p99 {pct(took, 99):.0f} ms, the chair's ack after {ack_ms:.0f} ms")
        res.poll_cpu_server, res.poll_wall = cpu_seconds(server_pids) - cpu1, time.monotonic() - wall1
        res.ballots_s = statistics.median(ballot_spans) if ballot_spans else float("nan")
        res.progress_s = statistics.median(progress_spans) if progress_spans else float("nan")
        res.close_ack_ms = statistics.median(close_acks) if close_acks else float("nan")
        res.close_ack_secret_ms = statistics.median(secret_acks) if secret_acks else float("nan")
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"[:500]
        log(f"  FAILED: {res.error}")
        for p in servers:
            tail = p.tail().strip()
            if tail:
                log(f"  {p.name} log tail:\n{tail[-1500:]}")
    finally:
        if pool is not None:
            await pool.stop()
        if chair is not None:
            with contextlib.suppress(Exception):
                await chair.disconnect()
        for p in servers:
            p.stop()
        if pg_name:
            with contextlib.suppress(Exception):
                await pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        if workers > 1:
            with contextlib.suppress(Exception):
                await flush_redis()
    return res


async def run_bare(n: int, workers: int, rounds: int, procs: int, pad: int, work: Path) -> Result:
    """The same fan-out on a bare python-socketio server (2 workers: Redis manager, clients split)."""
    import socketio

    res = Result("bare" + (f" {pad} B" if pad else ""), workers, "-", n)
    servers: list[Proc] = []
    pool: ClientPool | None = None
    sender: Any = None
    env = _base_env(work / "data")
    try:
        urls = []
        for w in range(workers):
            port = free_port()
            argv = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port)]
            if workers > 1:
                argv += ["--bare-redis", REDIS_URL]
            servers.append(Proc(f"bare {w + 1}", argv, env, work / f"bare{w + 1}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        await asyncio.gather(*(wait_http(p, u, "/socket.io/?EIO=4&transport=polling")
                               for p, u in zip(servers, urls, strict=True)))
        sender = socketio.AsyncClient(reconnection=False)
        await sender.connect(urls[0], transports=["websocket"], wait_timeout=30)
        pool = ClientPool("bare", [(urls[i % workers], "") for i in range(n)], 0, procs)
        pool.start()
        log(f"{res.system} {workers}w N={n}: connecting")
        await pool.ready()
        res.joined, res.connect_s, errors = await pool.connect(timeout=connect_timeout(n))
        if res.joined < n:
            raise RuntimeError(f"only {res.joined}/{n} clients connected and joined: {errors[:3]}")
        await asyncio.sleep(0.5)
        for r in range(rounds):
            t_go = time.time()
            ack = await sender.call("go", {"round": r, "pad": pad}, timeout=120)
            if not ack.get("ok"):
                raise RuntimeError(f"go failed: {ack}")
            got = await pool.collect("ev", r, timeout=60 + n * 0.05)
            res.latencies_ms += [(t - t_go) * 1000 for t in got["times"]]
            res.expected_receipts += res.joined
            await asyncio.sleep(0.3)
        res.payload_bytes = len(json.dumps({"round": 0, **({"pad": "x" * pad} if pad else {})}).encode())
        log(f"  connected in {res.connect_s:.1f} s, p99 {res.p(99):.0f} ms")
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"[:500]
        log(f"  FAILED: {res.error}")
    finally:
        if pool is not None:
            await pool.stop()
        if sender is not None:
            with contextlib.suppress(Exception):
                await sender.disconnect()
        for p in servers:
            p.stop()
        if workers > 1:
            with contextlib.suppress(Exception):
                await flush_redis()
    return res


# --------------------------------------------------------------------------------------------------
# report


def fmt(x: float, digits: int = 0) -> str:
    return "—" if x != x else f"{x:.{digits}f}"


def table(results: list[tuple[Result, Result | None, Result | None]]) -> str:
    head = ("| workers | db | members | joined | connect+join s (bare) | joins/s (bare) | server CPU s in connect "
            "| open→all ballots s | ballots/s | server CPU ms per ballot | close ack ms named / secret "
            "| close→result p50 ms "
            "| p99 ms named / secret | max ms | received | bare p99 ms | overhead (p99 ÷ bare) "
            "| bare, same payload, p99 ms | poll.closed KB | list KB | list to all s |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for ours, bare, bare_big in results:
        ratio = ours.p(99) / bare.p(99) if bare and bare.latencies_ms and ours.latencies_ms else float("nan")
        joined = f"{ours.joined}" + (" (partial)" if ours.partial else "")
        lines.append(
            f"| {ours.workers} | {ours.db} | {ours.members} | {joined} "
            f"| {fmt(ours.connect_s, 1)} ({fmt(bare.connect_s, 1) if bare else '—'}) "
            f"| {fmt(ours.joins_per_s)} ({fmt(bare.joins_per_s) if bare else '—'}) "
            f"| {fmt(ours.connect_cpu_server, 1)} "
            f"| {fmt(ours.ballots_s, 2)} | {fmt(ours.ballots_per_s)} "
            f"| {fmt(ours.poll_cpu_server * 1000 / max(1, ours.ballots_ok), 1)} "
            f"| {fmt(ours.close_ack_ms)} / {fmt(ours.close_ack_secret_ms)} | {fmt(ours.p(50))} "
            f"| {fmt(ours.p_named(99))} / {fmt(ours.p_secret(99))} "
            f"| {fmt(max(ours.latencies_ms) if ours.latencies_ms else float('nan'))} "
            f"| {ours.received}/{ours.expected_receipts} | {fmt(bare.p(99)) if bare else '—'} | {fmt(ratio, 1)}x "
            f"| {fmt(bare_big.p(99)) if bare_big else '—'} | {fmt(ours.payload_bytes / 1000, 1)} "
            f"| {fmt(ours.list_bytes / 1000, 0)} | {fmt(ours.fetch_s, 2)} |")
    return "\n".join(lines)


def verdict(results: list[tuple[Result, Result | None, Result | None]]) -> list[str]:
    """The issue's targets, each row against them (the join and ballot targets are for 2,000 on one worker)."""
    out = []
    for ours, bare, _ in results:
        tag = f"{ours.workers} worker(s) {ours.db}, {ours.members} members"
        if ours.error:
            out.append(f"{tag}: FAILED ({ours.error})")
            continue
        ratio = ours.p(99) / bare.p(99) if bare and bare.latencies_ms else float("nan")
        join_budget = TARGET_JOIN_S * ours.members / TARGET_MEMBERS
        worst = max(ours.p_named(99), ours.p_secret(99) if ours.secret_latencies_ms else 0.0)
        checks = [f"{ours.joined}/{ours.members} joined in {ours.connect_s:.1f} s "
                  f"({'<=' if ours.connect_s <= join_budget else '>'} {join_budget:.1f} s pro rata)",
                  f"{ours.ballots_per_s:.0f} ballots/s {'>=' if ours.ballots_per_s >= TARGET_BALLOTS_PER_S else '<'} "
                  f"{TARGET_BALLOTS_PER_S:.0f}",
                  f"close→result p99 named {fmt(ours.p_named(99))} / secret {fmt(ours.p_secret(99))} ms "
                  f"{'<=' if worst <= TARGET_P99_MS else '>'} "
                  f"{TARGET_P99_MS:.0f} ms",
                  f"overhead {fmt(ratio, 2)}x {'<=' if ratio <= TARGET_OVERHEAD else '>'} {TARGET_OVERHEAD}x"]
        out.append(f"{tag}: " + ", ".join(checks))
    return out


# --------------------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> int:
    raise_fd_limit()
    members = [200] if args.quick else [int(x) for x in args.members.split(",") if x.strip()]
    workers = [1] if args.quick else [int(x) for x in args.workers.split(",") if x.strip()]
    rounds = args.rounds or (2 if args.quick else 3)
    pg, rd = await postgres_up(), await redis_up()
    db_kind = args.db
    if db_kind == "auto":
        db_kind = "postgres" if pg else "sqlite"
    if db_kind == "postgres" and not pg:
        print(f"PostgreSQL is not reachable at {POSTGRES_URL}", file=sys.stderr)
        return 2
    results: list[tuple[Result, Result | None, Result | None]] = []
    skipped: list[str] = []
    started = time.monotonic()
    keep = Path(args.logs) if args.logs else None
    with tempfile.TemporaryDirectory(prefix="ecabinet-bench-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for w in workers:
            if w > 1 and not (pg and rd):
                skipped.append(f"{w} workers: needs PostgreSQL and Redis")
                continue
            for n in members:
                run_dir = work / f"{w}w-{n}"
                (run_dir / "data").mkdir(parents=True, exist_ok=True)
                ours = await run_ecabinet(n, w, db_kind if w == 1 else "postgres", rounds, args.procs, run_dir)
                bare = await run_bare(n, w, rounds, args.procs, 0, run_dir)
                # The same fan-out with a payload as big as our poll.closed: what the size alone costs.
                bare_big = None if args.no_big else await run_bare(n, w, rounds, args.procs,
                                                                   max(ours.payload_bytes, 1), run_dir)
                results.append((ours, bare, bare_big))
    elapsed = time.monotonic() - started
    print()
    print(f"Realtime benchmark — {os.cpu_count()} CPUs, python-socketio clients in {args.procs} processes, "
          f"{rounds} round(s) per row, {elapsed:.0f} s in all")
    print(table(results))
    print()
    for line in verdict(results):
        print("  " + line)
    for ours, _, _ in results:
        for note in ours.notes:
            print(f"  note ({ours.workers}w, N={ours.members}): {note}")
    for s in skipped:
        print(f"  skipped: {s}")
    if args.json:
        Path(args.json).write_text(json.dumps([
            {k: v for k, v in vars(r).items() if k != "latencies_ms"} | {"p50": r.p(50), "p99": r.p(99),
                                                                          "max": max(r.latencies_ms, default=None)}
            for trio in results for r in trio if r is not None], indent=2, ensure_ascii=False))
    failed = [ours for ours, _, _ in results if ours.error]
    return 1 if failed else 0


async def _guarded(args: argparse.Namespace) -> int:
    """SIGTERM cancels the run like Ctrl-C, so every finally (servers, clients, databases) runs."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await main(args)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", default="500,1000,2000", help="comma-separated member counts")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts (2 needs PostgreSQL and Redis)")
    p.add_argument("--quick", action="store_true", help="200 members, 1 worker, 2 rounds (smoke test)")
    p.add_argument("--rounds", type=int, default=0, help="polls per row (default 3, quick 2)")
    p.add_argument("--procs", type=int, default=4, help="client processes")
    p.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto",
                   help="database of the 1-worker rows (auto: PostgreSQL when reachable); 2 workers use PostgreSQL")
    p.add_argument("--no-big", action="store_true",
                   help="skip the bare server's run with a payload as big as poll.closed (saves time)")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--logs", help="keep the servers' logs (and SQLite files) in this directory")
    p.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    p.add_argument("--bare-redis", default="", help=argparse.SUPPRESS)
    return p.parse_args(argv)


if __name__ == "__main__":
    ns = parse()
    if ns.bare_server:
        bare_server(ns.bare_server, ns.bare_redis)
        sys.exit(0)
    try:
        sys.exit(asyncio.run(_guarded(ns)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)
