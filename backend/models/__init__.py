"""SQLModel tables, one module per aggregate. Importing this package registers every table on
`SQLModel.metadata` (Alembic's target)."""

from backend.models.accounts import AuthSession, Body, Device, LoginAddressThrottle, LoginThrottle, User
from backend.models.audit import AuditEntry
from backend.models.documents import (
    Annotation,
    Document,
    DocumentCopy,
    DocumentPage,
    DocumentReader,
    DocumentVersion,
)
from backend.models.exchange import (
    Agency,
    IncomingChange,
    IncomingDocument,
    IncomingStep,
    OutgoingPackage,
    ReceivedStatus,
)
from backend.models.meetings import AgendaItem, Attendance, Meeting, Participant, SavedGroup, SpeakerTurn, taking_part
from backend.models.notifications import Notification
from backend.models.opinions import (
    AgendaPosition,
    OpinionAnswer,
    OpinionBallot,
    OpinionDocumentComment,
    OpinionQuestion,
    OpinionReminder,
    OpinionRound,
)
from backend.models.relays import MediaRelay, RelayAssignment
from backend.models.resolutions import Resolution, ResolutionSignature, SigningCredential
from backend.models.tasks import RecordTask, TaskDelivery
from backend.models.votes import Ballot, BallotReceipt, Poll, PollVoter, SealedBallot, SecretBallot

__all__ = [
    "AgendaItem", "AgendaPosition", "Agency", "Annotation", "Attendance", "AuditEntry", "AuthSession", "Ballot",
    "BallotReceipt", "Body", "Device",
    "Document", "DocumentCopy", "DocumentPage", "DocumentReader", "DocumentVersion",
    "IncomingChange", "IncomingDocument", "IncomingStep",
    "LoginAddressThrottle", "LoginThrottle", "Meeting", "MediaRelay", "Notification",
    "OpinionAnswer", "OpinionBallot", "OutgoingPackage",
    "OpinionDocumentComment", "OpinionQuestion", "OpinionReminder", "OpinionRound",
    "Participant", "Poll", "PollVoter", "ReceivedStatus", "RecordTask", "RelayAssignment", "Resolution",
    "ResolutionSignature",
    "SavedGroup",
    "SealedBallot",
    "SecretBallot", "SigningCredential", "SpeakerTurn", "TaskDelivery", "User", "taking_part",
]
