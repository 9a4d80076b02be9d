"""Polls and ballots.

A named poll stores who chose what (`Ballot`). A secret poll stores two unlinkable things: that a
participant voted (`PollVoter`) and an anonymous ballot (`SecretBallot`: random id, receipt code,
choice; no voter, no time, no ordered id). SQLite keeps secret ballots in a WITHOUT ROWID table, so
even the storage order follows the random id, not the order of casting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Poll(SQLModel, table=True):
    __tablename__ = "polls"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_items.id")
    question: str = Field(max_length=1000)
    options: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of {key, label, kind}
    secret: bool = Field(default=False)
    majority: str = Field(default="majority_cast", max_length=30)
    quorum_required: bool = Field(default=True)
    allow_change: bool = Field(default=False)
    show_interim: bool = Field(default=False)  # counts (and, if named, names) visible while open
    time_limit_seconds: int | None = Field(default=None)
    status: str = Field(default="draft", max_length=10, index=True)  # draft | open | closed
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON, frozen at close
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Ballot(SQLModel, table=True):
    """A named ballot: one per participant per poll (the database refuses a second)."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("poll_id", "participant_id", name="uq_ballot_poll_participant"),)
    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="polls.id", index=True)
    participant_id: int = Field(foreign_key="participants.id")
    choice: str = Field(max_length=20)
    cast_by: int = Field(foreign_key="users.id")  # the participant or their deputy
    cast_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PollVoter(SQLModel, table=True):
    """That a participant voted in a secret poll (not what). One per participant per poll."""

    __tablename__ = "poll_voters"
    __table_args__ = (UniqueConstraint("poll_id", "participant_id", name="uq_poll_voter"),)
    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="polls.id", index=True)
    participant_id: int = Field(foreign_key="participants.id")
    cast_by: int = Field(foreign_key="users.id")


class SecretBallot(SQLModel, table=True):
    __tablename__ = "secret_ballots"
    __table_args__ = {"sqlite_with_rowid": False}
    id: str = Field(sa_column=Column(String(32), primary_key=True))  # random, not ordered
    poll_id: int = Field(foreign_key="polls.id", index=True)
    receipt: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    choice: str = Field(max_length=20)
