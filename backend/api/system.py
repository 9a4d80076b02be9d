"""Health, the OpenAPI document and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from backend.api import openapi
from backend.api.routing import Call, Permission, api
from backend.api.schemas import AuditEntryOut, AuditVerifyOut, Health, Ready
from backend.exceptions import ServiceUnavailable
from backend.services import audit, health

VERSION = "0.1.0"


@api.route("GET", "/api/health", summary="Is the service up and its database reachable",
           permission=Permission.public(), tag="system", response=Health)
async def get_health(call: Call) -> dict[str, Any]:
    redis = await health.check(call.db, call.redis)
    return {"status": "ok", "database": "ok", "redis": redis, "version": VERSION}


@api.route("GET", "/api/ready", summary="May this worker take traffic: database, migrations, Redis, a PDF slot",
           permission=Permission.public(), tag="system", response=Ready)
async def get_ready(call: Call) -> dict[str, Any]:
    checks = await health.ready(call.db, call.settings, call.redis)
    if not health.is_ready(checks):
        failed = [name for name, verdict in checks.items() if verdict not in health.PASSING]
        error = ServiceUnavailable(f"not ready: {', '.join(failed)}", code="not_ready", retry_after=5)
        error.details = {"failed": failed, "checks": checks}
        raise error
    return {"status": "ready", "checks": checks}


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meeting_id: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


@api.route("GET", "/api/audit", summary="Latest audit entries, newest first", permission=Permission.admin(),
           tag="audit", query=AuditQuery, response=list[AuditEntryOut])
async def list_audit(call: Call) -> list[dict[str, Any]]:
    return await audit.latest(call.db, meeting_id=call.query.meeting_id, limit=call.query.limit)


@api.route("GET", "/api/audit/verify", summary="Check the audit log's hash chain end to end",
           permission=Permission.admin(), tag="audit", response=AuditVerifyOut)
async def verify_audit(call: Call) -> dict[str, Any]:
    ok, count, broken = await audit.verify_chain(call.db)
    return {"ok": ok, "entries": count, "first_broken_seq": broken}


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document(api.operations, version=VERSION))
