"""The video bridge's relays when they run as processes of their own (`ecabinet relay --name N`): each
registers itself at start and says it is alive every few seconds; each meeting's bridge is assigned to
one relay, and the assignment is kept here so it survives a restart of the relay or of the workers."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class MediaRelay(SQLModel, table=True):
    __tablename__ = "media_relays"
    name: str = Field(primary_key=True, max_length=32)  # lowercase letters, digits, '-': part of a URL path
    address: str = Field(max_length=200)  # where the relay listens (host:port), for the operator
    path: str = Field(max_length=200)  # its signalling path on the site, e.g. /relay/r1/socket.io
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RelayAssignment(SQLModel, table=True):
    __tablename__ = "relay_assignments"
    meeting_id: int = Field(primary_key=True, foreign_key="meetings.id", ondelete="CASCADE")
    relay_name: str = Field(foreign_key="media_relays.name", max_length=32, index=True)
    by_operator: bool = False  # False: chosen by a worker (the least busy live relay) at the bridge's first use
    assigned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
