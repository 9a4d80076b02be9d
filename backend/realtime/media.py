"""Signalling of the video bridge on Socket.IO namespace `/media`: the same authenticated connection
as the session (cookie or token), the same acks `{"ok": ...}`. A site sends its offer to publish
(`media.publish`), asks for the relay's offer of what it receives (`media.receive`) and answers it
(`media.answer`); what it receives is decided by the speaker queue, never by the site. Like `/`, every
event re-checks the login session, and revocations reach these sockets too (a site taken off the
meeting leaves the bridge)."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from backend.config import Settings
from backend.domain.meeting_states import Action
from backend.exceptions import AppError
from backend.realtime import payloads as p
from backend.realtime.server import Event, SessionNamespace
from backend.services.auth import SessionCache
from backend.services.bridge import Bridge
from backend.services.context import Actor, Live


class MediaNamespace(SessionNamespace):
    def __init__(self, live_ctx: Live, settings: Settings, sessions: SessionCache, bridge: Bridge) -> None:
        socketio.AsyncNamespace.__init__(self, "/media")
        self.live, self.settings, self.sessions, self.bridge = live_ctx, settings, sessions, bridge
        self._dropping: set[asyncio.Task[None]] = set()
        self.events: dict[str, Event] = {
            "media.config": Event(p.MeetingRef, self.config, Action.JOIN_BRIDGE,
                                  "(the ICE servers and the meeting's video codec)"),
            "media.publish": Event(p.MediaDescription, self.publish, Action.JOIN_BRIDGE,
                                   "(an SDP offer in the meeting's video codec; at most 10 offers a minute)"),
            "media.receive": Event(p.MediaReceive, self.receive, Action.JOIN_BRIDGE,
                                   "(the floor and the chair, as the speaker queue decides; with control_room: "
                                   "every site's picture, for the chair and the secretariat: WATCH_SITES)"),
            "media.answer": Event(p.MediaDescription, self.answer, Action.JOIN_BRIDGE),
            "media.state": Event(p.MeetingRef, self.state, Action.WATCH_SITES,
                                 "(the control room: every site's connections, bitrate, loss, round trip, frames)"),
            "media.leave": Event(p.MeetingRef, self.leave, None),
        }

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = await self.get_session(sid)
        actor: Actor | None = session.get("actor")
        if actor is not None:
            for meeting_id in list(session.get("meetings", ())):
                await self.bridge.leave(actor.user_id, meeting_id)

    async def recheck_meeting(self, sid: str, session: dict[str, Any], actor: Actor, meeting_id: int) -> None:
        """A site that may no longer join the meeting's bridge leaves it (its peer connections close); who is
        no longer staff loses the control room's view of every site."""
        if meeting_id not in session["meetings"]:
            return
        try:
            await self.bridge.may_join(actor, meeting_id)
        except AppError:
            session["meetings"].discard(meeting_id)
            await self.bridge.leave(actor.user_id, meeting_id)
            return
        try:
            await self.bridge.may_join(actor, meeting_id, Action.WATCH_SITES)
        except AppError:
            await self.bridge.leave_control_room(actor.user_id, meeting_id)

    async def _joined(self, sid: str, meeting_id: int) -> None:
        session = await self.get_session(sid)
        session["meetings"].add(meeting_id)

    async def config(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        await self.bridge.may_join(actor, data.meeting_id)
        return {"ice_servers": list(self.settings.media_ice_servers), "codec": self.settings.media_codec}

    async def publish(self, sid: str, actor: Actor, data: p.MediaDescription) -> dict[str, Any]:
        answer = await self.bridge.publish(actor, data.meeting_id, data.sdp)
        await self._joined(sid, data.meeting_id)
        return {"answer": answer}

    async def receive(self, sid: str, actor: Actor, data: p.MediaReceive) -> dict[str, Any]:
        offer = await self.bridge.receive(actor, data.meeting_id, control_room=data.control_room)
        await self._joined(sid, data.meeting_id)
        return {"offer": offer}

    async def answer(self, sid: str, actor: Actor, data: p.MediaDescription) -> dict[str, Any]:
        return await self.bridge.answer(actor, data.meeting_id, data.sdp, control_room=data.control_room)

    async def state(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return {"state": await self.bridge.state(actor, data.meeting_id)}

    async def leave(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        session = await self.get_session(sid)
        session["meetings"].discard(data.meeting_id)
        await self.bridge.leave(actor.user_id, data.meeting_id)
        return {}
