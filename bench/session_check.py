"""What the per-event session check costs (docs/security-notes/revocation.md).

Every Socket.IO event re-checks its connection's login session (services.auth.SessionCache). This
measures acknowledged events per second on the cheapest event there is (`document.close`: no database,
one room left), against the real app served by uvicorn in a child process on SQLite, in three modes:

  before     the check skipped (the actor from connect is used, as before the check existed)
  cached     the shipped behaviour: the database is asked at most every ECABINET_SESSION_RECHECK_MS
  uncached   the database asked at every event (ECABINET_SESSION_RECHECK_MS=0): the worst case

Two loads: one client sending events one after the other (latency-bound), and 20 clients at once
(throughput-bound).

    .venv/bin/python bench/session_check.py            # 3,000 events per load and mode
    .venv/bin/python bench/session_check.py --events 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
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
    args = parser.parse_args()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ecabinet-bench-check-") as data_dir:
        await setup(data_dir)
        for mode in ("before", "cached", "uncached"):
            port = free_port()
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            process = await asyncio.to_thread(subprocess.Popen, [sys.executable, __file__, "--serve", mode,
                                                                 str(port), data_dir], env=env)
            try:
                base_url = f"http://127.0.0.1:{port}"
                await wait_ready(base_url, process)
                results[mode] = await measure(base_url, args.events)
            finally:
                process.terminate()
                process.wait(timeout=10)
    print(f"per-event session check, {args.events} acknowledged `document.close` events per load (SQLite)")
    print(f"{'mode':<10} {'1 client, ev/s':>16} {f'{CLIENTS} clients, ev/s':>18}")
    for mode, (sequential, parallel) in results.items():
        print(f"{mode:<10} {sequential:>16.0f} {parallel:>18.0f}")
    base = results["before"]
    for mode in ("cached", "uncached"):
        seq, par = results[mode]
        print(f"{mode} vs before: {100 * (seq / base[0] - 1):+.1f} % (1 client), "
              f"{100 * (par / base[1] - 1):+.1f} % ({CLIENTS} clients)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        asyncio.run(main())
