"""The video bridge through the real server: sites publish and receive over Socket.IO namespace
/media with real aiortc peers on loopback, and the speaker queue decides what everyone receives: the
chair always, the floor only once the chair gives it, and nothing from a site whose floor ended."""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from collections import defaultdict
from dataclasses import replace
from typing import Any

import av
import httpx
import socketio
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from tests.integration.conftest import Server
from tests.integration.helpers import parse, value
from tests.integration.live import LiveClient
from tests.integration.media.test_relay import MovingPicture

BUNDLED = RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
"""An aiortc receiver must bundle every m-line, as browsers do: with aiortc's default ("balanced") its
second audio receiver stays on a transport the offer's BUNDLE group shuts down, and the chair's sound
is handed to the floor's receiver instead (aiortc then routes by payload type)."""


class Tone(AudioStreamTrack):
    """A synthetic microphone: a steady tone (not silence, so a receiver can tell it heard something)."""

    def __init__(self, hz: int = 440) -> None:
        super().__init__()
        self.hz, self.n = hz, 0

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()  # paced at 20 ms, timestamps set
        channels, rate = len(frame.layout.channels), frame.sample_rate
        wave = array("h", (int(8000 * math.sin(2 * math.pi * self.hz * (self.n + i) / rate))
                           for i in range(frame.samples) for _ in range(channels)))
        self.n += frame.samples
        frame.planes[0].update(wave.tobytes())
        return frame


