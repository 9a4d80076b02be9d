"""A selective forwarding relay: what a site publishes is received once, never decoded, and its encoded
frames are handed to every subscriber's sender, which only packetizes them (see media/hooks.py for
the two places where that needs aiortc's internals).

- A `Source` is one published track (a site's camera or microphone) as the relay receives it.
- A `ForwardedTrack` is what one subscriber gets from one source: a bounded queue of encoded frames.
  A video subscriber starts (and restarts, after an overflow or a switch to another source) at a
  keyframe, and the source asks its publisher for one, throttled and repeated while anyone waits.
  Timestamps are rebased, so a switch of source looks like one continuous stream to the receiver.
- `Relay` holds the peer connections, each owned by the connection (signalling socket) that made it: a
  site publishes on one (it offers, the relay answers) and receives on another (the relay offers its
  forwarded tracks, the site answers)."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
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
CONNECT_TIMEOUT_S = 20.0  # a peer connection not up by then (an offer never answered, a site gone) is closed


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
    """One subscriber's copy of one source: `recv()` gives `av.Packet`s, which aiortc only packetizes.

    Nothing is queued until the sender first asks for a frame (its connection is up): an offer never
    answered, or a connection still starting, costs no queue, no dropped frames and no keyframe requests."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: Source | None = None
        self.site: str | None = None
        """The publisher this track is routed to (its source may come, go, or be replaced)."""
        self._queue: asyncio.Queue[av.Packet[Any]] = asyncio.Queue(maxsize=QUEUE_FRAMES[kind])
        self._time_base = fractions.Fraction(1, CLOCK[kind])
        self.started = False
        self.waiting = kind == "video"
        self._offset: int | None = None
        self._last_out = 0
        self.forwarded = 0
        self.dropped = 0

    @property
    def hungry(self) -> bool:
        """The sender runs and waits for a keyframe."""
        return self.started and self.waiting and self.readyState == "live"

    def offer(self, codec: str, frame: JitterFrame, keyframe: bool) -> None:
        """A frame from the source (on the event loop). Never blocks: a full queue drops."""
        if self.readyState != "live" or not self.started:
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
        if source is not None and self.readyState == "live":
            source.subscribers.add(self)
            if self.hungry:
                source.want_keyframe()

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if not self.started:  # the connection is up: from now on frames are queued
            self.started = True
            if self.hungry and self.source is not None:
                self.source.want_keyframe()
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
        if self.kind == "video" and any(t.hungry for t in self.subscribers):
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
        if any(t.hungry for t in self.subscribers):
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
            self._retry = None
        for track in list(self.subscribers):
            track.follow(None)


def _keyframe_for(track: ForwardedTrack) -> Callable[[], None]:
    """What a subscriber's keyframe request (PLI/FIR) does: ask the source it currently follows."""
    def ask() -> None:
        if track.source is not None:
            track.source.want_keyframe()
    return ask


@dataclass(eq=False)
class Publication:
    """What one connection sends: a site's camera and microphone, on one peer connection."""

    owner: str
    """The connection (signalling socket) that made it; it ends with that connection."""
    site: str
    """Whose picture and sound it is (routing names sites, never connections)."""
    pc: RTCPeerConnection
    """The relay's side of the peer connection."""
    sources: dict[str, Source] = field(default_factory=dict)
    """Its tracks as the relay receives them, by kind."""
    live: bool = False
    """Its sources are the site's. Only a connection that came up takes over: until then the site's
    working publication (if any) stays on the air."""
    _expiry: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class Subscription:
    """What one connection receives: one forwarded track per (slot, kind), on one peer connection."""

    key: str
    """Its name: one per connection and purpose (the bridge: "<socket>" and "<socket>:control")."""
    owner: str
    """The connection that asked for it; it ends with that connection."""
    site: str
    """Who receives (so that routing never sends a site its own stream)."""
    pc: RTCPeerConnection
    """The relay's side of the peer connection."""
    tracks: dict[tuple[str, str], ForwardedTrack]
    """The forwarded tracks, by (slot, kind), in the order of the offer's m-lines."""
    answered: bool = False
    """The site answered the relay's offer."""
    _expiry: asyncio.TimerHandle | None = None


