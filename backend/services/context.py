"""Who is acting: built once per request or socket from the login session."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int
    """The logged-in user."""
    username: str
    """Their username (for logs)."""
    is_admin: bool
    """Global administrator: accounts, bodies, audit."""
    is_secretariat: bool
    """Secretariat of `body_id`: may create that body's meetings."""
    body_id: int | None
    """The body the user belongs to."""
    session_id: int | None = None
    """The login session behind this request (None for internal calls such as the CLI)."""
    via_cookie: bool = False
    """True when authenticated by the browser cookie (then unsafe requests need the CSRF token)."""
