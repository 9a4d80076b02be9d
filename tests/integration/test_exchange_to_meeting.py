"""A document received, put before a meeting (issue 17, point 4): the meeting's secretariat makes one PDF
attachment of an incoming document a document of the meeting, under an agenda item, checked like an upload
and audited. May not: a member (no inbox), the secretariat of another body
(not that meeting's staff); a missing attachment 404, a file that is no PDF 400 as an upload, a recalled
document 409 `document_withdrawn`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import select

import exchange as ex
from backend.models import AuditEntry, IncomingDocument
from backend.services.exchange import agencies
from tests.integration.conftest import Cast, Server
from tests.integration.test_exchange_api import deliver, pki
from tests.support.exchange_packages import DIRECTORY, document, signed
from tests.support.sample_pdfs import sample_pdf


@pytest.fixture
async def directory(server: Server) -> None:
    await agencies.import_csv(server.db, DIRECTORY)


async def _received(server: Server, pdf: bytes) -> int:
    package = document(attachments=(ex.Attachment("to-trinh.pdf", "application/pdf", pdf, "Toàn văn tờ trình"),
                                    ex.Attachment("ghi-chu.txt", "text/plain", "Ghi chú".encode(), "Ghi chú")))
    r = await deliver(server, signed(package, pki(server).sender))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_the_meetings_secretariat_puts_a_received_pdf_under_an_agenda_item(
        server: Server, world: dict[str, Any], cast: Cast, directory: None) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec = people["secretary"].client
    item = (await sec.post(f"/api/meetings/{mid}/agenda", json={"title": "Tờ trình của UBND tỉnh Nghệ An"})).json()
    pdf = sample_pdf(2, title="Tờ trình hỗ trợ khắc phục bão lũ")
    incoming = await _received(server, pdf)
    path = f"/api/exchange/inbox/{incoming}/attachments/1/meeting"
    body = {"meeting_id": mid, "agenda_item_id": item["id"]}

    member = await people["member"].client.post(path, json=body)
    assert member.status_code == 403, member.text  # members have no inbox
    stranger = await cast["other_secretary"].client.post(path, json=body)
    assert stranger.status_code in (403, 404), stranger.text  # not that meeting's staff
    missing = await sec.post(f"/api/exchange/inbox/{incoming}/attachments/9/meeting", json=body)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    not_pdf = await sec.post(f"/api/exchange/inbox/{incoming}/attachments/2/meeting", json=body)
    assert not_pdf.status_code == 400, not_pdf.text  # the upload's own check
    assert (await sec.post(path, json={"meeting_id": "x"})).status_code in (400, 422)

    r = await sec.post(path, json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["agenda_item_id"] == item["id"] and made["meeting_id"] == mid
    assert "/TTr-UBND — Tờ trình về việc đề nghị hỗ trợ" in made["title"]  # its number and subject
    listed = (await sec.get(f"/api/meetings/{mid}/documents")).json()
    assert made["id"] in [d["id"] for d in listed]  # one of the meeting's papers, as any upload
    async with server.db.read() as s:
        audited = (await s.exec(select(AuditEntry).where(AuditEntry.action == "exchange.attached",
                                                         AuditEntry.object_id == incoming))).all()
    assert len(audited) == 1 and audited[0].meeting_id == mid

    async with server.db.write() as s:  # the sender recalled it since
        await s.exec(update(IncomingDocument).where(  # type: ignore[call-overload]
            IncomingDocument.id == incoming).values(status="recalled"))
    withdrawn = await sec.post(path, json=body)
    assert withdrawn.status_code == 409 and withdrawn.json()["error"]["code"] == "document_withdrawn"

