"""What the per-event session check costs (docs/security-notes/revocation.md).

Every Socket.IO event re-checks its connection's login session (services.auth.SessionCache). This
measures acknowledged events per second on the cheapest event there is (`document.close`: no database,
one room left), against the real app served by uvicorn in a child process on SQLite, in three modes:

  before     the check skipped (the actor from connect is used, as before the check existed)
  cached     the shipped behaviour: the database is asked at most every ECABINET_SESSION_RECHECK_MS
  uncached   the database asked at every event (ECABINET_SESSION_RECHECK_MS=0): the worst case

Two loads: one client sending events one after the other (latency-bound), and 20 clients at once
(throughput-bound). The modes take turns, `--repeat` times (a fresh server each time, the order
rotated each turn); the medians are reported. On a shared machine these rates move by ±20 % from run to
run, so the check itself is also timed alone, in this process: a cached check, and a database check.

    .venv/bin/python bench/session_check.py            # 3,000 events per load and mode, 3 turns
    .venv/bin/python bench/session_check.py --events 500 --repeat 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PASSWORD = "Mat-khau-do-kiem-2026"
CLIENTS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(mode: str, port: int, data_dir: str) -> None:
    """The child process: the real app, with the check skipped in mode `before`."""
    from dataclasses import replace

    import uvicorn

    from backend.app import create_app
    from backend.config import Settings
    from backend.services import auth

    if mode == "before":
        original = auth.SessionCache.actor

        async def remember(self: auth.SessionCache, session_id: int) -> auth.Actor:
            known = self.__dict__.setdefault("_known", {})
            if session_id not in known:
                known[session_id] = await original(self, session_id)
            return known[session_id]  # type: ignore[no-any-return]

        auth.SessionCache.actor = remember  # type: ignore[method-assign]
    settings = replace(Settings.from_env({"ECABINET_DATA_DIR": data_dir}),
                       session_recheck_ms=0 if mode == "uncached" else 5_000)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


async def setup(data_dir: str) -> None:
    from backend import migrate
    from backend.config import Settings
    from backend.db import Database
    from backend.services import users

    settings = Settings.from_env({"ECABINET_DATA_DIR": data_dir})
    await asyncio.to_thread(migrate.upgrade, settings.effective_database_url)
    db = Database(settings.effective_database_url)
    await users.create(db, None, {"username": "do.kiem", "full_name": "Đo kiểm", "password": PASSWORD})
    await db.dispose()


async def time_the_check(data_dir: str) -> tuple[float, float]:
    """Microseconds per cached check (a hit) and per database check (SessionCache with no interval)."""
    from dataclasses import replace

    from backend.config import Settings
    from backend.db import Database
    from backend.services import auth

    settings = Settings.from_env({"ECABINET_DATA_DIR": data_dir})
    db = Database(settings.effective_database_url)
    login = await auth.login(db, settings, "do.kiem", PASSWORD, kind="bearer")
    actor = await auth.authenticate(db, settings, login.token, via_cookie=False)
    assert actor.session_id is not None
    cached = auth.SessionCache(db, settings)
    await cached.actor(actor.session_id)
    n = 100_000
    started = time.perf_counter()
    for _ in range(n):
        await cached.actor(actor.session_id)
    hit_us = (time.perf_counter() - started) / n * 1e6
    uncached = auth.SessionCache(db, replace(settings, session_recheck_ms=0))
    n = 500
    started = time.perf_counter()
    for _ in range(n):
        await uncached.actor(actor.session_id)
    miss_us = (time.perf_counter() - started) / n * 1e6
    await db.dispose()
    return hit_us, miss_us


async def measure(base_url: str, events: int) -> tuple[float, float]:
    """Events per second: one client in sequence, then CLIENTS clients at once."""
    import httpx
    import socketio

    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/api/auth/tokens", json={"username": "do.kiem", "password": PASSWORD})
        r.raise_for_status()
        token = r.json()["token"]
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(CLIENTS)]
    for c in clients:
        await c.connect(base_url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    async def run(client: socketio.AsyncClient, n: int) -> None:
        for _ in range(n):
            ack = await client.call("document.close", {"document_id": 1}, timeout=10)
            assert ack["ok"], ack

    await run(clients[0], 100)  # warm up
    started = time.perf_counter()
    await run(clients[0], events)
    sequential = events / (time.perf_counter() - started)
    started = time.perf_counter()
    await asyncio.gather(*(run(c, events // CLIENTS) for c in clients))
    parallel = (events // CLIENTS * CLIENTS) / (time.perf_counter() - started)
    for c in clients:
        await c.disconnect()
    return sequential, parallel


async def wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}")
            try:
                if (await http.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float]]] = {"before": [], "cached": [], "uncached": []}
    with tempfile.TemporaryDirectory(prefix="ecabinet-bench-check-") as data_dir:
        await setup(data_dir)
        hit_us, miss_us = await time_the_check(data_dir)
        order = list(runs)
        for mode in [order[(i + turn) % 3] for turn in range(args.repeat) for i in range(3)]:
            port = free_port()
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            # As a module from the repository: run as a script, bench/media.py would shadow the media package.
            process = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-m", "bench.session_check", "--serve",
                                                                 mode, str(port), data_dir], env=env, cwd=REPO)
            try:
                base_url = f"http://127.0.0.1:{port}"
                await wait_ready(base_url, process)
                runs[mode].append(await measure(base_url, args.events))
            finally:
                process.terminate()
                process.wait(timeout=10)
    results = {mode: (statistics.median(r[0] for r in done), statistics.median(r[1] for r in done))
               for mode, done in runs.items()}
    print(f"per-event session check, {args.events} acknowledged `document.close` events per load (SQLite), "
          f"median of {args.repeat}")
    print(f"{'mode':<10} {'1 client, ev/s':>16} {f'{CLIENTS} clients, ev/s':>18}")
    for mode, (sequential, parallel) in results.items():
        print(f"{mode:<10} {sequential:>16.0f} {parallel:>18.0f}")
    base = results["before"]
    for mode in ("cached", "uncached"):
        seq, par = results[mode]
        print(f"{mode} vs before: {100 * (seq / base[0] - 1):+.1f} % (1 client), "
              f"{100 * (par / base[1] - 1):+.1f} % ({CLIENTS} clients)")
    print(f"the check alone: {hit_us:.2f} µs cached, {miss_us:.0f} µs from the database; one event costs "
          f"{1e6 / base[0]:.0f} µs end to end (1 client, before)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        asyncio.run(main())
