"""Document exchange with other agencies (issue 17): the directory of agencies we exchange with, and the
documents received from them (the inbox). A document's attachments and the signed package itself live in
the file store (services/files.py), named by their SHA-256; the row holds what the package said."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Agency(SQLModel, table=True):
    __tablename__ = "agencies"
    code: str = Field(primary_key=True, max_length=13)  # NNN.NN.NN.XNN, checked by exchange/fields.py
    name: str = Field(max_length=300)
    level: int  # 1 (e.g. a ministry or province) to 4, as the directory file says
    parent_code: str | None = Field(default=None, max_length=13)  # the agency in charge, when listed
    active: bool = True  # only active agencies may send to us


class IncomingDocument(SQLModel, table=True):
    __tablename__ = "incoming_documents"
    # One document id per sender: the same package delivered twice is a duplicate, not a second document.
    __table_args__ = (UniqueConstraint("sender_code", "document_id", name="uq_incoming_document"),)
    id: int | None = Field(default=None, primary_key=True)
    sender_code: str = Field(max_length=13, index=True)
    sender_name: str = Field(sa_column=Column(Text, nullable=False))
    document_id: str = Field(max_length=300)  # OrganId,yyyy/MM/dd,Number/Notation
    code: str = Field(sa_column=Column(Text, nullable=False))  # Number/Notation, e.g. 15/NQ-CP
    subject: str = Field(sa_column=Column(Text, nullable=False))
    promulgation_date: date
    due_date: date | None = None
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    status: str = Field(default="arrived", max_length=16)  # arrived | recalled | replaced (kept, read-only)
    package_sha256: str = Field(max_length=64)  # the signed package as received, kept as evidence
    signer: str = Field(sa_column=Column(Text, nullable=False))  # JSON: common_name, fingerprint_sha256
    # JSON [{name, content_type, description, sha256, size}], in manifest order.
    attachments: str = Field(sa_column=Column(Text, nullable=False))
    # When the sender replaced it (BussinessDocType 3): the document that supersedes it.
    replaced_by_id: int | None = Field(default=None, foreign_key="incoming_documents.id")


class IncomingChange(SQLModel, table=True):
    """What a sender's recall (1), update (2) or replacement (3) package did to a document received from it:
    the history of that document. One row per package: the same package delivered again is a duplicate."""

    __tablename__ = "incoming_document_changes"
    __table_args__ = (UniqueConstraint("incoming_id", "package_sha256", name="uq_incoming_change"),)
    id: int | None = Field(default=None, primary_key=True)
    incoming_id: int = Field(foreign_key="incoming_documents.id", index=True)
    kind: str = Field(max_length=16)  # recalled | updated | replaced
    reason: str = Field(sa_column=Column(Text, nullable=False))  # BussinessDocReason
    changes: str = Field(sa_column=Column(Text, nullable=False))  # JSON {field: [before, after]} of an update
    replaced_by_id: int | None = Field(default=None, foreign_key="incoming_documents.id")
    package_sha256: str = Field(max_length=64)  # the signed package as received, kept as evidence
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutgoingPackage(SQLModel, table=True):
    """One package for one recipient (the outbox): a document we send (`kind` "document": a published
    record; the recipients sent together share ONE signed package), or a status we report about a document
    received (`kind` "status": our 01 arrived, 02 refused ... 06 done, back to its sender). Each row is
    delivered and retried on its own.

        queued --claimed by a sender--> sending --2xx/409--> delivered
                                           └--error--> queued (backoff) ... --> failed (max attempts)"""

    __tablename__ = "outgoing_packages"
    # One document id per recipient and business: a document is sent once, and recalled once, to each (a
    # replacement is the new document's own id, with business 3); and one status of each code per document:
    # status_code is "" for a document, so documents keep their rule.
    __table_args__ = (UniqueConstraint("kind", "document_id", "recipient_code", "status_code", "business",
                                       name="uq_outgoing_package"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="document", max_length=8)  # document | status
    record_id: int | None = Field(default=None, foreign_key="resolutions.id", index=True)  # a document's record
    incoming_id: int | None = Field(default=None, foreign_key="incoming_documents.id", index=True)  # a status's
    status_code: str = Field(default="", max_length=2)  # a status's code (01 ... 06); "" for a document
    recipient_code: str = Field(max_length=13)
    document_id: str = Field(max_length=300)  # OrganId,yyyy/MM/dd,Number/Notation (a status: the one it is about)
    due_date: date | None = None  # a document's DueDate: by when the recipient should have handled it
    package_sha256: str = Field(max_length=64)
    state: str = Field(default="queued", max_length=16, index=True)  # queued | sending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # While `sending`, when the claim expires (a crashed sender's row is taken again after it).
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: int | None = Field(default=None, foreign_key="users.id")  # None: the system (01 arrived)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # BussinessDocType of the package: 0 new, 1 recall, 3 replacement (a new document superseding one sent).
    business: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class IncomingStep(SQLModel, table=True):
    """One step of a received document's handling (our side as recipient): 01 when it arrived, then the
    secretariat's 02 ... 06 (backend/domain/exchange_status.py), each reported to the sender."""

    __tablename__ = "incoming_steps"
    id: int | None = Field(default=None, primary_key=True)
    incoming_id: int = Field(foreign_key="incoming_documents.id", index=True)
    code: str = Field(max_length=2)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    department: str = Field(default="", sa_column=Column(Text, nullable=False))
    person: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="users.id")  # None: the system (01)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The status package queued to the sender; None when it could not be signed (no signing key).
    outgoing_id: int | None = Field(default=None, foreign_key="outgoing_packages.id")


class ReceivedStatus(SQLModel, table=True):
    """A status a recipient reported about a document we sent it (our side as sender: the tracking)."""

    __tablename__ = "received_statuses"
    id: int | None = Field(default=None, primary_key=True)
    outgoing_id: int = Field(foreign_key="outgoing_packages.id", index=True)  # the document row it answers
    code: str = Field(max_length=2)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    department: str = Field(default="", sa_column=Column(Text, nullable=False))
    staff: str = Field(default="", sa_column=Column(Text, nullable=False))
    status_at: datetime = Field(sa_type=UTCDateTime)  # the status's own Timestamp (their local time, as UTC)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The signed status package (kept in the file store as evidence); the same package twice is one row.
    package_sha256: str = Field(max_length=64, unique=True, index=True)
