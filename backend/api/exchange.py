"""Document exchange with other agencies (issue 17): the agency directory, the gateway's delivery of
incoming edXML packages, and the secretariat's inbox of what arrived."""

from __future__ import annotations

import hmac
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.api.routing import Call, Permission, api
from backend.api.schemas import Id, Output
from backend.config import Settings
from backend.domain.meeting_states import Action
from backend.exceptions import Forbidden, Unauthorized
from backend.monitoring import ERROR_KEY
from backend.services.exchange import agencies, inbound, outbox, steps, to_meeting

TAG = "exchange"


class AgencyOut(Output):
    code: str = Field(description="agency identifier NNN.NN.NN.XNN (QCVN 102:2016)")
    name: str
    level: int = Field(description="1 to 4, as the directory file says")
    parent_code: str | None = Field(description="the agency in charge, when listed")
    active: bool = Field(description="only active agencies may send documents to us")


@api.route("GET", "/api/exchange/agencies", summary="The directory of agencies documents are exchanged with",
           permission=Permission.user(), tag=TAG, response=list[AgencyOut])
async def list_agencies(call: Call) -> list[dict[str, Any]]:
    return await agencies.listing(call.db)


# --- receiving: the exchange gateway -------------------------------------------------------------------

EDXML = "application/xml"


def gateway(request: Request, settings: Settings) -> None:
    """The caller must be the exchange gateway: `Authorization: Bearer <ECABINET_EXCHANGE_GATEWAY_SECRET>`,
    compared in constant time; no secret configured, no endpoint."""
    secret = settings.exchange_gateway_secret
    if not secret:
        raise Forbidden("receiving documents is disabled: the operator has not set ECABINET_EXCHANGE_GATEWAY_SECRET",
                        code="exchange_disabled")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the gateway's secret as 'Authorization: Bearer <secret>'",
                           code="gateway_secret_required")
    if not hmac.compare_digest(token.strip().encode("utf-8"), secret.encode("utf-8")):
        raise Forbidden("wrong gateway secret", code="bad_gateway_secret")


class InboundOut(Output):
    id: int = Field(description="a document: its id in the inbox; a status: the stored status's id")
    document_id: str = Field(description="DocumentId: OrganId,yyyy/MM/dd,Number/Notation (a status: of the "
                                         "document we sent that it is about)")
    status: str = Field(description="a document: arrived (a recall or update: the state of the document acted on); "
                                  "a status: its code (01 ... 06)")
    kind: str = Field(default="document", description="document | status")
    duplicate: bool = Field(default=False, description="a status package already stored (answered 200)")


@api.route("POST", "/api/exchange/inbound",
           summary="Deliver one edXML package from the exchange gateway: a document for our inbox, or a status "
                   "about a document we sent (422 with the reason's code and, for a refused document whose sender "
                   "is known, a signed refused status package in `status_package`, base64; the same status "
                   "package again: 200)",
           permission=Permission.public("the exchange gateway, with its bearer secret "
                                        "(ECABINET_EXCHANGE_GATEWAY_SECRET)"),
           tag=TAG, upload=EDXML, upload_limit="exchange_max_package_bytes", response=InboundOut, status=201,
           gate=gateway)
async def receive_package(call: Call) -> Any:
    result = await inbound.receive(call.db, call.settings, call.raw)
    if isinstance(result, inbound.Refusal):
        call.request.scope[ERROR_KEY] = result.code  # the outcome in the request's log line
        body: dict[str, Any] = {"error": {"code": result.code, "message": result.message}}
        status_package = inbound.status_package_text(result)
        if status_package is not None:
            body["status_package"] = status_package
        return JSONResponse(body, status_code=422)
    if result.get("duplicate"):  # the same status package again: stored once, answered alike
        return JSONResponse(InboundOut.model_validate(result).model_dump(mode="json"), status_code=200)
    return result


# --- the inbox: the secretariat's view of what arrived -----------------------------------------------------

INBOX = Permission.user("the secretariat and administrators")


class StepOut(Output):
    code: str = Field(description="01 arrived, 02 refused, 03 accepted, 04 assigned, 05 in progress, 06 done")
    name: str = Field(description="the step as a word: arrived, refused, accepted, assigned, in_progress, done")
    description: str = Field(description="the clerk's note (a refusal's reason)")
    department: str = Field(description="an assignment's department")
    person: str = Field(description="an assignment's person")
    at: datetime
    status_sent: bool = Field(description="a signed status package was queued to the sender")
    delivery: str | None = Field(description="that package's delivery: queued | sending | delivered | failed")


