"""A local exchange gateway, FOR DEVELOPMENT AND TESTS ONLY (the national exchange plays this part in
production): it takes a signed package from a sender (POST /packages with the sender's bearer), reads its
recipients in the exchange sandbox (exchange.parse_package: the signature must verify under the gateway's
trust anchors, and the sender named in the package must be the one whose bearer came), and forwards the
package unchanged to each recipient's e-Cabinet inbound endpoint: a document to each agency of its To list,
a status package (it has no To) to the agency that issued the document its ResponseFor names; only to
`?to=CODE` when the sender names one of those (e-Cabinet's outbox posts a package once per recipient row,
so a package for several agencies reaches each once). 202 once
every recipient took it (or already had it: 409), 502 with the reason otherwise.

Its configuration file (JSON):

    {"trust_anchors": "anchors.pem",
     "agencies": {"000.00.00.H41": {"url": "http://127.0.0.1:8001/api/exchange/inbound", "secret": "..."}},
     "senders": {"000.00.00.G22": "the bearer this sender sends"}}"""

from __future__ import annotations

import hmac
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.config import Settings
from backend.exceptions import ConfigError, ServiceUnavailable
from backend.services.exchange import packages


@dataclass(frozen=True)
class Destination:
    url: str
    """The recipient's POST /api/exchange/inbound."""
    secret: str
    """Its ECABINET_EXCHANGE_GATEWAY_SECRET."""


@dataclass(frozen=True)
class GatewayConfig:
    trust_anchors: Path
    """PEM of the roots the packages must be signed under."""
    agencies: dict[str, Destination]
    """Where each agency's packages go."""
    senders: dict[str, str]
    """Each sending agency's bearer secret."""


def load_config(path: Path) -> GatewayConfig:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        anchors = Path(raw["trust_anchors"])
        if not anchors.is_absolute():
            anchors = path.parent / anchors
        return GatewayConfig(anchors, {code: Destination(str(d["url"]), str(d["secret"]))
                                       for code, d in raw.get("agencies", {}).items()},
                             {code: str(secret) for code, secret in raw.get("senders", {}).items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"exchange gateway config {path}: {exc!r}") from exc


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _sender(request: Request, config: GatewayConfig) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    for code, secret in config.senders.items():
        if hmac.compare_digest(token.strip().encode("utf-8"), secret.encode("utf-8")):
            return code
    return None


def _addressed(parsed: packages.Parsed) -> tuple[list[str], str]:
    """Where a package goes, and the document it is (or, a status, is about): a document to each agency of
    its To list; a status, which has no To, to the agency that issued the document its ResponseFor names."""
    pkg = parsed.package
    if parsed.kind == "status":
        return [str(pkg["response_for"]["organ_id"])], str(pkg["response_for"]["document_id"])
    return [str(r["organ_id"]) for r in pkg["recipients"]], str(pkg["document_id"])


def create_gateway_app(config: GatewayConfig, settings: Settings | None = None) -> Starlette:
    base = settings or Settings.from_env({"ECABINET_DATA_DIR": tempfile.mkdtemp(prefix="ecabinet-gateway-")})
    read_settings = replace(base, exchange_trust_anchors=config.trust_anchors)

    async def receive(request: Request) -> JSONResponse:
        sender = _sender(request, config)
        if sender is None:
            return _error(401, "bad_sender_secret", "send your agency's bearer secret")
        data = await request.body()
        try:
            parsed = await packages.parse(read_settings, data)
        except packages.PackageRefused as refused:
            return _error(422, refused.code, refused.message)
        except ServiceUnavailable as busy:
            return _error(503, "busy", busy.message)
        pkg: dict[str, Any] = parsed.package
        if pkg["sender"]["organ_id"] != sender:
            return _error(403, "wrong_sender", "the package's sender is not the agency whose secret came")
        recipients, document_id = _addressed(parsed)
        to = request.query_params.get("to")
        if to is not None:  # the sender's outbox posts a package once per recipient row
            if to not in recipients:
                return _error(422, "not_a_recipient", f"{to} is not among the package's recipients")
            recipients = [to]
        failures = []
        async with httpx.AsyncClient(timeout=60) as client:
            for recipient in recipients:
                destination = config.agencies.get(recipient)
                if destination is None:
                    failures.append(f"{recipient}: unknown to this gateway")
                    continue
                try:
                    answer = await client.post(destination.url, content=data, headers={
                        "Content-Type": "application/xml", "Authorization": f"Bearer {destination.secret}"})
                except httpx.HTTPError as exc:
                    failures.append(f"{recipient}: {type(exc).__name__}")
                    continue
                if not (200 <= answer.status_code < 300 or answer.status_code == 409):
                    failures.append(f"{recipient}: HTTP {answer.status_code} {answer.text[:300]}")
        if failures:
            return _error(502, "not_forwarded", "; ".join(failures))
        return JSONResponse({"forwarded": recipients, "document_id": document_id, "kind": parsed.kind},
                            status_code=202)

    return Starlette(routes=[Route("/packages", receive, methods=["POST"])])
