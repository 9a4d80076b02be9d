"""Resolutions and minutes (signed records), the caller's signing credentials, and verifying any PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from starlette.responses import Response

from backend.api.routing import Call, Permission, api
from backend.api.schemas import Id, Input, Output, Patch
from backend.domain.meeting_states import Action
from backend.services import credentials, polls, verification
from backend.services.files import FileStore
from backend.services.records import Records, download_name

RECORD = "/api/records/{record_id:int}"
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class Article(Input):
    heading: Short = Field(description="e.g. Điều 1.")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class RecordFields(Input):
    issuer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        default=None, description="issuing body as printed in the header (default: the meeting's body, capitals)")
    place: Short | None = Field(default=None, description="place in the date line (default Hà Nội)")
    capacity: Short | None = Field(default=None, description="capacity above the chair's signature, e.g. TM. "
                                                             "CHÍNH PHỦ (default CHỦ TỌA)")
    preamble: Annotated[list[Line], Field(max_length=30)] | None = None
    articles: Annotated[list[Article], Field(max_length=50)] | None = None
    recipients: Annotated[list[Short], Field(max_length=30)] | None = None
    summary: Annotated[list[Line], Field(max_length=100)] | None = None


class RecordCreate(RecordFields):
    kind: Literal["resolution", "minutes"]
    poll_id: Id | None = Field(default=None, description="the closed poll a resolution records")
    number: Number = Field(description="số và ký hiệu, e.g. 15/NQ-CP")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class RecordUpdate(Patch, RecordFields):
    number: Number | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = None


class SignIn(Input):
    credential_id: Id
    secret: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        description="the PKCS#12 passphrase, or the token's PIN; never stored")


class SignatureOut(Output):
    field_name: str
    signer_id: int
    signer_name: str
    certify: bool
    level: str
    signed_at: datetime


class RecordOut(Output):
    id: int
    meeting_id: int
    kind: str
    poll_id: int | None
    number: str
    title: str
    status: Literal["draft", "reviewed", "signed", "published"]
    content: dict[str, Any]
    pdf_sha256: str
    pdf_size: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    signatures: list[SignatureOut]


class CredentialOut(Output):
    id: int
    user_id: int
    kind: Literal["file", "token"]
    label: str = Field(description="the signer's name and title, and the issuing CA, for people")
    subject: str
    issuer: str
    serial: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    active: bool
    token_label: str | None
    key_label: str | None
    usable: bool


def _records(call: Call) -> Records:
    return Records(call.db, FileStore.for_settings(call.settings), call.settings, live=call.request.app.state.live)


@api.route("GET", "/api/meetings/{meeting_id:int}/polls",
           summary="The meeting's polls with their results and my ballot (drafts only for the staff)",
           permission=Permission.meeting(Action.VIEW), tag="records", response=list[dict[str, Any]])
async def list_polls(call: Call) -> list[dict[str, Any]]:
    return await polls.listing(call.db, call.user, call.path["meeting_id"])


@api.route("GET", "/api/meetings/{meeting_id:int}/records", summary="Resolutions and minutes of a meeting",
           permission=Permission.meeting(Action.VIEW), tag="records", response=list[RecordOut])
async def list_records(call: Call) -> list[dict[str, Any]]:
    return await _records(call).list(call.user, call.path["meeting_id"])


@api.route("POST", "/api/meetings/{meeting_id:int}/records",
           summary="Draft a resolution (from a closed poll) or the minutes (of a closed session)",
           permission=Permission.meeting(Action.PREPARE_RECORDS), tag="records", body=RecordCreate,
           response=RecordOut, status=201)
async def create_record(call: Call) -> dict[str, Any]:
    return await _records(call).create(call.user, call.path["meeting_id"], call.body.model_dump())


@api.route("GET", RECORD, summary="A record with its signatures (drafts only for the meeting's staff)",
           permission=Permission.meeting(Action.VIEW), tag="records", response=RecordOut)
async def get_record(call: Call) -> dict[str, Any]:
    return await _records(call).get(call.user, call.path["record_id"])


@api.route("PATCH", RECORD, summary="Edit a draft (it is rendered again)",
           permission=Permission.meeting(Action.PREPARE_RECORDS), tag="records", body=RecordUpdate,
           response=RecordOut)
async def update_record(call: Call) -> dict[str, Any]:
    return await _records(call).update(call.user, call.path["record_id"], call.body.changes())


@api.route("DELETE", RECORD, summary="Discard a draft (the audit log keeps what it was)",
           permission=Permission.meeting(Action.PREPARE_RECORDS), tag="records", status=204)
async def discard_record(call: Call) -> None:
    await _records(call).discard(call.user, call.path["record_id"])


@api.route("GET", RECORD + "/pdf", summary="The record's current PDF (signed once signed)",
           permission=Permission.meeting(Action.VIEW), tag="records", produces="application/pdf")
async def record_pdf(call: Call) -> Response:
    record, data = await _records(call).pdf(call.user, call.path["record_id"])
    name = download_name(record.kind, record.number)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"',
                             "ETag": f'"{record.pdf_sha256}"', "Cache-Control": "private, no-cache"})


@api.route("GET", RECORD + "/verification", summary="Verify the stored PDF's signatures now",
           permission=Permission.meeting(Action.VIEW), tag="records", response=verification.Report)
async def record_verification(call: Call) -> dict[str, Any]:
    return await _records(call).verification(call.user, call.path["record_id"])


@api.route("POST", RECORD + "/review", summary="The secretary checks and initials the draft (certifying signature)",
           permission=Permission.meeting(Action.REVIEW_RECORDS), tag="records", body=SignIn, response=RecordOut)
async def review_record(call: Call) -> dict[str, Any]:
    return await _records(call).review(call.user, call.path["record_id"], call.body.credential_id, call.body.secret)


@api.route("POST", RECORD + "/sign", summary="The chair signs the reviewed record",
           permission=Permission.meeting(Action.SIGN_RECORDS), tag="records", body=SignIn, response=RecordOut)
async def sign_record(call: Call) -> dict[str, Any]:
    return await _records(call).sign(call.user, call.path["record_id"], call.body.credential_id, call.body.secret)


@api.route("POST", RECORD + "/publish", summary="Publish the signed record to the meeting's participants",
           permission=Permission.meeting(Action.PUBLISH_RECORDS), tag="records", response=RecordOut)
async def publish_record(call: Call) -> dict[str, Any]:
    return await _records(call).publish(call.user, call.path["record_id"])


@api.route("GET", "/api/me/credentials", summary="My signing certificates (file keys and tokens)",
           permission=Permission.user("one's own"), tag="records", response=list[CredentialOut])
async def my_credentials(call: Call) -> list[dict[str, Any]]:
    return await credentials.mine(call.db, call.user)


@api.route("POST", "/api/verify", summary="Verify the signatures of any PDF (send the file as the body)",
           permission=Permission.public("anyone, without logging in"), tag="records", upload="application/pdf",
           upload_limit="max_verify_bytes", response=verification.Report)
async def verify_any(call: Call) -> dict[str, Any]:
    client = call.request.client
    return await verification.verify(call.settings, call.raw, address=client.host if client else "unknown")
