"""A Redis server and a PostgreSQL cluster of a test's own, on free loopback ports in a temporary
directory, which the test may stop and start again (never the machine's shared ones)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port, port_open, unavailable

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 60


def _wait_port(port: int, *, open_: bool = True) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while port_open("127.0.0.1", port) != open_:
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} did not {'open' if open_ else 'close'} in {START_TIMEOUT_S} s")
        time.sleep(0.05)


@dataclass
class PrivateRedis:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def stop(self) -> None:
        """Kills this test's server (SIGKILL: a crash, not a polite shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None
        _wait_port(self.port, open_=False)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    directory = Path(tempfile.mkdtemp(prefix="ecabinet-redis-"))
    server = PrivateRedis(free_port(), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class PrivatePostgres:
    port: int
    directory: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"),
                        "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S), *args],
                       check=True, capture_output=True, timeout=START_TIMEOUT_S + 10)

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", "start")
        _wait_port(self.port)

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")
        _wait_port(self.port, open_=False)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        unavailable("a private PostgreSQL needs root, runuser and /usr/lib/postgresql/15/bin/initdb")
    directory = Path(tempfile.mkdtemp(prefix="ecabinet-pg-"))
    shutil.chown(directory, "postgres", "postgres")
    subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(directory / "data"),
                    "-A", "trust", "-U", "postgres", "--no-sync"], check=True, capture_output=True, timeout=120)
    server = PrivatePostgres(free_port(), directory)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except (subprocess.SubprocessError, TimeoutError):
            pass
        shutil.rmtree(directory, ignore_errors=True)
