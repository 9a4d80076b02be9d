"""The OpenAPI 3.1 document, generated from the route declarations (backend/api/routing.py) and
the pydantic schemas, so it cannot drift from what the API does."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from backend.api.routing import MULTIPART, Access, Operation
from backend.api.schemas import ErrorBody
from backend.services.auth import SESSION_COOKIE

_PATH_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "malformed request (e.g. body is not JSON, or breaks a rule)",
    401: "not logged in, or the session has ended (the exchange gateway: no bearer secret)",
    403: "logged in but not allowed (or missing CSRF token on a cookie session; the exchange gateway: a wrong "
         "secret, or the endpoint is disabled)",
    404: "no such object",
    409: "conflicts with the current state (duplicate, wrong meeting state)",
    413: "body too large",
    415: "body is not application/json",
    422: "body or query fails validation (unknown field, wrong type, too long)",
    429: "too many tries for now (failed logins, verifications, meeting books, signing-key secrets): see Retry-After",
    503: "busy (every PDF sandbox slot taken: see Retry-After), or a service the app depends on does not answer",
}


def _schema(components: dict[str, Any], tp: Any, mode: str) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
    components.update(schema.pop("$defs", {}))
    if isinstance(tp, type) and issubclass(tp, BaseModel) and "properties" in schema:
        components[tp.__name__] = schema
        return {"$ref": _REF.format(model=tp.__name__)}
    return schema


def _form_schema(components: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The multipart form: the model's fields and the `file` part, as one object. (Not an allOf of the
    two: the model refuses unknown fields, so neither half would admit the other's properties.)"""
    _schema(components, model, "validation")
    fields = dict(components[model.__name__])
    return {**fields, "properties": {**fields.get("properties", {}), "file": {"type": "string", "format": "binary"}},
            "required": [*fields.get("required", []), "file"]}


def _error_codes(op: Operation) -> list[int]:
    codes = {400, 422}  # 422 also for query parameters an operation does not take
    if op.body is not None or op.upload is not None:
        codes |= {413, 415}
    if op.permission.access is not Access.PUBLIC or op.gate is not None:
        codes |= {401, 403}
    if "{" in op.path or op.permission.meeting_actions:
        codes.add(404)
    if op.method != "GET" or op.permission.meeting_actions:
        codes.add(409)  # a meeting action may be refused in the meeting's current state, reads too
    documented = (op.method, re.sub(r":\w+}", "}", op.path))
    if op.path in ("/api/health", "/api/ready") or documented in _SANDBOXED:
        codes.add(503)  # a PDF or image parsed in the sandbox: its pools may be full
    if op.path.endswith(("/login", "/tokens")):
        codes |= {401, 429}
    if documented in _THROTTLED:
        codes.add(429)
    return sorted(codes)


# Operations that parse untrusted bytes in the sandbox (503 busy when its pools are full), and those
# with a per-person or per-address limit of their own (429).
_SANDBOXED = {
    ("POST", "/api/verify"), ("POST", "/api/trace"), ("GET", "/api/meetings/{meeting_id}/book"),
    ("POST", "/api/meetings/{meeting_id}/documents"), ("POST", "/api/documents/{document_id}/versions"),
    ("GET", "/api/documents/{document_id}/view"), ("GET", "/api/documents/{document_id}/download"),
    ("GET", "/api/documents/{document_id}/annotated"), ("GET", "/api/records/{record_id}/verification"),
    ("PUT", "/api/me/signature-image"), ("PUT", "/api/bodies/{body_id}/seal-image"),
    ("POST", "/api/exchange/inbound"),
}
# Operations whose answer the client keeps and revalidates (ETag, If-None-Match, 304 Not Modified).
_REVALIDATED = {("GET", "/api/documents/{document_id}/view")}
_THROTTLED = {
    ("POST", "/api/verify"), ("GET", "/api/meetings/{meeting_id}/book"),
    ("POST", "/api/records/{record_id}/review"), ("POST", "/api/records/{record_id}/sign"),
    ("POST", "/api/meetings/{meeting_id}/opinion-round/ballot"),
}


def document(operations: list[Operation], *, version: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    error_ref = _schema(components, ErrorBody, "serialization")
    paths: dict[str, Any] = {}
    for op in operations:
        oa_path = _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", op.path)
        parameters = [
            {"name": m.group(1), "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}
             if m.group(2) == "int" else {"type": "string"}}
            for m in _PATH_PARAM.finditer(op.path)
        ]
        if op.query is not None:
            for name, info in op.query.model_json_schema(ref_template=_REF)["properties"].items():
                parameters.append({"name": name, "in": "query", "required": name in (
                    op.query.model_json_schema().get("required") or []), "schema": info})
        entry: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.tag],
            "description": f"Permission: {op.permission.describe()}.",
            "parameters": parameters,
            "responses": {},
        }
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema(components, op.body, "validation")}}}
        if op.upload == MULTIPART and op.body is not None:
            entry["requestBody"] = {"required": True, "content": {MULTIPART: {"schema": _form_schema(
                components, op.body)}}}
        elif op.upload is not None:
            entry["requestBody"] = {"required": True, "content": {
                op.upload: {"schema": {"type": "string", "format": "binary"}}}}
        if op.produces is not None:
            entry["responses"][str(op.status)] = {"description": "the file", "content": {
                op.produces: {"schema": {"type": "string", "format": "binary"}}}}
        elif op.response is None:
            entry["responses"][str(op.status)] = {"description": "done"}
        else:
            entry["responses"][str(op.status)] = {"description": "success", "content": {
                "application/json": {"schema": _schema(components, op.response, "serialization")}}}
        if (op.method, re.sub(r":\w+}", "}", op.path)) in _REVALIDATED:
            parameters.append({"name": "If-None-Match", "in": "header", "required": False,
                               "description": "the ETag of the copy the client holds", "schema": {"type": "string"}})
            entry["responses"]["304"] = {"description": "not modified: the copy the client holds (If-None-Match) "
                                                        "is still mine of this version; nothing is sent"}
        for code in _error_codes(op):
            entry["responses"][str(code)] = {"description": _ERROR_TEXT[code],
                                             "content": {"application/json": {"schema": error_ref}}}
        entry["security"] = [] if op.permission.access is Access.PUBLIC else [{"bearerAuth": []},
                                                                             {"cookieAuth": []}]
        if op.gate is not None:  # a caller that is no user: the exchange gateway and its secret
            entry["security"] = [{"gatewayAuth": []}]
        paths.setdefault(oa_path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "e-Cabinet API", "version": version,
                 "description": "Paperless government sessions. Errors are {\"error\": {\"code\", \"message\"}}. "
                                "Cookie sessions must send X-CSRF-Token on unsafe methods."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "a token from POST /api/auth/tokens"},
                "gatewayAuth": {"type": "http", "scheme": "bearer",
                                "description": "the exchange gateway's secret (ECABINET_EXCHANGE_GATEWAY_SECRET), "
                                               "for POST /api/exchange/inbound only"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                               "description": f"set by POST /api/auth/login (named __Host-{SESSION_COOKIE} "
                                              "when served over HTTPS); unsafe methods also need "
                                              "the X-CSRF-Token header"},
            },
        },
    }
