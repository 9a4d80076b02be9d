"""GET /api/openapi.json: a valid OpenAPI 3.1 document that lists every API route with its methods,
whose declared success schemas match what the server really answers, and whose declared error
statuses cover the errors the server really gives."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.routing import Route

from backend.app import create_app
from tests.integration.conftest import Cast, Client, Server, unique
from tests.integration.helpers import assert_error

try:  # installed with openapi-spec-validator (the `test` extra)
    import jsonschema  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - then only required keys and basic types are checked
    jsonschema = None

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
# Routes under /api that are not API operations: the document itself and the JSON 404/405 catch-all.
NOT_OPERATIONS = {"/api/openapi.json", "/api/{rest}"}


@pytest.fixture
async def doc(server: Server) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        r = await anonymous.get("/api/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    return r.json()  # type: ignore[no-any-return]


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    # The document's `#/components/...` references resolve against a root that carries its components.
    root = {**schema, "components": doc["components"]}
    if jsonschema is None:
        return _RequiredKeys(doc)
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


class _RequiredKeys:
    """Stand-in when jsonschema is missing: required keys and JSON types, following $ref and arrays."""

    _TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
              "number": (int, float), "null": type(None)}

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.schema: dict[str, Any] = {}

    def _problems(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        if "$ref" in schema:
            schema = self.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if "anyOf" in schema:
            options = [self._problems(s, value, where) for s in schema["anyOf"]]
            return [] if any(not o for o in options) else options[0]
        kind = schema.get("type")
        if isinstance(kind, str) and not isinstance(value, self._TYPES[kind]):
            return [f"{where}: {value!r} is not {kind}"]
        problems = []
        if isinstance(value, dict):
            problems += [f"{where}: {k!r} is a required property" for k in schema.get("required", []) if k not in value]
            for k, sub in schema.get("properties", {}).items():
                if k in value:
                    problems += self._problems(sub, value[k], f"{where}.{k}")
        if isinstance(value, list) and "items" in schema:
            for i, v in enumerate(value):
                problems += self._problems(schema["items"], v, f"{where}[{i}]")
        return problems

    def check(self, schema: dict[str, Any], instance: Any) -> list[str]:
        return self._problems(schema, instance, "$")


def _check(doc: dict[str, Any], schema: dict[str, Any], instance: Any, what: str) -> None:
    validator = _validator(doc, schema)
    if isinstance(validator, _RequiredKeys):
        problems = validator.check(schema, instance)
    else:
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        problems = [f"{list(e.path)}: {e.message}" for e in errors]
    assert not problems, f"{what}: " + "; ".join(problems[:5])


def _is_valid(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> bool:
    validator = _validator(doc, schema)
    if isinstance(validator, _RequiredKeys):
        return not validator.check(schema, instance)
    return bool(validator.is_valid(instance))


async def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["paths"] and all(p.startswith("/api/") for p in doc["paths"])
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["in"] == "cookie" and schemes["cookieAuth"]["name"] == "ecabinet_session"
    for (method, path), op in _operations(doc).items():
        assert op["operationId"] and op["summary"] and op["responses"], (method, path)
        assert op["description"].startswith("Permission: "), (method, path)
        declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)
    operation_ids = [op["operationId"] for op in _operations(doc).values()]
    assert len(operation_ids) == len(set(operation_ids))
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


async def test_every_api_route_appears_with_its_methods(server: Server, doc: dict[str, Any]) -> None:
    app: Any = create_app(server.settings, db=server.db)
    starlette = getattr(app, "other_asgi_app", app)  # the Socket.IO wrapper keeps the Starlette app here
    served: dict[str, set[str]] = {}
    for route in starlette.router.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", route.path)
            if path not in NOT_OPERATIONS:
                served.setdefault(path, set()).update(set(route.methods or ()) - {"HEAD"})
    documented = {path: {m.upper() for m in item} for path, item in doc["paths"].items()}
    assert documented == served


async def test_public_operations_need_no_security_and_the_others_declare_it(doc: dict[str, Any]) -> None:
    public = {k for k, op in _operations(doc).items() if op["security"] == []}
    assert public == {("GET", "/api/health"), ("GET", "/api/ready"), ("POST", "/api/auth/login"),
                      ("POST", "/api/auth/tokens"), ("POST", "/api/verify"), ("POST", "/api/devices/wiped")}
    # The exchange gateway is no user: it sends a secret of its own, declared as a scheme of its own.
    gateway = ("POST", "/api/exchange/inbound")
    assert _operations(doc)[gateway]["security"] == [{"gatewayAuth": []}]
    assert {"401", "403"} <= set(_operations(doc)[gateway]["responses"])
    for key, op in _operations(doc).items():
        if key not in public and key != gateway:
            assert op["security"] == [{"bearerAuth": []}, {"cookieAuth": []}], key
            assert {"401", "403"} <= set(op["responses"]), key


async def _samples(server: Server, root: Client, cast: Cast,
                   new_user: Any) -> list[tuple[str, str, Client | None, Any, httpx.Response]]:
    """One real successful request per operation: (method, documented path, client, body, answer)."""
    out: list[tuple[str, str, Client | None, Any, httpx.Response]] = []

    async def call(client: Client | None, method: str, path: str, url: str, body: Any = None,
                   params: dict[str, Any] | None = None, upload: bytes | None = None,
                   form: dict[str, str] | None = None, file: bytes | None = None,
                   upload_type: str = "application/pdf", headers: dict[str, str] | None = None) -> httpx.Response:
        raw: dict[str, Any] = {"content": upload, "headers": {"Content-Type": upload_type, **(headers or {})}
                               } if upload else {}
        if file is not None:  # a multipart form: its text fields and the PDF in the 'file' part
            raw = {"data": form or {}, "files": {"file": ("mau.pdf", file, "application/pdf")}}
        if client is None:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as anonymous:
                r = await anonymous.request(method, url, json=body, params=params, **raw)
        else:
            headers = client._headers(raw.pop("headers", None))
            r = await client.http.request(method, url, json=body, params=params, headers=headers, **raw)
        out.append((method, path, client, body, r))
        return r

    person = await new_user("sample")
    sec = cast["secretary"].client
    await call(None, "GET", "/api/health", "/api/health")
    await call(None, "GET", "/api/ready", "/api/ready")
    await call(None, "POST", "/api/auth/login", "/api/auth/login",
               {"username": person.username, "password": person.password})
    await call(None, "POST", "/api/auth/tokens", "/api/auth/tokens",
               {"username": person.username, "password": person.password, "label": "kiểm thử"})
    await call(cast["member"].client, "GET", "/api/auth/me", "/api/auth/me")
    user = (await call(root, "POST", "/api/users", "/api/users",
                       {"username": unique("mau."), "full_name": "Mẫu", "password": "Mat-khau-mau-2026",
                        "body_id": cast.body["id"]})).json()
    await call(root, "GET", "/api/users", "/api/users", params={"q": "mau.", "active": "true"})
    await call(root, "GET", "/api/users/{user_id}", f"/api/users/{user['id']}")
    await call(root, "PATCH", "/api/users/{user_id}", f"/api/users/{user['id']}", {"title": "Chuyên viên"})
    await call(root, "POST", "/api/users/{user_id}/password", f"/api/users/{user['id']}/password",
               {"new_password": "Mat-khau-moi-2026"})
    body = (await call(root, "POST", "/api/bodies", "/api/bodies", {"name": unique("Mẫu ")})).json()
    await call(cast["member"].client, "GET", "/api/bodies", "/api/bodies")
    await call(root, "PATCH", "/api/bodies/{body_id}", f"/api/bodies/{body['id']}", {"short_name": "M"})
    image = io.BytesIO()
    Image.new("RGBA", (60, 30), (0, 0, 120, 255)).save(image, "PNG")
    seal = f"/api/bodies/{body['id']}/seal-image"
    await call(root, "PUT", "/api/bodies/{body_id}/seal-image", seal, upload=image.getvalue(), upload_type="image/png")
    await call(root, "GET", "/api/bodies/{body_id}/seal-image", seal)
    await call(root, "DELETE", "/api/bodies/{body_id}/seal-image", seal)
    mine = "/api/me/signature-image"
    await call(sec, "PUT", mine, mine, upload=image.getvalue(), upload_type="image/png")
    await call(sec, "GET", mine, mine)
    await call(sec, "DELETE", mine, mine)
    meeting = (await call(sec, "POST", "/api/meetings", "/api/meetings",
                          {"body_id": cast.body["id"], "title": "Mẫu",
                           "starts_at": "2026-12-01T08:00:00+07:00"})).json()
    m = f"/api/meetings/{meeting['id']}"
    await call(sec, "GET", "/api/meetings", "/api/meetings", params={"status": "draft"})
    await call(sec, "GET", "/api/meetings/{meeting_id}", m)
    await call(sec, "PATCH", "/api/meetings/{meeting_id}", m, {"place": "Hội trường"})
    p = (await call(sec, "POST", "/api/meetings/{meeting_id}/participants", f"{m}/participants",
                    {"user_id": cast["chair"].id, "role": "chair"})).json()
    await call(sec, "GET", "/api/meetings/{meeting_id}/participants", f"{m}/participants")
    await call(sec, "GET", "/api/meetings/{meeting_id}/candidates", f"{m}/candidates", params={"q": "member"})
    await call(sec, "PATCH", "/api/meetings/{meeting_id}/participants/{participant_id}",
               f"{m}/participants/{p['id']}", {"may_vote": False})
    guest = (await sec.post(f"{m}/participants", json={"user_id": cast["guest"].id, "role": "guest"})).json()
    await call(sec, "DELETE", "/api/meetings/{meeting_id}/participants/{participant_id}",
               f"{m}/participants/{guest['id']}")
    group = (await call(sec, "POST", "/api/participant-groups", "/api/participant-groups",
                        {"name": unique("Nhóm "), "user_ids": [cast["member"].id]})).json()
    await call(sec, "GET", "/api/participant-groups", "/api/participant-groups")
    await call(sec, "POST", "/api/meetings/{meeting_id}/participants/groups", f"{m}/participants/groups",
               {"source": "group", "group_id": group["id"]})
    await call(sec, "DELETE", "/api/participant-groups/{group_id}", f"/api/participant-groups/{group['id']}")
    item = (await call(sec, "POST", "/api/meetings/{meeting_id}/agenda", f"{m}/agenda", {"title": "Mục 1"})).json()
    second = (await sec.post(f"{m}/agenda", json={"title": "Mục 2"})).json()
    await call(sec, "GET", "/api/meetings/{meeting_id}/agenda", f"{m}/agenda")
    await call(sec, "PATCH", "/api/meetings/{meeting_id}/agenda/{item_id}", f"{m}/agenda/{item['id']}",
               {"planned_minutes": 15})
    await call(sec, "PUT", "/api/meetings/{meeting_id}/agenda/order", f"{m}/agenda/order",
               {"item_ids": [second["id"], item["id"]]})
    await call(sec, "DELETE", "/api/meetings/{meeting_id}/agenda/{item_id}", f"{m}/agenda/{second['id']}")
    await call(sec, "POST", "/api/meetings/{meeting_id}/transitions", f"{m}/transitions", {"action": "publish"})
    await call(root, "GET", "/api/audit", "/api/audit", params={"limit": 20})
    await call(root, "GET", "/api/audit/verify", "/api/audit/verify")
    await call(person.client, "POST", "/api/auth/password", "/api/auth/password",
               {"current_password": person.password, "new_password": "Mat-khau-doi-2026"})
    await call(person.client, "POST", "/api/auth/logout", "/api/auth/logout")
    await _record_samples(server, cast, call, meeting["id"])
    await _opinion_samples(server, cast, call)
    await _position_samples(cast, call)
    await _document_samples(cast, root, call)
    await _bridge_samples(cast, call)
    await _notification_samples(cast, call)
    await _device_samples(server, root, call, await new_user("devices"))
    await _exchange_samples(server, cast, call)
    return out


async def _exchange_samples(server: Server, cast: Cast, call: Any) -> None:
    """A document package delivered by the gateway (signed under the test server's exchange PKI), then read."""
    from backend.services.exchange import agencies
    from tests.support.exchange_packages import DIRECTORY, GATEWAY_SECRET, document, exchange_pki, signed

    await agencies.import_csv(server.db, DIRECTORY)
    sec = cast["secretary"].client
    await call(cast["member"].client, "GET", "/api/exchange/agencies", "/api/exchange/agencies")
    data = signed(document(), exchange_pki(server.settings.data_dir / "exchange-pki").sender)
    r = await call(None, "POST", "/api/exchange/inbound", "/api/exchange/inbound", upload=data,
                   upload_type="application/xml", headers={"Authorization": f"Bearer {GATEWAY_SECRET}"})
    assert r.status_code == 201, r.text

    async def deliver_package(package: bytes) -> Any:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as gateway:
            delivered = await gateway.post("/api/exchange/inbound", content=package, headers={
                "Authorization": f"Bearer {GATEWAY_SECRET}", "Content-Type": "application/xml"})
        assert delivered.status_code == 201, delivered.text
        return delivered

    stored = r.json()
    await call(sec, "GET", "/api/exchange/inbox", "/api/exchange/inbox")
    i = f"/api/exchange/inbox/{stored['id']}"
    await call(sec, "GET", "/api/exchange/inbox/{incoming_id}", i)
    await call(sec, "GET", "/api/exchange/inbox/{incoming_id}/attachments/{number}", f"{i}/attachments/1")
    await call(sec, "POST", "/api/exchange/inbox/{incoming_id}/status", f"{i}/status",
               {"code": "03", "description": "Đã vào sổ công văn đến"})
    # A real PDF received, put before a meeting of this secretariat.
    import exchange as ex
    from tests.support.sample_pdfs import sample_pdf

    pdf = ex.Attachment("to-trinh.pdf", "application/pdf", sample_pdf(1), "Tờ trình")
    r = await deliver_package(signed(document(attachments=(pdf,)), exchange_pki(server.settings.data_dir /
                                                                                 "exchange-pki").sender))
    meeting = (await sec.post("/api/meetings", json={"body_id": cast.body["id"], "title": "Phiên họp nhận tờ trình",
                                                     "starts_at": "2026-12-20T08:00:00+07:00"})).json()
    await call(sec, "POST", "/api/exchange/inbox/{incoming_id}/attachments/{number}/meeting",
               f"/api/exchange/inbox/{r.json()['id']}/attachments/1/meeting", {"meeting_id": meeting["id"]})


async def _device_samples(server: Server, root: Client, call: Any, person: Any) -> None:
    """A second browser of the person, revoked from the first; it then confirms its wipe."""
    lost = Client(server)
    try:
        assert (await lost.login(person.username, person.password)).status_code == 200
        mine = person.client
        await call(mine, "GET", "/api/me/device", "/api/me/device")
        listed = (await call(mine, "GET", "/api/me/devices", "/api/me/devices")).json()
        other = next(d["id"] for d in listed if not d["current"])
        await call(root, "GET", "/api/users/{user_id}/devices", f"/api/users/{person.id}/devices")
        await call(mine, "POST", "/api/devices/{device_id}/revoke", f"/api/devices/{other}/revoke")
        await call(lost, "POST", "/api/devices/wiped", "/api/devices/wiped")
    finally:
        await lost.close()


async def _notification_samples(cast: Cast, call: Any) -> None:
    """The chair was told of the meetings published above and of the record to sign."""
    chair = cast["chair"].client
    page = (await call(chair, "GET", "/api/me/notifications", "/api/me/notifications", params={"limit": 2})).json()
    assert page["items"] and page["next_before"] is not None
    await call(chair, "GET", "/api/me/notifications/unread", "/api/me/notifications/unread")
    await call(chair, "POST", "/api/me/notifications/{notification_id}/read",
               f"/api/me/notifications/{page['items'][0]['id']}/read")
    await call(chair, "POST", "/api/me/notifications/read", "/api/me/notifications/read")


async def _bridge_samples(cast: Cast, call: Any) -> None:
    sec, chair = cast["secretary"].client, cast["chair"].client
    r = await sec.post("/api/meetings", json={"body_id": cast.body["id"], "title": "Phiên họp trực tuyến",
                                              "starts_at": "2026-12-01T08:00:00+07:00"})
    m = f"/api/meetings/{r.json()['id']}"
    assert (await sec.post(f"{m}/participants", json={"user_id": cast["chair"].id, "role": "chair"})).status_code == 201
    assert (await sec.post(f"{m}/transitions", json={"action": "publish"})).status_code == 200
    assert (await chair.post(f"{m}/transitions", json={"action": "start"})).status_code == 200
    await call(sec, "GET", "/api/meetings/{meeting_id}/bridge", f"{m}/bridge")
    await call(sec, "GET", "/api/meetings/{meeting_id}/bridge/metrics", f"{m}/bridge/metrics")
    await call(sec, "GET", "/api/meetings/{meeting_id}/bridge/relay", f"{m}/bridge/relay")


async def _document_samples(cast: Cast, root: Client, call: Any) -> None:
    from tests.support.sample_pdfs import sample_pdf

    sec, member = cast["secretary"].client, cast["member"].client
    r = await sec.post("/api/meetings", json={"body_id": cast.body["id"], "title": "Phiên họp có tài liệu",
                                              "starts_at": "2026-12-01T08:00:00+07:00"})
    mid = r.json()["id"]
    m = f"/api/meetings/{mid}"
    added = await sec.post(f"{m}/participants", json={"user_id": cast["member"].id, "role": "member"})
    assert added.status_code == 201
    doc = (await call(sec, "POST", "/api/meetings/{meeting_id}/documents", f"{m}/documents",
                      form={"title": "Tờ trình mẫu", "audience": "participants"},
                      file=sample_pdf(2, text=lambda n: f"Nghị quyết mẫu trang {n}"))).json()
    d = f"/api/documents/{doc['id']}"
    await call(sec, "POST", "/api/documents/{document_id}/versions", f"{d}/versions", file=sample_pdf(3))
    await call(sec, "PATCH", "/api/documents/{document_id}", d, {"title": "Tờ trình (bản 2)"})
    assert (await sec.post(f"{m}/transitions", json={"action": "publish"})).status_code == 200
    await call(member, "GET", "/api/meetings/{meeting_id}/documents", f"{m}/documents")
    await call(member, "GET", "/api/documents/{document_id}", d)
    await call(member, "GET", "/api/documents/{document_id}/view", f"{d}/view", params={"version": 1})
    await call(member, "GET", "/api/documents/{document_id}/download", f"{d}/download")
    mark = (await call(member, "POST", "/api/documents/{document_id}/annotations", f"{d}/annotations",
                       {"client_id": "mau-00000001", "page": 1, "kind": "note", "geometry": {"at": [100, 100]},
                        "text": "Ghi chú mẫu", "visibility": "shared"})).json()["annotation"]
    await call(member, "GET", "/api/documents/{document_id}/annotations", f"{d}/annotations")
    await call(member, "PATCH", "/api/annotations/{annotation_id}", f"/api/annotations/{mark['id']}",
               {"text": "Ghi chú đã sửa"})
    await call(member, "GET", "/api/documents/{document_id}/annotated", f"{d}/annotated")
    leaked = (await call(member, "GET", "/api/meetings/{meeting_id}/book", f"{m}/book")).content
    await call(member, "GET", "/api/search", "/api/search", params={"q": "nghi quyet", "meeting_id": mid})
    await call(sec, "GET", "/api/documents/{document_id}/copies", f"{d}/copies")
    await call(root, "POST", "/api/trace", "/api/trace", upload=leaked)
    await call(member, "DELETE", "/api/annotations/{annotation_id}", f"/api/annotations/{mark['id']}")
    await call(sec, "DELETE", "/api/documents/{document_id}", d)


async def _position_samples(cast: Cast, call: Any) -> None:
    sec, chair, member = cast["secretary"].client, cast["chair"].client, cast["member"].client
    r = await sec.post("/api/meetings", json={"body_id": cast.body["id"], "title": "Phiên họp có ý kiến trước",
                                              "starts_at": "2026-12-01T08:00:00+07:00"})
    m = f"/api/meetings/{r.json()['id']}"
    for key, role in (("chair", "chair"), ("member", "member")):
        assert (await sec.post(f"{m}/participants", json={"user_id": cast[key].id, "role": role})).status_code == 201
    items = [(await sec.post(f"{m}/agenda", json={"title": t})).json()["id"] for t in ("Một", "Hai")]
    assert (await sec.post(f"{m}/transitions", json={"action": "publish"})).status_code == 200
    await call(member, "PUT", "/api/meetings/{meeting_id}/positions", f"{m}/positions",
               {"agenda_item_id": items[1], "position": "no_objection"})
    # Silence is not consent: the chair (entitled too) answers before the item can be adopted together.
    assert (await chair.put(f"{m}/positions", json={"agenda_item_id": items[1],
                                                    "position": "no_objection"})).status_code == 200
    await call(sec, "GET", "/api/meetings/{meeting_id}/positions", f"{m}/positions")
    assert (await chair.post(f"{m}/transitions", json={"action": "start"})).status_code == 200
    await call(chair, "POST", "/api/meetings/{meeting_id}/positions/adopt", f"{m}/positions/adopt")


async def _opinion_samples(server: Server, cast: Cast, call: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from backend.services import credentials

    sec, member = cast["secretary"].client, cast["member"].client
    r = await sec.post("/api/meetings", json={"body_id": cast.body["id"], "kind": "opinion_round",
                                              "title": "Lấy ý kiến", "starts_at": "2026-12-01T08:00:00+07:00"})
    m = f"/api/meetings/{r.json()['id']}"
    added = await sec.post(f"{m}/participants", json={"user_id": cast["member"].id, "role": "member"})
    assert added.status_code == 201
    deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    q = (await call(sec, "PUT", "/api/meetings/{meeting_id}/opinion-round", f"{m}/opinion-round",
                    {"deadline": deadline, "questions": ["Đồng ý?"]})).json()["questions"][0]["id"]
    assert (await sec.post(f"{m}/transitions", json={"action": "publish"})).status_code == 200
    secret = "Khoa-ky-y-kien-mau"
    cred = (await credentials.issue(server.db, server.settings, cast["member"].username, secret))["id"]
    ballot = {"answers": [{"question_id": q, "choice": "agree"}], "credential_id": cred, "secret": secret}
    done = (await call(member, "POST", "/api/meetings/{meeting_id}/opinion-round/ballot", f"{m}/opinion-round/ballot",
                       ballot)).json()
    await call(member, "GET", "/api/opinion-ballots/{ballot_id}/pdf",
               f"/api/opinion-ballots/{done['mine']['ballot_id']}/pdf")
    await call(member, "DELETE", "/api/meetings/{meeting_id}/opinion-round/ballot", f"{m}/opinion-round/ballot")
    await call(sec, "GET", "/api/meetings/{meeting_id}/opinion-round", f"{m}/opinion-round")
    await call(sec, "POST", "/api/meetings/{meeting_id}/opinion-round/remind", f"{m}/opinion-round/remind")
    await call(sec, "GET", "/api/meetings/{meeting_id}/opinion-round/report", f"{m}/opinion-round/report")
    await call(sec, "POST", "/api/meetings/{meeting_id}/opinion-round/close", f"{m}/opinion-round/close")


async def _record_samples(server: Server, cast: Cast, call: Any, meeting_id: int) -> None:
    """Resolutions, credentials and verification: a closed poll is put straight into the database (the
    live session that produces one is tested in test_live_polls.py)."""
    import json as _json

    from backend.models import Poll
    from backend.models.base import utcnow
    from backend.services import credentials

    sec, chair = cast["secretary"].client, cast["chair"].client
    assert (await chair.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"})).status_code == 200
    async with server.db.write() as s:
        poll = Poll(meeting_id=meeting_id, question="Thông qua?", status="closed", created_by=cast["chair"].id,
                    options=_json.dumps([{"key": "yes", "label": "Tán thành", "kind": "yes"}]),
                    result=_json.dumps({"counts": {"yes": 1}, "total_ballots": 1, "entitled": 1, "present": 1,
                                        "quorum_reached": True, "passed": True, "quorum_needed": 1}),
                    opened_at=utcnow(), closed_at=utcnow())
        s.add(poll)
        await s.flush()
        poll_id = poll.id
    if not credentials.dev_ca(server.settings).exists:
        credentials.init_ca(server.settings)
    secret = "Khoa-ky-mau-2026"
    sec_cred = (await credentials.issue(server.db, server.settings, cast["secretary"].username, secret))["id"]
    chair_cred = (await credentials.issue(server.db, server.settings, cast["chair"].username, secret))["id"]
    m = f"/api/meetings/{meeting_id}"
    await call(sec, "GET", "/api/meetings/{meeting_id}/polls", f"{m}/polls")
    record = (await call(sec, "POST", "/api/meetings/{meeting_id}/records", f"{m}/records",
                         {"kind": "resolution", "poll_id": poll_id, "number": "1/NQ", "title": "Mẫu"})).json()
    scrap = (await sec.post(f"{m}/records", json={"kind": "resolution", "poll_id": poll_id, "number": "2/NQ",
                                                  "title": "Bỏ"})).json()
    await call(sec, "DELETE", "/api/records/{record_id}", f"/api/records/{scrap['id']}")
    r = f"/api/records/{record['id']}"
    await call(sec, "GET", "/api/meetings/{meeting_id}/records", f"{m}/records")
    await call(sec, "GET", "/api/records/{record_id}", r)
    await call(sec, "PATCH", "/api/records/{record_id}", r, {"recipients": ["Lưu: VT"]})
    from backend.services.exchange import agencies
    from tests.support.exchange_packages import DIRECTORY, SENDER
    await agencies.import_csv(server.db, DIRECTORY)
    tasks = f"{r}/tasks"
    assignment = {"article": 1, "text": "Giao Ủy ban nhân dân tỉnh Nghệ An báo cáo.", "lead_code": SENDER,
                  "deadline": "2099-12-31"}
    task = (await call(sec, "POST", "/api/records/{record_id}/tasks", tasks, assignment)).json()
    spare = (await sec.post(tasks, json=assignment)).json()
    await call(sec, "PATCH", "/api/tasks/{task_id}", f"/api/tasks/{task['id']}", {"output": "Báo cáo"})
    await call(sec, "DELETE", "/api/tasks/{task_id}", f"/api/tasks/{spare['id']}")
    await call(sec, "GET", "/api/records/{record_id}/tasks", tasks)
    await call(sec, "GET", "/api/me/credentials", "/api/me/credentials")
    await call(sec, "POST", "/api/records/{record_id}/review", f"{r}/review", {"credential_id": sec_cred,
                                                                               "secret": secret})
    await call(chair, "POST", "/api/records/{record_id}/sign", f"{r}/sign", {"credential_id": chair_cred,
                                                                             "secret": secret})
    await call(sec, "GET", "/api/records/{record_id}/verification", f"{r}/verification")
    await call(sec, "POST", "/api/records/{record_id}/publish", f"{r}/publish")
    await call(sec, "POST", "/api/records/{record_id}/tasks/send", f"{tasks}/send")
    await call(sec, "GET", "/api/tasks", "/api/tasks")
    await call(cast["member"].client, "GET", "/api/meetings/{meeting_id}/tasks", f"{m}/tasks")
    await call(sec, "POST", "/api/records/{record_id}/exchange", f"{r}/exchange", {"recipients": [SENDER]})
    await call(sec, "GET", "/api/records/{record_id}/exchange", f"{r}/exchange")
    await _recall_and_replace_samples(server, call, sec, record["id"])
    pdf = (await call(sec, "GET", "/api/records/{record_id}/pdf", f"{r}/pdf")).content
    await call(None, "POST", "/api/verify", "/api/verify", upload=pdf)


async def _recall_and_replace_samples(server: Server, call: Any, sec: Any, record_id: int) -> None:
    """The record delivered (set here), then recalled, and replaced by a published copy under another number."""
    from sqlalchemy import update

    from backend.models import OutgoingPackage, Resolution

    async with server.db.write() as s:
        await s.exec(update(OutgoingPackage).where(  # type: ignore[call-overload]
            OutgoingPackage.record_id == record_id).values(state="delivered"))
        old = await s.get(Resolution, record_id)
        assert old is not None
        copy = Resolution(**{**old.model_dump(exclude={"id"}), "number": "99/NQ-CP"})
        s.add(copy)
        await s.flush()
        copy_id = copy.id
    r = f"/api/records/{record_id}/exchange"
    await call(sec, "POST", "/api/records/{record_id}/exchange/recall", f"{r}/recall", {"reason": "Ban hành nhầm"})
    await call(sec, "POST", "/api/records/{record_id}/exchange/replace", f"{r}/replace",
               {"by_record_id": copy_id, "reason": "Thay thế"})


async def test_each_operations_success_schema_validates_its_real_answer(
        server: Server, root: Client, cast: Cast, new_user: Any, doc: dict[str, Any]) -> None:
    operations = _operations(doc)
    samples = await _samples(server, root, cast, new_user)
    sampled = {(method, path) for method, path, *_ in samples}
    assert sampled == set(operations), (
        f"operations without a sample here: {sorted(set(operations) - sampled)}; "
        f"samples of undocumented operations: {sorted(sampled - set(operations))}")
    for method, path, _client, body, r in samples:
        op = operations[(method, path)]
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success == [str(r.status_code)], (
            f"{method} {path}: answered {r.status_code} {r.text}, declares {success}")
        declared = op["responses"][success[0]]
        if "content" in declared and "application/json" not in declared["content"]:
            media = next(iter(declared["content"]))
            assert r.headers["content-type"].startswith(media), f"{method} {path}: {r.headers['content-type']}"
        elif "content" in declared:
            _check(doc, declared["content"]["application/json"]["schema"], r.json(), f"{method} {path} answer")
        else:
            assert r.content == b"", f"{method} {path} declares no content but sent {r.text}"
        if body is not None:
            assert "requestBody" in op, f"{method} {path} takes a body the document does not declare"
            _check(doc, op["requestBody"]["content"]["application/json"]["schema"], body, f"{method} {path} body")


async def test_documented_request_schemas_refuse_what_the_server_refuses(root: Client, doc: dict[str, Any]) -> None:
    schema = _operations(doc)[("POST", "/api/users")]["requestBody"]["content"]["application/json"]["schema"]
    good: dict[str, Any] = {"username": unique("tai.lieu."), "full_name": "Tài liệu", "password": "Mat-khau-2026-tl"}
    _check(doc, schema, good, "a valid account")
    bads = [{**good, "is_admin": "yes"}, {k: v for k, v in good.items() if k != "password"}]
    if jsonschema is not None:
        bads += [{**good, "extra": 1}, {**good, "full_name": "x" * 201}]
    for bad in bads:
        assert not _is_valid(doc, schema, bad), bad
        assert_error(await root.post("/api/users", json=bad), 422, "validation_error")


async def test_error_answers_match_the_error_schema_and_are_declared(server: Server, cast: Cast, root: Client,
                                                                    new_meeting: Any, doc: dict[str, Any]) -> None:
    meeting = await new_meeting("closed")
    m = f"/api/meetings/{meeting['id']}"
    member, sec = cast["member"].client, cast["secretary"].client
    operations = _operations(doc)
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        cases = [
            ("GET", "/api/auth/me", await anonymous.get("/api/auth/me")),
            ("POST", "/api/auth/login", await anonymous.post("/api/auth/login", json={"username": unique("x."),
                                                                                      "password": "khong-dung"})),
            ("POST", "/api/users", await member.post("/api/users", json={})),
            ("POST", "/api/users", await root.post("/api/users", json={"username": 1})),
            ("POST", "/api/users", await root.post("/api/users", content=b"{", headers={"Content-Type":
                                                                                          "application/json"})),
            ("POST", "/api/users", await root.post("/api/users", content=b"{}",
                                                   headers={"Content-Type": "text/plain"})),
            ("POST", "/api/users", await root.post("/api/users", content=b"[" + b" " * 70_000 + b"]",
                                                   headers={"Content-Type": "application/json"})),
            ("GET", "/api/users/{user_id}", await root.get("/api/users/2000000000")),
            ("PATCH", "/api/meetings/{meeting_id}", await sec.patch(m, json={"title": "x"})),
            ("POST", "/api/meetings/{meeting_id}/transitions", await member.post(f"{m}/transitions",
                                                                                 json={"action": "archive"})),
            ("PUT", "/api/meetings/{meeting_id}/agenda/order", await sec.put(f"{m}/agenda/order",
                                                                            json={"item_ids": [1]})),
            ("GET", "/api/audit", await root.get("/api/audit", params={"limit": 0})),
        ]
    error_schema = {"$ref": "#/components/schemas/ErrorBody"}
    for method, path, r in cases:
        assert_error(r, r.status_code)
        _check(doc, error_schema, r.json(), f"{method} {path} error")
        assert str(r.status_code) in operations[(method, path)]["responses"], (
            f"{method} {path} answered {r.status_code}, which the document does not declare")


async def test_unexpected_query_parameters_answer_a_declared_status(cast: Cast, doc: dict[str, Any]) -> None:
    r = await cast["member"].client.get("/api/bodies", params={"x": "1"})
    assert_error(r, 422, "validation_error")
    assert "422" in _operations(doc)[("GET", "/api/bodies")]["responses"]


async def test_the_verification_report_is_typed_down_to_each_signatures_verdict(doc: dict[str, Any]) -> None:
    """An integrator generating a client from the schema gets `signatures[i].valid` as a boolean."""
    success = doc["paths"]["/api/verify"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    components = doc["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        return components[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    report = resolve(success)
    assert {"valid", "signatures", "document_title", "page_count"} <= set(report["properties"])
    signature = resolve(report["properties"]["signatures"]["items"])
    assert signature["properties"]["valid"]["type"] == "boolean"
    assert "bottom_line" not in signature["properties"]
    assert {"reason_codes", "cryptographic_ok", "intact", "trusted"} <= set(signature["properties"])
    record = doc["paths"]["/api/records/{record_id}/verification"]["get"]["responses"]["200"]
    assert resolve(record["content"]["application/json"]["schema"]) == report
