"""Which relay carries a meeting's video bridge, when relays run as processes of their own.

A relay (`ecabinet relay --name N`) registers itself at start (its name, address and signalling path)
and says it is alive every few seconds. A meeting's bridge is assigned to one relay: by the operator
(`ecabinet relays assign MEETING RELAY`), or else at its first use, to the live relay carrying the
fewest meetings not yet closed. The assignment is stored, so a restarted relay or worker finds it again,
and the sites of a meeting always reach the same relay (whose path the workers give them). A relay
serves only the meetings assigned to it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import Action, Status
from backend.exceptions import BadRequest, Conflict, NotFound, ServiceUnavailable
from backend.models import MediaRelay, Meeting, RelayAssignment
from backend.models.base import utcnow
from backend.services import access
from backend.services.context import Actor

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
HEARTBEAT_SECONDS = 5
"""How often a relay says it is alive."""
ALIVE_SECONDS = 30
"""A relay not heard of for longer is not given new meetings (those it has stay assigned to it)."""
EMBEDDED_PATH = "/socket.io"
"""The signalling path when the web workers carry the bridge themselves (no relay of its own)."""


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise BadRequest("a relay's name is 1 to 32 lowercase letters, digits or '-' (it is part of a URL path)",
                         code="bad_relay_name")
    return name


def signalling_path(settings: Settings, name: str) -> str:
    """Where the sites reach relay `name` on the site: ECABINET_RELAY_PATH's prefix (default /relay;
    a trailing /socket.io is dropped), then the name: /relay/<name>/socket.io."""
    prefix = (settings.relay_path or "/relay").rstrip("/").removesuffix("/socket.io").rstrip("/") or "/relay"
    return f"{prefix}/{check_name(name)}/socket.io"


async def register(db: Database, name: str, address: str, path: str) -> None:
    """A relay starting: its row is made or renewed (its meetings stay assigned to it)."""
    check_name(name)
    async with db.write() as s:
        relay = await s.get(MediaRelay, name)
        now = utcnow()
        if relay is None:
            s.add(MediaRelay(name=name, address=address, path=path, started_at=now, last_seen=now))
            return
        relay.address, relay.path, relay.started_at, relay.last_seen = address, path, now, now
        s.add(relay)


async def heartbeat(db: Database, name: str) -> None:
    async with db.write() as s:
        relay = await s.get(MediaRelay, name)
        if relay is not None:
            relay.last_seen = utcnow()
            s.add(relay)


async def assign(db: Database, meeting_id: int, name: str, *, by_operator: bool = True) -> dict[str, Any]:
    """Puts the meeting's bridge on relay `name` (a relay that registered at least once). Sites already on
    another relay move at their next join; that relay drops the meeting within a second."""
    async with db.write() as s:
        if await s.get(Meeting, meeting_id) is None:
            raise NotFound(f"there is no meeting {meeting_id}", code="meeting_not_found")
        if await s.get(MediaRelay, check_name(name)) is None:
            known = ", ".join((await s.exec(select(MediaRelay.name).order_by(MediaRelay.name))).all()) or "none"
            raise NotFound(f"no relay named {name!r} has ever started (known: {known})", code="unknown_relay")
        row = await s.get(RelayAssignment, meeting_id)
        if row is None:
            row = RelayAssignment(meeting_id=meeting_id, relay_name=name, by_operator=by_operator)
        else:
            row.relay_name, row.by_operator, row.assigned_at = name, by_operator, utcnow()
        s.add(row)
    return {"meeting_id": meeting_id, "relay": name, "by_operator": by_operator}


async def unassign(db: Database, meeting_id: int) -> bool:
    """Forgets the meeting's relay (its next use chooses one again); False if it had none."""
    async with db.write() as s:
        row = await s.get(RelayAssignment, meeting_id)
        if row is None:
            return False
        await s.delete(row)
        return True


