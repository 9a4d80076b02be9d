"""The forwarding relay with real aiortc peers on loopback: a publisher and several subscribers, the
relay decoding nothing; subscribers decode the forwarded frames; a late subscriber gets video within
a second (its keyframe request reaches the publisher); a subscriber that drops disturbs nobody; a
switch of source changes what a subscriber receives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from media import hooks
from media.relay import Relay, is_keyframe

WIDTH, HEIGHT, FPS = 320, 240, 30


class MovingPicture(VideoStreamTrack):
    """A synthetic camera: a bright bar moving over a grey background, `level` tells the sources apart."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level, self.n = level, 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma = bytearray([self.level]) * (WIDTH * HEIGHT)
        bar = (self.n * 4) % WIDTH
        for row in range(HEIGHT):
            luma[row * WIDTH + bar: row * WIDTH + min(WIDTH, bar + 16)] = b"\xf0" * min(16, WIDTH - bar)
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * (plane.width * plane.height))
        frame.pts, frame.time_base = pts, time_base
        self.n += 1
        return frame


@dataclass
class Subscriber:
    pc: RTCPeerConnection
    frames: list[float] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay()
    yield r
    await r.close()


async def _publish(relay: Relay, site: str, level: int, *, audio_first: bool = False) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    if audio_first:  # as a browser offers getUserMedia's stream: the microphone's m-line first
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(MovingPicture(level), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await relay.publish(site, pc.localDescription)
    await pc.setRemoteDescription(answer)
    return pc


async def _subscribe(relay: Relay, site: str, publisher: str) -> Subscriber:
    offer = await relay.subscribe(site, slots=(("main", "video"),))
    pc = RTCPeerConnection()
    sub = Subscriber(pc)

    @pc.on("track")
    def on_track(track: VideoStreamTrack) -> None:
        async def read() -> None:
            try:
                while True:
                    frame = await track.recv()
                    sub.frames.append(time.monotonic())
                    sub.levels.append(bytes(frame.planes[0])[0])
            except MediaStreamError:
                return
        sub.task = asyncio.ensure_future(read())

    await pc.setRemoteDescription(offer)
    await pc.setLocalDescription(await pc.createAnswer())
    await relay.answered(site, RTCSessionDescription(pc.localDescription.sdp, pc.localDescription.type))
    relay.follow(site, publisher)
    return sub


async def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def test_the_hooks_into_aiortc_still_hold() -> None:
    hooks.check()  # an aiortc upgrade that moves its internals fails here, loudly


def test_keyframes_are_recognised() -> None:
    assert is_keyframe("VP8", b"\x10\x02\x00\x9d\x01\x2a") and not is_keyframe("VP8", b"\x11\x02\x00")
    assert is_keyframe("H264", b"\x00\x00\x00\x01\x67\x42") and is_keyframe("H264", b"\x00\x00\x01\x65\x88")
    assert not is_keyframe("H264", b"\x00\x00\x00\x01\x41\x9a") and not is_keyframe("VP8", b"")
    assert is_keyframe("opus", b"\x00")


async def test_subscribers_decode_forwarded_frames_and_the_relay_decodes_none(relay: Relay) -> None:
    publisher = await _publish(relay, "hanoi", level=60)
    subs = [await _subscribe(relay, f"site{i}", "hanoi") for i in range(3)]
    await _until(lambda: all(len(s.frames) >= 15 for s in subs))
    source = relay.sources[("hanoi", "video")]
    assert source.frames_in >= 15 and source.keyframes_in >= 1
    # Nothing was decoded by the relay: its receiving track never got a frame.
    published = relay.live_publication("hanoi")
    received = publisher and published and published.pc.getReceivers()[0].track
    assert received is not None and received._queue.qsize() == 0  # type: ignore[attr-defined]
    assert all(abs(s.levels[-1] - 60) < 30 for s in subs)  # the picture is the publisher's
    for sub in subs:
        await sub.pc.close()
    await publisher.close()


async def test_a_late_subscriber_gets_video_within_a_second(relay: Relay) -> None:
    publisher = await _publish(relay, "hcm", level=90)
    first = await _subscribe(relay, "early", "hcm")
    await _until(lambda: len(first.frames) >= 10)
    await asyncio.sleep(2.0)  # well past the publisher's first keyframe
    joined = time.monotonic()
    late = await _subscribe(relay, "late", "hcm")
    await _until(lambda: len(late.frames) >= 1, timeout=10)
    assert late.frames[0] - joined < 1.0, f"first frame after {late.frames[0] - joined:.2f} s"
    assert relay.sources[("hcm", "video")].keyframe_requests >= 1
    await late.pc.close()
    await first.pc.close()
    await publisher.close()


async def test_a_dropped_subscriber_disturbs_nobody_and_a_switch_changes_the_picture(relay: Relay) -> None:
    hanoi = await _publish(relay, "hanoi", level=40)
    danang = await _publish(relay, "danang", level=200)
    a, b = await _subscribe(relay, "a", "hanoi"), await _subscribe(relay, "b", "hanoi")
    await _until(lambda: len(a.frames) >= 5 and len(b.frames) >= 5)
    await a.pc.close()
    await relay.leave("a")
    before = len(b.frames)
    await _until(lambda: len(b.frames) >= before + 15)
    assert abs(b.levels[-1] - 40) < 30
    relay.follow("b", "danang")  # the floor moves to Đà Nẵng
    await _until(lambda: abs(b.levels[-1] - 200) < 30, timeout=5)
    assert relay.sources[("hanoi", "video")].subscribers == set()
    await b.pc.close()
    await hanoi.close()
    await danang.close()


async def test_h264_is_forwarded_when_the_meeting_uses_it() -> None:
    """Every site negotiates the meeting's one codec: with H.264 the relay answers and offers H.264 only,
    and forwards its access units as they come (IDR and SPS start a subscriber)."""
    relay = Relay(video_codec="H264")
    try:
        publisher = await _publish(relay, "hue", level=120)
        answer = relay.publications[0].pc.localDescription.sdp
        assert "H264" in answer and "VP8" not in answer
        sub = await _subscribe(relay, "viewer", "hue")
        assert "VP8" not in relay.subscriptions["viewer"].pc.localDescription.sdp
        await _until(lambda: len(sub.frames) >= 10)
        assert relay.sources[("hue", "video")].keyframes_in >= 1
        assert abs(sub.levels[-1] - 120) < 30
        await sub.pc.close()
        await publisher.close()
    finally:
        await relay.close()


async def test_a_browsers_audio_first_offer_connects_with_the_meetings_codec() -> None:
    """A browser offers the microphone's m-line before the camera's; with the meeting's codec fixed, the
    relay makes its video receiver before applying the offer. The publication must still connect (it
    did not when every relay connection bundled everything on its first transceiver's transport)."""
    relay = Relay(video_codec="VP8")
    try:
        publisher = await _publish(relay, "hue", level=120, audio_first=True)
        sub = await _subscribe(relay, "viewer", "hue")
        await _until(lambda: len(sub.frames) >= 10)
        assert abs(sub.levels[-1] - 120) < 30
        assert relay.sources[("hue", "audio")].frames_in > 0
        await sub.pc.close()
        await publisher.close()
    finally:
        await relay.close()
