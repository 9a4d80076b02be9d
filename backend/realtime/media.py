"""Signalling of the video bridge on Socket.IO namespace `/media`: the same authenticated connection
as the session (cookie or token), the same acks `{"ok": ...}`. A site sends its offer to publish
(`media.publish`), asks for the relay's offer of what it receives (`media.receive`) and answers it
(`media.answer`); what it receives is decided by the speaker queue, never by the site. Like `/`, every
event re-checks the login session, and revocations reach these sockets too (a site taken off the
meeting leaves the bridge).

Everything the relay holds belongs to the socket that asked for it: `media.leave` and a disconnection
release that socket's peer connections only, never another device's or another tab's of the same
account. A socket whose publication another device of the account took over is told `media.replaced`;
one whose Janus instance was lost is told `media.moved` (it publishes and receives again, on another
instance)."""

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
        bridge.notify = self._tell
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
        for meeting_id in list(session.get("meetings", ())):
            await self.bridge.leave(sid, meeting_id)

    async def _tell(self, sid: str, event: str, data: dict[str, Any]) -> None:
        await self.emit(event, data, to=sid)

    async def recheck_meeting(self, sid: str, session: dict[str, Any], actor: Actor, meeting_id: int) -> None:
        """A site that may no longer join the meeting's bridge leaves it (its peer connections close); who is
        no longer staff loses the control room's view of every site."""
        if meeting_id not in session["meetings"]:
            return
        try:
            await self.bridge.may_join(actor, meeting_id)
        except AppError:
            session["meetings"].discard(meeting_id)
            await self.bridge.leave(sid, meeting_id)
            return
        try:
            await self.bridge.may_join(actor, meeting_id, Action.WATCH_SITES)
        except AppError:
            await self.bridge.leave_control_room(sid, meeting_id)

    async def _joined(self, sid: str, meeting_id: int) -> None:
        session = await self.get_session(sid)
        session["meetings"].add(meeting_id)

    async def config(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return await self.bridge.config(actor, data.meeting_id)

    async def publish(self, sid: str, actor: Actor, data: p.MediaDescription) -> dict[str, Any]:
        await self._joined(sid, data.meeting_id)  # first: a disconnection while aiortc works still releases
        answer = await self.bridge.publish(actor, data.meeting_id, data.sdp, conn=sid)
        return {"answer": answer}

    async def receive(self, sid: str, actor: Actor, data: p.MediaReceive) -> dict[str, Any]:
        await self._joined(sid, data.meeting_id)
        offer = await self.bridge.receive(actor, data.meeting_id, conn=sid, control_room=data.control_room)
        return {"offer": offer}

    async def answer(self, sid: str, actor: Actor, data: p.MediaDescription) -> dict[str, Any]:
        return await self.bridge.answer(actor, data.meeting_id, data.sdp, conn=sid, control_room=data.control_room)

    async def state(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return {"state": await self.bridge.state(actor, data.meeting_id)}

    async def leave(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        session = await self.get_session(sid)
        session["meetings"].discard(data.meeting_id)
        await self.bridge.leave(sid, data.meeting_id)
        return {}
