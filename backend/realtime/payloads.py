"""What each client event carries (pydantic, strict, unknown fields refused)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from backend.domain.text import has_nul

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: object) -> object:
        if has_nul(data):
            raise ValueError("text may not contain the NUL character (U+0000)")
        return data


class MeetingRef(Payload):
    meeting_id: Id


class AttendanceRecord(MeetingRef):
    participant_id: Id
    present: bool


class AgendaGoto(MeetingRef):
    item_id: Id


class PresenterPage(MeetingRef):
    page: Annotated[int, Field(ge=1, le=100_000)]
    document_id: Id | None = None


class SpeakerGive(MeetingRef):
    turn_id: Id
    seconds: Annotated[int, Field(ge=10, le=3600)] | None = None


class SpeakerTime(MeetingRef):
    seconds: Annotated[int, Field(ge=10, le=3600)]


class SpeakerReorder(MeetingRef):
    turn_ids: Annotated[list[Id], Field(max_length=500)]


class PollCreate(MeetingRef):
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    options: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=20)] | None = None
    secret: bool = False
    majority: Literal["majority_cast", "majority_entitled", "two_thirds"] = "majority_cast"
    quorum_required: bool = True
    allow_change: bool = False
    show_interim: bool = False
    time_limit_seconds: Annotated[int, Field(ge=10, le=86_400)] | None = None
    agenda_item_id: Id | None = None


class PollRef(Payload):
    poll_id: Id


class VoteCast(PollRef):
    choice: Annotated[str, Field(min_length=1, max_length=20)]
    receipt: Annotated[str, Field(max_length=40)] | None = None


class DocumentRef(Payload):
    document_id: Id


class AnnotationAdd(DocumentRef):
    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    version: Annotated[int, Field(ge=1, le=100_000)] | None = None
    page: Annotated[int, Field(ge=1, le=100_000)]
    kind: Literal["highlight", "ink", "note"]
    visibility: Literal["private", "shared", "presenter"] = "private"
    geometry: dict[str, Any]
    text: Annotated[str, Field(max_length=5000)] = ""
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#ffd400"
    width: Annotated[float, Field(ge=0.25, le=40)] = 2.0


class AnnotationChange(Payload):
    """A partial change: the fields sent are changed; a field may be left out but not sent as null."""

    annotation_id: Id
    visibility: Literal["private", "shared", "presenter"] | None = None
    geometry: dict[str, Any] | None = None
    text: Annotated[str, Field(max_length=5000)] | None = None
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None
    width: Annotated[float, Field(ge=0.25, le=40)] | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> AnnotationChange:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out but not null")
        return self


class AnnotationRef(Payload):
    annotation_id: Id


class MediaDescription(MeetingRef):
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=30_000)]
    control_room: bool = False


class MediaReceive(MeetingRef):
    control_room: bool = False
