"""Accounts: bodies (the Government, a provincial People's Committee), users, login sessions, login throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Body(SQLModel, table=True):
    """A deliberative body whose meetings e-Cabinet runs."""

    __tablename__ = "bodies"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    short_name: str = Field(default="", max_length=50)
    kind: str = Field(default="government", max_length=30)  # government | provincial_committee
    seal_image_sha256: str | None = Field(default=None, max_length=64)  # the body's seal (PNG in the file store)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    full_name: str = Field(max_length=200)
    title: str = Field(default="", max_length=200)
    # Folded "username full name" (no case, no diacritics) for search on every database.
    search_key: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    is_admin: bool = Field(default=False)
    # The secretariat office of its body (Văn phòng): may create that body's meetings.
    is_secretariat: bool = Field(default=False)
    language: str = Field(default="vi", max_length=5)
    body_id: int | None = Field(default=None, foreign_key="bodies.id", index=True)
    # Where reminders are e-mailed (empty: in the app only).
    email: str = Field(default="", max_length=254, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    password_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    signature_image_sha256: str | None = Field(default=None, max_length=64)  # handwritten signature (PNG, file store)


class AuthSession(SQLModel, table=True):
    """One login: a browser cookie or an API bearer token. Only the token's SHA-256 is stored."""

    __tablename__ = "auth_sessions"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=10)  # cookie | bearer
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    user_agent: str = Field(default="", max_length=300)
    # The browser it was opened in (cookie logins); revoking the device ends its sessions.
    device_id: int | None = Field(default=None, foreign_key="devices.id", index=True)


class Device(SQLModel, table=True):
    """A browser an account logged in from (a tablet, a laptop), known by a random value in its
    long-lived HttpOnly device cookie (only the value's SHA-256 is stored). One browser used by two
    accounts is a device of each. A device marked lost is revoked: its sessions end, and the browser
    erases what it stored at its next contact (wiped_at: when it confirmed)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("user_id", "token_hash", name="uq_devices_user_token"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    name: str = Field(default="", max_length=120)  # model and browser, from the user agent
    user_agent: str = Field(default="", max_length=300)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_address: str = Field(default="", max_length=64)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = Field(default=None, foreign_key="users.id")
    wiped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Recent failed logins of one existing account: they slow further attempts at it down. Unknown
    usernames get no row (the table is at most one row per account)."""

    __tablename__ = "login_throttle"
    username: str = Field(sa_column=Column(String(64), primary_key=True))
    failures: int = Field(default=0)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class LoginAddressThrottle(SQLModel, table=True):
    """Recent failed logins from one client address (an IPv6 /64): too many and the address is refused
    for a while. Rows expire `login_lock_seconds` after their last failure and are pruned."""

    __tablename__ = "login_address_throttle"
    address: str = Field(sa_column=Column(String(64), primary_key=True))
    failures: int = Field(default=0)
    last_failure_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