class IncomingOut(Output):
    id: int
    sender_code: str = Field(description="the sending agency's identifier")
    sender_name: str
    document_id: str
    code: str = Field(description="number/notation, e.g. 15/NQ-CP")
    subject: str = Field(description="trích yếu")
    promulgation_date: date
    due_date: date | None
    received_at: datetime
    status: str = Field(description="the last step: arrived | refused | accepted | assigned | in_progress | done; "
                                    "or recalled (kept, read-only) | replaced (see replaced_by_id)")
    attachment_count: int
    history: list[StepOut] = Field(description="the steps of its handling, in order")
    overdue: bool = Field(description="its due date has passed and it is neither done nor refused")
    replaced_by_id: int | None = Field(description="the incoming document that replaced it, when replaced")


class AttachmentSignaturesOut(Output):
    signatures: int = Field(description="how many signatures the PDF carries (0: unsigned)")
    valid: bool = Field(description="it carries signatures and every one held on arrival")
    signers: list[str] = Field(description="each signature's signer, as its certificate names them")
    readable: bool = Field(description="the file could be read as a PDF (an unsigned one that cannot is let in)")


class IncomingAttachmentOut(Output):
    number: int = Field(description="its number in the package, from 1: the download's path")
    name: str
    content_type: str = Field(description="as the sender declared it (the download is always sent as bytes)")
    description: str
    size: int
    pdf: AttachmentSignaturesOut | None = Field(
        default=None, description="a PDF's own signatures, verified on arrival (None: not a PDF)")


class SignerOut(Output):
    common_name: str
    fingerprint_sha256: str


class IncomingChangeOut(Output):
    kind: str = Field(description="recalled | updated | replaced (the sender's BussinessDocType 1, 2, 3)")
    reason: str = Field(description="BussinessDocReason: the sender's reason")
    changes: dict[str, list[Any]] = Field(description="an update's {field: [before, after]}")
    replaced_by_id: int | None = Field(description="a replacement's new incoming document")
    package_sha256: str = Field(description="SHA-256 of that package as received (kept as evidence)")
    received_at: datetime


class IncomingDetailOut(IncomingOut):
    signer: SignerOut = Field(description="the certificate whose signature over the package verified")
    package_sha256: str = Field(description="SHA-256 of the signed package as received (kept as evidence)")
    changes: list[IncomingChangeOut] = Field(description="what the sender's recall, update and replacement "
                                                         "packages did to it, oldest first")
    attachments: list[IncomingAttachmentOut]


@api.route("GET", "/api/exchange/inbox", summary="Documents received from other agencies, newest first",
           permission=INBOX, tag=TAG, response=list[IncomingOut])
async def list_inbox(call: Call) -> list[dict[str, Any]]:
    return await inbound.inbox(call.db, call.settings, call.user)


@api.route("GET", "/api/exchange/inbox/{incoming_id:int}", summary="One document received, with its attachments",
           permission=INBOX, tag=TAG, response=IncomingDetailOut)
async def get_incoming(call: Call) -> dict[str, Any]:
    return await inbound.one(call.db, call.settings, call.user, call.path["incoming_id"])


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meeting_id: Id = Field(description="the meeting to put it before (the clerk must manage its documents)")
    agenda_item_id: Id | None = Field(default=None, description="the agenda item it belongs to")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = Field(
        default=None, description="default: the document's number and subject")


class AttachedOut(Output):
    id: int = Field(description="the meeting's new document")
    meeting_id: int
    agenda_item_id: int | None
    title: str


@api.route("POST", "/api/exchange/inbox/{incoming_id:int}/attachments/{number:int}/meeting",
           summary="Put one PDF attachment of a document received before a meeting: a new document of the meeting, "
                   "under an agenda item, checked like an upload",
           permission=Permission.user("the secretariat and administrators, who must also manage that meeting's "
                                      "documents"), tag=TAG, body=AttachIn, response=AttachedOut, status=201)
async def attach_to_meeting(call: Call) -> dict[str, Any]:
    return await to_meeting.attach(call.db, call.settings, call.request.app.state.live, call.user,
                                   call.path["incoming_id"], call.path["number"], call.body.meeting_id,
                                   call.body.agenda_item_id, call.body.title)


@api.route("GET", "/api/exchange/inbox/{incoming_id:int}/attachments/{number:int}",
           summary="Download one attachment of a document received (audited)", permission=INBOX, tag=TAG,
           produces="application/octet-stream")
async def download_incoming_attachment(call: Call) -> Response:
    name, data = await inbound.attachment(call.db, call.settings, call.user, call.path["incoming_id"],
                                          call.path["number"])
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
               "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type="application/octet-stream", headers=headers)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=2, description="02 refuse, 03 accept, 04 assign, 05 in progress, 06 done")
    description: str = Field(default="", max_length=2000, description="a note; a refusal's reason (required)")
    department: str = Field(default="", max_length=300, description="an assignment's department (required)")
    person: str = Field(default="", max_length=300, description="an assignment's person (required)")


