"""Request and response bodies of the REST API (pydantic). They are the OpenAPI document's schemas,
so a field's constraints here are what the API enforces and what it advertises."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

# Ids are 32-bit on PostgreSQL: larger numbers can never name a row.
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
# Lower-cased before the pattern is checked: "Nguyen.Van.A" is the account "nguyen.van.a".
Username = Annotated[str, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
                     StringConstraints(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Password = Annotated[str, Field(min_length=1, max_length=256)]
NewPassword = Annotated[str, Field(min_length=10, max_length=256)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
# Empty, or an address: where reminders of opinion rounds are e-mailed when SMTP is configured.
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Language = Literal["vi", "en"]
RoleName = Literal["chair", "secretary", "member", "guest", "bridge"]
MeetingKind = Literal["session", "opinion_round"]
Confidentiality = Literal["normal", "confidential", "secret"]
BodyKind = Literal["government", "provincial_committee", "other"]


class Input(BaseModel):
    """Every request body refuses unknown fields and wrong types (no silent coercion of "1" to 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # In a PATCH body, `null` is refused except for the fields named here (where it means "none").
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_stray_nulls(self) -> Input:
        if isinstance(self, Patch):
            for name in self.model_fields_set:
                if getattr(self, name) is None and name not in self.nullable:
                    raise ValueError(f"{name} may be left out but not null")
        return self


class Patch(Input):
    """A partial update: only the fields sent are changed."""

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorDetail(Output):
    code: str = Field(description="stable machine-readable code, e.g. `validation_error`, `forbidden`")
    message: str = Field(description="what went wrong, for people")
    details: object | None = Field(default=None, description="per-field problems for validation errors")


class ErrorBody(Output):
    error: ErrorDetail


class Health(Output):
    status: Literal["ok"]
    database: Literal["ok"]
    redis: Literal["ok", "not_configured"] = Field(description="Redis carries fan-out when REDIS_URL is set")
    version: str


class ReadyChecks(Output):
    database: str = Field(description="ok, or why the database does not answer")
    migrations: str = Field(description="ok, or the migration the database lacks")
    redis: str = Field(description="ok, not_configured, or why Redis does not answer")
    pdf_sandbox: str = Field(description="ok: a PDF sandbox slot is free for meeting documents")


class Ready(Output):
    status: Literal["ready"]
    checks: ReadyChecks


# --- auth ---------------------------------------------------------------------------------------

class LoginIn(Input):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Password


class TokenIn(LoginIn):
    label: Annotated[str, Field(max_length=100)] = ""


class ChangePasswordIn(Input):
    current_password: Password
    new_password: NewPassword


class UserOut(Output):
    id: int
    username: str
    full_name: str
    title: str
    is_active: bool
    is_admin: bool
    is_secretariat: bool
    language: str
    body_id: int | None
    email: str


class LoginOut(Output):
    user: UserOut
    csrf_token: str = Field(description="send it back as the X-CSRF-Token header on every unsafe request")
    expires_at: datetime


class TokenOut(Output):
    token: str = Field(description="send it as `Authorization: Bearer <token>`; shown once")
    user: UserOut
    expires_at: datetime


class MeOut(Output):
    user: UserOut
    csrf_token: str | None = Field(description="present for cookie sessions")
    offline_hours: int = Field(description="how long the app keeps offline copies without reaching the server")


# --- devices --------------------------------------------------------------------------------------

class DeviceOut(Output):
    id: int
    user_id: int
    name: str = Field(description="model and browser, read from the user agent")
    first_seen_at: datetime
    last_seen_at: datetime
    last_address: str
    revoked_at: datetime | None = Field(description="when it was marked lost (its sessions ended then)")
    wiped_at: datetime | None = Field(description="when the device confirmed it erased what it stored")
    current: bool = Field(description="the browser asking")


class ThisDeviceOut(Output):
    device: DeviceOut | None = Field(description="none for an API token")
    store_key: str | None = Field(description="the key the app encrypts what it keeps on this device with")
    offline_hours: int = Field(description="how long offline copies may be kept without reaching the server")


# --- users and bodies ---------------------------------------------------------------------------

class UserCreate(Input):
    username: Username
    full_name: Name
    title: OptionalText200 = ""
    password: NewPassword
    language: Language = "vi"
    is_admin: bool = False
    is_secretariat: bool = False
    body_id: Id | None = None
    email: Email = ""


class UserUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"body_id"})
    full_name: Name | None = None
    title: OptionalText200 | None = None
    language: Language | None = None
    is_admin: bool | None = None
    is_secretariat: bool | None = None
    is_active: bool | None = None
    body_id: Id | None = None
    email: Email | None = None


class PasswordReset(Input):
    new_password: NewPassword


