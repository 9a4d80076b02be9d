"""SQLModel tables, one module per aggregate. Importing this package registers every table on
`SQLModel.metadata` (Alembic's target)."""

from backend.models.accounts import AuthSession, Body, LoginThrottle, User
from backend.models.audit import AuditEntry
from backend.models.meetings import AgendaItem, Meeting, Participant

__all__ = ["AgendaItem", "AuditEntry", "AuthSession", "Body", "LoginThrottle", "Meeting", "Participant", "User"]