class StepTakenOut(Output):
    id: int = Field(description="the incoming document")
    status: str = Field(description="its status now")
    status_sent: bool = Field(description="a signed status package was queued to the sender")
    message: str = Field(description="why none was, when none was (e.g. no signing key)")
    step: StepOut


@api.route("POST", "/api/exchange/inbox/{incoming_id:int}/status",
           summary="Take the next step on a document received (02 refuse, 03 accept, 04 assign, 05 in progress, "
                   "06 done; their order is backend/domain/exchange_status.py): recorded, audited, and reported "
                   "to the sender as a signed status package",
           permission=INBOX, tag=TAG, body=StepIn, response=StepTakenOut)
async def take_step(call: Call) -> dict[str, Any]:
    body = call.body
    return await steps.take_step(call.db, call.settings, call.user, call.path["incoming_id"], body.code,
                                 description=body.description, department=body.department, person=body.person)


# --- sending: the outbox -------------------------------------------------------------------------------

AgencyCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=13)]


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipients: list[AgencyCode] = Field(min_length=1, max_length=outbox.MAX_RECIPIENTS,
                                         description="agency codes of our directory (NNN.NN.NN.XNN)")
    due_date: date | None = Field(default=None, description="by when the recipients should have handled it "
                                                            "(the package's DueDate; today or later)")


class ReportedOut(Output):
    code: str = Field(description="the recipient's status: 01 arrived ... 06 done")
    description: str
    department: str
    staff: str
    at: datetime = Field(description="when the recipient reached it (its Timestamp)")
    received_at: datetime
    package_sha256: str = Field(description="SHA-256 of the signed status package (kept as evidence)")


class OutgoingOut(Output):
    id: int
    record_id: int
    recipient_code: str = Field(description="the receiving agency's identifier")
    document_id: str = Field(description="DocumentId: OrganId,yyyy/MM/dd,Number/Notation")
    state: str = Field(description="queued | sending | delivered | failed")
    attempts: int = Field(description="deliveries tried so far")
    next_attempt_at: datetime
    last_error: str = Field(description="why the last delivery failed (empty when none did)")
    created_at: datetime
    delivered_at: datetime | None
    business: str = Field(description="new | recall | replace (BussinessDocType 0, 1, 3)")
    due_date: date | None = Field(description="the DueDate sent with it")
    history: list[ReportedOut] = Field(description="the statuses the recipient reported, in order")
    latest: ReportedOut | None
    overdue: bool = Field(description="the due date has passed and the recipient reported neither done nor refused")


OUTGOING = "/api/records/{record_id:int}/exchange"


@api.route("POST", OUTGOING,
           summary="Send a published record to other agencies: one signed edXML package carrying the signed PDF, "
                   "queued for each recipient",
           permission=Permission.meeting(Action.SEND_RECORDS), tag=TAG,
           body=SendIn, response=list[OutgoingOut], status=201)
async def send_record(call: Call) -> list[dict[str, Any]]:
    return await outbox.send_record(call.db, call.settings, call.user, call.path["record_id"],
                                    list(call.body.recipients), call.body.due_date)


@api.route("GET", OUTGOING, summary="Where a record was sent: each delivery's state and the statuses its recipient "
                                   "reported (the tracking)",
           permission=Permission.meeting(Action.PUBLISH_RECORDS), tag=TAG, response=list[OutgoingOut])
async def list_sent(call: Call) -> list[dict[str, Any]]:
    return await outbox.listing(call.db, call.settings, call.user, call.path["record_id"])


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RecallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = Field(description="why it is recalled (BussinessDocReason), shown to the recipients")


class ReplaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by_record_id: int = Field(description="the published record that replaces this one")
    reason: Reason = Field(description="why it is replaced (BussinessDocReason)")


@api.route("POST", OUTGOING + "/recall",
           summary="Recall a record sent: a recall package (same document id) queued to each agency that has it",
           permission=Permission.meeting(Action.SEND_RECORDS), tag=TAG, body=RecallIn, response=list[OutgoingOut],
           status=201)
async def recall_record(call: Call) -> list[dict[str, Any]]:
    return await outbox.recall_record(call.db, call.settings, call.user, call.path["record_id"], call.body.reason)


@api.route("POST", OUTGOING + "/replace",
           summary="Replace a record sent by another published record: its package, naming the old document, queued to "
                   "every agency that has the old one (rows of the new record)",
           permission=Permission.meeting(Action.SEND_RECORDS), tag=TAG, body=ReplaceIn, response=list[OutgoingOut],
           status=201)
async def replace_record(call: Call) -> list[dict[str, Any]]:
    return await outbox.replace_record(call.db, call.settings, call.user, call.path["record_id"],
                                       call.body.by_record_id, call.body.reason)
