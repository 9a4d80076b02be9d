"""Meeting documents: upload (a new document or a new version), who may read them, reading and
downloading personal watermarked copies, annotations, the meeting book, search and leak tracing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.responses import Response

from backend.api.routing import MULTIPART, Call, Permission, api
from backend.api.schemas import Id, Input, Output, Patch
from backend.domain.meeting_states import Action
from backend.services import document_annotations as marks
from backend.services.copies import Copies, ViewCopy
from backend.services.documents import AUDIENCES, Documents
from backend.services.files import FileStore
from backend.services.search import search

DOCUMENT = "/api/documents/{document_id:int}"
NO_STORE = "no-store"  # browsers and the service worker (frontend/sw.js) keep no copy of such an answer
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Audience = Literal["participants", "named"]
assert set(AUDIENCES) == {"participants", "named"}


class DocumentForm(BaseModel):
    """The text parts of the upload form (multipart values are text: "3", "true")."""

    model_config = ConfigDict(extra="forbid")
    title: Title | None = Field(default=None, description="default: the PDF's own title, else the file name")
    agenda_item_id: Id | None = Field(default=None, description="the agenda item it belongs to")
    audience: Audience = Field(default="participants",
                               description="participants: every participant but guests; named: only `readers`")
    secret: bool = Field(default=False, description="Mật: read on screen only (no download, export or book)")
    readers: Annotated[list[Id], Field(max_length=2000)] = Field(
        default=[], description="user ids of the named readers, comma-separated in the form")

    @field_validator("readers", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class VersionForm(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentUpdate(Patch):
    nullable = frozenset({"agenda_item_id"})
    title: Title | None = None
    agenda_item_id: Id | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None
    audience: Audience | None = None
    secret: bool | None = None
    readers: Annotated[list[Id], Field(max_length=2000)] | None = None


class VersionOut(Output):
    number: int
    size: int
    page_count: int
    filename: str
    sha256: str
    created_at: datetime


class DocumentOut(Output):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    position: int
    title: str
    audience: Audience
    secret: bool
    readers: list[int] | None = Field(description="named readers (shown to the staff only)")
    current_version: int
    page_count: int
    pages: list[list[float]] = Field(description="each page's box and rotation: [x0, y0, x1, y1, rotation]")
    may_download: bool
    versions: list[VersionOut]
    created_at: datetime
    updated_at: datetime


class VersionQuery(Input):
    model_config = ConfigDict(extra="forbid", strict=False)
    version: Annotated[int, Field(ge=1, le=100_000)] | None = None


Point = Annotated[list[float], Field(min_length=2, max_length=2)]


class AnnotationIn(Input):
    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = Field(
        description="the tablet's own id for it (a repeat is stored once)")
    version: Annotated[int, Field(ge=1, le=100_000)] | None = Field(default=None, description="default: current")
    page: Annotated[int, Field(ge=1, le=100_000)]
    kind: Literal["highlight", "ink", "note"]
    visibility: Literal["private", "shared", "presenter"] = "private"
    geometry: dict[str, Any] = Field(description='{"rects": [[x0,y0,x1,y1],...]} | {"paths": [[[x,y],...],...]} | '
                                                 '{"at": [x,y]} in the page\'s PDF user space (points)')
    text: Annotated[str, Field(max_length=5000)] = ""
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#ffd400"
    width: Annotated[float, Field(ge=0.25, le=40)] = 2.0


class AnnotationUpdate(Patch):
    visibility: Literal["private", "shared", "presenter"] | None = None
    geometry: dict[str, Any] | None = None
    text: Annotated[str, Field(max_length=5000)] | None = None
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None
    width: Annotated[float, Field(ge=0.25, le=40)] | None = None


class AnnotationOut(Output):
    id: int
    document_id: int
    meeting_id: int
    version: int
    author_id: int
    author_name: str
    client_id: str
    page: int
    kind: str
    visibility: str
    geometry: dict[str, Any]
    text: str
    color: str
    width: float
    mine: bool
    created_at: datetime
    updated_at: datetime


class AnnotationAdded(Output):
    annotation: AnnotationOut
    duplicate: bool = Field(description="true when this client id was already stored (the first one stands)")


class SearchQuery(Input):
    model_config = ConfigDict(extra="forbid", strict=False)
    q: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    meeting_id: Id | None = None
    document_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class SearchHit(Output):
    document_id: int
    document_title: str
    meeting_id: int
    meeting_title: str
    page: int
    secret: bool = Field(description="Mật: the page matches, but its text is shown only in the viewer (where "
                                     "each reading is a recorded copy), so snippet is empty")
    snippet: str
    highlights: list[list[int]] = Field(description="[start, end) of each matched word in the snippet")


class SearchOut(Output):
    query: str
    terms: list[str]
    hits: list[SearchHit]


class CopyOut(Output):
    token: str
    kind: Literal["view", "download", "annotated", "book"]
    meeting_id: int
    document_id: int | None
    version: int | None
    user_id: int
    user_name: str
    username: str
    created_at: datetime


class TraceOut(Output):
    tokens: list[str] = Field(description="the copy tokens found in the file")
    copies: list[CopyOut] = Field(description="whose copies they are")


def _documents(call: Call) -> Documents:
    return Documents(call.db, FileStore.for_settings(call.settings), call.settings, call.request.app.state.live)


def _copies(call: Call) -> Copies:
    return Copies(call.db, FileStore.for_settings(call.settings), call.settings)


def _pdf(data: bytes, filename: str) -> Response:
    """A downloaded copy: a new one each time, kept by no cache."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": NO_STORE,
               "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type="application/pdf", headers=headers)


