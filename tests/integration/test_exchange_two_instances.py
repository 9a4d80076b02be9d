"""Two e-Cabinet instances exchange documents through the local gateway on loopback (issue 17, point 7):
the Government Office (000.00.00.G22, on PostgreSQL) and the People's Committee of Nghệ An (000.00.00.H41,
on SQLite), each with its own database, signing key and outbox, and `ecabinet exchange-gateway` running as
its own process between them. The Government Office publishes a signed resolution and sends it; its outbox
delivers it through the gateway; it lands in the province's inbox with the PDF byte for byte and its
signatures holding there."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives import serialization

from backend.services import credentials
from backend.services.exchange import agencies
from tests.conftest import free_port
from tests.integration.conftest import ADMIN_PASSWORD, Client, Server, build_world, serve, start_session
from tests.integration.test_exchange_outbox_api import _signed_record
from tests.support.exchange_packages import DIRECTORY
from tests.unit.exchange.conftest import Signer, make_signer

GO, PROVINCE = "000.00.00.G22", "000.00.00.H41"
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass
class Agency:
    code: str
    server: Server
    admin: Client
    secretary: Client
    clients: list[Client]

    def client(self) -> Client:
        made = Client(self.server)
        self.clients.append(made)
        return made


def _key_files(directory: Path, signer: Signer) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "key.pem", directory / "cert.pem"
    key.write_bytes(signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (signer.certificate, *signer.chain)))
    return key, cert


async def eventually(what: str, probe: Callable[[], Awaitable[T | None]], *, seconds: float = 30) -> T:
    """`probe()`'s first answer that is not None, within `seconds` (the outboxes work on their own)."""
    deadline = time.monotonic() + seconds
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def _gateway(tmp_path: Path, anchors: Path, routes: dict[str, dict[str, str]],
                   senders: dict[str, str], port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"trust_anchors": str(anchors), "agencies": routes, "senders": senders}))
    log = (tmp_path / "gateway.log").open("wb")
    proc = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-m", "backend.cli", "exchange-gateway",
                                                      "--config", str(config), "--port", str(port)],
                                   cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient() as http:
            async def up() -> bool | None:
                assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
                try:
                    await http.post(f"http://127.0.0.1:{port}/packages")
                    return True
                except httpx.TransportError:
                    return None
            await eventually("the gateway answers", up)
        yield proc
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)
        log.close()


async def _agency(stack: AsyncExitStack, code: str, backend: str, data_dir: Path, **settings: Any) -> Agency:
    server = await stack.enter_async_context(serve(backend, data_dir, exchange_agency_code=code, **settings))
    await agencies.import_csv(server.db, DIRECTORY)
    agency = Agency(code, server, Client(server), Client(server), [])
    agency.clients += [agency.admin, agency.secretary]
    assert (await agency.admin.login("admin", ADMIN_PASSWORD)).status_code == 200
    r = await agency.admin.post("/api/users", json={"username": "van.thu", "full_name": "Văn thư",
                                                    "password": "Van-thu-lien-thong-2026", "is_secretariat": True})
    assert r.status_code == 201, r.text
    assert (await agency.secretary.login("van.thu", "Van-thu-lien-thong-2026")).status_code == 200
    return agency


async def test_the_government_office_sends_a_resolution_that_lands_in_the_provinces_inbox(tmp_path: Path) -> None:
    go_signer = make_signer(tmp_path / "pki" / "go-ca", "Văn phòng Chính phủ")
    pr_signer = make_signer(tmp_path / "pki" / "pr-ca", "Văn phòng UBND tỉnh Nghệ An")
    anchors = tmp_path / "pki" / "anchors.pem"
    anchors.write_bytes(b"".join(s.root.public_bytes(serialization.Encoding.PEM) for s in (go_signer, pr_signer)))
    go_key, go_cert = _key_files(tmp_path / "pki" / "go", go_signer)
    pr_key, pr_cert = _key_files(tmp_path / "pki" / "pr", pr_signer)
    port = free_port()
    common = {"exchange_trust_anchors": anchors, "exchange_gateway_url": f"http://127.0.0.1:{port}/packages",
              "exchange_outbox_seconds": 0.2, "exchange_retry_seconds": 0.3}
    secrets = {GO: ("go-inbound-secret-2026", "go-gateway-bearer-2026"),
               PROVINCE: ("h41-inbound-secret-2026", "h41-gateway-bearer-2026")}
    async with AsyncExitStack() as stack:
        go = await _agency(stack, GO, "postgres", tmp_path / "go", exchange_agency_name="Văn phòng Chính phủ",
                           exchange_signing_key=go_key, exchange_signing_cert=go_cert,
                           exchange_gateway_secret=secrets[GO][0], exchange_outbox_secret=secrets[GO][1], **common)
        # The province trusts the root the Government Office signs its PDFs under (in production: the
        # national CA of the Government Cipher Committee, on every instance).
        go_pdf_root = credentials.init_ca(go.server.settings).root_cert
        province = await _agency(stack, PROVINCE, "sqlite", tmp_path / "h41",
                                 exchange_agency_name="Ủy ban nhân dân tỉnh Nghệ An", trust_roots=(go_pdf_root,),
                                 exchange_signing_key=pr_key, exchange_signing_cert=pr_cert,
                                 exchange_gateway_secret=secrets[PROVINCE][0],
                                 exchange_outbox_secret=secrets[PROVINCE][1], **common)
        routes = {a.code: {"url": f"{a.server.base_url}/api/exchange/inbound", "secret": secrets[a.code][0]}
                  for a in (go, province)}
        await stack.enter_async_context(_gateway(tmp_path, anchors, routes,
                                                 {c: bearer for c, (_, bearer) in secrets.items()}, port))
        try:
            world = await start_session(await build_world(go.admin, go.client))
            people, mid = world["people"], world["meeting_id"]
            record = await _signed_record(go.server, people, mid, "15/NQ-CP")
            go_sec = people["secretary"].client
            assert (await go_sec.post(f"/api/records/{record['id']}/publish")).status_code == 200
            sent = await go_sec.post(f"/api/records/{record['id']}/exchange", json={"recipients": [PROVINCE]})
            assert sent.status_code == 201, sent.text
            document_id = sent.json()[0]["document_id"]

            async def delivered() -> dict[str, Any] | None:
                rows = (await go_sec.get(f"/api/records/{record['id']}/exchange")).json()
                row = next(r for r in rows if r["recipient_code"] == PROVINCE)
                assert row["state"] != "failed", row
                return dict(row) if row["state"] == "delivered" else None

            await eventually("the Government Office's outbox delivers", delivered)

            async def arrived() -> dict[str, Any] | None:
                inbox = (await province.secretary.get("/api/exchange/inbox")).json()
                return next((d for d in inbox if d["document_id"] == document_id), None)

            incoming = await eventually("the resolution is in the province's inbox", arrived)
            assert incoming["sender_code"] == GO and incoming["code"] == "15/NQ-CP"
            one = (await province.secretary.get(f"/api/exchange/inbox/{incoming['id']}")).json()
            assert one["signer"]["common_name"] == "Văn phòng Chính phủ"
            pdf_item = one["attachments"][0]
            assert pdf_item["pdf"] == {"signatures": 1, "valid": True, "readable": True, "signers": ["Người chair"]}
            got = await province.secretary.get(f"/api/exchange/inbox/{incoming['id']}/attachments/1")
            published = await go_sec.get(f"/api/records/{record['id']}/pdf")
            assert published.status_code == 200 and got.content == published.content  # byte for byte
        finally:
            for agency in (go, province):
                for c in agency.clients:
                    await c.close()
