"""The video bridge of a session: every site (a provincial bridge point, the central room, a remote
member) publishes its camera and microphone to the relay and receives two pictures with their sound:
the floor (whoever the chair gave the floor to, through the speaker queue) and the chair. A site
nobody gave the floor is heard by nobody: there is no way for a site to unmute itself; when the
floor moves, the relay moves every site's floor picture and sound to the new speaker.

One relay per meeting, in this process (the embedded default), or with ECABINET_MEDIA_BACKEND=janus one
Janus VideoRoom per meeting (media/janus.py): the same interface (media/backend.py), the same events
and floor rules. Sites are named by user id; what the relay holds for them belongs to the signalling
connection (socket id) that asked for it."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCIceServer, RTCSessionDescription
from sqlmodel import select

from backend.config import Settings
from backend.db import Database
from backend.domain import speaker_queue
from backend.domain.meeting_states import Action, Role, Status
from backend.exceptions import BadRequest, NotFound, ServiceUnavailable, TooManyRequests
from backend.models import Meeting, Participant, SpeakerTurn, taking_part
from backend.services import access, relays
from backend.services.context import Actor
from backend.services.events import EventBus, NullBus, staff_room
from media import hooks, ice
from media import sdp as media_sdp
from media.backend import MediaBackend
from media.ice import IceServer
from media.janus import JanusError, JanusRoom
from media.janus_conference import JanusConference
from media.relay import Relay

SLOTS = (("floor", "video"), ("floor", "audio"), ("chair", "video"), ("chair", "audio"))
CONTROL = ":control"  # the key of a control room's subscription: "<user id>:control"
_RANK = {"connected": 0, "connecting": 1, "new": 2, "failed": 3, "closed": 4}  # a site's best receiving state first
OFFERS_PER_MINUTE = 10

log = logging.getLogger("ecabinet.bridge")

BITRATE_WINDOW_S = 1.0
"""A site's bitrate is counted over at least this long: the control room and Prometheus asking a few
milliseconds apart would otherwise see the bytes of those milliseconds (often none)."""


Notify = Callable[[str, str, dict[str, Any]], Awaitable[None]]
"""Sends one connection (by its socket id) one event: (connection, event, data)."""


async def _nobody(connection: str, event: str, data: dict[str, Any]) -> None:
    return None


class Bridge:
    """The relay's resources follow connections, not accounts: `conn` (the signalling socket's id) owns
    every peer connection it asks for, and `leave(conn, ...)` or its disconnection releases them. Two
    devices of one account receive side by side; when a second device publishes, its publication
    replaces the first's once it is connected, and the first device is told (`media.replaced`)."""

    def __init__(self, db: Database, settings: Settings, bus: EventBus | None = None, *,
                 relay_name: str | None = None) -> None:
        self.db, self.settings = db, settings
        self.relay_name = relay_name
        """This process is the relay of that name (`ecabinet relay --name`): it serves only its meetings."""
        self.bus: EventBus = bus or NullBus()
        self.notify: Notify = _nobody
        """How a single connection is told something (the signalling layer sets it)."""
        self.relays: dict[int, MediaBackend] = {}
        # Per (meeting, site): when its publication's bytes were counted, how many, which publication,
        # and the bitrate of the last window.
        self._bytes: dict[tuple[int, str], tuple[float, int, int, float | None]] = {}
        self._offers: dict[tuple[int, int], deque[float]] = defaultdict(deque)
        self._tasks: set[asyncio.Task[None]] = set()
        if settings.media_host_addresses:
            hooks.restrict_host_addresses(list(settings.media_host_addresses))

    def ice_servers(self, name: str) -> list[IceServer]:
        """The STUN and TURN servers for `name` (a user id, or `relay`), TURN ones with credentials of
        `name`'s own that expire ECABINET_TURN_TTL_SECONDS from now."""
        s = self.settings
        return ice.ice_servers(s.media_ice_servers, secret=s.turn_secret, name=name, ttl=s.turn_ttl_seconds,
                               now=time.time())

    async def config(self, actor: Actor, meeting_id: int) -> dict[str, Any]:
        """What a site needs before it offers: its ICE servers (with its own TURN credentials) and the codec."""
        await self.may_join(actor, meeting_id)
        return {"ice_servers": [server.as_dict() for server in self.ice_servers(str(actor.user_id))],
                "codec": self.settings.media_codec}

    def _relay_ice_servers(self) -> list[RTCIceServer]:
        return [RTCIceServer(urls=server.urls, username=server.username, credential=server.credential)
                for server in self.ice_servers("relay")]

    def _relay(self, meeting_id: int) -> MediaBackend:
        if meeting_id not in self.relays and self.settings.media_backend == "janus":
            self.relays[meeting_id] = JanusConference(  # every instance serves the meeting, sites spread over them
                self.settings.janus_urls, meeting_id, video_codec=self.settings.media_codec,
                on_sources=lambda: self._spawn(self._sources_changed(meeting_id)),
                on_replaced=lambda conn, site: self._spawn(self._replaced(meeting_id, conn)),
                on_moved=lambda conn: self._spawn(self._moved(meeting_id, conn)))
        elif meeting_id not in self.relays:
            self.relays[meeting_id] = Relay(
                video_codec=self.settings.media_codec, ice_servers=self._relay_ice_servers,
                on_sources=lambda: self._spawn(self._sources_changed(meeting_id)),
                on_replaced=lambda conn, site: self._spawn(self._replaced(meeting_id, conn)))
        return self.relays[meeting_id]

    async def publish(self, actor: Actor, meeting_id: int, sdp: str, *, conn: str) -> dict[str, Any]:
        """A site's offer to send its camera and microphone; the relay's answer. The site's working
        publication (from this or another connection) stays on the air until this one is connected."""
        await self.may_join(actor, meeting_id)
        self._throttle(actor, meeting_id)
        self._check(sdp, "offer")
        try:
            answer = await self._relay(meeting_id).publish(conn, RTCSessionDescription(sdp, "offer"),
                                                           site=str(actor.user_id))
        except JanusError as exc:
            raise self._unreachable(exc) from exc
        except Exception as exc:  # aiortc refuses what it cannot use; nothing is left open
            log.info("bridge: an offer of user %s refused by aiortc: %r", actor.user_id, exc)
            raise BadRequest("the relay cannot use this offer (no codec or transport it supports)",
                             code="bad_sdp") from exc
        return {"sdp": answer.sdp, "type": answer.type}

    async def receive(self, actor: Actor, meeting_id: int, *, conn: str, control_room: bool = False
                      ) -> dict[str, Any]:
        """The relay's offer of the floor and the chair (video and audio) to this connection; for the
        control room (chair and secretariat), one video per site on the air. It replaces this
        connection's offer before, and is released unless answered and connected in time."""
        await self.may_join(actor, meeting_id, Action.WATCH_SITES if control_room else Action.JOIN_BRIDGE)
        self._throttle(actor, meeting_id)
        relay = self._relay(meeting_id)
        if control_room:
            key, site = f"{conn}{CONTROL}", f"{actor.user_id}{CONTROL}"
            slots = tuple((f"site:{name}", "video") for name, kind in sorted(relay.sources) if kind == "video")
        else:
            key, site, slots = conn, str(actor.user_id), SLOTS
        try:
            offer = await relay.subscribe(key, slots, owner=conn, site=site)
        except JanusError as exc:
            raise self._unreachable(exc) from exc
        await self.route(meeting_id)
        return {"sdp": offer.sdp, "type": offer.type, "slots": [f"{slot}:{kind}" for slot, kind in slots]}

    async def answer(self, actor: Actor, meeting_id: int, sdp: str, *, conn: str, control_room: bool = False
                     ) -> dict[str, Any]:
        """The connection's answer to the relay's offer. A refused answer releases the offer."""
        await self.may_join(actor, meeting_id, Action.WATCH_SITES if control_room else Action.JOIN_BRIDGE)
        relay = self.relays.get(meeting_id)
        key = f"{conn}{CONTROL}" if control_room else conn
        pending = relay.subscriptions.get(key) if relay is not None else None
        if relay is None or pending is None or pending.answered:
            raise NotFound("ask for the relay's offer first (media.receive)", code="no_offer")
        try:
            self._check(sdp, "answer")
            await relay.answered(key, RTCSessionDescription(sdp, "answer"))
        except BadRequest:
            await relay.unsubscribe(key)
            raise
        except LookupError as exc:  # another answer to the same offer came first
            raise NotFound("ask for the relay's offer first (media.receive)", code="no_offer") from exc
        except Exception as exc:
            log.info("bridge: an answer of user %s refused by aiortc: %r", actor.user_id, exc)
            raise BadRequest("the relay cannot use this answer", code="bad_sdp") from exc
        await self.route(meeting_id)
        return {}

    def _unreachable(self, exc: JanusError) -> ServiceUnavailable:
        log.warning("bridge: Janus refused or did not answer: %s", exc)
        return ServiceUnavailable("the media server does not answer: try again in a moment", code="media_unavailable")

    async def leave(self, conn: str, meeting_id: int) -> None:
        """The connection leaves the meeting's bridge (or is gone): what it published and receives ends.
        Other connections of the same account are untouched."""
        relay = self.relays.get(meeting_id)
        if relay is not None:
            await relay.leave(conn)

    async def leave_control_room(self, conn: str, meeting_id: int) -> None:
        """The connection's view of every site closes (its user is no longer chair or secretary); what it
        publishes and receives as a site stays."""
        relay = self.relays.get(meeting_id)
        if relay is not None:
            await relay.unsubscribe(f"{conn}{CONTROL}")

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
                Participant.meeting_id == meeting_id, Participant.role == Role.CHAIR.value, taking_part()))).first()
        floor = str(speaking) if speaking else None
        chair_site = str(chair) if chair else None
        for sub in list(relay.subscriptions.values()):
            if sub.key.endswith(CONTROL):  # the control room: each slot shows its own site
                for slot, _ in sub.tracks:
                    relay.route(sub.key, slot, slot.removeprefix("site:"))
                continue
            relay.route(sub.key, "floor", floor if floor != sub.site else None)
            relay.route(sub.key, "chair", chair_site if chair_site != sub.site else None)
        return {"floor": speaking, "chair": chair}

    async def state(self, actor: Actor | None, meeting_id: int) -> dict[str, Any]:
        """Per site (a control room is a site "<user>:control"): the state of its sending and receiving
        connections, how many peer connections it holds, the bitrate and packet loss of what it sends, the
        round-trip time, frames forwarded to it and dropped for it. What the control room shows and the
        metrics export."""
        if actor is not None:
            await self.may_join(actor, meeting_id, Action.WATCH_SITES)
        relay = self.relays.get(meeting_id)
        if relay is None:
            return {"sources": [], "sites": []}
        if isinstance(relay, JanusRoom | JanusConference):  # Janus keeps its own figures (Admin API): states only
            return await relay.state()
        assert isinstance(relay, Relay)
        sites = []
        named = {*(pub.site for pub in relay.publications), *(sub.site for sub in relay.subscriptions.values())}
        for site in sorted(named):
            pubs = [pub for pub in relay.publications if pub.site == site]
            subs = [sub for sub in relay.subscriptions.values() if sub.site == site]
            publishing = next((pub for pub in pubs if pub.live), pubs[-1] if pubs else None)
            receiving = min(subs, key=lambda sub: _RANK.get(sub.pc.connectionState, len(_RANK)), default=None)
            tracks = [track for sub in subs for track in sub.tracks.values()]
            row: dict[str, Any] = {"site": site, "publishing": publishing.pc.connectionState if publishing else None,
                                   "receiving": receiving.pc.connectionState if receiving else None,
                                   "connections": len(pubs) + len(subs),
                                   "bitrate_kbps": None, "packets_lost": 0, "rtt_ms": None,
                                   "frames_forwarded": sum(t.forwarded for t in tracks),
                                   "frames_dropped": sum(t.dropped for t in tracks)}
            if publishing is not None:
                received = 0
                for stat in (await publishing.pc.getStats()).values():
                    if stat.type == "transport":  # aiortc counts bytes per transport, not per stream
                        received += getattr(stat, "bytesReceived", 0) or 0
                    elif stat.type == "inbound-rtp":
                        row["packets_lost"] += getattr(stat, "packetsLost", 0) or 0
                now, before = time.monotonic(), self._bytes.get((meeting_id, site))
                if before is None or before[2] != id(publishing):
                    self._bytes[(meeting_id, site)] = (now, received, id(publishing), None)
                elif now - before[0] < BITRATE_WINDOW_S:  # asked again at once: the last window's figure
                    row["bitrate_kbps"] = before[3]
                else:
                    rate = round((received - before[1]) * 8 / (now - before[0]) / 1000, 1)
                    self._bytes[(meeting_id, site)] = (now, received, id(publishing), rate)
                    row["bitrate_kbps"] = rate
            rtts = [stat.roundTripTime for sub in subs for stat in (await sub.pc.getStats()).values()
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

    async def _replaced(self, meeting_id: int, conn: str) -> None:
        """Tells the connection whose publication another device of the same account took over."""
        await self.notify(conn, "media.replaced", {
            "meeting_id": meeting_id,
            "message": "this site's camera and microphone are now sent from another device"})

    async def _moved(self, meeting_id: int, conn: str) -> None:
        """Tells a connection whose Janus instance was lost to publish and receive again (on another)."""
        await self.notify(conn, "media.moved", {
            "meeting_id": meeting_id, "message": "the media server of this site stopped: connect again"})

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        if self.relay_name is not None:
            await relays.claim(self.db, meeting_id, self.relay_name)

    def _throttle(self, actor: Actor, meeting_id: int) -> None:
        """A flood of offers from one site is refused (each costs the relay a peer connection)."""
        recent = self._offers[(meeting_id, actor.user_id)]
        now = time.monotonic()
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= OFFERS_PER_MINUTE:
            raise TooManyRequests("too many offers: wait a minute", retry_after=60, code="too_many_offers")
        recent.append(now)

    def _check(self, sdp: str, kind: str) -> None:
        """Refuses what the relay must not apply (media/sdp.py), before any peer connection is made."""
        try:
            media_sdp.check(sdp, kind)
        except media_sdp.SdpError as exc:
            raise BadRequest(str(exc), code="bad_sdp") from exc
        if kind == "offer" and re.search(r"^m=video [1-9]", sdp, re.M) and \
                not re.search(rf"^a=rtpmap:\d+ {self.settings.media_codec}/90000", sdp, re.M | re.I):
            raise BadRequest(f"this meeting's video is {self.settings.media_codec}: the offer does not have it",
                             code="unsupported_codec")