class Site:
    """A bridge point or a tablet: a Socket.IO client on /media and its peer connections."""

    def __init__(self, server: Server, live: LiveClient, *, base_url: str | None = None,
                 path: str = "socket.io", configuration: RTCConfiguration | None = None) -> None:
        self.configuration = configuration or RTCConfiguration()
        """Of its peer connections (ICE servers, transport policy); receiving bundles every m-line regardless."""
        self.sio = socketio.AsyncClient(reconnection=False)
        self.server, self.live = server, live
        self.base_url, self.path = base_url or server.base_url, path
        self.pcs: list[RTCPeerConnection] = []
        self.frames: dict[int, list[tuple[float, int]]] = defaultdict(list)  # m-line index -> (time, level)
        self.tasks: list[asyncio.Task[None]] = []
        self.pushes: dict[str, list[Any]] = defaultdict(list)  # what the server pushed on /media
        self.sio.on("*", self._pushed, namespace="/media")

    async def _pushed(self, event: str, data: Any = None) -> None:
        self.pushes[event].append(data)

    async def connect(self) -> None:
        await self.sio.connect(self.base_url, auth={"token": self.live.token}, namespaces=["/media"],
                               transports=["websocket"], wait_timeout=10, socketio_path=self.path)

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.sio.call(event, data, namespace="/media", timeout=20)
        return ack

    async def publish(self, meeting_id: int, level: int, *, audio: bool = False) -> dict[str, Any]:
        pc = RTCPeerConnection(self.configuration)
        self.pcs.append(pc)
        pc.addTransceiver(MovingPicture(level), direction="sendonly")
        if audio:
            pc.addTransceiver(Tone(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        ack = await self.call("media.publish", {"meeting_id": meeting_id, "sdp": pc.localDescription.sdp})
        if ack["ok"]:
            await pc.setRemoteDescription(RTCSessionDescription(**ack["answer"]))
        return ack

    async def receive(self, meeting_id: int) -> dict[str, Any]:
        ack = await self.call("media.receive", {"meeting_id": meeting_id})
        assert ack["ok"], ack
        self.frames.clear()  # m-line indexes are this offer's
        pc = RTCPeerConnection(replace(self.configuration, bundlePolicy=BUNDLED.bundlePolicy))
        self.pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            index = next(i for i, t in enumerate(pc.getTransceivers()) if t.receiver.track is track)
            self.tasks.append(asyncio.ensure_future(self._read(index, track)))

        await pc.setRemoteDescription(RTCSessionDescription(ack["offer"]["sdp"], ack["offer"]["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        answered = await self.call("media.answer", {"meeting_id": meeting_id, "sdp": pc.localDescription.sdp})
        assert answered["ok"], answered
        return ack

    async def _read(self, index: int, track: MediaStreamTrack) -> None:
        """Video: the first luma byte of each decoded frame; audio: the loudest sample of each frame."""
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    level = bytes(frame.planes[0])[0]  # type: ignore[attr-defined]
                else:
                    level = max(abs(x) for x in array("h", bytes(frame.planes[0])))  # type: ignore[attr-defined]
                self.frames[index].append((time.monotonic(), level))
        except MediaStreamError:
            return

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for pc in self.pcs:
            await pc.close()
        if self.sio.connected:
            await self.sio.disconnect()


H264_ONLY = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
             "a=rtpmap:102 H264/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
             "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n")
FLOOR, FLOOR_AUDIO, CHAIR, CHAIR_AUDIO = 0, 1, 2, 3  # m-lines of the relay's offer


async def _until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_the_speaker_queue_decides_what_every_site_receives(server: Server, session_world: dict[str, Any],
                                                                   live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    chair_live = await live_factory(people["chair"])
    bridge_live = await live_factory(people["bridge"])
    member_live = await live_factory(people["member"])
    sites = [Site(server, c) for c in (chair_live, bridge_live, member_live)]
    chair, bridge, member = sites
    try:
        for site in sites:
            await site.connect()
        assert (await chair.publish(mid, level=200))["ok"]
        assert (await bridge.publish(mid, level=60))["ok"]
        await member.receive(mid)
        # The chair is seen at once; the floor is nobody's yet.
        await _until(lambda: len(member.frames[CHAIR]) >= 10)
        assert abs(member.frames[CHAIR][-1][1] - 200) < 30
        assert member.frames[FLOOR] == []
        # The bridge point asks for the floor; the chair gives it: everyone receives Hà Nội.
        first_item = session_world["items"][0]["id"]
        assert (await chair_live.call("agenda.goto", {"meeting_id": mid, "item_id": first_item}))["ok"]
        asked = await bridge_live.call("speaker.request", {"meeting_id": mid})
        assert asked["ok"], asked
        given = await chair_live.call("speaker.give", {"meeting_id": mid, "turn_id": asked["turn_id"]})
        assert given["ok"], given
        await _until(lambda: len(member.frames[FLOOR]) >= 10)
        assert abs(member.frames[FLOOR][-1][1] - 60) < 30
        # The floor ends: the bridge point is no longer carried.
        assert (await chair_live.call("speaker.end", {"meeting_id": mid}))["ok"]
        await asyncio.sleep(1.0)
        ended_at = len(member.frames[FLOOR])
        await asyncio.sleep(1.5)
        assert len(member.frames[FLOOR]) - ended_at <= 2
        assert len(member.frames[CHAIR]) > 40  # the chair never stopped
        # The control room sees the sources; a member may not look.
        state = await chair.call("media.state", {"meeting_id": mid})
        assert state["ok"] and {s["site"] for s in state["state"]["sources"]} == {people["chair"].id,
                                                                                  people["bridge"].id}
        refused = await member.call("media.state", {"meeting_id": mid})
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    finally:
        for site in sites:
            await site.close()


async def test_bad_signalling_gets_a_clear_error(server: Server, session_world: dict[str, Any],
                                                live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    outsider = Site(server, await live_factory(people["outsider"]))
    member = Site(server, await live_factory(people["member"]))
    try:
        await outsider.connect()
        await member.connect()
        refused = await outsider.publish(mid, level=10)
        assert refused["ok"] is False and refused["error"]["code"] == "not_found"  # not told the meeting exists
        for sdp, code in [("hello", "bad_sdp"), (H264_ONLY, "unsupported_codec"),
                          ("v=0\r\nnonsense", "bad_sdp")]:
            ack = await member.call("media.publish", {"meeting_id": mid, "sdp": sdp})
            assert ack["ok"] is False and ack["error"]["code"] == code, (sdp, ack)
        # There is no way to unmute oneself: only the speaker queue puts a site on the air.
        ack = await member.call("media.unmute", {"meeting_id": mid})
        assert ack["ok"] is False and ack["error"]["code"] == "unknown_event"
        ack = await member.call("media.answer", {"meeting_id": mid, "sdp": "v=0\r\n"})
        assert ack["ok"] is False and ack["error"]["code"] == "no_offer"
        ack = await member.call("media.publish", {"meeting_id": mid})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error"
        codes = [(await member.call("media.publish", {"meeting_id": mid, "sdp": "hello"}))["error"]["code"]
                 for _ in range(12)]
        assert "too_many_offers" in codes  # a flood is cut off
        # Nothing was left half-open: the control room sees no source and no site.
        chair = Site(server, await live_factory(people["chair"]))
        await chair.connect()
        state = await chair.call("media.state", {"meeting_id": mid})
        assert state["ok"] and state["state"] == {"sources": [], "sites": []}
        await chair.close()
    finally:
        await outsider.close()
        await member.close()


async def test_the_control_room_sees_every_site_and_a_dropped_site_comes_back(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    lives = {k: await live_factory(people[k]) for k in ("chair", "bridge", "member", "secretary")}
    sites = {k: Site(server, live) for k, live in lives.items()}
    sec = people["secretary"].client
    try:
        for site in sites.values():
            await site.connect()
        assert (await lives["secretary"].call("meeting.join", {"meeting_id": mid}))["ok"]
        assert (await sites["chair"].publish(mid, level=200))["ok"]
        assert (await sites["bridge"].publish(mid, level=60))["ok"]
        await lives["secretary"].wait_for("media.sources", lambda d: len(d["sites"]) == 2)
        # The control room: one picture per site, in the order of the slots.
        control = sites["secretary"]
        ack = await control.call("media.receive", {"meeting_id": mid, "control_room": True})
        assert ack["ok"] and ack["offer"]["slots"] == [f"site:{min(people['chair'].id, people['bridge'].id)}:video",
                                                       f"site:{max(people['chair'].id, people['bridge'].id)}:video"]
        pc = RTCPeerConnection()
        control.pcs.append(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            index = next(i for i, t in enumerate(pc.getTransceivers()) if t.receiver.track is track)
            control.tasks.append(asyncio.ensure_future(control._read(index, track)))

        await pc.setRemoteDescription(RTCSessionDescription(ack["offer"]["sdp"], ack["offer"]["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        assert (await control.call("media.answer", {"meeting_id": mid, "sdp": pc.localDescription.sdp,
                                                    "control_room": True}))["ok"]
        await _until(lambda: len(control.frames[0]) >= 10 and len(control.frames[1]) >= 10)
        levels = sorted(round(control.frames[i][-1][1] / 10) * 10 for i in (0, 1))
        assert abs(levels[0] - 60) <= 30 and abs(levels[1] - 200) <= 30
        # A member may not watch every site.
        refused = await sites["member"].call("media.receive", {"meeting_id": mid, "control_room": True})
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
        assert (await people["member"].client.get(f"/api/meetings/{mid}/bridge")).status_code == 403
        hanoi = next(s for s in (await sec.get(f"/api/meetings/{mid}/bridge")).json()["sites"]
                     if s["site"] == str(people["bridge"].id))
        assert hanoi["publishing"] == "connected"

        # Hà Nội has the floor; its connection drops: the member's floor goes dark, its chair does not; it
        # comes back by itself (a new connection, a new offer) and is carried again, since the floor is
        # still its own.
        await sites["member"].receive(mid)
        first_item = session_world["items"][0]["id"]
        assert (await lives["chair"].call("agenda.goto", {"meeting_id": mid, "item_id": first_item}))["ok"]
        asked = await lives["bridge"].call("speaker.request", {"meeting_id": mid})
        assert (await lives["chair"].call("speaker.give", {"meeting_id": mid, "turn_id": asked["turn_id"]}))["ok"]
        member = sites["member"]
        await _until(lambda: len(member.frames[FLOOR]) >= 10)
        await sites["bridge"].close()
        await lives["secretary"].wait_for("media.sources", lambda d: people["bridge"].id not in d["sites"])
        await asyncio.sleep(0.5)
        dark, chair_at = len(member.frames[FLOOR]), len(member.frames[CHAIR])
        await asyncio.sleep(1.0)
        assert len(member.frames[FLOOR]) - dark <= 2
        assert len(member.frames[CHAIR]) - chair_at >= 5  # the chair never stopped
        back = Site(server, lives["bridge"])
        sites["bridge"] = back
        await back.connect()
        assert (await back.publish(mid, level=60))["ok"]
        await _until(lambda: len(member.frames[FLOOR]) >= dark + 10)
        assert abs(member.frames[FLOOR][-1][1] - 60) < 30
    finally:
        for site in sites.values():
            await site.close()


async def test_the_secretariat_sees_the_relays_figures(server: Server, session_world: dict[str, Any],
                                                       live_factory: Any) -> None:
    """The bitrate and frame figures of the embedded relay (Janus keeps its own, in its Admin API, which
    e-Cabinet does not read: not collected again against Janus)."""
    people, mid = session_world["people"], session_world["meeting_id"]
    lives = {k: await live_factory(people[k]) for k in ("chair", "bridge", "member")}
    sites = {k: Site(server, live) for k, live in lives.items()}
    sec = people["secretary"].client
    try:
        for site in sites.values():
            await site.connect()
        assert (await sites["chair"].publish(mid, level=200))["ok"]
        assert (await sites["bridge"].publish(mid, level=60))["ok"]
        await sites["member"].receive(mid)
        await _until(lambda: len(sites["member"].frames[CHAIR]) >= 10)
        # The secretariat's figures, as JSON and as metrics.
        await sec.get(f"/api/meetings/{mid}/bridge")
        await asyncio.sleep(1.0)
        state = (await sec.get(f"/api/meetings/{mid}/bridge")).json()
        hanoi = next(s for s in state["sites"] if s["site"] == str(people["bridge"].id))
        assert hanoi["publishing"] == "connected" and hanoi["bitrate_kbps"] > 0
        # Asked again at once (the control room and Prometheus a moment apart): still the last second's
        # bitrate, not the few bytes of the milliseconds between the two.
        again = (await sec.get(f"/api/meetings/{mid}/bridge")).json()
        assert next(s for s in again["sites"] if s["site"] == hanoi["site"])["bitrate_kbps"] == hanoi["bitrate_kbps"]
        metrics = (await sec.get(f"/api/meetings/{mid}/bridge/metrics")).text
        assert f'ecabinet_bridge_connected{{meeting="{mid}",site="{people["bridge"].id}"}} 1' in metrics
        # The same relay's figures in the worker's /metrics (the relay runs in this process).
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            scraped = parse((await http.get("/metrics")).text)
        assert value(scraped, "ecabinet_relay_streams", meeting=str(mid)) == 2  # the two sites publishing
        assert value(scraped, "ecabinet_relay_site_bitrate_kbps", meeting=str(mid), site=str(people["bridge"].id)) > 0
        assert value(scraped, "ecabinet_relay_frames_forwarded", meeting=str(mid)) > 0
    finally:
        for site in sites.values():
            await site.close()
