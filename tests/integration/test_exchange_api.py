"""Receiving documents from other agencies (POST /api/exchange/inbound), the inbox and the directory,
on the real server (SQLite and PostgreSQL): a valid signed package lands whole; every hostile package is
refused with its code and leaves no row and no file behind; only the gateway may deliver, and only the
secretariat and administrators read what arrived."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

import exchange as ex
from backend.api.exchange import gateway
from backend.exceptions import Forbidden
from backend.models import AuditEntry, IncomingDocument
from backend.services.exchange import agencies, inbound
from tests.integration.conftest import Cast, Client, Server
from tests.support.exchange_packages import DIRECTORY, GATEWAY_SECRET, PDF, document, exchange_pki, signed
from tests.unit.exchange.conftest import find, resign, tree
from tests.unit.exchange.test_safe_xml import BILLION_LAUGHS

INBOUND = "/api/exchange/inbound"
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
SECRET_TEXT = "TOP-SECRET-inbound-7d2e"


@pytest.fixture
async def directory(server: Server) -> None:
    await agencies.import_csv(server.db, DIRECTORY)


def pki(server: Server) -> Any:
    return exchange_pki(server.settings.data_dir / "exchange-pki")


async def deliver(server: Server, data: bytes, *, secret: str | None = GATEWAY_SECRET,
                  content_type: str = "application/xml") -> httpx.Response:
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as gateway_client:
        return await gateway_client.post(INBOUND, content=data, headers=headers)


async def counts(server: Server) -> tuple[int, int]:
    """Rows in the inbox and files in the store."""
    async with server.db.read() as s:
        rows = (await s.exec(select(func.count()).select_from(IncomingDocument))).one()
    store = server.settings.data_dir / "files"
    files = sum(1 for p in store.rglob("*") if p.is_file()) if store.exists() else 0
    return int(rows), files


async def test_a_signed_package_from_a_known_agency_lands_in_the_inbox_with_its_pdf_byte_identical(
        server: Server, cast: Cast, root: Client, directory: None) -> None:
    package = document()
    r = await deliver(server, signed(package, pki(server).sender))
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["document_id"] == package.document_id and stored["status"] == "arrived"
    sec = cast["secretary"].client
    listed = (await sec.get("/api/exchange/inbox")).json()
    assert listed[0]["id"] == stored["id"] and listed[0]["sender_code"] == "000.00.00.H41"
    one = (await sec.get(f"/api/exchange/inbox/{stored['id']}")).json()
    assert one["subject"] == package.subject and one["code"] == package.code.number + "/TTr-UBND"
    assert one["promulgation_date"] == "2026-12-01" and one["due_date"] == "2026-12-31"
    assert one["attachments"] == [{"number": 1, "name": "to-trinh.pdf", "content_type": "application/pdf",
                                   "description": "Toàn văn tờ trình", "size": len(PDF),
                                   # the stand-in PDF is unsigned and not a whole PDF: let in, marked so
                                   "pdf": {"signatures": 0, "valid": False, "signers": [], "readable": False}}]
    assert one["signer"]["common_name"] == "Văn phòng UBND tỉnh Nghệ An"
    pdf = await sec.get(f"/api/exchange/inbox/{stored['id']}/attachments/1")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/octet-stream"
    assert (await root.get(f"/api/exchange/inbox/{stored['id']}/attachments/1")).content == PDF
    assert (await sec.get(f"/api/exchange/inbox/{stored['id']}/attachments/2")).status_code == 404
    async with server.db.read() as s:
        actions = (await s.exec(select(AuditEntry.action).where(AuditEntry.object_id == stored["id"],
                                                                AuditEntry.object_type == "incoming_document"))).all()
    assert "exchange.received" in actions and "exchange.attachment_downloaded" in actions


async def test_the_same_document_twice_is_a_duplicate_and_nothing_more_is_stored(
        server: Server, directory: None) -> None:
    data = signed(document(), pki(server).sender)
    assert (await deliver(server, data)).status_code == 201
    before = await counts(server)
    again = await deliver(server, data)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    assert await counts(server) == before


def _xxe(secret_file: Path) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
            f'<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><Subject>&xxe;</Subject></edXMLHeader>'
            '</edXMLEnvelope></edXML>').encode()


def _tampered(data: bytes) -> bytes:
    assert "bão lũ".encode() in data
    return data.replace("bão lũ".encode(), "bão lụt".encode())


def _renamed_attachment(data: bytes, signer: Any) -> bytes:
    root = tree(data)
    find(root, "AttachmentEncoded/Attachment/AttachmentName").text = "virus.exe"
    return resign(root, signer)


HOSTILE: dict[str, tuple[Callable[[Any, Path], bytes], int, str]] = {
    "billion laughs": (lambda p, f: BILLION_LAUGHS, 422, "forbidden_construct"),
    "XXE reading a local file": (lambda p, f: _xxe(f), 422, "forbidden_construct"),
    "wrong namespace": (lambda p, f: signed(document(), p.sender).replace(NS.encode(), b"http://example.org/x"),
                        422, "wrong_namespace"),
    "broken signature": (lambda p, f: _tampered(signed(document(), p.sender)), 422, "bad_signature"),
    "signed under a root nobody trusts": (lambda p, f: signed(document(), p.stranger), 422, "bad_signature"),
    "unknown sender": (lambda p, f: signed(document(sender=ex.Organization("000.00.00.H58", "Lạ")), p.sender),
                       422, "unknown_agency"),
    "manifest mismatch": (lambda p, f: _renamed_attachment(signed(document(), p.sender), p.sender),
                          422, "manifest_mismatch"),
    "not addressed to us": (lambda p, f: signed(document(recipients=(ex.Organization("000.00.00.H26"),)), p.sender),
                            422, "not_addressed_to_us"),
    "oversized body": (lambda p, f: b" " * (64 * 1024 * 1024 + 1), 413, "payload_too_large"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE.keys())
async def test_hostile_packages_are_refused_with_their_code_and_nothing_is_stored(
        server: Server, directory: None, tmp_path: Path, case: str) -> None:
    make, status, code = HOSTILE[case]
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET_TEXT)
    before = await counts(server)
    r = await deliver(server, make(pki(server), secret_file))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert SECRET_TEXT not in r.text
    assert await counts(server) == before
    async with server.db.read() as s:
        details = (await s.exec(select(AuditEntry.details).where(AuditEntry.action == "exchange.refused"))).all()
    assert all(SECRET_TEXT not in d for d in details)
    if server.backend == "sqlite":
        for path in server.settings.data_dir.glob("test.sqlite3*"):
            assert SECRET_TEXT.encode() not in path.read_bytes()


async def test_a_refusal_to_a_known_sender_carries_our_signed_refused_status(server: Server, directory: None) -> None:
    package = document()
    r = await deliver(server, _tampered(signed(package, pki(server).sender)))
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_signature"
    status_bytes = base64.b64decode(r.json()["status_package"])
    status = ex.parse_package(status_bytes, trust_anchors=[_our_root(server)])
    assert isinstance(status, ex.StatusPackage) and status.status_code is ex.StatusCode.REFUSED
    assert status.response_for.document_id == package.document_id and status.sender.organ_id == "000.00.00.G22"
    assert status.description == "the package was changed after it was signed"


def _our_root(server: Server) -> Any:
    """The root our status-signing certificate chains to (what the sender would hold as its anchor)."""
    from cryptography import x509

    return x509.load_pem_x509_certificate((server.settings.data_dir / "exchange-pki" / "ours-ca" / "root.pem")
                                          .read_bytes())


async def test_without_our_signing_key_the_refusal_says_so_and_has_no_status(server: Server, directory: None) -> None:
    settings = replace(server.settings, exchange_signing_key=None, exchange_signing_cert=None)
    refusal = await inbound.receive(server.db, settings, _tampered(signed(document(), pki(server).sender)))
    assert isinstance(refusal, inbound.Refusal)
    assert refusal.code == "bad_signature" and refusal.status_package is None
    assert "ECABINET_EXCHANGE_SIGNING_KEY" in refusal.message


async def test_only_the_gateway_with_its_secret_may_deliver(server: Server, cast: Cast, directory: None) -> None:
    data = signed(document(), pki(server).sender)
    before = await counts(server)
    missing = await deliver(server, data, secret=None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "gateway_secret_required"
    wrong = await deliver(server, data, secret=GATEWAY_SECRET[:-1] + "x")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "bad_gateway_secret"
    # A logged-in user's own token is no gateway secret.
    member = await cast["member"].client.post(INBOUND, content=data, headers={"Content-Type": "application/xml"})
    assert member.status_code in (401, 403)
    assert await counts(server) == before


def test_an_empty_gateway_secret_disables_the_endpoint(server: Server) -> None:
    from starlette.requests import Request

    request = Request({"type": "http", "method": "POST", "path": INBOUND,
                       "headers": [(b"authorization", b"Bearer anything-at-all-long-enough")]})
    with pytest.raises(Forbidden) as refused:
        gateway(request, replace(server.settings, exchange_gateway_secret=""))
    assert refused.value.code == "exchange_disabled" and "ECABINET_EXCHANGE_GATEWAY_SECRET" in refused.value.message


async def test_members_may_not_read_the_inbox_but_the_secretariat_and_administrators_may(
        server: Server, cast: Cast, root: Client, directory: None) -> None:
    stored = (await deliver(server, signed(document(), pki(server).sender))).json()
    member = cast["member"].client
    for url in ("/api/exchange/inbox", f"/api/exchange/inbox/{stored['id']}",
                f"/api/exchange/inbox/{stored['id']}/attachments/1"):
        r = await member.get(url)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", url
        assert (await root.get(url)).status_code == 200
        assert (await cast["secretary"].client.get(url)).status_code == 200
    assert (await root.get("/api/exchange/inbox/2147483647")).status_code == 404


async def test_any_logged_in_user_may_list_the_directory_and_nobody_else(
        server: Server, cast: Cast, directory: None) -> None:
    listed = (await cast["member"].client.get("/api/exchange/agencies")).json()
    assert {"code": "000.00.00.G22", "name": "Văn phòng Chính phủ", "level": 1, "parent_code": None,
            "active": True} in listed
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert (await anonymous.get("/api/exchange/agencies")).status_code == 401


async def test_a_commit_that_fails_leaves_neither_the_row_nor_the_files(
        server: Server, directory: None, monkeypatch: pytest.MonkeyPatch) -> None:
    package = document(attachments=(ex.Attachment("rieng.pdf", "application/pdf", PDF + b"% chi rieng lan nay\n"),))
    data = signed(package, pki(server).sender)
    before = await counts(server)

    async def failing_audit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk under the database failed")

    monkeypatch.setattr(inbound.audit, "record", failing_audit)
    with pytest.raises(RuntimeError):
        await inbound.receive(server.db, server.settings, data)
    assert await counts(server) == before
    monkeypatch.undo()
    assert (await deliver(server, data)).status_code == 201  # and once the fault is gone, it lands whole
    # the package, its PDF and our signed 01 "arrived" status for the sender
    assert await counts(server) == (before[0] + 1, before[1] + 3)
