"""Debian's coturn (`turnserver`) of a test's own: TURN REST credentials (`use-auth-secret`) with a random
shared secret, on a free port of one test address (loopback, or a test network namespace's host end),
logging every allocation; stopped after, by its own PID only."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port, port_open, unavailable

START_TIMEOUT_S = 15


@dataclass
class Coturn:
    address: str
    port: int
    secret: str
    log: Path

    @property
    def url(self) -> str:
        return f"turn:{self.address}:{self.port}?transport=udp"

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


def turnserver() -> str:
    """The path of coturn's server; skip without it (fail with ECABINET_REQUIRE_SERVICES=1)."""
    path = shutil.which("turnserver") or ("/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None)
    if path is None:
        unavailable("coturn's turnserver is not installed (`make deploy-tools` installs Debian's coturn)")
    assert path is not None
    return path


@contextmanager
def running_coturn(directory: Path, address: str = "127.0.0.1") -> Iterator[Coturn]:
    binary = turnserver()
    port, secret, log = free_port(), secrets.token_urlsafe(24), directory / "turnserver.log"
    with log.open("wb") as out:
        # -n: no configuration file (/etc/turnserver.conf is the machine's); -v: log each allocation's user.
        proc = subprocess.Popen(
            [binary, "-n", "-v", "--listening-port", str(port), "--use-auth-secret", f"--static-auth-secret={secret}",
             "--realm", "ecabinet", "--listening-ip", address, "--relay-ip", address, "--no-cli", "--no-tls",
             "--no-dtls", "--allow-loopback-peers", "--db", str(directory / "turndb"),
             "--pidfile", str(directory / "turnserver.pid"), "--log-file", "stdout"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(address, port):  # it listens on TCP and UDP alike
            assert proc.poll() is None, f"turnserver stopped: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, f"turnserver did not listen within {START_TIMEOUT_S} s"
            time.sleep(0.05)
        yield Coturn(address, port, secret, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
