"""`ecabinet relay`: the video bridge as its own process, on the same database as the web server. Sites
reach its signalling at /relay/socket.io; the floor given on the web server reaches the relay (it reads
the floor from the database) and switches what the member receives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.conftest import Server
from tests.integration.helpers import parse, value
from tests.integration.media.test_bridge import CHAIR, FLOOR, Site, _until

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def relay_process(server: Server) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECABINET_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DATABASE_URL": server.settings.effective_database_url, "ECABINET_MODE": "demo",
                "ECABINET_DATA_DIR": str(server.settings.data_dir), "ECABINET_MEDIA_HOST_ADDRESSES": "127.0.0.1",
                "ECABINET_LOG_LEVEL": "warning"})
    log = server.settings.data_dir / f"relay-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "relay", "--port", str(port)], env=env,
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # generous: a loaded machine starts a process slowly
    while True:
        try:
            if httpx.get(f"{base}/relay/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ecabinet relay did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_a_relay_of_its_own_follows_the_floor_given_on_the_web_server(
        server: Server, session_world: dict[str, Any], live_factory: Any, relay_process: str) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    lives = {k: await live_factory(people[k]) for k in ("chair", "bridge", "member")}
    sites = {k: Site(server, live, base_url=relay_process, path="relay/main/socket.io") for k, live in lives.items()}
    try:
        for site in sites.values():
            await site.connect()
        assert (await sites["chair"].publish(mid, level=200))["ok"]
        assert (await sites["bridge"].publish(mid, level=60))["ok"]
        member = sites["member"]
        await member.receive(mid)
        await _until(lambda: len(member.frames[CHAIR]) >= 10)
        assert member.frames[FLOOR] == []
        first_item = session_world["items"][0]["id"]
        assert (await lives["chair"].call("agenda.goto", {"meeting_id": mid, "item_id": first_item}))["ok"]
        asked = await lives["bridge"].call("speaker.request", {"meeting_id": mid})
        assert (await lives["chair"].call("speaker.give", {"meeting_id": mid, "turn_id": asked["turn_id"]}))["ok"]
        await _until(lambda: len(member.frames[FLOOR]) >= 10, timeout=15)
        assert abs(member.frames[FLOOR][-1][1] - 60) < 30
        # The relay process's own /metrics (loopback may read it): its streams and frames.
        async with httpx.AsyncClient(base_url=relay_process) as http:
            scraped = parse((await http.get("/metrics")).text)
            assert (await http.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"})).status_code == 404
        assert value(scraped, "ecabinet_relay_streams", meeting=str(mid)) == 2  # the two sites publishing
        assert value(scraped, "ecabinet_relay_peer_connections", meeting=str(mid)) == 3
        assert value(scraped, "ecabinet_relay_frames_forwarded", meeting=str(mid)) > 0
        assert ("ecabinet_relay_frames_dropped", frozenset({("meeting", str(mid))})) in scraped
        assert value(scraped, "ecabinet_socketio_connects_total", namespace="/media", outcome="accepted") >= 3
        outsider = Site(server, await live_factory(people["outsider"]), base_url=relay_process,
                        path="relay/main/socket.io")
        await outsider.connect()
        refused = await outsider.publish(mid, level=1)
        assert refused["ok"] is False and refused["error"]["code"] == "not_found"  # not told the meeting exists
        await outsider.close()
        await asyncio.sleep(0)
    finally:
        for site in sites.values():
            await site.close()
