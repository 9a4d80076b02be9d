"""The video bridge of a session: every site (a provincial bridge point, the central room, a remote
member) publishes its camera and microphone to the relay and receives two pictures with their sound:
the floor (whoever the chair gave the floor to, through the speaker queue) and the chair. A site
nobody gave the floor is heard by nobody: there is no way for a site to unmute itself; when the
floor moves, the relay moves every site's floor picture and sound to the new speaker.

One relay per meeting, in this process (the embedded default). Sites are named by user id."""

from __future__ import annotations

import re
import time
from collections import defaultdict, deque
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCSessionDescription
from sqlmodel import select

from backend.config import Settings
from backend.db import Database
from backend.domain import speaker_queue
from backend.domain.meeting_states import Action, Role, Status
from backend.exceptions import BadRequest, NotFound, TooManyRequests
from backend.models import Meeting, Participant, SpeakerTurn
from backend.services import access
from backend.services.context import Actor
from backend.services.events import EventBus, NullBus, staff_room
from media import hooks
from media.relay import Relay

SLOTS = (("floor", "video"), ("floor", "audio"), ("chair", "video"), ("chair", "audio"))
CONTROL = ":control"  # the key of a control room's subscription: "<user id>:control"
MAX_SDP = 100_000
OFFERS_PER_MINUTE = 10


