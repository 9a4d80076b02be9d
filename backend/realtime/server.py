"""The Socket.IO server on namespace `/`: a connection is authenticated at connect (the same cookie
session or bearer token as REST) or refused, and its session is checked again at every event (cached
for a few seconds: services.auth.SessionCache); every event is validated and answered by an ack
`{"ok": true, ...}` or `{"ok": false, "error": {"code", "message"}}`. Handlers only translate:
services decide and publish. With REDIS_URL set, python-socketio's Redis manager fans events out
across workers, and revocations reach every worker's sockets (realtime/revocations.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import socketio
from pydantic import BaseModel, ValidationError

from backend.config import Settings
from backend.db import is_unavailable, unavailable_error
from backend.domain.meeting_states import STAFF, Action
from backend.domain.text import unsafe_text_problem
from backend.exceptions import (
    AppError,
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from backend.monitoring import Metrics
from backend.realtime import payloads as p
from backend.realtime.fanout import DirectEmitManager, LinkedRedisManager
from backend.realtime.revocations import Revocations
from backend.redis_link import RedisLink
from backend.services import attendance, auth, devices, live, polls, speakers
from backend.services import document_annotations as marks
from backend.services.auth import SessionCache
from backend.services.context import Actor, Live
from backend.services.documents import document_room
from backend.services.events import Revocation, meeting_room, staff_room, user_room

log = logging.getLogger("ecabinet.realtime")
event_log = logging.getLogger("ecabinet.events")

MAX_EVENT_BYTES = 32_000

Handler = Callable[[str, Actor, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Event:
    model: type[BaseModel]
    """The payload's schema."""
    handler: Handler
    """The method that calls the service."""
    action: Action | None
    """The meeting action the service checks (None: only a logged-in connection is needed)."""
    note: str = ""
    """Extra rule for the permission table."""


IDLE_TICK_S = 0.005
"""How `SioBus.delivered` tells a busy event loop: a sleep this long that comes back half of it late."""


class SioBus:
    """The services' event bus, delivered by Socket.IO (through Redis when configured)."""

    def __init__(self, sio: socketio.AsyncServer, revocations: Revocations) -> None:
        self.sio = sio
        self.revocations = revocations

    async def publish(self, event: str, data: dict[str, Any], *, room: str) -> None:
        await self.sio.emit(event, data, room=room)

    async def close_room(self, room: str) -> None:
        await self.sio.close_room(room)

    async def revoke(self, fact: Revocation) -> None:
        await self.revocations.publish(fact)

    async def delivered(self, within: float) -> None:
        """Every socket of this process has taken its queued packets and the event loop is no longer busy
        writing them (a short sleep comes back on time), or `within` seconds have passed."""
        sockets = getattr(getattr(self.sio, "eio", None), "sockets", {})  # none in a relay's write-only bus
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            asleep = loop.time()
            await asyncio.sleep(IDLE_TICK_S)
            late = loop.time() - asleep - IDLE_TICK_S
            if late < IDLE_TICK_S / 2 and not any(each.queue.qsize() for each in list(sockets.values())):
                return


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return unquote(value)
    return None


class SessionNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    metrics: Metrics | None = None
    """Where events, connections and their latency are counted (app.py sets it)."""

    def __init__(self, live_ctx: Live, settings: Settings, sessions: SessionCache) -> None:
        super().__init__("/")
        self.live = live_ctx
        self.settings = settings
        self.sessions = sessions
        self._dropping: set[asyncio.Task[None]] = set()
        self.events: dict[str, Event] = {
            "meeting.join": Event(p.MeetingRef, self.join, Action.VIEW),
            "meeting.leave": Event(p.MeetingRef, self.leave, None),
            "meeting.sync": Event(p.MeetingRef, self.sync, Action.VIEW),
            "attendance.check_in": Event(p.MeetingRef, self.check_in, Action.CHECK_IN),
            "attendance.check_out": Event(p.MeetingRef, self.check_out, Action.CHECK_IN),
            "attendance.record": Event(p.AttendanceRecord, self.record_attendance, Action.RECORD_ATTENDANCE),
            "agenda.goto": Event(p.AgendaGoto, self.agenda_goto, Action.RUN_AGENDA),
            "presenter.page": Event(p.PresenterPage, self.presenter_page, Action.PRESENT),
            "speaker.request": Event(p.MeetingRef, self.speaker_request, Action.REQUEST_FLOOR),
            "speaker.withdraw": Event(p.MeetingRef, self.speaker_withdraw, Action.REQUEST_FLOOR),
            "speaker.give": Event(p.SpeakerGive, self.speaker_give, Action.MANAGE_SPEAKERS),
            "speaker.time": Event(p.SpeakerTime, self.speaker_time, Action.MANAGE_SPEAKERS),
            "speaker.end": Event(p.MeetingRef, self.speaker_end, Action.MANAGE_SPEAKERS),
            "speaker.reorder": Event(p.SpeakerReorder, self.speaker_reorder, Action.MANAGE_SPEAKERS),
            "poll.create": Event(p.PollCreate, self.poll_create, Action.PREPARE_POLLS),
            "poll.open": Event(p.PollRef, self.poll_open, Action.RUN_POLLS),
            "poll.close": Event(p.PollRef, self.poll_close, Action.RUN_POLLS),
            "poll.ballots": Event(p.PollRef, self.poll_ballots, Action.VIEW,
                                  "once the poll publishes them (closed; named polls showing interim results)"),
            "vote.cast": Event(p.VoteCast, self.vote_cast, Action.VOTE,
                               "and entitled to vote (may_vote), or the named deputy of such a member"),
            "document.open": Event(p.DocumentRef, self.document_open, Action.VIEW,
                                   "and a reader of the document: its live annotations start coming"),
            "document.close": Event(p.DocumentRef, self.document_close, None),
            "annotation.add": Event(p.AnnotationAdd, self.annotation_add, Action.ANNOTATE,
                                    "and a reader of the document; presenter marks: PRESENT"),
            "annotation.update": Event(p.AnnotationChange, self.annotation_update, Action.ANNOTATE,
                                       "its author"),
            "annotation.delete": Event(p.AnnotationRef, self.annotation_delete, Action.ANNOTATE, "its author"),
        }

    # --- connection -----------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth_data: Any = None) -> None:
        token = auth_data.get("token") if isinstance(auth_data, dict) else None
        generation = self.sessions.generation
        try:
            bearer = isinstance(token, str) and bool(token)
            actor = await auth.authenticate_batched(
                self.live.batches, self.live.db, self.settings,
                token if bearer else _cookie(environ, auth.session_cookie(self.settings)), via_cookie=not bearer)
        except Unauthorized as exc:
            refusal = exc
            # A browser whose device was marked lost is told so: the app then erases what it stored.
            browser = _cookie(environ, auth.device_cookie(self.settings))
            if not token and await devices.revoked_browser(self.live.db, browser):
                refusal = devices.revoked_error()
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, refusal.as_dict()) from exc
        except AppError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.as_dict()) from exc
        except Exception as exc:
            if (down := unavailable_error(exc)) is None:
                raise
            # Refused cleanly (database down, or every connection busy in a storm): the client tries again.
            raise socketio.exceptions.ConnectionRefusedError(down.message, down.as_dict()) from exc
        self.sessions.remember(actor, generation)
        # The actor carries its login session's id: every event re-checks it, revocations find it.
        await self.save_session(sid, {"actor": actor, "meetings": set(), "documents": set()})
        await self.enter_room(sid, user_room(actor.user_id))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        if reason not in (None, self.server.reason.CLIENT_DISCONNECT, self.server.reason.SERVER_DISCONNECT):
            log.warning("socket %s dropped: %s", sid, reason)
        try:
            await live.disconnected(self.live, sid)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("socket %s left while the database was unavailable", sid)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await self._connection_event(event, *args)
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        started = time.perf_counter()
        try:
            answer = {"ok": True, **await self._dispatch(event, sid, data)}
        except AppError as exc:
            answer = {"ok": False, "error": exc.as_dict()}
        except Exception as exc:  # never let one event take the connection down
            if (down := unavailable_error(exc)) is not None:  # the tablet retries, the worker goes on
                log.warning("event %s: %s (%r)", event, down.code, exc)
                answer = {"ok": False, "error": down.as_dict()}
            else:
                log.exception("event %s failed", event)
                answer = {"ok": False, "error": {"code": "internal", "message": "unexpected server error"}}
        await self._observe(event, sid, data, answer, time.perf_counter() - started)
        return answer

    async def _connection_event(self, event: str, *args: Any) -> Any:
        outcome = "accepted"
        try:
            return await super().trigger_event(event, *args)
        except socketio.exceptions.ConnectionRefusedError:
            outcome = "refused"
            raise
        finally:
            if self.metrics is not None:
                if event == "connect":
                    self.metrics.connects.labels(self.namespace, outcome).inc()
                else:
                    self.metrics.disconnects.labels(self.namespace).inc()

    async def _observe(self, event: str, sid: str, data: Any, answer: dict[str, Any], elapsed: float) -> None:
        """Counts the event and logs its one line: ids and the outcome, never the payload (a vote's
        choice, a passphrase). Unknown names count as `unknown`, so a client cannot grow the labels."""
        name = event if event in self.events else "unknown"
        outcome = "ok" if answer["ok"] else str(answer["error"].get("code", "error"))
        if self.metrics is not None:
            self.metrics.events.labels(name, outcome).inc()
            self.metrics.event_seconds.labels(name).observe(elapsed)
        if not event_log.isEnabledFor(logging.INFO):
            return
        meeting = data.get("meeting_id") if isinstance(data, dict) else None
        actor = await self._actor_of(sid)
        event_log.info("%s %s %.1f ms", name, outcome, elapsed * 1000, extra={
            "event": name, "sid": sid, "user_id": actor.user_id if actor is not None else None,
            "meeting_id": meeting if isinstance(meeting, int) and not isinstance(meeting, bool) else None,
            "latency_ms": round(elapsed * 1000, 2), "outcome": outcome})

    async def _actor_of(self, sid: str) -> Actor | None:
        try:
            actor = (await self.get_session(sid)).get("actor")
        except KeyError:  # disconnected meanwhile
            return None
        return actor if isinstance(actor, Actor) else None

    async def _dispatch(self, event: str, sid: str, data: Any) -> dict[str, Any]:
        spec = self.events.get(event)
        if spec is None:
            raise AppError(f"unknown event {event!r}", code="unknown_event")
        session = await self.get_session(sid)
        actor = session.get("actor")
        if actor is None or actor.session_id is None:
            raise Unauthorized("log in first")
        try:
            # The session may have ended since connect (logout elsewhere, deactivation, a new password).
            actor = session["actor"] = await self.sessions.actor(actor.session_id)
        except Unauthorized as exc:
            self._drop_after_ack(sid, exc)
            raise
        try:
            size = len(json.dumps(data, default=str))
        except (TypeError, ValueError) as exc:
            raise ValidationFailed("the payload is not JSON") from exc
        if size > MAX_EVENT_BYTES:
            raise PayloadTooLarge(f"the payload is larger than {MAX_EVENT_BYTES} bytes")
        if (problem := unsafe_text_problem(data)) is not None:  # the same check as REST input's
            raise BadRequest(problem, code="unsafe_text")
        try:
            payload = spec.model.model_validate(data)
        except ValidationError as exc:
            problems = [{"field": ".".join(str(x) for x in e["loc"]), "problem": e["msg"]}
                        for e in exc.errors(include_url=False, include_input=False)]
            raise ValidationFailed("the payload is not valid", details=problems) from exc
        return await spec.handler(sid, actor, payload)

    # --- revocations ------------------------------------------------------------------------------

    async def revoked(self, fact: Revocation) -> None:
        """This process's sockets of the user follow a revocation (every process gets each one): those of
        an ended session are dropped, the others leave the rooms of `fact.meeting_id` they may no longer
        be in. The actor is read again (the cache forgot the user before this is called)."""
        for sid, _ in list(self.server.manager.get_participants(self.namespace, user_room(fact.user_id))):
            try:
                session = await self.get_session(sid)
            except KeyError:  # disconnected meanwhile
                continue
            actor: Actor | None = session.get("actor")
            if actor is None or actor.session_id is None:
                continue
            if actor.session_id in fact.ended_sessions:
                await self._drop(sid, Unauthorized("your session has ended: log in again", code="session_revoked"))
                continue
            try:
                actor = session["actor"] = await self.sessions.actor(actor.session_id)
            except Unauthorized as exc:
                await self._drop(sid, exc)
                continue
            if fact.meeting_id is not None:
                await self.recheck_meeting(sid, session, actor, fact.meeting_id)

    async def recheck_meeting(self, sid: str, session: dict[str, Any], actor: Actor, meeting_id: int) -> None:
        """Leaves the meeting's rooms (everyone's, the staff's, its documents') the actor may no longer be
        in; enters the staff room when promoted. The tablet is told, to sync its view."""
        documents: set[int] = session["documents"]
        allowed = await live.rooms_allowed(self.live, actor, meeting_id, sorted(documents))
        rooms = set(self.rooms(sid))
        everyone, staff = meeting_room(meeting_id), staff_room(meeting_id)
        for room in [everyone, staff, *(document_room(d) for d in documents)]:
            if room in rooms and room not in allowed:
                await self.leave_room(sid, room)
        session["documents"] = {d for d in documents if document_room(d) in allowed}
        if everyone in rooms and staff in allowed and staff not in rooms:
            await self.enter_room(sid, staff)
        if everyone not in allowed and meeting_id in session["meetings"]:
            session["meetings"].discard(meeting_id)
            await live.leave(self.live, actor.user_id, meeting_id, sid)
        if everyone in rooms:
            await self.emit("meeting.access_changed", {"meeting_id": meeting_id, "member": everyone in allowed},
                            to=sid, ignore_queue=True)

    def _drop_after_ack(self, sid: str, error: Unauthorized) -> None:
        """Drops the socket once the refusing ack has been sent (it is queued before this task runs)."""
        task = asyncio.get_running_loop().create_task(self._drop(sid, error))
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

    async def _drop(self, sid: str, error: Unauthorized) -> None:
        """Tells the tablet why (it then shows the login) and disconnects it on the server's side."""
        await self.emit("session.ended", error.as_dict(), to=sid, ignore_queue=True)
        await self.disconnect(sid)

    # --- meeting room -----------------------------------------------------------------------------

    async def join(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        member = await live.join(self.live, actor, data.meeting_id, sid)
        if self.server.manager.eio_sid_from_sid(sid, self.namespace) is None:
            raise AppError("this connection has closed", code="disconnected")
        await self.enter_room(sid, meeting_room(data.meeting_id))
        if member.role in STAFF:
            await self.enter_room(sid, staff_room(data.meeting_id))
        session = await self.get_session(sid)
        session["meetings"].add(data.meeting_id)
        return {"state": await live.state(self.live, actor, data.meeting_id)}

    async def leave(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        await self.leave_room(sid, meeting_room(data.meeting_id))
        await self.leave_room(sid, staff_room(data.meeting_id))
        session = await self.get_session(sid)
        if data.meeting_id in session["meetings"]:
            session["meetings"].discard(data.meeting_id)
            await live.leave(self.live, actor.user_id, data.meeting_id, sid)
        return {}

    async def sync(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return {"state": await live.state(self.live, actor, data.meeting_id)}

    async def check_in(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return await attendance.check_in(self.live, actor, data.meeting_id)

    async def check_out(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return await attendance.check_out(self.live, actor, data.meeting_id)

    async def record_attendance(self, sid: str, actor: Actor, data: p.AttendanceRecord) -> dict[str, Any]:
        return await attendance.record_attendance(self.live, actor, data.meeting_id, data.participant_id,
                                                  data.present)

    async def agenda_goto(self, sid: str, actor: Actor, data: p.AgendaGoto) -> dict[str, Any]:
        return await live.goto_item(self.live, actor, data.meeting_id, data.item_id)

    async def presenter_page(self, sid: str, actor: Actor, data: p.PresenterPage) -> dict[str, Any]:
        return await live.set_page(self.live, actor, data.meeting_id, data.page, data.document_id)

    # --- speakers -----------------------------------------------------------------------------------

    async def speaker_request(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return await speakers.request(self.live, actor, data.meeting_id)

    async def speaker_withdraw(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return await speakers.withdraw(self.live, actor, data.meeting_id)

    async def speaker_give(self, sid: str, actor: Actor, data: p.SpeakerGive) -> dict[str, Any]:
        return await speakers.give_floor(self.live, actor, data.meeting_id, data.turn_id, data.seconds)

    async def speaker_time(self, sid: str, actor: Actor, data: p.SpeakerTime) -> dict[str, Any]:
        return await speakers.set_time(self.live, actor, data.meeting_id, data.seconds)

    async def speaker_end(self, sid: str, actor: Actor, data: p.MeetingRef) -> dict[str, Any]:
        return await speakers.end_floor(self.live, actor, data.meeting_id)

    async def speaker_reorder(self, sid: str, actor: Actor, data: p.SpeakerReorder) -> dict[str, Any]:
        return await speakers.reorder(self.live, actor, data.meeting_id, list(data.turn_ids))

    # --- polls -------------------------------------------------------------------------------------

    async def poll_create(self, sid: str, actor: Actor, data: p.PollCreate) -> dict[str, Any]:
        fields = data.model_dump(exclude={"meeting_id"})
        return {"poll": await polls.create(self.live, actor, data.meeting_id, fields)}

    async def poll_open(self, sid: str, actor: Actor, data: p.PollRef) -> dict[str, Any]:
        return {"poll": await polls.open_poll(self.live, actor, data.poll_id)}

    async def poll_close(self, sid: str, actor: Actor, data: p.PollRef) -> dict[str, Any]:
        return {"poll": await polls.close(self.live, actor, data.poll_id)}

    async def poll_ballots(self, sid: str, actor: Actor, data: p.PollRef) -> dict[str, Any]:
        return await polls.ballots(self.live, actor, data.poll_id)

    async def vote_cast(self, sid: str, actor: Actor, data: p.VoteCast) -> dict[str, Any]:
        return await polls.cast(self.live, actor, data.poll_id, data.choice, data.receipt)


    # --- documents and annotations ------------------------------------------------------------------

    async def document_open(self, sid: str, actor: Actor, data: p.DocumentRef) -> dict[str, Any]:
        """Joins the document's room (after the reading check) and answers with its annotations."""
        found = await marks.listing(self.live, actor, data.document_id)
        await self.enter_room(sid, document_room(data.document_id))
        (await self.get_session(sid))["documents"].add(data.document_id)
        return {"annotations": found}

    async def document_close(self, sid: str, actor: Actor, data: p.DocumentRef) -> dict[str, Any]:
        await self.leave_room(sid, document_room(data.document_id))
        (await self.get_session(sid))["documents"].discard(data.document_id)
        return {}

    async def annotation_add(self, sid: str, actor: Actor, data: p.AnnotationAdd) -> dict[str, Any]:
        return await marks.add(self.live, actor, data.document_id, data.model_dump(exclude={"document_id"}))

    async def annotation_update(self, sid: str, actor: Actor, data: p.AnnotationChange) -> dict[str, Any]:
        return await marks.change(self.live, actor, data.annotation_id,
                                        data.model_dump(exclude={"annotation_id"}, exclude_unset=True))

    async def annotation_delete(self, sid: str, actor: Actor, data: p.AnnotationRef) -> dict[str, Any]:
        return await marks.delete(self.live, actor, data.annotation_id)


def create_server(settings: Settings, link: RedisLink | None = None,
                  metrics: Metrics | None = None) -> socketio.AsyncServer:
    """With a Redis link: python-socketio's Redis manager on the process's pool and the deployment's channel."""
    manager = LinkedRedisManager(link, metrics=metrics) if link is not None else DirectEmitManager()
    # cors_allowed_origins=None: a browser may connect only from the page's own origin. The loggers are
    # given (not False), so their records reach the process's one handler, where backend/logs.py withholds
    # the packets they carry; their level is set by logs.configure (WARNING unless debugging).
    return socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=None,
                                max_http_buffer_size=1_000_000, ping_interval=20, ping_timeout=20,
                                logger=logging.getLogger("socketio.server"),
                                engineio_logger=logging.getLogger("engineio.server"))


def event_declarations() -> dict[str, Event]:
    """The events and their permissions, for the generated permission table."""
    from backend.services.events import Coalescer, NullBus
    from backend.services.presence import MemoryPresence

    placeholder = Live(db=None, bus=NullBus(), presence=MemoryPresence(), progress=Coalescer(1))  # type: ignore[arg-type]
    return SessionNamespace(placeholder, Settings(), SessionCache(None, Settings())).events  # type: ignore[arg-type]
