"""Two e-Cabinet instances exchange documents through the local gateway on loopback (issue 17, point 7):
the Government Office (000.00.00.G22, on PostgreSQL) and the People's Committee of Nghệ An (000.00.00.H41,
on SQLite), each with its own database, signing key and outbox, and `ecabinet exchange-gateway` running as
its own process between them. The Government Office drafts a resolution assigning the province a task,
signs, publishes and sends it, then sends the task; its outbox delivers both through the gateway; they land
in the province's inbox with the PDF byte for byte and its signature holding there. The province's 01
arrived comes back on its own; its clerk accepts, assigns and finishes both, and the Government Office's
tracking shows each status while the task turns done on its dashboard."""

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
from tests.integration.test_exchange_outbox_api import SECRET, _closed_poll
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


async def _resolution_with_a_task(go: Agency, people: dict[str, Any], mid: int) -> dict[str, Any]:
    """A resolution drafted with one task for the province (article 1), reviewed, signed and published."""
    sec, chair = people["secretary"].client, people["chair"].client
    poll_id = await _closed_poll(go.server, people, mid)
    creds = {k: (await credentials.issue(go.server.db, go.server.settings, people[k].username, SECRET))["id"]
             for k in ("secretary", "chair")}
    record = (await sec.post(f"/api/meetings/{mid}/records", json={
        "kind": "resolution", "poll_id": poll_id, "number": "15/NQ-CP",
        "title": "Về việc phân bổ vốn đầu tư công năm 2027"})).json()
    r = f"/api/records/{record['id']}"
    task = await sec.post(f"{r}/tasks", json={
        "article": 1, "lead_code": PROVINCE, "deadline": "2099-12-31", "output": "Báo cáo kết quả",
        "text": "Giao Ủy ban nhân dân tỉnh Nghệ An chủ trì triển khai, báo cáo Thủ tướng Chính phủ."})
    assert task.status_code == 201, task.text
    reviewed = await sec.post(f"{r}/review", json={"credential_id": creds["secretary"], "secret": SECRET})
    assert reviewed.status_code == 200, reviewed.text
    signed = await chair.post(f"{r}/sign", json={"credential_id": creds["chair"], "secret": SECRET})
    assert signed.status_code == 200, signed.text
    assert (await sec.post(f"{r}/publish")).status_code == 200
    return dict(signed.json())


async def _step(province: Agency, incoming_id: int, code: str, **say: str) -> None:
    r = await province.secretary.post(f"/api/exchange/inbox/{incoming_id}/status", json={"code": code, **say})
    assert r.status_code == 200 and r.json()["status_sent"], r.text


async def test_two_instances_exchange_a_resolution_its_statuses_and_a_tasks_completion(tmp_path: Path) -> None:
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
            record = await _resolution_with_a_task(go, people, mid)
            go_sec = people["secretary"].client
            sent = await go_sec.post(f"/api/records/{record['id']}/exchange",
                                     json={"recipients": [PROVINCE], "due_date": "2099-06-30"})
            assert sent.status_code == 201, sent.text
            document_id = sent.json()[0]["document_id"]
            tasks_sent = await go_sec.post(f"/api/records/{record['id']}/tasks/send")
            assert tasks_sent.status_code in (200, 201), tasks_sent.text
            task_document = tasks_sent.json()[0]["document_id"]
            assert task_document.endswith("15/NQ-CP-NV1")

            async def arrived(wanted: str) -> dict[str, Any] | None:
                inbox = (await province.secretary.get("/api/exchange/inbox")).json()
                return next((d for d in inbox if d["document_id"] == wanted), None)

            incoming = await eventually("the resolution is in the province's inbox", lambda: arrived(document_id))
            assert (incoming["sender_code"], incoming["code"], incoming["due_date"]) == (GO, "15/NQ-CP", "2099-06-30")
            one = (await province.secretary.get(f"/api/exchange/inbox/{incoming['id']}")).json()
            assert one["signer"]["common_name"] == "Văn phòng Chính phủ"
            assert one["attachments"][0]["pdf"] == {"signatures": 1, "valid": True, "readable": True,
                                                    "signers": ["Người chair"]}
            got = await province.secretary.get(f"/api/exchange/inbox/{incoming['id']}/attachments/1")
            published = await go_sec.get(f"/api/records/{record['id']}/pdf")
            assert published.status_code == 200 and got.content == published.content  # byte for byte
            task_in = await eventually("the task is in the province's inbox", lambda: arrived(task_document))
            assert task_in["due_date"] == "2099-12-31"

            async def reported(codes: list[str]) -> list[str] | None:
                rows = (await go_sec.get(f"/api/records/{record['id']}/exchange")).json()
                row = next(r for r in rows if r["document_id"] == document_id and r["recipient_code"] == PROVINCE)
                seen = [h["code"] for h in row["history"]]
                return seen if seen == codes else None

            # The province's 01 arrived comes back by itself; then its clerk's steps, each reported.
            await eventually("the Government Office sees 01 arrived", lambda: reported(["01"]))
            await _step(province, incoming["id"], "03", description="Đã vào sổ văn bản đến")
            await _step(province, incoming["id"], "04", department="Sở Kế hoạch và Đầu tư", person="Lê Văn Cường")
            await _step(province, incoming["id"], "06", description="Đã triển khai")
            await eventually("the Government Office sees every step", lambda: reported(["01", "03", "04", "06"]))
            rows = (await go_sec.get(f"/api/records/{record['id']}/exchange")).json()
            row = next(r for r in rows if r["document_id"] == document_id)
            assigned = row["history"][2]
            assert (assigned["department"], assigned["staff"]) == ("Sở Kế hoạch và Đầu tư", "Lê Văn Cường")
            assert row["latest"]["code"] == "06" and row["latest"]["description"] == "Đã triển khai"
            assert row["overdue"] is False

            async def task_state(wanted: str) -> dict[str, Any] | None:
                tasks = (await go_sec.get(f"/api/records/{record['id']}/tasks")).json()
                return dict(tasks[0]) if tasks[0]["state"] == wanted else None

            assert (await go_sec.get(f"/api/records/{record['id']}/tasks")).json()[0]["state"] != "done"
            for code, say in (("03", {}), ("04", {"department": "Sở Tài chính", "person": "Phạm Thị Dung"}),
                              ("06", {"description": "Đã báo cáo Thủ tướng"})):
                await _step(province, task_in["id"], code, **say)
            done = await eventually("the task is done at the Government Office", lambda: task_state("done"))
            assert done["lead_code"] == PROVINCE
        finally:
            for agency in (go, province):
                for c in agency.clients:
                    await c.close()
