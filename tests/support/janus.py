"""Debian's Janus (`janus`) of a test's own: a generated configuration directory that loads only the
VideoRoom plugin and the plain HTTP transport (on a free loopback port), asks no STUN server, and
gathers ICE candidates on one address of this machine only; started, waited for until its API answers
`info`, and stopped after by its own PID only.

Janus never gathers on a loopback interface (its ice.c skips IFF_LOOPBACK), so its media address is
this machine's own first global IPv4 address (`media_address()`): the packets still never leave the
machine, and the test peers add that address to their host candidates (`hooks.restrict_host_addresses`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port, unavailable

START_TIMEOUT_S = 20
LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
"""Where Debian puts Janus's plugins and transports (the multiarch path of amd64)."""


def media_address() -> str:
    """This machine's first global IPv4 address (skip without one)."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            return parts[parts.index("inet") + 1].split("/")[0]
    unavailable("no global IPv4 address for Janus's media (Janus never uses loopback)")
    raise AssertionError


@dataclass
class Janus:
    url: str
    """Its HTTP API, e.g. http://127.0.0.1:PORT/janus."""
    proc: subprocess.Popen[bytes]
    log: Path
    address: str
    """The one address its ICE candidates are on."""

    def logged(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Ends it (as an instance dying would: SIGKILL, no goodbye to its sessions)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def janus_binary() -> str:
    """The path of Janus; skip without it (fail with ECABINET_REQUIRE_SERVICES=1)."""
    path = shutil.which("janus") or ("/usr/bin/janus" if Path("/usr/bin/janus").exists() else None)
    if path is None or not (LIBS / "plugins" / "libjanus_videoroom.so").exists():
        unavailable("Janus is not installed (`make janus` installs Debian's janus)")
    assert path is not None
    return path


def _others(folder: Path, keep: str) -> str:
    """Every library in `folder` but `keep`, for a `disable` list (Janus loads all it finds otherwise)."""
    names = sorted(p.name for p in folder.glob("*.so") if p.name != keep)
    return ",".join(names)


def write_config(directory: Path, port: int, rtp_ports: tuple[int, int], address: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "janus.jcfg").write_text(f"""
general: {{
    configs_folder = "{directory}"
    plugins_folder = "{LIBS / 'plugins'}"
    transports_folder = "{LIBS / 'transports'}"
    events_folder = "{LIBS / 'events'}"
    loggers_folder = "{LIBS / 'loggers'}"
    debug_level = 4
    session_timeout = 60
}}
media: {{
    rtp_port_range = "{rtp_ports[0]}-{rtp_ports[1]}"
}}
nat: {{
    ice_enforce_list = "{address}"
    ignore_mdns = true
}}
plugins: {{
    disable = "{_others(LIBS / 'plugins', 'libjanus_videoroom.so')}"
}}
transports: {{
    disable = "{_others(LIBS / 'transports', 'libjanus_http.so')}"
}}
loggers: {{
    disable = "{_others(LIBS / 'loggers', '')}"
}}
events: {{
    broadcast = false
}}
""")
    (directory / "janus.transport.http.jcfg").write_text(f"""
general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
""")
    (directory / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")  # no static rooms: e-Cabinet makes them
    return directory / "janus.jcfg"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/info", timeout=1.0).json().get("janus") == "server_info"
    except (httpx.HTTPError, ValueError):
        return False


@contextmanager
def running_janus(directory: Path, rtp_ports: tuple[int, int] | None = None) -> Iterator[Janus]:
    binary = janus_binary()
    port = free_port()
    base = 20000 + (port % 200) * 100 if rtp_ports is None else 0  # disjoint ranges for instances side by side
    address = media_address()
    config = write_config(directory, port, rtp_ports or (base, base + 99), address)
    log = directory / "janus.log"
    url = f"http://127.0.0.1:{port}/janus"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "-C", str(config), "-F", str(directory), "-o"], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory,
                                env={**os.environ, "G_MESSAGES_DEBUG": ""})
    instance = Janus(url, proc, log, address)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            assert proc.poll() is None, f"janus stopped: {log.read_text(errors='replace')[-3000:]}"
            assert time.monotonic() < deadline, f"janus did not answer within {START_TIMEOUT_S} s"
            time.sleep(0.1)
        yield instance
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
