"""How a REST operation is declared and run. Every route is declared once, with the permission it
needs; that one declaration drives authentication, CSRF, admin checks, body and query validation,
the answer's shape, the OpenAPI document and the generated permission table (docs/PERMISSIONS.md).

Meeting-scoped permissions (`Permission.meeting(Action.X)`) are enforced by the service the route
calls, inside its transaction (backend/services/access.py), with the same `Action`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.config import Settings
from backend.db import Database
from backend.domain.meeting_states import Action, Status, who_may
from backend.domain.text import has_nul, unsafe_text_problem
from backend.exceptions import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from backend.monitoring import USER_KEY
from backend.services import auth, devices
from backend.services.context import Actor
from backend.services.events import EventBus

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ID = 2_147_483_647
MULTIPART = "multipart/form-data"
FORM_OVERHEAD = 64_000  # room for the form's boundaries and text fields around the file
_STATE_ORDER = list(Status)


class Access(StrEnum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class Permission:
    access: Access
    """Who may call at all: anyone, any logged-in user, or administrators."""
    meeting_actions: tuple[Action, ...] = ()
    """For routes under /api/meetings/{meeting_id}: the meeting action the caller's role must allow
    (several for the transitions route, where the body names which one)."""
    note: str = ""
    """Extra rule for the permission table (e.g. 'the secretariat of the body')."""

    @classmethod
    def public(cls, note: str = "") -> Permission:
        return cls(Access.PUBLIC, note=note)

    @classmethod
    def user(cls, note: str = "") -> Permission:
        return cls(Access.USER, note=note)

    @classmethod
    def admin(cls, note: str = "") -> Permission:
        return cls(Access.ADMIN, note=note)

    @classmethod
    def meeting(cls, *actions: Action) -> Permission:
        return cls(Access.USER, meeting_actions=actions)

    def describe(self) -> str:
        if self.meeting_actions:
            return "; ".join(describe_action(a, named=len(self.meeting_actions) > 1) for a in self.meeting_actions)
        base = {Access.PUBLIC: "anyone", Access.USER: "any logged-in user", Access.ADMIN: "administrator"}[self.access]
        return f"{base}: {self.note}" if self.note else base


def describe_action(action: Action, *, named: bool) -> str:
    roles, states = who_may(action)
    role_names = ", ".join(sorted(r.value for r in roles))
    state_names = ", ".join(s.value for s in sorted(states, key=_STATE_ORDER.index))
    text = f"{action.value}: " if named else ""
    text += f"meeting role {role_names} while the meeting is {state_names}"
    if action is Action.VIEW:
        text += " (a draft only for chair and secretary)"
    return text


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    db: Database
    settings: Settings
    actor: Actor | None
    path: dict[str, Any]
    body: Any = None
    query: Any = None
    raw: bytes = b""
    """The uploaded file of an operation declared with `upload` (e.g. a PDF)."""
    filename: str = ""
    """The uploaded file's name, when it came as the `file` part of a multipart form."""
    cookies_to_set: list[dict[str, Any]] = field(default_factory=list)
    cookies_to_delete: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    """Extra headers of the answer (e.g. Cache-Control: no-store for what concerns a Mật document)."""

    @property
    def user(self) -> Actor:
        if self.actor is None:  # only PUBLIC routes have no actor, and they do not ask for one
            raise Unauthorized("log in first")
        return self.actor

    @property
    def bus(self) -> EventBus:
        """Where services tell live connections what changed (Socket.IO, through Redis when configured)."""
        bus: EventBus = self.request.app.state.live.bus
        return bus

    @property
    def redis(self) -> Redis | None:
        """The process's shared Redis client (its bounded pool), None without REDIS_URL."""
        link = getattr(self.request.app.state, "redis", None)
        return link.commands if link is not None else None


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    permission: Permission
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    tag: str
    upload: str | None = None
    """Media type of a raw file body (e.g. application/pdf) instead of JSON; MULTIPART: a form whose
    `file` part is the file and whose other parts are the fields of `body`."""
    upload_limit: str = ""
    """Name of the Settings field that caps the upload's size in bytes."""
    produces: str | None = None
    """Media type of a file answer (the handler returns a starlette Response)."""
    gate: Callable[[Request, Settings], None] | None = None
    """A check of a caller that is no user (e.g. the exchange gateway's bearer secret), run before the
    body is read; it raises Unauthorized or Forbidden."""

    @property
    def name(self) -> str:
        return self.handler.__name__


