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
from backend.domain.meeting_states import Action, Role
from backend.exceptions import BadRequest, NotFound, TooManyRequests
from backend.models import Participant, SpeakerTurn
from backend.services import access
from backend.services.context import Actor
from media import hooks
from media.relay import Relay

SLOTS = (("floor", "video"), ("floor", "audio"), ("chair", "video"), ("chair", "audio"))
MAX_SDP = 100_000
OFFERS_PER_MINUTE = 10


class Bridge:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.relays: dict[int, Relay] = {}
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
        return {"sdp": answer.sdp, "type": answer.type}

    async def receive(self, actor: Actor, meeting_id: int) -> dict[str, Any]:
        """The relay's offer of the floor and the chair (video and audio) to this site."""
        await self.may_join(actor, meeting_id)
        self._throttle(actor, meeting_id)
        offer = await self._relay(meeting_id).subscribe(str(actor.user_id), SLOTS)
        return {"sdp": offer.sdp, "type": offer.type, "slots": [f"{slot}:{kind}" for slot, kind in SLOTS]}

    async def answer(self, actor: Actor, meeting_id: int, sdp: str) -> dict[str, Any]:
        await self.may_join(actor, meeting_id)
        if len(sdp) > MAX_SDP or not sdp.startswith("v=0"):
            raise BadRequest("that is not an SDP answer", code="bad_sdp")
        relay = self.relays.get(meeting_id)
        if relay is None or str(actor.user_id) not in relay.receiving:
            raise NotFound("ask for the relay's offer first (media.receive)", code="no_offer")
        try:
            await relay.answered(str(actor.user_id), RTCSessionDescription(sdp, "answer"))
        except Exception as exc:
            raise BadRequest(f"the answer could not be used: {exc}", code="bad_sdp") from exc
        await self.route(meeting_id)
        return {}

    async def leave(self, user_id: int, meeting_id: int) -> None:
        relay = self.relays.get(meeting_id)
        if relay is not None:
            await relay.leave(str(user_id))
            await self.route(meeting_id)

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
        for site in list(relay.tracks):
            relay.route(site, "floor", floor if floor != site else None)
            relay.route(site, "chair", chair_site if chair_site != site else None)
        return {"floor": speaking, "chair": chair}

    def state(self, meeting_id: int) -> dict[str, Any]:
        """Per source and per receiving site: what the secretariat's control room shows."""
        relay = self.relays.get(meeting_id)
        if relay is None:
            return {"sources": [], "sites": []}
        return {
            "sources": [{"site": int(src.site), "kind": src.kind, "frames_in": src.frames_in,
                         "keyframes_in": src.keyframes_in, "keyframe_requests": src.keyframe_requests,
                         "subscribers": len(src.subscribers)} for src in relay.sources.values()],
            "sites": [{"site": int(site), "slots": {f"{slot}:{kind}": {
                "from": int(t.source.site) if t.source else None, "forwarded": t.forwarded, "dropped": t.dropped}
                for (slot, kind), t in tracks.items()}} for site, tracks in relay.tracks.items()],
        }

    async def meeting_closed(self, meeting_id: int) -> None:
        """The session ended: every peer connection of its relay closes."""
        relay = self.relays.pop(meeting_id, None)
        if relay is not None:
            await relay.close()

    async def close(self) -> None:
        for relay in self.relays.values():
            await relay.close()
        self.relays.clear()

    async def may_join(self, actor: Actor, meeting_id: int) -> None:
        async with self.db.read() as s:
            await access.require_membership(s, actor, meeting_id, Action.JOIN_BRIDGE, lock=False)

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