class Relay:
    """Every connection's peer connections with the relay, the sites' sources, and the tracks it sends.

    Everything belongs to the connection (`owner`) that asked for it and is released when that
    connection leaves (`leave`), when its peer connection fails or closes, or when it does not come up
    within `connect_timeout` (an offer never answered). A site publishes from one connection at a
    time: a newer publication that comes up replaces the older, and `on_replaced(owner, site)` tells
    whoever owned the older one."""

    def __init__(self, configuration: RTCConfiguration | None = None, *, video_codec: str | None = None,
                 ice_servers: Callable[[], list[RTCIceServer]] | None = None,
                 on_sources: Callable[[], None] | None = None,
                 on_replaced: Callable[[str, str], None] | None = None) -> None:
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        """For the peer connections a site offers (publications)."""
        self.ice_servers = ice_servers
        """Asked for the ICE servers of each new peer connection (instead of `configuration`'s): TURN
        credentials expire, so each connection gets fresh ones."""
        self.on_sources, self.on_replaced = on_sources, on_replaced
        self.video_codec = video_codec
        """The one video codec every site negotiates (None: whatever the offer prefers)."""
        self.connect_timeout = CONNECT_TIMEOUT_S
        self.sources: dict[tuple[str, str], Source] = {}
        """The sources on the air: the live publication's of each site."""
        self.publications: list[Publication] = []
        self.subscriptions: dict[str, Subscription] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _configuration(self, *, offering: bool) -> RTCConfiguration:
        servers = self.ice_servers() if self.ice_servers is not None else self.configuration.iceServers
        if offering:
            # The relay's own offers bundle every m-line on one transport. With aiortc's default ("balanced")
            # the second audio m-line stays bundled to a transport that the answer's BUNDLE group then shuts
            # down: its sender never starts, and nobody hears the chair. (Publications keep the default: there
            # the site's offer decides, and video receivers made before an audio-first offer would be bundled
            # to a transport that the same BUNDLE handling shuts down.)
            return replace(self.configuration, iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        return replace(self.configuration, iceServers=servers)

    def live_publication(self, site: str) -> Publication | None:
        return next((pub for pub in self.publications if pub.site == site and pub.live), None)

    async def publish(self, owner: str, offer: RTCSessionDescription, *, site: str | None = None
                      ) -> RTCSessionDescription:
        """A connection's offer to publish `site`'s camera and microphone (site: the owner itself when not
        named): the relay's answer. An earlier publication of this connection that has not come up is
        dropped; the site's working publication stays until this one is connected."""
        for earlier in [pub for pub in self.publications if pub.owner == owner and not pub.live]:
            await self._drop_publication(earlier)
        pc = RTCPeerConnection(self._configuration(offering=False))
        pub = Publication(owner, site or owner, pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            source = Source(pub.site, track.kind, receiver)
            hooks.tap(receiver, source.on_frame)
            pub.sources[track.kind] = source

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self._go_live(pub)
            elif pc.connectionState in ("failed", "closed"):
                self._spawn(self._drop_publication(pub))

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
            for source in pub.sources.values():
                source.close()
            await pc.close()
            raise
        self.publications.append(pub)
        pub._expiry = self._expire(pc, lambda: self._drop_publication(pub))
        return pc.localDescription

    def _go_live(self, pub: Publication) -> None:
        """`pub`'s connection came up: its sources become the site's, every track routed to the site
        follows them, and the site's publication before (from any connection) is closed."""
        if pub.live or pub not in self.publications:
            return
        before = self.live_publication(pub.site)
        pub.live = True
        for kind in ("video", "audio"):
            source = pub.sources.get(kind)
            previous = self.sources.pop((pub.site, kind), None)
            if source is not None:
                self.sources[(pub.site, kind)] = source
            for track in self._routed_to(pub.site, kind):
                track.follow(source)
            if previous is not None:
                previous.close()
        if before is not None:
            before.live = False  # its sources are no longer the site's: closing it takes nothing off the air
            self._spawn(self._drop_publication(before))
            if before.owner != pub.owner and self.on_replaced is not None:
                self.on_replaced(before.owner, pub.site)
        if self.on_sources is not None:
            self.on_sources()

    async def _drop_publication(self, pub: Publication) -> None:
        if pub not in self.publications:
            return
        self.publications.remove(pub)
        if pub._expiry is not None:
            pub._expiry.cancel()
        if pub.live:  # the site goes off the air: whoever followed it receives nothing from it
            for kind, source in pub.sources.items():
                if self.sources.get((pub.site, kind)) is source:
                    del self.sources[(pub.site, kind)]
        for source in pub.sources.values():
            source.close()
        await pub.pc.close()
        if pub.live and self.on_sources is not None:
            self.on_sources()

    async def subscribe(self, key: str, slots: Iterable[tuple[str, str]] = (("main", "video"), ("main", "audio")),
                        *, owner: str | None = None, site: str | None = None) -> RTCSessionDescription:
        """The relay's offer to `key` of one forwarded track per (slot, kind), e.g. ("floor", "video"),
        each fed by whichever site `route` puts in that slot. A new offer replaces the one before under
        the same key, answered or not."""
        previous = self.subscriptions.get(key)
        if previous is not None:
            await self._drop_subscription(previous)
        pc = RTCPeerConnection(self._configuration(offering=True))
        tracks: dict[tuple[str, str], ForwardedTrack] = {}
        for slot, kind in slots:
            track = ForwardedTrack(kind)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if kind == "video":
                self._prefer_codec(transceiver)
                hooks.on_keyframe_request(transceiver.sender, _keyframe_for(track))
            tracks[(slot, kind)] = track
        sub = Subscription(key, owner or key, site or owner or key, pc, tracks)
        self.subscriptions[key] = sub

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._spawn(self._drop_subscription(sub))

        try:
            await pc.setLocalDescription(await pc.createOffer())
        except BaseException:
            await self._drop_subscription(sub)
            raise
        sub._expiry = self._expire(pc, lambda: self._drop_subscription(sub))
        return pc.localDescription

    async def answered(self, key: str, answer: RTCSessionDescription) -> None:
        """The site's answer to the relay's offer. LookupError: no offer waits for one; an answer that
        cannot be applied releases the offer (ValueError or aiortc's own errors)."""
        sub = self.subscriptions.get(key)
        if sub is None or sub.answered:
            raise LookupError(f"no offer to {key} waits for an answer")
        try:
            await sub.pc.setRemoteDescription(answer)
        except BaseException:
            await self._drop_subscription(sub)
            raise
        sub.answered = True

    async def unsubscribe(self, key: str) -> None:
        """Releases the subscription `key` (its offer refused or no longer wanted)."""
        sub = self.subscriptions.get(key)
        if sub is not None:
            await self._drop_subscription(sub)

    async def _drop_subscription(self, sub: Subscription) -> None:
        if self.subscriptions.get(sub.key) is not sub:
            return
        del self.subscriptions[sub.key]
        if sub._expiry is not None:
            sub._expiry.cancel()
        for track in sub.tracks.values():
            track.stop()
        await sub.pc.close()

    def route(self, key: str, slot: str, publisher: str | None) -> None:
        """What `key` receives in `slot` from now on: `publisher`'s video and audio (None: nothing). The
        route holds while the publisher comes, goes or publishes again."""
        sub = self.subscriptions.get(key)
        if sub is None:
            return
        for (name, kind), track in sub.tracks.items():
            if name == slot:
                track.site = publisher
                track.follow(self.sources.get((publisher, kind)) if publisher else None)

    def follow(self, key: str, publisher: str | None) -> None:
        """Every slot of `key` from `publisher` (one-slot subscriptions)."""
        sub = self.subscriptions.get(key)
        for slot in {name for name, _ in (sub.tracks if sub else {})}:
            self.route(key, slot, publisher)

    def _routed_to(self, site: str, kind: str) -> list[ForwardedTrack]:
        return [track for sub in self.subscriptions.values() for track in sub.tracks.values()
                if track.site == site and track.kind == kind]

    def _prefer_codec(self, transceiver: Any) -> None:
        if self.video_codec is None:
            return
        wanted = [c for c in RTCRtpSender.getCapabilities("video").codecs
                  if c.mimeType.lower() in (f"video/{self.video_codec.lower()}", "video/rtx")]
        transceiver.setCodecPreferences(wanted)

    def _expire(self, pc: RTCPeerConnection, drop: Callable[[], Awaitable[None]]) -> asyncio.TimerHandle:
        """Drops what `pc` carries unless it is connected `connect_timeout` seconds from now."""
        def check() -> None:
            if pc.connectionState != "connected":
                self._spawn(drop())
        return asyncio.get_running_loop().call_later(self.connect_timeout, check)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def leave(self, owner: str) -> bool:
        """A connection goes: every publication and subscription it made is closed; whoever followed its
        site receives nothing from it. Whether it had any."""
        pubs = [pub for pub in self.publications if pub.owner == owner]
        subs = [sub for sub in self.subscriptions.values() if sub.owner == owner]
        for pub in pubs:
            await self._drop_publication(pub)
        for sub in subs:
            await self._drop_subscription(sub)
        return bool(pubs or subs)

    async def close(self) -> None:
        for owner in {*(pub.owner for pub in self.publications), *(sub.owner for sub in self.subscriptions.values())}:
            await self.leave(owner)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