def _etags(header: str | None) -> frozenset[str]:
    """The tags of an If-None-Match header (weak or strong: a PDF's bytes are the same either way)."""
    return frozenset(part.strip().removeprefix("W/").strip('"') for part in (header or "").split(",") if part.strip())


def _view_answer(copy: ViewCopy, document_id: int) -> Response:
    """My on-screen copy, kept by the browser and the service worker per version, each use checked with the
    server (no-cache + ETag: a 304 costs no bytes, and the server still decides who may read, and records the
    reading). Never `max-age`: a new version, or another person on the same tablet, would get the old bytes.
    X-Document-Version says which version the bytes are, so the viewer labels the pages it shows."""
    headers = {"X-Document-Version": str(copy.version), "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f'inline; filename="document-{document_id}-v{copy.version}.pdf"'}
    if copy.secret:  # a Mật document: in no cache at all
        return Response(copy.data, media_type="application/pdf", headers={**headers, "Cache-Control": NO_STORE})
    headers.update({"Cache-Control": "private, no-cache", "ETag": f'"{copy.tag}"'})
    if copy.data is None:
        return Response(status_code=304, headers=headers)
    return Response(copy.data, media_type="application/pdf", headers=headers)


@api.route("GET", "/api/meetings/{meeting_id:int}/documents", summary="The meeting's documents I may read",
           permission=Permission.meeting(Action.VIEW), tag="documents", response=list[DocumentOut])
async def list_documents(call: Call) -> list[dict[str, Any]]:
    return await _documents(call).listing(call.user, call.path["meeting_id"])


@api.route("POST", "/api/meetings/{meeting_id:int}/documents",
           summary="Upload a PDF as a new document (multipart form: file, title, agenda_item_id, audience, "
                   "secret, readers); it is checked in a sandbox first",
           permission=Permission.meeting(Action.MANAGE_DOCUMENTS), tag="documents", body=DocumentForm,
           upload=MULTIPART, upload_limit="max_document_bytes", response=DocumentOut, status=201)
async def upload_document(call: Call) -> dict[str, Any]:
    return await _documents(call).upload(call.user, call.path["meeting_id"], call.body.model_dump(), call.raw,
                                         call.filename)


@api.route("GET", DOCUMENT, summary="One document", permission=Permission.meeting(Action.VIEW),
           tag="documents", response=DocumentOut)
async def get_document(call: Call) -> dict[str, Any]:
    found = await _documents(call).get(call.user, call.path["document_id"])
    if found["secret"]:
        call.headers["Cache-Control"] = NO_STORE  # a Mật document's metadata is kept by no cache
    return found


@api.route("PATCH", DOCUMENT, summary="Rename, move, or change who may read a document",
           permission=Permission.meeting(Action.MANAGE_DOCUMENTS), tag="documents", body=DocumentUpdate,
           response=DocumentOut)
async def update_document(call: Call) -> dict[str, Any]:
    return await _documents(call).update(call.user, call.path["document_id"], call.body.changes())


@api.route("DELETE", DOCUMENT, summary="Take a document off the meeting (its copies stay traceable)",
           permission=Permission.meeting(Action.MANAGE_DOCUMENTS), tag="documents", status=204)
async def remove_document(call: Call) -> None:
    await _documents(call).remove(call.user, call.path["document_id"])


@api.route("POST", DOCUMENT + "/versions", summary="Upload a new version (multipart form: file); earlier "
                                                   "versions stay", permission=Permission.meeting(
               Action.MANAGE_DOCUMENTS), tag="documents", body=VersionForm, upload=MULTIPART,
           upload_limit="max_document_bytes", response=DocumentOut, status=201)
async def upload_version(call: Call) -> dict[str, Any]:
    return await _documents(call).add_version(call.user, call.path["document_id"], call.raw, call.filename)


@api.route("GET", DOCUMENT + "/view", summary="My watermarked copy for reading on screen",
           permission=Permission.meeting(Action.VIEW), tag="documents", query=VersionQuery,
           produces="application/pdf")
async def view_document(call: Call) -> Response:
    copy = await _copies(call).view(call.user, call.path["document_id"], call.query.version,
                                    _etags(call.request.headers.get("if-none-match")))
    return _view_answer(copy, call.path["document_id"])


@api.route("GET", DOCUMENT + "/download", summary="Download my own watermarked copy (not for Mật documents)",
           permission=Permission.meeting(Action.VIEW), tag="documents", query=VersionQuery,
           produces="application/pdf")
async def download_document(call: Call) -> Response:
    data, filename = await _copies(call).download(call.user, call.path["document_id"], call.query.version)
    return _pdf(data, filename)


@api.route("GET", DOCUMENT + "/annotated", summary="My annotated copy: my marks and the shared ones as PDF "
                                                   "annotations (not for Mật documents)",
           permission=Permission.meeting(Action.VIEW), tag="documents", produces="application/pdf")
async def annotated_copy(call: Call) -> Response:
    data, filename = await _copies(call).annotated(call.user, call.path["document_id"])
    return _pdf(data, filename)


@api.route("GET", DOCUMENT + "/copies", summary="Who received which version of the document, when and how",
           permission=Permission.meeting(Action.MANAGE_DOCUMENTS), tag="documents", response=list[CopyOut])
async def document_copies(call: Call) -> list[dict[str, Any]]:
    return await _copies(call).recipients(call.user, call.path["document_id"])


@api.route("GET", "/api/meetings/{meeting_id:int}/book", summary="The meeting book: one PDF of the documents I "
                                                                 "may read, by agenda item, with bookmarks",
           permission=Permission.meeting(Action.VIEW), tag="documents", produces="application/pdf")
async def meeting_book(call: Call) -> Response:
    data, filename = await _copies(call).meeting_book(call.user, call.path["meeting_id"])
    return _pdf(data, filename)


@api.route("GET", DOCUMENT + "/annotations", summary="My annotations and everyone's shared ones",
           permission=Permission.meeting(Action.VIEW), tag="documents", response=list[AnnotationOut])
async def list_annotations(call: Call) -> list[dict[str, Any]]:
    found, secret = await marks.listing_of(call.request.app.state.live, call.user, call.path["document_id"])
    if secret:
        call.headers["Cache-Control"] = NO_STORE  # notes on a Mật document are as secret as its text
    return found


@api.route("POST", DOCUMENT + "/annotations", summary="Add an annotation (highlight, ink or note)",
           permission=Permission.meeting(Action.ANNOTATE), tag="documents", body=AnnotationIn,
           response=AnnotationAdded, status=201)
async def add_annotation(call: Call) -> dict[str, Any]:
    return await marks.add(call.request.app.state.live, call.user, call.path["document_id"],
                                 call.body.model_dump())


@api.route("PATCH", "/api/annotations/{annotation_id:int}", summary="Change my annotation",
           permission=Permission.user("its author, while the meeting takes annotations"), tag="documents",
           body=AnnotationUpdate, response=AnnotationOut)
async def update_annotation(call: Call) -> dict[str, Any]:
    out = await marks.change(call.request.app.state.live, call.user, call.path["annotation_id"],
                                   call.body.changes())
    return dict(out["annotation"])


@api.route("DELETE", "/api/annotations/{annotation_id:int}", summary="Delete my annotation",
           permission=Permission.user("its author, while the meeting takes annotations"), tag="documents",
           status=204)
async def delete_annotation(call: Call) -> None:
    await marks.delete(call.request.app.state.live, call.user, call.path["annotation_id"])


@api.route("GET", "/api/search", summary="Full-text search of the documents I may read (diacritics optional)",
           permission=Permission.user("hits only in documents the caller may read"), tag="documents",
           query=SearchQuery, response=SearchOut)
async def search_documents(call: Call) -> dict[str, Any]:
    q = call.query
    call.headers["Cache-Control"] = NO_STORE  # hits are personal and name Mật documents: kept nowhere
    return await search(call.db, call.user, q.q, meeting_id=q.meeting_id, document_id=q.document_id, limit=q.limit)


@api.route("POST", "/api/trace", summary="Whose copy a leaked PDF is (send the PDF as the body)",
           permission=Permission.admin(), tag="documents", upload="application/pdf",
           upload_limit="max_document_bytes", response=TraceOut)
async def trace_copy(call: Call) -> dict[str, Any]:
    return await _copies(call).trace(call.user, call.raw)
