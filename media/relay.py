"""A selective forwarding relay: what a site publishes is received once, never decoded, and its encoded
frames are handed to every subscriber's sender, which only packetizes them (see media/hooks.py for
the two places where that needs aiortc's internals).

- A `Source` is one published track (a site's camera or microphone) as the relay receives it.
- A `ForwardedTrack` is what one subscriber gets from one source: a bounded queue of encoded frames.
  A video subscriber starts (and restarts, after an overflow or a switch to another source) at a
  keyframe, and the source asks its publisher for one, throttled and repeated while anyone waits.
  Timestamps are rebased, so a switch of source looks like one continuous stream to the receiver.
- `Relay` holds the peer connections: a site publishes on one (it offers, the relay answers) and
  receives on another (the relay offers its forwarded tracks, the site answers)."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError

from media import hooks

log = logging.getLogger("ecabinet.media")

CLOCK = {"video": 90_000, "audio": 48_000}
KEYFRAME_RETRY_S = 0.3  # how often a source asks again while a subscriber still waits for a keyframe
QUEUE_FRAMES = {"video": 30, "audio": 50}  # about one second: a slower subscriber starts again at a keyframe


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can start a stream: a VP8 key frame (frame tag bit 0 clear), or an H.264
    access unit with an IDR slice or a sequence parameter set. Audio frames always can."""
    name = codec.lower()
    if name == "vp8":
        return bool(data) and data[0] & 0x01 == 0
    if name == "h264":
        at = data.find(b"\x00\x00\x01")
        while at >= 0 and at + 3 < len(data):
            if data[at + 3] & 0x1F in (5, 7):
                return True
            at = data.find(b"\x00\x00\x01", at + 3)
        return False
    return True


class ForwardedTrack(MediaStreamTrack):
    """One subscriber's copy of one source: `recv()` gives `av.Packet`s, which aiortc only packetizes."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: Source | None = None
        self._queue: asyncio.Queue[av.Packet[Any]] = asyncio.Queue(maxsize=QUEUE_FRAMES[kind])
        self._time_base = fractions.Fraction(1, CLOCK[kind])
        self.waiting = kind == "video"
        self._offset: int | None = None
        self._last_out = 0
        self.forwarded = 0
        self.dropped = 0

    def offer(self, codec: str, frame: JitterFrame, keyframe: bool) -> None:
        """A frame from the source (on the event loop). Never blocks: a full queue drops."""
        if self.readyState != "live":
            return
        if self.waiting and not keyframe:
            return
        if self._queue.full():
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":  # a hole in a video stream is garbage until the next keyframe
                self.waiting = True
                if self.source is not None:
                    self.source.want_keyframe()
                if not keyframe:
                    return
        self.waiting = False
        if self._offset is None:  # first frame of this source: continue the timeline we sent so far
            self._offset = self._last_out + CLOCK[self.kind] // 30 - frame.timestamp
        packet = av.Packet(frame.data)
        packet.pts = self._last_out = frame.timestamp + self._offset
        packet.time_base = self._time_base
        self._queue.put_nowait(packet)
        self.forwarded += 1

    def follow(self, source: Source | None) -> None:
        """Take frames from `source` from now on (None: from nobody; the receiver keeps the last picture)."""
        if self.source is source:
            return
        if self.source is not None:
            self.source.subscribers.discard(self)
        self.source, self._offset = source, None
        self.waiting = self.kind == "video"
        if source is not None:
            source.subscribers.add(self)
            if self.waiting:
                source.want_keyframe()

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._queue.get()

    def stop(self) -> None:
        self.follow(None)
        super().stop()


@dataclass(eq=False)
class Source:
    """One published track, received once and tapped before decoding."""

    site: str
    """Who publishes it."""
    kind: str
    """"audio" or "video"."""
    receiver: RTCRtpReceiver
    """aiortc's receiver of the track (keyframe requests go back through it)."""
    subscribers: set[ForwardedTrack] = field(default_factory=set)
    """Every subscriber's track fed from this source."""
    frames_in: int = 0
    """Encoded frames received."""
    keyframes_in: int = 0
    """Of which keyframes."""
    keyframe_requests: int = 0
    """PLIs sent to the publisher."""
    _asked_at: float = 0.0
    _retry: asyncio.TimerHandle | None = None

    def on_frame(self, codec: str, frame: JitterFrame) -> None:
        self.frames_in += 1
        keyframe = self.kind == "audio" or is_keyframe(codec, frame.data)
        self.keyframes_in += keyframe and self.kind == "video"
        for track in list(self.subscribers):
            track.offer(codec, frame, keyframe)
        if self.kind == "video" and any(t.waiting for t in self.subscribers):
            self.want_keyframe()

    def want_keyframe(self) -> None:
        """Ask the publisher for a keyframe now, unless it was asked very recently; and ask again later while
        someone still waits (a request or its answer may be lost)."""
        if self.kind != "video":
            return
        now = time.monotonic()
        if now - self._asked_at >= KEYFRAME_RETRY_S:
            self._asked_at = now
            self.keyframe_requests += 1
            asyncio.get_running_loop().create_task(self._ask())
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(KEYFRAME_RETRY_S, self._again)

    def _again(self) -> None:
        self._retry = None
        if any(t.waiting for t in self.subscribers):
            self.want_keyframe()

    async def _ask(self) -> None:
        sources = self.receiver.getSynchronizationSources()
        if sources:
            try:
                await hooks.request_keyframe(self.receiver, sources[0].source)
            except Exception:  # the connection is closing: nothing to ask any more
                log.debug("keyframe request from %s failed", self.site, exc_info=True)

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for track in list(self.subscribers):
            track.follow(None)


