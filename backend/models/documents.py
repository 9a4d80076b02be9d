"""Meeting documents: each upload is a version of a document; who may read it; its pages' text for
search; members' annotations; and every per-member copy handed out (for leak tracing)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_items.id", index=True)
    position: int = Field(default=0)
    title: str = Field(max_length=500)
    # Who may read it: every participant except guests ("participants"), or the named readers ("named").
    # Chair and secretariat always may. Guests read only what names them.
    audience: str = Field(default="participants", max_length=20)
    # Mật: read on screen only, never downloaded, exported or put into a meeting book.
    secret: bool = Field(default=False)
    current_version: int = Field(default=0)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DocumentVersion(SQLModel, table=True):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_document_version_number"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    number: int
    sha256: str = Field(max_length=64)
    size: int
    filename: str = Field(default="", max_length=255)
    page_count: int
    # Each page's box and rotation, JSON [[x0, y0, x1, y1, rotation], ...]: annotations are checked against it.
    pages: str = Field(sa_column=Column(Text, nullable=False))
    uploaded_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DocumentReader(SQLModel, table=True):
    """A person named as a reader of a document whose audience is "named"."""

    __tablename__ = "document_readers"
    __table_args__ = (UniqueConstraint("document_id", "user_id", name="uq_document_reader"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)


class DocumentPage(SQLModel, table=True):
    """One page's text, for full-text search (SQLite FTS5 / PostgreSQL tsvector over `folded`)."""

    __tablename__ = "document_pages"
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    version_id: int = Field(foreign_key="document_versions.id", index=True)
    page: int
    # Only the pages of a document's current version are searched.
    current: bool = Field(default=True, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # The text without diacritics, lower case, same length as `text` (so a hit's offset is the snippet's).
    folded: str = Field(sa_column=Column(Text, nullable=False))


class Annotation(SQLModel, table=True):
    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("author_id", "client_id", name="uq_annotation_client_id"),)
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    version: int  # the document version it was drawn on
    author_id: int = Field(foreign_key="users.id", index=True)
    # The tablet's own id for it: an annotation made offline and sent twice is stored once.
    client_id: str = Field(max_length=64)
    page: int
    kind: str = Field(max_length=12)  # highlight | ink | note
    visibility: str = Field(max_length=12)  # private | shared | presenter
    # Geometry in PDF user space of the page (points), JSON: {"rects": ...} | {"paths": ...} | {"at": ...}.
    geometry: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    color: str = Field(default="#ffd400", max_length=7)
    width: float = Field(default=2.0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DocumentCopy(SQLModel, table=True):
    """A watermarked copy handed to one person: the token printed invisibly on every page names it."""

    __tablename__ = "document_copies"
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=40, unique=True, index=True)
    kind: str = Field(max_length=12)  # view | download | annotated | book
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    version: int | None = Field(default=None)
    user_id: int = Field(foreign_key="users.id", index=True)
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
