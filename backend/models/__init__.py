"""SQLModel tables, one module per aggregate. Importing this package registers every table on
`SQLModel.metadata` (Alembic's target)."""

from backend.models.accounts import AuthSession, Body, LoginThrottle, User
from backend.models.audit import AuditEntry
from backend.models.documents import (
    Annotation,
    Document,
    DocumentCopy,
    DocumentPage,
    DocumentReader,
    DocumentVersion,
)
from backend.models.meetings import AgendaItem, Attendance, Meeting, Participant, SavedGroup, SpeakerTurn
from backend.models.opinions import (
    AgendaPosition,
    OpinionAnswer,
    OpinionBallot,
    OpinionDocumentComment,
    OpinionQuestion,
    OpinionReminder,
    OpinionRound,
)
from backend.models.resolutions import Resolution, ResolutionSignature, SigningCredential
from backend.models.votes import Ballot, Poll, PollVoter, SecretBallot

__all__ = [
    "AgendaItem", "AgendaPosition", "Annotation", "Attendance", "AuditEntry", "AuthSession", "Ballot", "Body",
    "Document", "DocumentCopy", "DocumentPage", "DocumentReader", "DocumentVersion", "LoginThrottle", "Meeting",
    "OpinionAnswer", "OpinionBallot", "OpinionDocumentComment", "OpinionQuestion", "OpinionReminder", "OpinionRound",
    "Participant", "Poll", "PollVoter", "Resolution", "ResolutionSignature", "SavedGroup", "SecretBallot",
    "SigningCredential", "SpeakerTurn", "User",
]
