"""Signed records: resolutions (Nghị quyết) and minutes (Biên bản), their signatures, and the signing
credentials of the people who sign them.

The PDF itself lives in the content-addressed file store (services/files.py); a record points at its
current version by SHA-256, and each signature row at the version it produced, so every step of the
signing can be fetched and verified again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class SigningCredential(SQLModel, table=True):
    """A certificate a user signs with: a PKCS#12 file kept encrypted under the user's passphrase,
    or a key on a PKCS#11 token (only the certificate and where to find the key are stored)."""

    __tablename__ = "signing_credentials"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=10)  # file | token
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(max_length=500)
    issuer: str = Field(max_length=500)
    serial: str = Field(max_length=100)
    fingerprint: str = Field(max_length=64, unique=True)  # SHA-256 of the certificate, hex
    not_before: datetime = Field(sa_type=UTCDateTime)
    not_after: datetime = Field(sa_type=UTCDateTime)
    pkcs12: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    token_module: str | None = Field(default=None, max_length=500)
    token_label: str | None = Field(default=None, max_length=100)
    key_label: str | None = Field(default=None, max_length=100)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Resolution(SQLModel, table=True):
    """A resolution or the minutes of a meeting: draft -> reviewed -> signed -> published."""

    __tablename__ = "resolutions"
    __table_args__ = (UniqueConstraint("meeting_id", "kind", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meetings.id", index=True)
    kind: str = Field(max_length=12)  # resolution | minutes
    poll_id: int | None = Field(default=None, foreign_key="polls.id")
    number: str = Field(max_length=50)  # số và ký hiệu, e.g. 15/NQ-CP
    title: str = Field(max_length=500)
    content: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON: preamble, articles, ...
    status: str = Field(default="draft", max_length=12, index=True)
    pdf_sha256: str = Field(max_length=64)  # the current version in the file store
    pdf_size: int = Field(default=0)
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ResolutionSignature(SQLModel, table=True):
    """One signature applied to a record, in order."""

    __tablename__ = "resolution_signatures"
    __table_args__ = (UniqueConstraint("resolution_id", "field_name"),)
    id: int | None = Field(default=None, primary_key=True)
    resolution_id: int = Field(foreign_key="resolutions.id", index=True)
    field_name: str = Field(max_length=50)  # secretary | chair
    signer_id: int = Field(foreign_key="users.id")
    credential_id: int = Field(foreign_key="signing_credentials.id")
    certify: bool = Field(default=False)
    level: str = Field(max_length=6)  # B-B | B-T | B-LT | B-LTA
    signed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    pdf_sha256: str = Field(max_length=64)  # the version this signature produced
