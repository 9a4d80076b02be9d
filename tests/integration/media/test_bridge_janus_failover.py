"""A Janus instance dies under the real server (ECABINET_MEDIA_BACKEND=janus on two instances,
tests/integration/media/janus_server.py): sites connected through /media signalling receive the floor;
one instance is killed (SIGKILL, no goodbye); each connection it held is told `media.moved`, does what
the browser's bridge client does (frontend/src/lib/bridge_client.js: publish and receive again), and
receives the floor again within 5 s of the kill; so do the sites of the other instance, which received the
speaker forwarded from the one killed. A module of its own: the instance killed is not
used again by the server, so no other test may share it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.integration.conftest import Server
from tests.integration.media.janus_server import janus, server  # noqa: F401 (this module's server: on Janus)
from tests.integration.media.test_bridge import FLOOR, Site, _until
from tests.support.janus import JanusNetwork

SPEAKER, CHAIR_LEVEL = 60, 200


def floor_since(site: Site, since: float) -> int:
    """How many frames of the speaker the site decoded on its floor since `since`."""
    return sum(1 for at, level in site.frames[FLOOR] if at >= since and abs(level - SPEAKER) < 30)


async def test_sites_of_a_killed_instance_are_told_and_receive_the_floor_again_within_5_s(
        server: Server, janus: JanusNetwork, session_world: dict[str, Any],  # noqa: F811
        live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    names = ("chair", "bridge", "member", "member2", "secretary")
    lives = {name: await live_factory(people[name]) for name in names}
    sites = {name: Site(server, live) for name, live in lives.items()}
    publishing = {"chair": CHAIR_LEVEL, "bridge": SPEAKER}
    receivers = ("member", "member2", "secretary")
    try:
        for site in sites.values():
            await site.connect()
        # Placed in turn on the instance with the fewest sites: chair, bridge, member, member2, secretary.
        for name, level in publishing.items():
            assert (await sites[name].publish(mid, level=level))["ok"]
        for name in receivers:
            await sites[name].receive(mid)
        first_item = session_world["items"][0]["id"]
        assert (await lives["chair"].call("agenda.goto", {"meeting_id": mid, "item_id": first_item}))["ok"]
        asked = await lives["bridge"].call("speaker.request", {"meeting_id": mid})
        assert (await lives["chair"].call("speaker.give", {"meeting_id": mid, "turn_id": asked["turn_id"]}))["ok"]
        for name in receivers:
            await _until(lambda s=sites[name]: floor_since(s, 0) >= 10, timeout=30)

        janus.instances[1].stop()  # SIGKILL: the speaker's instance (sites placed 0, 1, 0, 1, 0)
        stopped = time.monotonic()
        await _until(lambda: any(site.pushes["media.moved"] for site in sites.values()), timeout=5)
        await asyncio.sleep(0.3)  # every connection of the dead instance is told at once
        moved = {name for name, site in sites.items() if site.pushes["media.moved"]}
        assert all(push["meeting_id"] == mid for name in moved for push in sites[name].pushes["media.moved"])
        # Sites on both instances (or the kill proves nothing), and a receiver among the moved.
        assert moved and moved != set(names), moved
        assert moved & set(receivers), moved
        # The speaker was on it: the receivers left on the other instance lose the forwarded floor and get it
        # back, locally, once the speaker publishes again there.
        assert "bridge" in moved, moved
        for name in sorted(moved):  # as the browser does on `media.moved`: join again
            site = sites[name]
            for pc in site.pcs:
                await pc.close()
            site.pcs.clear()
            if name in publishing:
                assert (await site.publish(mid, level=publishing[name]))["ok"]
            if name in receivers:
                await site.receive(mid)
        for name in receivers:
            await _until(lambda s=sites[name]: floor_since(s, stopped) >= 5,
                         timeout=max(0.1, 30 - (time.monotonic() - stopped)))
        elapsed = time.monotonic() - stopped
        print(f"FIGURE every receiver decodes the floor again {elapsed:.1f} s after the kill (moved: {sorted(moved)})")
        assert elapsed < 5, f"receiving again took {elapsed:.1f} s"
        state = (await sites["chair"].call("media.state", {"meeting_id": mid}))["state"]
        assert {row["site"] for row in state["sites"]} >= {str(people[name].id) for name in names}
    finally:
        for site in sites.values():
            await site.close()