class BodyIn(Input):
    name: Name
    short_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] = ""
    kind: BodyKind = "government"


class BodyUpdate(Patch):
    name: Name | None = None
    short_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    kind: BodyKind | None = None


class BodyOut(Output):
    id: int
    name: str
    short_name: str
    kind: str


# --- meetings -----------------------------------------------------------------------------------

MeetingTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
LongText = Annotated[str, Field(max_length=5000)]


QuorumRuleName = Literal["majority", "two_thirds", "none"]


class MeetingCreate(Input):
    body_id: Id
    title: MeetingTitle
    kind: MeetingKind = "session"
    starts_at: AwareDatetime
    place: Place = ""
    description: LongText = ""
    confidentiality: Confidentiality = "normal"
    quorum_rule: QuorumRuleName = Field(default="majority",
                                        description="more than half / two thirds of those entitled to vote, or none")


class MeetingUpdate(Patch):
    title: MeetingTitle | None = None
    starts_at: AwareDatetime | None = None
    place: Place | None = None
    description: LongText | None = None
    confidentiality: Confidentiality | None = None
    quorum_rule: QuorumRuleName | None = None


class MeetingTransitionIn(Input):
    action: Literal["publish", "withdraw", "start", "close", "archive"]


class MeetingSummary(Output):
    id: int
    body_id: int
    title: str
    kind: str
    starts_at: datetime
    place: str
    status: str
    confidentiality: str
    my_role: str | None = Field(description="the caller's role in this meeting")


class ParticipantIn(Input):
    user_id: Id
    role: RoleName
    may_vote: bool | None = Field(default=None, description="defaults to true for chair and member, else false")
    deputy_user_id: Id | None = Field(default=None, description="a named deputy who attends and votes for a member")


class ParticipantUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"deputy_user_id"})
    role: RoleName | None = None
    may_vote: bool | None = None
    deputy_user_id: Id | None = Field(default=None, description="null removes the deputy")


class ParticipantOut(Output):
    id: int
    user_id: int
    username: str
    full_name: str
    title: str
    role: str
    may_vote: bool
    deputy_user_id: int | None
    deputy_full_name: str | None


class ParticipantGroupIn(Input):
    source: Literal["body", "group", "meeting"] = Field(
        description="body: every active account of the meeting's body; group: a saved group; "
                    "meeting: the participants of another meeting, with their roles")
    role: RoleName = Field(default="member", description="the role given to those invited from a body or group")
    group_id: Id | None = Field(default=None, description="the saved group (source group)")
    meeting_id: Id | None = Field(default=None, description="the meeting to copy from (source meeting)")


class SkippedPerson(Output):
    user_id: int
    full_name: str


class ParticipantGroupOut(Output):
    added: list[ParticipantOut]
    skipped: list[SkippedPerson] = Field(description="already taking part, a deputy, deactivated, or the administrator")


class SavedGroupIn(Input):
    name: Name
    user_ids: list[Id] = Field(min_length=1, max_length=500)
    body_id: Id | None = Field(default=None, description="defaults to the caller's body")


class SavedGroupOut(Output):
    id: int
    body_id: int
    name: str
    people: list[SkippedPerson] = Field(description="the group's people, in the order saved")


AgendaTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Minutes = Annotated[int, Field(ge=0, le=1440)]


class AgendaItemIn(Input):
    title: AgendaTitle
    presenter: OptionalText200 = ""
    planned_minutes: Minutes = 0
    description: Annotated[str, Field(max_length=10000)] = ""
    position: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="1-based place in the agenda; default: at the end")


class AgendaItemUpdate(Patch):
    title: AgendaTitle | None = None
    presenter: OptionalText200 | None = None
    planned_minutes: Minutes | None = None
    description: Annotated[str, Field(max_length=10000)] | None = None


class AgendaReorderIn(Input):
    item_ids: Annotated[list[Id], Field(min_length=0, max_length=1000)]


class AgendaItemOut(Output):
    id: int
    position: int = Field(description="1-based")
    title: str
    presenter: str
    planned_minutes: int
    description: str
    status: str


class MeetingDetail(MeetingSummary):
    description: str
    quorum_rule: str
    body_name: str
    created_at: datetime
    updated_at: datetime
    participants: list[ParticipantOut]
    agenda: list[AgendaItemOut]
    allowed_actions: list[str] = Field(description="what the caller may do now (drives the UI)")


class AuditEntryOut(Output):
    seq: int
    at: datetime
    actor_id: int | None
    action: str
    object_type: str
    object_id: int | None
    meeting_id: int | None
    details: dict[str, object]


class AuditVerifyOut(Output):
    ok: bool
    entries: int
    first_broken_seq: int | None
