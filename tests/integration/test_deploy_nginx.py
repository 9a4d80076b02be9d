"""The production layout as an operator deploys it (deploy/README.md): Debian's nginx with the shipped site
(deploy/nginx/ecabinet.conf: TLS, HSTS, the static app, sticky /socket.io, /relay/<name>/ to each relay) on
loopback ports with a certificate made here, `ecabinet serve --workers 3` and `ecabinet relay --name main`
on PostgreSQL and Redis. A short session runs through nginx: 50 members spread over the workers, a poll, a
document download, and a bridge point's camera through the relay to a member. Then one worker is killed
with SIGKILL: its members reconnect through nginx to another worker and resync, the next poll counts every
ballot, the bridge point stays on the air, and the supervisor starts the worker again."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import socketio

from media import hooks
from tests.integration.conftest import _drop_postgres, _fresh_postgres
from tests.integration.deployment import (
    Deployment,
    PrivateRedis,
    Tablet,
    connect_all,
    deployed,
    join_all,
    poll,
    ready,
    routes_by_device,
    setup_meeting,
    worker_pids,
)
from tests.integration.media.test_bridge import FLOOR, Site, _until
from tests.support import private_postgres

MEMBERS = 50


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    # A PostgreSQL cluster of its own when it can: the shared server's connections may all be taken by
    # other tests (four processes here hold up to 30 each).
    private = private_postgres.PrivatePostgres() if private_postgres.available() is None else None
    redis = PrivateRedis(tmp_path)
    pg_name = None
    try:
        if private is not None:
            private.start()
            url = private.url
        else:
            pg_name, url = await _fresh_postgres()
        await redis.wait()
        async with deployed(tmp_path, database_url=url, redis_url=redis.url, data_dir=tmp_path / "data",
                            relay_names=("main",)) as running:
            yield running
    finally:
        redis.stop()
        if private is not None:
            private.remove()
        if pg_name is not None:
            await _drop_postgres(pg_name)


def _site(base: str, token: str, path: str) -> Site:
    """A bridge point's or a tablet's /media client through nginx (its certificate is the test's own)."""
    site = Site(SimpleNamespace(base_url=base), SimpleNamespace(token=token), base_url=base,  # type: ignore[arg-type]
                path=path.strip("/"))
    site.sio = socketio.AsyncClient(reconnection=False, ssl_verify=False)
    site.sio.on("*", site._pushed, namespace="/media")
    return site


async def _bridge_point_seen(base: str, camera_token: str, viewer_token: str, mid: int, path: str) -> None:
    """The bridge point (which has the floor) publishes its camera through nginx to the relay; a member
    receives it there as the floor's picture. Both leave afterwards (video costs the test's CPU)."""
    camera, viewer = _site(base, camera_token, path), _site(base, viewer_token, path)
    try:
        await camera.connect()
        await viewer.connect()
        assert (await camera.publish(mid, level=60))["ok"]
        await viewer.receive(mid)
        await _until(lambda: len(viewer.frames[FLOOR]) >= 10, timeout=60)
        assert abs(viewer.frames[FLOOR][-1][1] - 60) < 30, "the member sees the bridge point's picture"
    finally:
        await camera.close()
        await viewer.close()


async def test_a_session_through_nginx_on_three_workers_and_a_relay_survives_a_killed_worker(
        deployment: Deployment) -> None:
    base = deployment.base
    async with httpx.AsyncClient(verify=False, timeout=30) as http:
        home = await http.get(f"{base}/")
        assert home.status_code == 200 and "<html" in home.text.lower()
        assert "max-age=" in home.headers["strict-transport-security"]
        assert "script-src 'self'" in home.headers["content-security-policy"]
        assert (await http.get(f"{base}/src/app.js")).status_code == 200, "nginx serves the app itself"
        assert (await http.get(f"{base}/package.json")).status_code == 404, "only what the browser needs is served"
        assert (await http.get(f"{base}/relay/main/health")).json()["name"] == "main", "nginx reaches the relay"
        # One id per request, nginx's own ($request_id, 32 hex digits; a client's is not believed): the
        # answer, nginx's log format and the worker's log lines all carry it.
        probe = await http.get(f"{base}/api/ready", headers={"X-Request-ID": "from-the-client"})
        request_id = probe.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    world = await setup_meeting(base, MEMBERS, deployment.db_url)
    tokens = world["tokens"]
    chair, bridge = Tablet(base, tokens["chutich"]), Tablet(base, tokens["diemcau"])
    tablets = [Tablet(base, t) for t in world["members"]]
    try:
        await _session(deployment, world, chair, bridge, tablets)
    finally:  # no client left reconnecting to a deployment that is gone
        await asyncio.gather(*(t.sio.disconnect() for t in [chair, bridge, *tablets]), return_exceptions=True)
    assert deployment.logged_errors() == [], deployment.logged_errors()[:10]
    assert request_id in deployment.workers_log(), "the worker's log line names nginx's request id"


async def _session(deployment: Deployment, world: dict[str, Any], chair: Tablet, bridge: Tablet,
                   tablets: list[Tablet]) -> None:
    base, first, tmp = deployment.base, deployment.first, deployment.tmp
    mid, tokens = world["meeting_id"], world["tokens"]
    await connect_all([chair, bridge, *tablets])
    await join_all([chair, bridge, *tablets], mid)

    # Sticky and spread: each device's requests reached one worker, and the devices reached all three.
    routes = routes_by_device(tmp)
    by_device = {t.route: routes.get(t.route, set()) for t in tablets}
    assert all(len(workers) == 1 for workers in by_device.values()), by_device
    spread = Counter(next(iter(w)) for w in by_device.values())
    assert len(spread) == 3, spread

    # A member reads the document through nginx.
    async with httpx.AsyncClient(base_url=base, verify=False, timeout=30,
                                 headers={"Authorization": f"Bearer {world['members'][0]}"}) as http:
        download = await http.get(f"/api/documents/{world['document_id']}/download")
        assert download.status_code == 200 and download.content.startswith(b"%PDF-"), download.status_code
        where = (await http.get(f"/api/meetings/{mid}/bridge/relay")).json()
    assert where == {"relay": "main", "media_path": "/relay/main/socket.io"}, where

    first_poll = await poll(chair, tablets, mid, "Thông qua báo cáo?")
    assert first_poll["result"]["counts"]["yes"] == MEMBERS

    # The bridge point's camera goes through nginx to the relay, and to a member once it has the floor.
    hooks.restrict_host_addresses(["127.0.0.1"])
    try:
        assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": world["item_id"]}))["ok"]
        asked = await bridge.call("speaker.request", {"meeting_id": mid})
        assert asked["ok"], asked
        assert (await chair.call("speaker.give", {"meeting_id": mid, "turn_id": asked["turn_id"]}))["ok"]
        await _bridge_point_seen(base, tokens["diemcau"], world["members"][1], mid, where["media_path"])

        # Kill the worker that carries the most tablets (not the chair's, so the chair keeps running the poll).
        chair_worker = next(iter(routes.get(chair.route, {"?"})))
        victim_addr = next(addr for addr, _ in spread.most_common() if addr != chair_worker)
        victim_port = int(victim_addr.rsplit(":", 1)[1])
        pids = worker_pids(first)
        assert set(pids) == {first, first + 1, first + 2}, pids
        moved = [t for t in tablets if next(iter(by_device[t.route])) == victim_addr]
        os.kill(pids[victim_port], signal.SIGKILL)
        started = time.monotonic()

        async def back(t: Tablet) -> float:
            await asyncio.wait_for(t.back_after_a_drop(), 60)
            state = await asyncio.wait_for(t.resync(mid), 120)
            assert state["meeting"]["id"] == mid, state
            return time.monotonic() - started

        resynced = await asyncio.gather(*(back(t) for t in moved))
        print(f"\n{len(moved)} tablets of the killed worker resynced; the slowest after {max(resynced):.2f} s")
        assert max(resynced) < 5.0, f"the slowest tablet resynced after {max(resynced):.1f} s"
        # The session continues: the next poll counts every ballot, and the bridge point is still on the air
        # through the relay (a process of its own, untouched by the worker's death).
        second_poll = await poll(chair, tablets, mid, "Thông qua kế hoạch năm 2027?")
        assert second_poll["result"]["counts"]["yes"] == MEMBERS, "every ballot counts, once"
        await _bridge_point_seen(base, tokens["diemcau"], world["members"][2], mid, where["media_path"])
        # The supervisor started the killed worker again.
        await ready(f"http://127.0.0.1:{victim_port}/api/health", timeout=30)
        assert worker_pids(first)[victim_port] != pids[victim_port]
    finally:
        hooks.restrict_host_addresses([])
