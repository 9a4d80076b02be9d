"""Sending a published record to other agencies (POST/GET /api/records/{id}/exchange), on SQLite and
PostgreSQL: only the meeting's secretariat sends, only a published record, only to active agencies of the
directory; ONE signed package per send carries the signed PDF byte for byte, stored and queued with one
row per recipient and an audit entry; a refused send leaves no row and no file."""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from sqlalchemy import func
from sqlmodel import select

import exchange as ex
from backend.models import AuditEntry, OutgoingPackage, Poll
from backend.models.base import utcnow
from backend.services import credentials
from backend.services.exchange import agencies
from backend.services.files import FileStore
from tests.integration.conftest import Server
from tests.support.exchange_packages import DIRECTORY, SENDER

SECRET = "Khoa-ky-gui-2026"
OTHER = "000.00.00.H42"


async def _closed_poll(server: Server, cast: dict[str, Any], meeting_id: int) -> int:
    async with server.db.write() as s:
        poll = Poll(meeting_id=meeting_id, question="Thông qua?", status="closed", created_by=cast["chair"].id,
                    options=json.dumps([{"key": "yes", "label": "Tán thành", "kind": "yes"}]),
                    result=json.dumps({"counts": {"yes": 1}, "total_ballots": 1, "entitled": 1, "present": 1,
                                       "quorum_reached": True, "passed": True, "quorum_needed": 1}),
                    opened_at=utcnow(), closed_at=utcnow())
        s.add(poll)
        await s.flush()
        assert poll.id is not None
        return poll.id


async def _signed_record(server: Server, cast: dict[str, Any], mid: int, number: str) -> dict[str, Any]:
    """A resolution reviewed and signed (not yet published)."""
    sec, chair = cast["secretary"].client, cast["chair"].client
    poll_id = await _closed_poll(server, cast, mid)
    if not credentials.dev_ca(server.settings).exists:
        credentials.init_ca(server.settings)
    sec_cred = (await credentials.issue(server.db, server.settings, cast["secretary"].username, SECRET))["id"]
    chair_cred = (await credentials.issue(server.db, server.settings, cast["chair"].username, SECRET))["id"]
    record = (await sec.post(f"/api/meetings/{mid}/records", json={
        "kind": "resolution", "poll_id": poll_id, "number": number,
        "title": "Về việc phân bổ vốn đầu tư công năm 2027"})).json()
    r = f"/api/records/{record['id']}"
    assert (await sec.post(f"{r}/review", json={"credential_id": sec_cred, "secret": SECRET})).status_code == 200
    signed = await chair.post(f"{r}/sign", json={"credential_id": chair_cred, "secret": SECRET})
    assert signed.status_code == 200, signed.text
    return dict(signed.json())


async def _outbox(server: Server) -> tuple[int, int]:
    """Documents in the outbox and their audit entries (status packages are not counted: every document
    received queues one)."""
    async with server.db.read() as s:
        rows = (await s.exec(select(func.count()).select_from(OutgoingPackage)
                             .where(OutgoingPackage.kind == "document"))).one()
        audits = (await s.exec(select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action == "exchange.sent"))).one()
    return int(rows), int(audits)


async def test_the_secretariat_sends_a_published_record_as_one_signed_package_with_the_pdf_unchanged(
        server: Server, session_world: dict[str, Any]) -> None:
    cast, mid = session_world["people"], session_world["meeting_id"]
    await agencies.import_csv(server.db, DIRECTORY + f"{OTHER},Ủy ban nhân dân tỉnh Hà Tĩnh,1,\n")
    sec, chair, member = (cast[k].client for k in ("secretary", "chair", "member"))
    record = await _signed_record(server, cast, mid, "15/NQ-CP")
    path = f"/api/records/{record['id']}/exchange"
    rows0, audits0 = await _outbox(server)  # the server is shared: other tests' rows are counted out

    async def outbox() -> tuple[int, int]:
        rows, audits = await _outbox(server)
        return rows - rows0, audits - audits0

    # Not yet published: refused, nothing queued.
    early = await sec.post(path, json={"recipients": [SENDER]})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_published"
    assert (await sec.post(f"/api/records/{record['id']}/publish")).status_code == 200

    # May not: the chair (staff, but sending is the secretariat's), a member, bad recipients.
    by_chair = await chair.post(path, json={"recipients": [SENDER]})
    assert by_chair.status_code == 403, by_chair.text
    by_member = await member.post(path, json={"recipients": [SENDER]})
    assert by_member.status_code in (403, 404)
    unknown = await sec.post(path, json={"recipients": [SENDER, "000.00.00.H99"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_agency"
    ours = await sec.post(path, json={"recipients": [server.settings.exchange_agency_code]})
    assert ours.status_code == 400 and ours.json()["error"]["code"] == "bad_recipients"
    assert (await sec.post(path, json={"recipients": []})).status_code in (400, 422)
    assert await outbox() == (0, 0)

    # May: one package for both recipients, one queued row each.
    sent = await sec.post(path, json={"recipients": [SENDER, OTHER]})
    assert sent.status_code == 201, sent.text
    rows = sent.json()
    assert [(r["recipient_code"], r["state"], r["attempts"]) for r in rows] == [(SENDER, "queued", 0),
                                                                               (OTHER, "queued", 0)]
    assert rows[0]["document_id"].startswith(f"{server.settings.exchange_agency_code},")
    assert rows[0]["document_id"].endswith(",15/NQ-CP")
    assert await outbox() == (2, 1)
    listed = (await sec.get(path)).json()
    assert [r["id"] for r in listed] == [r["id"] for r in rows]
    assert (await member.get(path)).status_code in (403, 404)

    async with server.db.read() as s:
        stored = (await s.exec(select(OutgoingPackage).where(OutgoingPackage.record_id == record["id"]))).all()
    assert len({r.package_sha256 for r in stored}) == 1, "one package for the recipients sent together"
    data = await FileStore.for_settings(server.settings).get(stored[0].package_sha256)
    assert server.settings.exchange_signing_cert is not None
    chain = x509.load_pem_x509_certificates(server.settings.exchange_signing_cert.read_bytes())
    package = ex.parse_package(data, trust_anchors=[chain[-1]])
    assert isinstance(package, ex.DocumentPackage)
    assert {o.organ_id for o in package.recipients} == {SENDER, OTHER}
    assert package.subject == record["title"] and package.code == ex.DocumentCode("15", "NQ-CP")
    assert package.document_id == rows[0]["document_id"]
    pdf = (await sec.get(f"/api/records/{record['id']}/pdf")).content
    assert [a.data for a in package.attachments] == [pdf], "the signed PDF byte for byte"
    assert package.signer.full_name == "Người chair"

    # Sent once: sending it again to the same agency is a duplicate.
    again = await sec.post(path, json={"recipients": [SENDER]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_sent"
    assert await outbox() == (2, 1)
