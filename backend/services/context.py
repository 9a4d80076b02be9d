"""Who is acting, and what live services need around the database."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.db import Database
from backend.services.ballot_seal import BallotSeal
from backend.services.events import Coalescer, EventBus
from backend.services.group_commit import GroupCommit
from backend.services.presence import PresenceStore


@dataclass(frozen=True)
class Actor:
    user_id: int
    """The logged-in user."""
    username: str
    """Their username (for logs)."""
    is_admin: bool
    """Global administrator: accounts, bodies, audit."""
    is_secretariat: bool
    """Secretariat of `body_id`: may create that body's meetings."""
    body_id: int | None
    """The body the user belongs to."""
    session_id: int | None = None
    """The login session behind this request (None for internal calls such as the CLI)."""
    via_cookie: bool = False
    """True when authenticated by the browser cookie (then unsafe requests need the CSRF token)."""


class FloorListener(Protocol):
    """The video bridge, told when the speaker queue moves the floor (services/bridge.py)."""

    async def floor_changed(self, meeting_id: int) -> None: ...

    async def meeting_closed(self, meeting_id: int) -> None: ...


@dataclass(frozen=True)
class Live:
    """What a live-session use case needs: the database, the event bus, and presence."""

    db: Database
    """Source of truth."""
    bus: EventBus
    """Where changes are published after commit."""
    presence: PresenceStore
    """Who is connected."""
    progress: Coalescer
    """Throttles bursty broadcasts (vote progress, presence, attendance): a few per second per key."""
    bridge: FloorListener | None = None
    """The session's video bridge, when this process runs the relay."""
    seal: BallotSeal | None = None
    """Seals secret ballots while their poll is open (services/ballot_seal.py); None: no secret polls."""
    closed_lists: OrderedDict[int, dict[str, Any]] = field(default_factory=OrderedDict)
    """Published per-voter lists of closed polls (immutable), the last few, by poll id (services/polls.py)."""
    batches: GroupCommit = field(default_factory=GroupCommit)
    """Ballots, check-ins and joins arriving together, written (or read) together (services/group_commit.py)."""
