"""Relays as processes of their own are assigned to meetings, and the assignment survives restarts:
a meeting's bridge goes to the least busy live relay at its first use (or where the operator puts it with
`ecabinet relays assign`), the workers send its sites there, another relay refuses it, and a restarted
relay (or worker) finds its meetings again in the database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.services import relays
from backend.services.context import Actor
from tests.conftest import free_port
from tests.integration.conftest import Server
from tests.integration.media.test_bridge import CHAIR, Site, _until

REPO = Path(__file__).resolve().parents[3]


class RelayProcess:
    """`ecabinet relay --name NAME` on a free port, against the test server's database."""

    def __init__(self, server: Server, name: str) -> None:
        self.server, self.name, self.port = server, name, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
        env.update({"DATABASE_URL": self.server.settings.effective_database_url, "ECABINET_MODE": "demo",
                    "ECABINET_DATA_DIR": str(self.server.settings.data_dir), "ECABINET_LOG_LEVEL": "warning",
                    "ECABINET_MEDIA_HOST_ADDRESSES": "127.0.0.1", "ECABINET_RELAY_PATH": "/relay"})
        return env

    def _spawn(self) -> None:
        with (self.server.settings.data_dir / f"relay-{self.name}-{self.port}.log").open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "relay", "--name", self.name, "--port",
                                          str(self.port)], env=self.env(), cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    async def start(self) -> None:
        self._spawn()
        assert self.proc is not None
        deadline = time.monotonic() + 90  # a loaded machine imports slowly
        async with httpx.AsyncClient(timeout=1) as http:
            while True:
                try:
                    if (await http.get(f"{self.base}/relay/{self.name}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert self.proc.poll() is None and time.monotonic() < deadline, f"relay {self.name} did not start"
                await asyncio.sleep(0.1)

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5) as http:
            body: dict[str, Any] = (await http.get(f"{self.base}/relay/{self.name}/health")).json()
            return body

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cli(server: Server, *argv: str) -> str:
    env = RelayProcess(server, "x").env()
    done = subprocess.run([sys.executable, "-m", "backend.cli", *argv], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
async def two_relays(server: Server) -> AsyncIterator[Callable[[str], RelayProcess]]:
    made: list[RelayProcess] = []

    def make(name: str) -> RelayProcess:
        made.append(RelayProcess(server, name))
        return made[-1]

    yield make
    for relay in made:
        relay.stop()


@pytest.mark.parametrize("server", ["postgres"], indirect=True)
async def test_meetings_are_assigned_to_relays_and_the_assignment_survives_restarts(
        server: Server, session_world: dict[str, Any], live_factory: Any, two_relays: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    a, b = two_relays(f"a{mid}"), two_relays(f"b{mid}")
    await asyncio.gather(a.start(), b.start())
    worker = replace(server.settings, relay_path="/relay")  # a web worker of a deployment with relays
    chair_actor = Actor(user_id=people["chair"].id, username="chair", is_admin=False, is_secretariat=False,
                        body_id=None)
    # Both registered; the first site to ask gets the least busy live relay, and every later one the same.
    listed = {r["name"]: r for r in json.loads(cli(server, "relays", "list", "--json"))}
    assert listed[a.name]["alive"] and listed[b.name]["alive"]
    assert listed[a.name]["path"] == f"/relay/{a.name}/socket.io"
    first = await relays.route(server.db, worker, chair_actor, mid)
    again = await relays.route(server.db, worker, chair_actor, mid)
    assert first == again and first["relay"] in (a.name, b.name), (first, again)
    # Through the REST route, as the tablet asks it (the test server carries the bridge itself: its own path).
    r = await people["member"].client.get(f"/api/meetings/{mid}/bridge/relay")
    assert r.status_code == 200 and r.json()["media_path"] == "/socket.io", r.text
    r = await people["outsider"].client.get(f"/api/meetings/{mid}/bridge/relay")
    assert r.status_code == 404, "who is not in the meeting is not told it exists"
    # The session's own answer names no bridge path: it is the meeting's, and one path per person (it was
    # ECABINET_RELAY_PATH, "/relay", which no relay serves) sent sites of a relayed meeting nowhere.
    me = (await people["member"].client.get("/api/auth/me")).json()
    assert "media_path" not in me and me["user"]["id"] == people["member"].id, me

    cli(server, "relays", "assign", str(mid), a.name)
    assert (await relays.route(server.db, worker, chair_actor, mid))["media_path"] == f"/relay/{a.name}/socket.io"
    lives = {k: await live_factory(people[k]) for k in ("chair", "member")}
    on_a = {k: Site(server, live, base_url=a.base, path=f"relay/{a.name}/socket.io") for k, live in lives.items()}
    wrong = Site(server, lives["member"], base_url=b.base, path=f"relay/{b.name}/socket.io")
    try:
        for site in on_a.values():
            await site.connect()
        await wrong.connect()
        refused = await wrong.call("media.config", {"meeting_id": mid})
        assert refused["ok"] is False and refused["error"]["code"] == "wrong_relay", refused
        assert refused["error"]["details"]["media_path"] == f"/relay/{a.name}/socket.io"
        assert (await on_a["chair"].publish(mid, level=200))["ok"]
        await on_a["member"].receive(mid)
        await _until(lambda: len(on_a["member"].frames[CHAIR]) >= 5, timeout=20)
        assert mid in (await a.health())["meetings"]

        # The operator moves the meeting: relay a lets it go within a second or so, b takes it.
        cli(server, "relays", "assign", str(mid), b.name)
        deadline = time.monotonic() + 15
        while mid in (await a.health())["meetings"]:
            assert time.monotonic() < deadline, "relay a kept a meeting moved away from it"
            await asyncio.sleep(0.2)
        refused = await on_a["member"].call("media.config", {"meeting_id": mid})
        assert refused["ok"] is False and refused["error"]["code"] == "wrong_relay"
        assert (await wrong.call("media.config", {"meeting_id": mid}))["ok"]

        # Relay b restarts (a crash, an upgrade): the meeting is still its own, and the workers still send
        # its sites there.
        await wrong.close()
        b.stop()
        await b.start()
        listed = {r["name"]: r for r in json.loads(cli(server, "relays", "list", "--json"))}
        assert [m["meeting_id"] for m in listed[b.name]["meetings"]] == [mid]
        assert listed[b.name]["meetings"][0]["by_operator"] is True
        assert (await relays.route(server.db, worker, chair_actor, mid))["relay"] == b.name
        back = Site(server, lives["chair"], base_url=b.base, path=f"relay/{b.name}/socket.io")
        await back.connect()
        assert (await back.publish(mid, level=120))["ok"], "the restarted relay serves its meeting again"
        await back.close()
        assert "(auto)" not in cli(server, "relays", "list")
    finally:
        for site in on_a.values():
            await site.close()
        await wrong.close()
