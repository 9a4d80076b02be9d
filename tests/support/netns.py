"""A network namespace of a test's own, joined to this machine by one veth pair with a private /30:
the host end gets `.1`, the namespace end `.2`. What runs inside (`ip netns exec`, see `Namespace.exec`)
and what talks to it from the host stay on this machine without loopback (Chromium and Janus skip
loopback when gathering ICE candidates), and never touch the machine's outward address
(../shared/DESIGN.md: test traffic stays on this machine).

Needs root and iproute2: without them the test skips with the reason (fails with
ECABINET_REQUIRE_SERVICES=1). The link and the namespace are removed at the end, also when the test
fails or the namespace was only half made."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.conftest import unavailable


@dataclass(frozen=True)
class Namespace:
    name: str
    host: str
    """The host end's address (what the host's peers gather on, what the namespace reaches the host at)."""
    inside: str
    """The namespace end's address (what a server inside binds to)."""
    host_if: str

    def exec(self, *argv: str) -> list[str]:
        """`argv` run inside the namespace (`ip netns exec` execs it: its PID is the program's own)."""
        return ["ip", "netns", "exec", self.name, *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _used_addresses() -> set[str]:
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=10).stdout
    return {part.split("/")[0] for line in out.splitlines() for part in line.split()[3:4]}


@contextmanager
def network_namespace(net: str = "10.231", why: str = "this test") -> Iterator[Namespace]:
    """A namespace with one veth link to the host, on a free /30 of `net`.0.0/16."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        unavailable(f"{why} needs root and iproute2 for a network namespace of its own")
    used = _used_addresses()
    while True:
        base = f"{net}.{secrets.randbelow(256)}"
        last = secrets.randbelow(64) * 4
        host, inside = f"{base}.{last + 1}", f"{base}.{last + 2}"
        if host not in used and inside not in used:
            break
    tag = secrets.token_hex(3)
    ns = Namespace(f"ecab{tag}", host, inside, f"vh{tag}")
    ns_if = f"vc{tag}"
    try:
        try:
            _ip("netns", "add", ns.name)
            _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns_if)
            _ip("link", "set", ns_if, "netns", ns.name)
            _ip("addr", "add", f"{host}/30", "dev", ns.host_if)
            _ip("link", "set", ns.host_if, "up")
            _ip("netns", "exec", ns.name, "ip", "addr", "add", f"{inside}/30", "dev", ns_if)
            _ip("netns", "exec", ns.name, "ip", "link", "set", ns_if, "up")
            _ip("netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) \
                else repr(exc)
            unavailable(f"{why}: could not create a network namespace: {detail}")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=10)
