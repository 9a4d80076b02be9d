"""Meetings, who attends them in which role, and their agenda."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ColumnElement, UniqueConstraint
from sqlmodel import Field, SQLModel, col

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
    # Quorum rule of this meeting: majority (more than half of those entitled to vote), two_thirds, none.
    quorum_rule: str = Field(default="majority", max_length=20, sa_column_kwargs={"server_default": "majority"})
    # Live state during the session (follow-the-chair): the item under discussion and the presenter's page.
    current_item_id: int | None = Field(default=None)
    presenter_document_id: int | None = Field(default=None)
    presenter_page: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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
    # A named deputy (e.g. a vice-minister) who attends, speaks and votes for this participant.
    deputy_user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set when the staff remove the person: the row stays, because attendance, ballots, positions and
    # speaker turns point at it (the minutes); adding the same person again clears it.
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def taking_part() -> ColumnElement[bool]:
    """Participants not removed: the only ones on rosters, in quorum and with any right in the meeting."""
    return col(Participant.removed_at).is_(None)


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


class Attendance(SQLModel, table=True):
    """Who was in the meeting, from when to when, in person or through a deputy (for the minutes)."""

    __tablename__ = "attendance"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    participant_id: int = Field(foreign_key="participants.id", index=True)
    user_id: int = Field(foreign_key="users.id")  # who was there: the participant or their deputy
    checked_in_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    checked_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recorded_by: int = Field(foreign_key="users.id")  # self (tablet) or the secretariat


class SpeakerTurn(SQLModel, table=True):
    """A request for the floor on one agenda item, and the turn it became (times for the minutes)."""

    __tablename__ = "speaker_turns"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    agenda_item_id: int = Field(foreign_key="agenda_items.id", index=True)
    participant_id: int = Field(foreign_key="participants.id")
    user_id: int = Field(foreign_key="users.id")  # who speaks: the participant or their deputy
    status: str = Field(default="waiting", max_length=12)  # waiting | speaking | done | withdrawn
    position: int = Field(default=0)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    limit_seconds: int | None = Field(default=None)


class SavedGroup(SQLModel, table=True):
    """A named list of people the secretariat of a body invites together (e.g. "Thành viên Chính phủ")."""

    __tablename__ = "saved_groups"
    __table_args__ = (UniqueConstraint("body_id", "name", name="uq_saved_group_body_name"),)
    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="bodies.id", index=True)
    name: str = Field(max_length=200)
    # The members' user ids, in the order saved (a short list; read and written whole).
    user_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
