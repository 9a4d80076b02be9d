"""In-app notifications: one row per person told that something awaits them (a meeting published, a
record to review or sign, an opinion round closing). The text is not stored: `kind` and `params` are,
and each client words them in its language (the e-mail is worded in Vietnamese by the service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    # Listing one's own newest first, and counting one's unread ones, read this index only.
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=40)  # meeting_published | round_reminder | round_closing | record_review | ...
    params: str = Field(default="{}", max_length=2000)  # JSON: the titles and numbers the text names
    link: str = Field(max_length=200)  # where in the app it leads, e.g. #/records/5
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
