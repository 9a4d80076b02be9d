"""A PostgreSQL cluster of the test's own (never the shared one on 5432): made with initdb as user postgres
in a temporary directory, on a free loopback port, so a test may stop and start it at will."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> str | None:
    """Why a private cluster cannot be made here, or None."""
    if not (BIN / "initdb").exists():
        return f"{BIN}/initdb is missing (Debian's postgresql-15)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no user postgres to run a private cluster"
    if os.geteuid() != 0:
        return "a private PostgreSQL cluster is started as user postgres: the tests must run as root"
    return None


class PrivatePostgres:
    """`start()`, `stop()`, `start()` again (the data stays), `remove()` at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ecabinet-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "run"
        self.sockets.mkdir()
        self.port = free_port()
        owner = pwd.getpwnam("postgres")
        for path in (self.root, self.sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
            path.chmod(0o700)
        self._as_postgres([str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8", "--locale", "C"])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, argv: list[str]) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                              cwd=self.root, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                           str(self.root / "server.log"), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        self._as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"])

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
