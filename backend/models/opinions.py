"""Opinion rounds between meetings: the round (a meeting of kind `opinion_round`), its questions, the
members' signed ballots and their answers.

A member's ballots are all kept; the one that counts has `current = True`. The other ballots have
NULL there, so the unique index (round, participant, current) allows one current ballot per member
and any number of earlier ones, and two simultaneous submissions cannot both become current."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class OpinionRound(SQLModel, table=True):
    __tablename__ = "opinion_rounds"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", unique=True)
    deadline: datetime = Field(sa_type=UTCDateTime, index=True)
    rule: str = Field(default="majority_asked", max_length=30)
    reminders: str = Field(default="[86400, 7200]", max_length=200)  # JSON: seconds before the deadline
    status: str = Field(default="draft", max_length=10, index=True)  # draft | open | closed
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: int | None = Field(default=None, foreign_key="users.id")  # None: by the deadline
    closing_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # "closes soon" went out
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OpinionQuestion(SQLModel, table=True):
    __tablename__ = "opinion_questions"
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="opinion_rounds.id", index=True)
    position: int = Field(default=0)
    text: str = Field(max_length=2000)


class OpinionBallot(SQLModel, table=True):
    __tablename__ = "opinion_ballots"
    __table_args__ = (UniqueConstraint("round_id", "participant_id", "current"),)
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="opinion_rounds.id", index=True)
    participant_id: int = Field(foreign_key="participants.id")
    user_id: int = Field(foreign_key="users.id")  # who signed: the member or their deputy
    current: bool | None = Field(default=True)  # True for the ballot that counts, NULL for earlier ones
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    credential_id: int = Field(foreign_key="signing_credentials.id")
    pdf_sha256: str = Field(max_length=64)


class OpinionAnswer(SQLModel, table=True):
    __tablename__ = "opinion_answers"
    __table_args__ = (UniqueConstraint("ballot_id", "question_id"),)
    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="opinion_ballots.id", index=True)
    question_id: int = Field(foreign_key="opinion_questions.id")
    choice: str = Field(max_length=10)  # agree | disagree | other
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class OpinionDocumentComment(SQLModel, table=True):
    """A member's comment on one of the round's documents, part of their signed ballot."""

    __tablename__ = "opinion_document_comments"
    __table_args__ = (UniqueConstraint("ballot_id", "document_id"),)
    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="opinion_ballots.id", index=True)
    document_id: int = Field(foreign_key="documents.id")
    text: str = Field(sa_column=Column(Text, nullable=False))


class OpinionReminder(SQLModel, table=True):
    """A reminder that went out (scheduled ones are recorded once, so a restart does not repeat them)."""

    __tablename__ = "opinion_reminders"
    __table_args__ = (UniqueConstraint("round_id", "slot"),)
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="opinion_rounds.id", index=True)
    slot: str = Field(max_length=40)  # "before:86400" for a scheduled one, "manual:<uuid>" on demand
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_by: int | None = Field(default=None, foreign_key="users.id")  # None: the schedule
    recipients: int = Field(default=0)  # members reminded (those who had not answered)
    emails: int = Field(default=0)  # of them, by e-mail


class AgendaPosition(SQLModel, table=True):
    """A member's position on an agenda item before the session (one per item and member; changeable)."""

    __tablename__ = "agenda_positions"
    __table_args__ = (UniqueConstraint("agenda_item_id", "participant_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    agenda_item_id: int = Field(foreign_key="agenda_items.id", index=True)
    participant_id: int = Field(foreign_key="participants.id")
    user_id: int = Field(foreign_key="users.id")  # who stated it: the member or their deputy
    position: str = Field(max_length=20)  # no_objection | objection | wish_to_speak
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