async def listing(db: Database) -> list[dict[str, Any]]:
    """Every relay that ever registered: where it is, whether it is alive, the meetings assigned to it."""
    async with db.read() as s:
        relays = (await s.exec(select(MediaRelay).order_by(MediaRelay.name))).all()
        rows = (await s.exec(select(RelayAssignment).order_by(col(RelayAssignment.meeting_id)))).all()
    now = utcnow()
    return [{"name": r.name, "address": r.address, "path": r.path, "alive": _alive(r, now),
             "last_seen": r.last_seen.isoformat(), "started_at": r.started_at.isoformat(),
             "meetings": [{"meeting_id": a.meeting_id, "by_operator": a.by_operator}
                          for a in rows if a.relay_name == r.name]} for r in relays]


def _alive(relay: MediaRelay, now: Any) -> bool:
    return bool(now - relay.last_seen <= timedelta(seconds=ALIVE_SECONDS))


async def assigned(db: Database, meeting_id: int) -> str | None:
    async with db.read() as s:
        row = await s.get(RelayAssignment, meeting_id)
    return row.relay_name if row is not None else None


async def _choose(db: Database, meeting_id: int) -> MediaRelay:
    """The meeting's relay, assigning the least busy live one when it has none yet."""
    async with db.read() as s:
        row = await s.get(RelayAssignment, meeting_id)
        if row is not None:
            relay = await s.get(MediaRelay, row.relay_name)
            assert relay is not None  # a foreign key
            return relay
        relays = (await s.exec(select(MediaRelay).order_by(MediaRelay.name))).all()
        busy = dict((await s.exec(
            select(RelayAssignment.relay_name, func.count())
            .join(Meeting, col(Meeting.id) == RelayAssignment.meeting_id)
            .where(col(Meeting.status).notin_([Status.CLOSED.value, Status.ARCHIVED.value]))
            .group_by(RelayAssignment.relay_name))).all())
    now = utcnow()
    live = [r for r in relays if _alive(r, now)]
    if not live:
        raise ServiceUnavailable("no video relay is running: ask the administrator", code="no_relay", retry_after=10)
    chosen = min(live, key=lambda r: (busy.get(r.name, 0), r.name))
    try:
        async with db.write() as s:
            s.add(RelayAssignment(meeting_id=meeting_id, relay_name=chosen.name, by_operator=False))
    except IntegrityError:  # another worker or relay chose at the same moment: its choice stands
        return await _choose(db, meeting_id)
    return chosen


async def route(db: Database, settings: Settings, actor: Actor, meeting_id: int) -> dict[str, Any]:
    """For a site about to join the meeting's bridge: where its signalling goes (the web workers' own
    path, or its relay's)."""
    async with db.read() as s:
        await access.require_membership(s, actor, meeting_id, Action.JOIN_BRIDGE, lock=False)
    if not settings.relay_path:
        return {"relay": None, "media_path": EMBEDDED_PATH}
    relay = await _choose(db, meeting_id)
    return {"relay": relay.name, "media_path": relay.path}


async def claim(db: Database, meeting_id: int, name: str) -> None:
    """The relay `name` about to serve the meeting: it must be the meeting's relay (a meeting with none
    yet becomes its own). Otherwise the site is sent where it belongs."""
    relay = await _choose_for(db, meeting_id, name)
    if relay.name != name:
        raise Conflict(f"this meeting's video bridge runs on relay {relay.name!r}: join it at {relay.path}",
                       code="wrong_relay", details={"relay": relay.name, "media_path": relay.path})


async def _choose_for(db: Database, meeting_id: int, name: str) -> MediaRelay:
    async with db.read() as s:
        row = await s.get(RelayAssignment, meeting_id)
        if row is not None:
            relay = await s.get(MediaRelay, row.relay_name)
            assert relay is not None
            return relay
    try:
        async with db.write() as s:
            s.add(RelayAssignment(meeting_id=meeting_id, relay_name=name, by_operator=False))
    except IntegrityError:
        pass
    return await _choose(db, meeting_id)
