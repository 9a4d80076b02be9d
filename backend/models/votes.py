"""Polls and ballots.

A named poll stores who chose what (`Ballot`). A secret poll stores, while open, that a participant
voted (`PollVoter`) and their ballot sealed with a key the database never holds (`SealedBallot`,
services/ballot_seal.py); both are written by the voter's transaction, so only the seal keeps them
apart. The close counts the sealed ballots opened in memory and commits the result first; then, in
one transaction and random order, it writes the anonymous choices (`SecretBallot`) and, separately,
the receipts (`BallotReceipt`): nothing stored pairs a receipt with a choice, so a receipt proves
that a ballot was counted, not how it voted. SQLite keeps both in WITHOUT ROWID tables, so even the
storage order follows the random id."""

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
    seal_key_id: str | None = Field(default=None, max_length=16)  # secret polls: which key seals the ballots
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


class SealedBallot(SQLModel, table=True):
    """A secret poll's ballot while the poll is open: (receipt, choice) sealed, found by a keyed tag."""

    __tablename__ = "sealed_ballots"
    id: str = Field(sa_column=Column(String(32), primary_key=True))  # HMAC of the receipt under the seal key
    poll_id: int = Field(foreign_key="polls.id", index=True)
    sealed: str = Field(sa_column=Column(Text, nullable=False))  # one length for every ballot


class SecretBallot(SQLModel, table=True):
    """A closed secret poll's anonymous choice."""

    __tablename__ = "secret_ballots"
    __table_args__ = {"sqlite_with_rowid": False}
    id: str = Field(sa_column=Column(String(32), primary_key=True))  # random, not ordered
    poll_id: int = Field(foreign_key="polls.id", index=True)
    choice: str = Field(max_length=20)


class BallotReceipt(SQLModel, table=True):
    """A closed secret poll's receipt: that this ballot was counted (not with which choice)."""

    __tablename__ = "ballot_receipts"
    __table_args__ = {"sqlite_with_rowid": False}
    id: str = Field(sa_column=Column(String(32), primary_key=True))  # random, not ordered
    poll_id: int = Field(foreign_key="polls.id", index=True)
    receipt: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
