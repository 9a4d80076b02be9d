"""`ecabinet serve --workers N`: N web workers on consecutive ports, each its own process (so the
reverse proxy can keep a device on one of them), started again when one dies.

Each worker is a plain `ecabinet serve --port P --no-migrate` (migrations ran once before). A worker
that exits on its own is restarted after a pause that grows while it keeps dying (1 s, 2 s, ... 30 s),
so a broken configuration does not spin. SIGTERM or SIGINT stops every worker and then the supervisor."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger("ecabinet.supervisor")

MAX_BACKOFF_S = 30.0


@dataclass
class _Worker:
    port: int
    process: subprocess.Popen[bytes] | None = None
    failures: int = 0
    restart_at: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


def _start(worker: _Worker, host: str) -> None:
    worker.process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--host", host, "--port", str(worker.port), "--no-migrate"],
        env={**os.environ, "ECABINET_WORKER_PORT": str(worker.port)}, stdin=subprocess.DEVNULL)
    worker.started_at = time.monotonic()
    log.info("worker on port %d started (pid %d)", worker.port, worker.process.pid)


def run(count: int, host: str, first_port: int) -> int:
    """Serve until told to stop; the exit status for the shell."""
    workers = [_Worker(first_port + i) for i in range(count)]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"e-Cabinet: {count} workers on {host}:{first_port}-{first_port + count - 1}", flush=True)
    for worker in workers:
        _start(worker, host)
    while not stopping:
        time.sleep(0.2)
        now = time.monotonic()
        for worker in workers:
            if worker.process is not None and worker.process.poll() is not None:
                code = worker.process.returncode
                # A worker that ran for a minute was healthy: its death starts the backoff afresh.
                worker.failures = 1 if now - worker.started_at > 60 else worker.failures + 1
                worker.restart_at = now + min(MAX_BACKOFF_S, 2.0 ** (worker.failures - 1))
                worker.process = None
                log.warning("worker on port %d exited with %s; starting it again in %.0f s", worker.port, code,
                            worker.restart_at - now)
            if worker.process is None and now >= worker.restart_at and not stopping:
                _start(worker, host)
    for worker in workers:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.terminate()
    deadline = time.monotonic() + 15
    for worker in workers:
        if worker.process is None:
            continue
        try:
            worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    return 0
