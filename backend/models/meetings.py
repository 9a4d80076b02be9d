"""Meetings, who attends them in which role, and their agenda."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Meeting(SQLModel, table=True):
    __tablename__ = "meetings"
    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="bodies.id", index=True)
    title: str = Field(max_length=300)
    kind: str = Field(default="session", max_length=20)  # session | opinion_round
    starts_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=5000)
    status: str = Field(default="draft", max_length=20, index=True)
    confidentiality: str = Field(default="normal", max_length=20)  # normal | confidential | secret
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Participant(SQLModel, table=True):
    """A person's role in one meeting (roles are per meeting; admin is global)."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id", name="uq_participant_meeting_user"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    role: str = Field(max_length=20)  # chair | secretary | member | guest | bridge
    may_vote: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgendaItem(SQLModel, table=True):
    __tablename__ = "agenda_items"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    position: int = Field(default=0)
    title: str = Field(max_length=500)
    presenter: str = Field(default="", max_length=200)
    planned_minutes: int = Field(default=0)
    description: str = Field(default="", max_length=10000)
    status: str = Field(default="pending", max_length=20)  # pending | current | done | postponed
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