def _keyframe_for(track: ForwardedTrack) -> Callable[[], None]:
    """What a subscriber's keyframe request (PLI/FIR) does: ask the source it currently follows."""
    def ask() -> None:
        if track.source is not None:
            track.source.want_keyframe()
    return ask


class Relay:
    """Every site's peer connections with the relay, its sources, and the tracks it sends."""

    def __init__(self, configuration: RTCConfiguration | None = None, *, video_codec: str | None = None) -> None:
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        self.video_codec = video_codec
        """The one video codec every site negotiates (None: whatever the offer prefers)."""
        self.sources: dict[tuple[str, str], Source] = {}
        self.publishing: dict[str, RTCPeerConnection] = {}
        self.receiving: dict[str, RTCPeerConnection] = {}
        self.tracks: dict[str, dict[tuple[str, str], ForwardedTrack]] = {}

    async def publish(self, site: str, offer: RTCSessionDescription) -> RTCSessionDescription:
        """A site's offer to publish its camera and microphone: the relay's answer."""
        await self._close(self.publishing.pop(site, None))
        pc = RTCPeerConnection(self.configuration)
        self.publishing[site] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            source = Source(site, track.kind, receiver)
            hooks.tap(receiver, source.on_frame)
            old = self.sources.get((site, track.kind))
            self.sources[(site, track.kind)] = source
            if old is not None:  # the site published again: its subscribers move to the new stream
                for forwarded in list(old.subscribers):
                    forwarded.follow(source)
                old.close()

        try:
            if self.video_codec is not None:
                # The codec is chosen when the offer is applied: receivers made beforehand carry the choice.
                for _ in range(offer.sdp.count("\nm=video ")):
                    self._prefer_codec(pc.addTransceiver("video", direction="recvonly"))
            await pc.setRemoteDescription(offer)
            for transceiver in pc.getTransceivers():
                transceiver.direction = "recvonly"
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:  # a bad offer leaves nothing half-open
            self.publishing.pop(site, None)
            await pc.close()
            raise
        return pc.localDescription

    async def subscribe(self, site: str, slots: Iterable[tuple[str, str]] = (("main", "video"), ("main", "audio"))
                        ) -> RTCSessionDescription:
        """The relay's offer to `site` of one forwarded track per (slot, kind), e.g. ("floor", "video"),
        each fed by whichever source `route` puts in that slot."""
        await self._close(self.receiving.pop(site, None))
        pc = RTCPeerConnection(self.configuration)
        self.receiving[site] = pc
        tracks: dict[tuple[str, str], ForwardedTrack] = {}
        for slot, kind in slots:
            track = ForwardedTrack(kind)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if kind == "video":
                self._prefer_codec(transceiver)
                hooks.on_keyframe_request(transceiver.sender, _keyframe_for(track))
            tracks[(slot, kind)] = track
        self.tracks[site] = tracks
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription

    async def answered(self, site: str, answer: RTCSessionDescription) -> None:
        pc = self.receiving.get(site)
        if pc is None:
            raise LookupError(f"no subscription offered to {site}")
        await pc.setRemoteDescription(answer)

    def route(self, site: str, slot: str, publisher: str | None) -> None:
        """What `site` receives in `slot` from now on: `publisher`'s video and audio (None: nothing)."""
        for (name, kind), track in self.tracks.get(site, {}).items():
            if name == slot:
                track.follow(self.sources.get((publisher, kind)) if publisher else None)

    def follow(self, site: str, publisher: str | None) -> None:
        """Every slot of `site` from `publisher` (one-slot subscriptions)."""
        for slot in {name for name, _ in self.tracks.get(site, {})}:
            self.route(site, slot, publisher)

    def _prefer_codec(self, transceiver: Any) -> None:
        if self.video_codec is None:
            return
        wanted = [c for c in RTCRtpSender.getCapabilities("video").codecs
                  if c.mimeType.lower() in (f"video/{self.video_codec.lower()}", "video/rtx")]
        transceiver.setCodecPreferences(wanted)

    async def leave(self, site: str) -> None:
        """A site goes: its connections close, and whoever followed it receives nothing from it."""
        for kind in ("video", "audio"):
            source = self.sources.pop((site, kind), None)
            if source is not None:
                source.close()
        for track in self.tracks.pop(site, {}).values():
            track.stop()
        await self._close(self.publishing.pop(site, None))
        await self._close(self.receiving.pop(site, None))

    async def close(self) -> None:
        for site in {*self.publishing, *self.receiving}:
            await self.leave(site)

    @staticmethod
    async def _close(pc: RTCPeerConnection | None) -> None:
        if pc is not None:
            await pc.close()
