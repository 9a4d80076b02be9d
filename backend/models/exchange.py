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
    """One recipient of a document we send (the outbox). The recipients sent together share ONE signed
    package (package_sha256, in the file store); each row is delivered and retried on its own.

        queued --claimed by a sender--> sending --2xx/409--> delivered
                                           └--error--> queued (backoff) ... --> failed (max attempts)"""

    __tablename__ = "outgoing_packages"
    # One document id per recipient and business: a document is sent once, and recalled once, to each; a
    # replacement is the new document's own id (with business 3).
    __table_args__ = (UniqueConstraint("document_id", "recipient_code", "business", name="uq_outgoing_package"),)
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="resolutions.id", index=True)
    recipient_code: str = Field(max_length=13)
    document_id: str = Field(max_length=300)  # OrganId,yyyy/MM/dd,Number/Notation
    package_sha256: str = Field(max_length=64)
    state: str = Field(default="queued", max_length=16, index=True)  # queued | sending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # While `sending`, when the claim expires (a crashed sender's row is taken again after it).
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # BussinessDocType of the package: 0 new, 1 recall, 3 replacement (a new document superseding one sent).
    business: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
