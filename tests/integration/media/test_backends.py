"""The same behaviour from both media backends (media/backend.py): the embedded aiortc relay and a Janus
VideoRoom on loopback (a private Janus per test module, tests/support/janus.py). Real aiortc peers
publish synthetic cameras and decode what they receive: a receiver decodes the floor's frames; the
floor moves to another site without a new offer (same peer connection, same m-line); a slot routed to
nobody goes dark; leaving releases what a connection held."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.backend import MediaBackend
from media.janus import JanusRoom
from media.relay import Relay
from tests.integration.media.test_relay import MovingPicture
from tests.support.janus import Janus, JanusNetwork, janus_network

SLOTS = (("floor", "video"), ("floor", "audio"), ("chair", "video"), ("chair", "audio"))
FLOOR, CHAIR = 0, 2  # m-lines of the offer


@pytest.fixture(scope="module")
def janus_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusNetwork]:
    # Janus in a namespace of its own; the test peers gather on loopback and the veth's host end.
    with janus_network(tmp_path_factory.mktemp("janus")) as network:
        yield network


@pytest.fixture(scope="module")
def janus(janus_net: JanusNetwork) -> Janus:
    return janus_net.instances[0]


@pytest.fixture(params=["aiortc", "janus"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[MediaBackend]:
    made: Relay | JanusRoom
    if request.param == "aiortc":
        made = Relay(video_codec="VP8")
    else:
        instance: Janus = request.getfixturevalue("janus")
        made = JanusRoom(instance.url, 1000 + int(time.time() * 1000) % 100000, video_codec="VP8")
    yield made
    await made.close()


_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ", re.M)


def candidate_addresses(sdp: str) -> set[str]:
    return set(_CANDIDATE.findall(sdp))


class Peer:
    """A site's peer connections: what it publishes and what it receives (decoded: video's first luma byte)."""

    def __init__(self) -> None:
        self.pcs: list[RTCPeerConnection] = []
        self.frames: dict[int, list[int]] = {}
        self.tasks: list[asyncio.Task[None]] = []

    async def publish(self, backend: MediaBackend, owner: str, level: int) -> RTCPeerConnection:
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        pc.addTransceiver(MovingPicture(level), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await backend.publish(owner, pc.localDescription, site=owner)
        await pc.setRemoteDescription(answer)
        return pc

    async def receive(self, backend: MediaBackend, owner: str) -> RTCPeerConnection:
        offer = await backend.subscribe(owner, SLOTS, owner=owner, site=owner)
        pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            index = next(i for i, t in enumerate(pc.getTransceivers()) if t.receiver.track is track)
            self.frames.setdefault(index, [])
            if track.kind == "video":
                self.tasks.append(asyncio.ensure_future(self._read(index, track)))

        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        await backend.answered(owner, pc.localDescription)
        return pc

    async def _read(self, index: int, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames[index].append(bytes(frame.planes[0])[0])  # type: ignore[attr-defined]
        except MediaStreamError:
            return

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for pc in self.pcs:
            await pc.close()


async def _until(check: Any, timeout: float = 30.0) -> None:
    # Generous: these are "eventually" conditions (a whole-suite run on 2 loaded cores took over 15 s once);
    # the one timed promise, sites back within 5 s, passes its own timeout.
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_a_receiver_decodes_the_floor_and_the_floor_moves_without_a_new_offer(backend: MediaBackend) -> None:
    hanoi, hue, member = Peer(), Peer(), Peer()
    try:
        await hanoi.publish(backend, "hanoi", 60)
        await hue.publish(backend, "hue", 200)
        await _until(lambda: ("hanoi", "video") in backend.sources and ("hue", "video") in backend.sources)
        receiving = await member.receive(backend, "member")
        # Nobody has the floor: the floor stays dark while the chair (Huế) is seen.
        backend.route("member", "chair", "hue")
        await _until(lambda: len(member.frames.get(CHAIR, [])) >= 10)
        assert abs(member.frames[CHAIR][-1] - 200) < 30
        assert member.frames.get(FLOOR, []) == []
        # Hà Nội gets the floor: decoded at the member.
        backend.route("member", "floor", "hanoi")
        await _until(lambda: len(member.frames.get(FLOOR, [])) >= 10)
        assert abs(member.frames[FLOOR][-1] - 60) < 30
        # The floor moves to Huế: the same peer connection and m-line now carry Huế, no new offer made.
        transceivers, offered = receiving.getTransceivers(), receiving.remoteDescription.sdp
        backend.route("member", "floor", "hue")
        await _until(lambda: len(member.frames[FLOOR]) >= 5 and abs(member.frames[FLOOR][-1] - 200) < 30)
        assert receiving.getTransceivers() == transceivers and receiving.connectionState == "connected"
        assert receiving.remoteDescription.sdp == offered  # no new offer was applied
        # The floor ends: nothing more arrives on it, the chair goes on.
        backend.route("member", "floor", None)
        await asyncio.sleep(1.0)
        ended, chair = len(member.frames[FLOOR]), len(member.frames[CHAIR])
        await asyncio.sleep(1.5)
        assert len(member.frames[FLOOR]) - ended <= 2
        assert len(member.frames[CHAIR]) - chair > 20
    finally:
        for peer in (hanoi, hue, member):
            await peer.close()


async def test_leaving_releases_what_a_connection_held(backend: MediaBackend) -> None:
    hanoi, member = Peer(), Peer()
    try:
        await hanoi.publish(backend, "hanoi", 60)
        await _until(lambda: ("hanoi", "video") in backend.sources)
        await member.receive(backend, "member")
        backend.route("member", "floor", "hanoi")
        await _until(lambda: len(member.frames.get(FLOOR, [])) >= 5)
        assert await backend.leave("hanoi")
        assert ("hanoi", "video") not in backend.sources
        await asyncio.sleep(1.0)
        stopped = len(member.frames[FLOOR])
        await asyncio.sleep(1.0)
        assert len(member.frames[FLOOR]) - stopped <= 2  # nothing from a site that left
        assert await backend.leave("member")
        assert backend.subscriptions == {}
        assert not await backend.leave("member")  # nothing left to release
        with pytest.raises(LookupError):
            await backend.answered("member", member.pcs[-1].localDescription)
    finally:
        await hanoi.close()
        await member.close()


def test_the_janus_launcher_loads_only_videoroom_and_http(janus: Janus) -> None:
    import httpx

    info = httpx.get(f"{janus.url}/info").json()
    assert list(info["plugins"]) == ["janus.plugin.videoroom"]
    assert list(info["transports"]) == ["janus.transport.http"]
    assert f"Adding '{janus.address}' to the ICE enforce list" in Path(janus.log).read_text()


async def test_media_with_janus_stays_on_the_test_namespace_link(janus_net: JanusNetwork) -> None:
    """Both ends' ICE candidates are on the veth pair (or loopback for ours), never on another address of
    this machine: Janus's offer and answer, and our peers' descriptions."""
    janus = janus_net.instances[0]
    room = JanusRoom(janus.url, 900000 + int(time.time()) % 1000, video_codec="VP8")
    hanoi, member = Peer(), Peer()
    try:
        publishing = await hanoi.publish(room, "hanoi", 60)
        await _until(lambda: ("hanoi", "video") in room.sources)
        receiving = await member.receive(room, "member")
        room.route("member", "floor", "hanoi")
        await _until(lambda: len(member.frames.get(FLOOR, [])) >= 5)
        theirs = candidate_addresses(publishing.remoteDescription.sdp) | candidate_addresses(
            receiving.remoteDescription.sdp)
        ours = candidate_addresses(publishing.localDescription.sdp) | candidate_addresses(
            receiving.localDescription.sdp)
        assert theirs == {janus_net.ns.inside}
        assert janus_net.ns.host in ours and ours <= {"127.0.0.1", janus_net.ns.host}
        for pc in (publishing, receiving):  # the pairs in use (aioice's, private: read only here)
            nominated = pc.getTransceivers()[0].receiver.transport.transport._connection._nominated
            assert {pair.remote_candidate.host for pair in nominated.values()} == {janus_net.ns.inside}
            assert {pair.local_candidate.host for pair in nominated.values()} == {janus_net.ns.host}
    finally:
        await hanoi.close()
        await member.close()
        await room.close()
