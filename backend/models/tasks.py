"""Tasks a resolution assigns to agencies (issue 17 point 6), and what each agency reported about them.

A task is written down while its resolution is a draft (RecordTask); once the resolution is published the
secretariat sends each task as its own signed edXML package (document_id) to its lead and cooperating
agencies, and each task × agency gets a TaskDelivery whose status follows the status packages the agency
sends back (sent, then 01 arrived ... 06 done)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class RecordTask(SQLModel, table=True):
    __tablename__ = "record_tasks"
    id: int | None = Field(default=None, primary_key=True)
    # A discarded draft takes its tasks with it.
    record_id: int = Field(sa_column=Column(Integer, ForeignKey("resolutions.id", ondelete="CASCADE"),
                                            nullable=False, index=True))
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    article: int  # the article (Điều) of the resolution that assigns it, from 1
    text: str = Field(sa_column=Column(Text, nullable=False))  # "Giao Bộ ... chủ trì ..."
    lead_code: str = Field(max_length=13, index=True)  # agency of the directory (chủ trì)
    cooperating: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of codes (phối hợp)
    deadline: date
    output: str = Field(default="", sa_column=Column(Text, nullable=False))  # expected result (sản phẩm)
    # Set when sent: its own edXML DocumentId (OrganId,yyyy/MM/dd,Number/Notation-NVn).
    document_id: str | None = Field(default=None, max_length=300, unique=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when the lead agency reported 06
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TaskDelivery(SQLModel, table=True):
    """One agency of a sent task: its package in the outbox and the latest status it reported."""

    __tablename__ = "task_deliveries"
    __table_args__ = (UniqueConstraint("task_id", "agency_code", name="uq_task_delivery"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="record_tasks.id", index=True)
    agency_code: str = Field(max_length=13, index=True)
    role: str = Field(max_length=12)  # lead | cooperating
    outgoing_id: int = Field(foreign_key="outgoing_packages.id")
    status: str = Field(default="sent", max_length=8)  # sent | 01 .. 06 (backend/domain/tasks.py)
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when the agency reached it
    description: str = Field(default="", sa_column=Column(Text, nullable=False))  # the status's own words
