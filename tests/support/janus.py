"""Debian's Janus (`janus`) of a test's own: a generated configuration directory that loads only the
VideoRoom plugin and the plain HTTP transport, asks no STUN server, and gathers ICE candidates on one
address only; started, waited for until its API answers `info`, and stopped after by its own PID only.

Janus never gathers on a loopback interface (its ice.c skips IFF_LOOPBACK), and test traffic must not
go to this machine's outward address (../shared/DESIGN.md). So a test's Janus runs inside a network
namespace the test makes (tests/support/netns.py): its API and its ICE candidates are on the
namespace's veth address (`Namespace.inside`), and the test's peers gather on the host end of the veth
pair (`Namespace.host`, `janus_network` sets that up). Several instances share one namespace, each on
its own API port and RTP port range (`index`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from media import hooks
from tests.conftest import unavailable
from tests.support.netns import Namespace, network_namespace

START_TIMEOUT_S = 20
LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
"""Where Debian puts Janus's plugins and transports (the multiarch path of amd64)."""


@dataclass
class Janus:
    url: str
    """Its HTTP API, e.g. http://10.213.7.2:8088/janus (in its namespace)."""
    proc: subprocess.Popen[bytes]
    log: Path
    address: str
    """The one address its ICE candidates (and its API) are on: its namespace's veth address."""
    index: int = 0

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
    ip = "{address}"
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


API_PORT = 8088
RTP_BASE = 20000


@contextmanager
def running_janus(directory: Path, ns: Namespace, index: int = 0) -> Iterator[Janus]:
    """Janus number `index` in `ns`: API on port 8088 + index, RTP on 20000 + 1000 * index and up."""
    binary = janus_binary()
    port, base = API_PORT + index, RTP_BASE + 1000 * index
    config = write_config(directory, port, (base, base + 999), ns.inside)
    log = directory / "janus.log"
    url = f"http://{ns.inside}:{port}/janus"
    with log.open("wb") as out:
        proc = subprocess.Popen(ns.exec(binary, "-C", str(config), "-F", str(directory), "-o"), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory,
                                env={**os.environ, "G_MESSAGES_DEBUG": ""})
    instance = Janus(url, proc, log, ns.inside, index)
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


@dataclass
class JanusNetwork:
    ns: Namespace
    instances: list[Janus]

    @property
    def peer_addresses(self) -> tuple[str, ...]:
        """Where this process's WebRTC peers gather host candidates: loopback and the veth's host end."""
        return ("127.0.0.1", self.ns.host)


@contextmanager
def janus_network(directory: Path, count: int = 1) -> Iterator[JanusNetwork]:
    """`count` private Janus instances in one namespace of their own; this process's aiortc peers gather
    on loopback and the veth's host end only (back to loopback only after)."""
    janus_binary()
    with network_namespace("10.213", "a private Janus") as ns, ExitStack() as stack:
        instances = [stack.enter_context(running_janus(directory / f"janus{index}", ns, index))
                     for index in range(count)]
        network = JanusNetwork(ns, instances)
        hooks.restrict_host_addresses(list(network.peer_addresses))
        try:
            yield network
        finally:
            hooks.restrict_host_addresses(["127.0.0.1"])