class Api:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def route(self, method: str, path: str, *, summary: str, permission: Permission, tag: str,
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              response: Any = None, status: int = 200, upload: str | None = None, upload_limit: str = "",
              produces: str | None = None,
              gate: Callable[[Request, Settings], None] | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, handler, summary, permission, body, query, response,
                                             status, tag, upload, upload_limit, produces, gate))
            return handler
        return register

    def starlette_routes(self) -> list[Route]:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in self.operations:
            by_path.setdefault(op.path, {})[op.method] = op
        return [Route(path, _endpoint(ops), methods=list(ops)) for path, ops in by_path.items()]


def _endpoint(ops: dict[str, Operation]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await run(ops[method], request)
    return endpoint


async def run(op: Operation, request: Request) -> Response:
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    actor = await authenticate_request(request, db, settings, op.permission)
    if op.gate is not None:
        op.gate(request, settings)
    path = dict(request.path_params)
    for key, value in path.items():
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise NotFound(f"no {key.removesuffix('_id')} {value}")
    call = Call(request=request, db=db, settings=settings, actor=actor, path=path)
    if op.query is not None:
        call.query = _validate_query(op.query, request)
    elif request.query_params:
        raise ValidationFailed(f"this operation takes no query parameters: {sorted(request.query_params)}")
    limit = int(getattr(settings, op.upload_limit)) if op.upload_limit else 0
    if op.upload == MULTIPART:
        assert op.body is not None
        call.body, call.raw, call.filename = await _read_form(op.body, limit, request)
    elif op.body is not None:
        call.body = await _read_body(op.body, request, settings)
    if op.upload is not None and op.upload != MULTIPART:
        call.raw = await _read_upload(op.upload, limit, request)
    result = await op.handler(call)
    if isinstance(result, Response):
        return result
    if op.response is None:
        response: Response = Response(status_code=op.status)
    else:
        payload = TypeAdapter(op.response).dump_python(
            TypeAdapter(op.response).validate_python(result, from_attributes=True), mode="json")
        response = JSONResponse(payload, status_code=op.status)
    response.headers.update(call.headers)
    for cookie in call.cookies_to_set:
        response.set_cookie(**cookie)
    for name in call.cookies_to_delete:
        # A __Host- cookie is only replaced (here: expired) by a Set-Cookie that is Secure too.
        response.delete_cookie(name, path="/", secure=call.settings.secure_cookies)
    return response


async def authenticate_request(request: Request, db: Database, settings: Settings,
                               permission: Permission) -> Actor | None:
    if permission.access is Access.PUBLIC:
        return None
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'", code="bad_authorization_header")
        actor = await auth.authenticate(db, settings, token.strip(), via_cookie=False)
    else:
        cookie = request.cookies.get(auth.session_cookie(settings))
        try:
            actor = await auth.authenticate(db, settings, cookie, via_cookie=True)
        except Unauthorized:
            # A browser whose device was marked lost is told so: the app then erases what it stored.
            if await devices.revoked_browser(db, request.cookies.get(auth.device_cookie(settings))):
                raise devices.revoked_error() from None
            raise
        if request.method not in SAFE_METHODS and not auth.csrf_valid(
                settings, cookie or "", request.headers.get(CSRF_HEADER)):
            raise Forbidden("missing or wrong X-CSRF-Token header", code="csrf_failed")
    request.scope[USER_KEY] = actor.user_id  # for the request's log line
    if permission.access is Access.ADMIN and not actor.is_admin:
        raise Forbidden("only an administrator may do this")
    return actor


def session_token(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    return request.cookies.get(auth.session_cookie(settings))


def client_address(request: Request) -> str:
    """The client's address: the TCP peer, or what a trusted proxy says it is (ECABINET_TRUSTED_PROXIES;
    the application's ProxyHeadersMiddleware has already put it in the request's scope)."""
    return request.client.host if request.client else ""


def _validate_query(model: type[BaseModel], request: Request) -> BaseModel:
    raw: dict[str, Any] = {}
    if has_nul(dict(request.query_params)):
        raise ValidationFailed("query parameters may not contain the NUL character (U+0000)")
    refuse_unsafe_text(dict(request.query_params))
    for key in request.query_params:
        values = request.query_params.getlist(key)
        raw[key] = values[0] if len(values) == 1 else values
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed("invalid query parameters", details=_problems(exc)) from exc


async def _read_body(model: type[BaseModel], request: Request, settings: Settings) -> BaseModel:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("send the body as JSON (Content-Type: application/json)")
    raw = await _read_limited(request, settings.max_json_bytes, "the body")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON", code="malformed_json") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply", code="malformed_json") from exc
    if has_nul(parsed):
        # PostgreSQL cannot store U+0000 in text, and no person types it: refuse it everywhere.
        raise ValidationFailed("text may not contain the NUL character (U+0000)")
    refuse_unsafe_text(parsed)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed("the request body is not valid", details=_problems(exc)) from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply", code="malformed_json") from exc


async def _read_upload(media_type: str, limit: int, request: Request) -> bytes:
    """A raw file body of one media type, refused as soon as it passes `limit` (never read whole first)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != media_type:
        raise UnsupportedMediaType(f"send the file as the body with Content-Type: {media_type}")
    raw = await _read_limited(request, limit, "the file")
    if not raw:
        raise BadRequest("the file is empty", code="empty_file")
    return raw


async def _read_form(model: type[BaseModel], limit: int, request: Request) -> tuple[BaseModel, bytes, str]:
    """A multipart form: its `file` part (at most `limit` bytes) and its other parts validated by `model`.
    The body is read with the cap first, so a huge form never reaches the parser or the disk."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != MULTIPART:
        raise UnsupportedMediaType("send a multipart/form-data form with the file in its 'file' part")
    raw = await _read_limited(request, limit + FORM_OVERHEAD, "the file")
    replay = Request({**request.scope}, receive=_replay(raw))
    try:
        form = await replay.form(max_files=1, max_fields=50)
    except Exception as exc:  # the multipart parser's errors (malformed boundary, too many parts, ...)
        raise BadRequest(f"the form could not be read: {exc}", code="malformed_form") from exc
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadRequest("the form has no 'file' part", code="missing_file")
        data = await upload.read()
        filename = (upload.filename or "")[:255]
        fields = {key: value for key, value in form.multi_items() if key != "file" and isinstance(value, str)}
    finally:
        await form.close()
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is larger than {limit} bytes")
    if not data:
        raise BadRequest("the file is empty", code="empty_file")
    if has_nul(fields) or "\x00" in filename:
        raise ValidationFailed("text may not contain the NUL character (U+0000)")
    refuse_unsafe_text([fields, filename])
    try:
        return model.model_validate(fields), data, filename
    except ValidationError as exc:
        raise ValidationFailed("the form's fields are not valid", details=_problems(exc)) from exc


def refuse_unsafe_text(value: object) -> None:
    """The one check of every text a client sends (REST bodies, forms, file names, query parameters and
    Socket.IO payloads): no control, bidirectional-override, zero-width or other invisible characters."""
    problem = unsafe_text_problem(value)
    if problem is not None:
        raise BadRequest(problem, code="unsafe_text")


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


async def _read_limited(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (declared or actually sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)]


# The application's one registry: route modules declare into it, app.py mounts it.
api = Api()