class Bridge:
    def __init__(self, db: Database, settings: Settings, bus: EventBus | None = None) -> None:
        self.db, self.settings = db, settings
        self.bus: EventBus = bus or NullBus()
        self.relays: dict[int, Relay] = {}
        self._bytes: dict[tuple[int, str], tuple[float, int]] = {}
        self._offers: dict[tuple[int, int], deque[float]] = defaultdict(deque)
        if settings.media_host_addresses:
            hooks.restrict_host_addresses(list(settings.media_host_addresses))

    def _relay(self, meeting_id: int) -> Relay:
        if meeting_id not in self.relays:
            servers = [RTCIceServer(urls=url) for url in self.settings.media_ice_servers]
            self.relays[meeting_id] = Relay(RTCConfiguration(iceServers=servers),
                                            video_codec=self.settings.media_codec)
        return self.relays[meeting_id]

    async def publish(self, actor: Actor, meeting_id: int, sdp: str) -> dict[str, Any]:
        """A site's offer to send its camera and microphone; the relay's answer."""
        await self.may_join(actor, meeting_id)
        self._throttle(actor, meeting_id)
        self._check_offer(sdp)
        try:
            answer = await self._relay(meeting_id).publish(str(actor.user_id), RTCSessionDescription(sdp, "offer"))
        except Exception as exc:  # aiortc's parser raises whatever it meets; nothing is left open
            raise BadRequest(f"the offer could not be used: {exc}", code="bad_sdp") from exc
        await self.route(meeting_id)
        await self._sources_changed(meeting_id)
        return {"sdp": answer.sdp, "type": answer.type}

    async def receive(self, actor: Actor, meeting_id: int, *, control_room: bool = False) -> dict[str, Any]:
        """The relay's offer of the floor and the chair (video and audio) to this site; for the control
        room (chair and secretariat), one video per site that publishes."""
        await self.may_join(actor, meeting_id, Action.WATCH_SITES if control_room else Action.JOIN_BRIDGE)
        self._throttle(actor, meeting_id)
        relay = self._relay(meeting_id)
        if control_room:
            key = f"{actor.user_id}{CONTROL}"
            slots = tuple((f"site:{site}", "video") for site, kind in sorted(relay.sources) if kind == "video")
        else:
            key, slots = str(actor.user_id), SLOTS
        offer = await relay.subscribe(key, slots)
        await self.route(meeting_id)
        return {"sdp": offer.sdp, "type": offer.type, "slots": [f"{slot}:{kind}" for slot, kind in slots]}

    async def answer(self, actor: Actor, meeting_id: int, sdp: str, *, control_room: bool = False) -> dict[str, Any]:
        await self.may_join(actor, meeting_id, Action.WATCH_SITES if control_room else Action.JOIN_BRIDGE)
        if len(sdp) > MAX_SDP or not sdp.startswith("v=0"):
            raise BadRequest("that is not an SDP answer", code="bad_sdp")
        relay = self.relays.get(meeting_id)
        key = f"{actor.user_id}{CONTROL}" if control_room else str(actor.user_id)
        if relay is None or key not in relay.receiving:
            raise NotFound("ask for the relay's offer first (media.receive)", code="no_offer")
        try:
            await relay.answered(key, RTCSessionDescription(sdp, "answer"))
        except Exception as exc:
            raise BadRequest(f"the answer could not be used: {exc}", code="bad_sdp") from exc
        await self.route(meeting_id)
        return {}

    async def leave(self, user_id: int, meeting_id: int) -> None:
        relay = self.relays.get(meeting_id)
        if relay is not None:
            await relay.leave(str(user_id))
            await relay.leave(f"{user_id}{CONTROL}")
            await self.route(meeting_id)
            await self._sources_changed(meeting_id)

    async def leave_control_room(self, user_id: int, meeting_id: int) -> None:
        """The user's view of every site closes (no longer chair or secretary); their own site stays."""
        relay = self.relays.get(meeting_id)
        if relay is not None:
            await relay.leave(f"{user_id}{CONTROL}")

    async def floor_changed(self, meeting_id: int) -> None:
        """Called by the speaker queue after the floor was given or ended."""
        await self.route(meeting_id)

    async def route(self, meeting_id: int) -> dict[str, Any]:
        """Puts the current speaker in every site's floor slot and the chair in its chair slot (never a
        site's own stream back to it)."""
        relay = self.relays.get(meeting_id)
        if relay is None:
            return {}
        async with self.db.read() as s:
            speaking = (await s.exec(select(SpeakerTurn.user_id).where(
                SpeakerTurn.meeting_id == meeting_id, SpeakerTurn.status == speaker_queue.SPEAKING))).first()
            chair = (await s.exec(select(Participant.user_id).where(
                Participant.meeting_id == meeting_id, Participant.role == Role.CHAIR.value))).first()
        floor = str(speaking) if speaking else None
        chair_site = str(chair) if chair else None
        for site, tracks in list(relay.tracks.items()):
            if site.endswith(CONTROL):  # the control room: each slot shows its own site
                for slot, _ in tracks:
                    relay.route(site, slot, slot.removeprefix("site:"))
                continue
            relay.route(site, "floor", floor if floor != site else None)
            relay.route(site, "chair", chair_site if chair_site != site else None)
        return {"floor": speaking, "chair": chair}

    async def state(self, actor: Actor | None, meeting_id: int) -> dict[str, Any]:
        """Per site: the connections' state, the bitrate and packet loss of what it sends, the round-trip
        time, frames received and forwarded. What the control room shows and the metrics export."""
        if actor is not None:
            await self.may_join(actor, meeting_id, Action.WATCH_SITES)
        relay = self.relays.get(meeting_id)
        if relay is None:
            return {"sources": [], "sites": []}
        sites = []
        for site in sorted({*relay.publishing, *relay.receiving}):
            publishing, receiving = relay.publishing.get(site), relay.receiving.get(site)
            row: dict[str, Any] = {"site": site, "publishing": publishing.connectionState if publishing else None,
                                   "receiving": receiving.connectionState if receiving else None,
                                   "bitrate_kbps": None, "packets_lost": 0, "rtt_ms": None,
                                   "frames_forwarded": sum(t.forwarded for t in relay.tracks.get(site, {}).values()),
                                   "frames_dropped": sum(t.dropped for t in relay.tracks.get(site, {}).values())}
            if publishing is not None:
                received = 0
                for stat in (await publishing.getStats()).values():
                    if stat.type == "transport":  # aiortc counts bytes per transport, not per stream
                        received += getattr(stat, "bytesReceived", 0) or 0
                    elif stat.type == "inbound-rtp":
                        row["packets_lost"] += getattr(stat, "packetsLost", 0) or 0
                now, before = time.monotonic(), self._bytes.get((meeting_id, site))
                if before is not None and now > before[0]:
                    row["bitrate_kbps"] = round((received - before[1]) * 8 / (now - before[0]) / 1000, 1)
                self._bytes[(meeting_id, site)] = (now, received)
            if receiving is not None:
                rtts = [stat.roundTripTime for stat in (await receiving.getStats()).values()
                        if stat.type == "remote-inbound-rtp" and getattr(stat, "roundTripTime", None) is not None]
                row["rtt_ms"] = round(max(rtts) * 1000, 1) if rtts else None
            sites.append(row)
        return {
            "sources": [{"site": int(src.site), "kind": src.kind, "frames_in": src.frames_in,
                         "keyframes_in": src.keyframes_in, "keyframe_requests": src.keyframe_requests,
                         "subscribers": len(src.subscribers)} for src in relay.sources.values()],
            "sites": sites,
        }

    async def _sources_changed(self, meeting_id: int) -> None:
        """Control rooms ask again for an offer with one picture per site."""
        relay = self.relays.get(meeting_id)
        sites = sorted(int(site) for site, kind in relay.sources if kind == "video") if relay else []
        await self.bus.publish("media.sources", {"meeting_id": meeting_id, "sites": sites},
                               room=staff_room(meeting_id))

    async def still_running(self, meeting_id: int) -> bool:
        async with self.db.read() as s:
            meeting = await s.get(Meeting, meeting_id)
        return meeting is not None and meeting.status == Status.IN_PROGRESS.value

    async def meeting_closed(self, meeting_id: int) -> None:
        """The session ended: every peer connection of its relay closes."""
        relay = self.relays.pop(meeting_id, None)
        for key in [k for k in self._bytes if k[0] == meeting_id]:
            del self._bytes[key]
        if relay is not None:
            await relay.close()

    async def close(self) -> None:
        for relay in self.relays.values():
            await relay.close()
        self.relays.clear()

    async def may_join(self, actor: Actor, meeting_id: int, action: Action = Action.JOIN_BRIDGE) -> None:
        async with self.db.read() as s:
            await access.require_membership(s, actor, meeting_id, action, lock=False)

    def _throttle(self, actor: Actor, meeting_id: int) -> None:
        """A flood of offers from one site is refused (each costs the relay a peer connection)."""
        recent = self._offers[(meeting_id, actor.user_id)]
        now = time.monotonic()
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= OFFERS_PER_MINUTE:
            raise TooManyRequests("too many offers: wait a minute", retry_after=60, code="too_many_offers")
        recent.append(now)

    def _check_offer(self, sdp: str) -> None:
        if len(sdp) > MAX_SDP or not sdp.startswith("v=0") or not re.search(r"^m=(audio|video) ", sdp, re.M):
            raise BadRequest("that is not an SDP offer of audio or video", code="bad_sdp")
        if "m=video" in sdp and not re.search(rf"a=rtpmap:\d+ {self.settings.media_codec}/90000", sdp, re.I):
            raise BadRequest(f"this meeting's video is {self.settings.media_codec}: the offer does not have it",
                             code="unsupported_codec")
