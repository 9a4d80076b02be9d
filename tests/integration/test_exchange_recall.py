"""Recall, update and replacement (BussinessDocType 1, 2, 3) on the real server, SQLite and PostgreSQL.

Receiving: they act on a document this sender sent us before (by document id), and only on it: a recall
marks it recalled (kept), an update changes its subject and due date with the change in its history, a
replacement stores the new document and marks the old replaced, pointing to it; one naming a document we
never received from that sender is refused 422 `unknown_document` with nothing changed; nothing is
half-applied. Sending: the secretariat recalls or replaces a record delivered, queued to the same agencies."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from cryptography import x509
from sqlalchemy import update
from sqlmodel import col, select

import exchange as ex
from backend.models import IncomingChange, IncomingDocument, OutgoingPackage
from backend.services.exchange import agencies, business
from backend.services.files import FileStore
from tests.integration.conftest import Cast, Server
from tests.integration.test_exchange_api import counts, deliver, pki
from tests.integration.test_exchange_outbox_api import _signed_record
from tests.support.exchange_packages import DIRECTORY, SENDER, document, signed


@pytest.fixture
async def directory(server: Server) -> None:
    await agencies.import_csv(server.db, DIRECTORY)


def acting(package: ex.DocumentPackage, kind: ex.BusinessDocType, **changes: Any) -> ex.DocumentPackage:
    return replace(package, business=ex.Business(kind, "Sai sót về thời hạn"), **changes)


def replacing(old: ex.DocumentPackage, **changes: Any) -> ex.DocumentPackage:
    return document(business=ex.Business(ex.BusinessDocType.REPLACE, "Thay thế văn bản ban hành nhầm"),
                    response_for=(ex.ResponseFor(old.sender.organ_id, f"{old.code.number}/{old.code.notation}",
                                                 old.promulgation.date, old.document_id),), **changes)


async def _received(server: Server) -> tuple[ex.DocumentPackage, int]:
    package = document()
    r = await deliver(server, signed(package, pki(server).sender))
    assert r.status_code == 201, r.text
    return package, int(r.json()["id"])


async def test_a_recall_marks_the_document_recalled_keeps_it_and_nothing_acts_on_it_after(
        server: Server, cast: Cast, directory: None) -> None:
    package, incoming = await _received(server)
    sec = cast["secretary"].client
    recall = signed(acting(package, ex.BusinessDocType.RECALL), pki(server).sender)
    r = await deliver(server, recall)
    assert r.status_code == 201, r.text
    assert r.json() == {"id": incoming, "document_id": package.document_id, "status": "recalled",
                        "kind": "document", "duplicate": False}
    one = (await sec.get(f"/api/exchange/inbox/{incoming}")).json()
    assert one["status"] == "recalled" and one["subject"] == package.subject
    assert [(h["kind"], h["reason"]) for h in one["changes"]] == [("recalled", "Sai sót về thời hạn")]
    assert (await sec.get(f"/api/exchange/inbox/{incoming}/attachments/1")).status_code == 200, "kept"
    listed = {d["id"]: d["status"] for d in (await sec.get("/api/exchange/inbox")).json()}
    assert listed[incoming] == "recalled"

    # The same recall again is a duplicate; an update or another recall of a recalled document is refused.
    before = await counts(server)
    again = await deliver(server, recall)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    late = await deliver(server, signed(acting(package, ex.BusinessDocType.UPDATE, subject="Muộn"), pki(server).sender))
    assert late.status_code == 422 and late.json()["error"]["code"] == "document_recalled"
    assert "status_package" in late.json(), "the sender hears of the refusal"
    assert await counts(server) == before
    assert (await sec.get(f"/api/exchange/inbox/{incoming}")).json()["subject"] == package.subject


async def test_an_update_changes_subject_and_due_date_and_keeps_the_change_in_history(
        server: Server, cast: Cast, directory: None) -> None:
    package, incoming = await _received(server)
    before = await counts(server)
    update_package = acting(package, ex.BusinessDocType.UPDATE, subject="Tờ trình (sửa đổi thời hạn)",
                            due_date=date(2027, 1, 15))
    r = await deliver(server, signed(update_package, pki(server).sender))
    assert r.status_code == 201, r.text
    assert r.json() == {"id": incoming, "document_id": package.document_id, "status": "arrived",
                        "kind": "document", "duplicate": False}
    assert (await counts(server))[0] == before[0], "no second document"
    one = (await cast["secretary"].client.get(f"/api/exchange/inbox/{incoming}")).json()
    assert (one["subject"], one["due_date"]) == ("Tờ trình (sửa đổi thời hạn)", "2027-01-15")
    assert [h["kind"] for h in one["changes"]] == ["updated"]
    assert one["changes"][0]["changes"] == {"subject": [package.subject, "Tờ trình (sửa đổi thời hạn)"],
                                            "due_date": ["2026-12-31", "2027-01-15"]}


async def test_a_replacement_stores_the_new_document_and_marks_the_old_replaced_pointing_to_it(
        server: Server, cast: Cast, directory: None) -> None:
    old, old_id = await _received(server)
    new = replacing(old, subject="Tờ trình thay thế")
    r = await deliver(server, signed(new, pki(server).sender))
    assert r.status_code == 201, r.text
    assert r.json()["document_id"] == new.document_id and r.json()["id"] != old_id
    sec = cast["secretary"].client
    before = (await sec.get(f"/api/exchange/inbox/{old_id}")).json()
    assert (before["status"], before["replaced_by_id"]) == ("replaced", r.json()["id"])
    assert before["changes"][0]["kind"] == "replaced" and before["changes"][0]["replaced_by_id"] == r.json()["id"]
    after = (await sec.get(f"/api/exchange/inbox/{r.json()['id']}")).json()
    assert (after["status"], after["subject"], after["replaced_by_id"]) == ("arrived", "Tờ trình thay thế", None)
    again = await deliver(server, signed(replacing(old), pki(server).sender))
    assert again.status_code == 422 and again.json()["error"]["code"] == "document_replaced"


BAD: dict[str, tuple[Any, str]] = {
    "recall of a document never received": (lambda: acting(document(), ex.BusinessDocType.RECALL), "unknown_document"),
    "update of a document never received": (lambda: acting(document(), ex.BusinessDocType.UPDATE), "unknown_document"),
    "replacement of a document never received": (lambda: replacing(document()), "unknown_document"),
    "replacement naming no document of its sender": (
        lambda: document(business=ex.Business(ex.BusinessDocType.REPLACE, "?")), "invalid_reference"),
}


@pytest.mark.parametrize("case", BAD, ids=BAD.keys())
async def test_a_recall_update_or_replacement_of_what_we_never_received_is_refused_and_changes_nothing(
        server: Server, directory: None, case: str) -> None:
    make, code = BAD[case]
    before = await counts(server)
    r = await deliver(server, signed(make(), pki(server).sender))
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    assert "status_package" in r.json()
    assert await counts(server) == before


async def test_a_recall_from_another_sender_does_not_touch_the_document(server: Server, directory: None) -> None:
    package, incoming = await _received(server)
    other = ex.Organization("000.00.00.H26", "Ủy ban nhân dân tỉnh Hà Tĩnh")
    r = await deliver(server, signed(acting(package, ex.BusinessDocType.RECALL, sender=other), pki(server).sender))
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_document"
    async with server.db.read() as s:
        assert (await s.get(IncomingDocument, incoming)).status == "arrived"  # type: ignore[union-attr]


async def test_a_replacement_that_fails_to_commit_leaves_neither_the_new_row_nor_the_old_ones_change(
        server: Server, directory: None, monkeypatch: pytest.MonkeyPatch) -> None:
    old, old_id = await _received(server)
    data = signed(replacing(old, attachments=(ex.Attachment("moi.pdf", "application/pdf", b"%PDF-1.7 moi\n"),)),
                  pki(server).sender)
    before = await counts(server)

    async def failing_audit(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk under the database failed")

    monkeypatch.setattr(business.audit, "record", failing_audit)
    with pytest.raises(RuntimeError):
        await deliver_in_process(server, data)
    monkeypatch.undo()
    assert await counts(server) == before
    async with server.db.read() as s:
        assert (await s.get(IncomingDocument, old_id)).status == "arrived"  # type: ignore[union-attr]
        assert (await s.exec(select(IncomingChange).where(IncomingChange.incoming_id == old_id))).all() == []
    assert (await deliver(server, data)).status_code == 201  # once the fault is gone, it applies whole


async def deliver_in_process(server: Server, data: bytes) -> Any:
    from backend.services.exchange import inbound

    return await inbound.receive(server.db, server.settings, data)


# --- sending ---------------------------------------------------------------------------------------------


def _package(server: Server, digest: str) -> ex.DocumentPackage:
    data = (FileStore.for_settings(server.settings).path(digest)).read_bytes()
    assert server.settings.exchange_signing_cert is not None
    chain = x509.load_pem_x509_certificates(server.settings.exchange_signing_cert.read_bytes())
    package = ex.parse_package(data, trust_anchors=[chain[-1]])
    assert isinstance(package, ex.DocumentPackage)
    return package


async def _delivered(server: Server, record_id: int) -> None:
    async with server.db.write() as s:
        await s.exec(update(OutgoingPackage).where(  # type: ignore[call-overload]
            col(OutgoingPackage.record_id) == record_id).values(state="delivered"))


async def test_the_secretariat_recalls_a_record_delivered_from_the_agencies_that_have_it(
        server: Server, session_world: dict[str, Any], directory: None) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, chair, member = (people[k].client for k in ("secretary", "chair", "member"))
    record = await _signed_record(server, people, mid, "41/NQ-CP")
    path = f"/api/records/{record['id']}/exchange"
    assert (await sec.post(f"/api/records/{record['id']}/publish")).status_code == 200
    never = await sec.post(f"{path}/recall", json={"reason": "Ban hành nhầm"})
    assert never.status_code == 409 and never.json()["error"]["code"] == "not_sent"
    sent = (await sec.post(path, json={"recipients": [SENDER]})).json()
    on_its_way = await sec.post(f"{path}/recall", json={"reason": "Ban hành nhầm"})
    assert on_its_way.status_code == 409 and on_its_way.json()["error"]["code"] == "not_delivered"
    await _delivered(server, record["id"])

    # May not: the chair, a member, no reason.
    assert (await chair.post(f"{path}/recall", json={"reason": "x"})).status_code == 403
    assert (await member.post(f"{path}/recall", json={"reason": "x"})).status_code in (403, 404)
    assert (await sec.post(f"{path}/recall", json={"reason": " "})).status_code in (400, 422)

    recalled = await sec.post(f"{path}/recall", json={"reason": "Ban hành nhầm"})
    assert recalled.status_code == 201, recalled.text
    rows = recalled.json()
    assert [(r["recipient_code"], r["business"], r["state"], r["document_id"]) for r in rows] == [
        (SENDER, "recall", "queued", sent[0]["document_id"])]
    async with server.db.read() as s:
        digest = (await s.get(OutgoingPackage, rows[0]["id"])).package_sha256  # type: ignore[union-attr]
    package = _package(server, digest)
    assert package.business == ex.Business(ex.BusinessDocType.RECALL, "Ban hành nhầm")
    assert package.document_id == sent[0]["document_id"]
    twice = await sec.post(f"{path}/recall", json={"reason": "Ban hành nhầm"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_recalled"
    listed = (await sec.get(path)).json()
    assert [r["business"] for r in listed] == ["new", "recall"]


async def test_the_secretariat_replaces_a_record_delivered_by_another_published_record(
        server: Server, session_world: dict[str, Any], directory: None) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec = people["secretary"].client
    old = await _signed_record(server, people, mid, "42/NQ-CP")
    new = await _signed_record(server, people, mid, "43/NQ-CP")
    assert (await sec.post(f"/api/records/{old['id']}/publish")).status_code == 200
    sent = (await sec.post(f"/api/records/{old['id']}/exchange", json={"recipients": [SENDER]})).json()
    await _delivered(server, old["id"])
    path = f"/api/records/{old['id']}/exchange/replace"

    unpublished = await sec.post(path, json={"by_record_id": new["id"], "reason": "Thay thế"})
    assert unpublished.status_code == 409 and unpublished.json()["error"]["code"] == "not_published"
    itself = await sec.post(path, json={"by_record_id": old["id"], "reason": "Thay thế"})
    assert itself.status_code == 400 and itself.json()["error"]["code"] == "bad_replacement"
    assert (await people["chair"].client.post(path, json={"by_record_id": new["id"], "reason": "x"})).status_code == 403
    assert (await sec.post(f"/api/records/{new['id']}/publish")).status_code == 200

    replaced = await sec.post(path, json={"by_record_id": new["id"], "reason": "Thay thế"})
    assert replaced.status_code == 201, replaced.text
    row = replaced.json()[0]
    assert (row["record_id"], row["recipient_code"], row["business"]) == (new["id"], SENDER, "replace")
    async with server.db.read() as s:
        digest = (await s.get(OutgoingPackage, row["id"])).package_sha256  # type: ignore[union-attr]
    package = _package(server, digest)
    assert package.business.doc_type is ex.BusinessDocType.REPLACE
    assert [r.document_id for r in package.response_for] == [sent[0]["document_id"]]
    assert package.document_id == row["document_id"] != sent[0]["document_id"]
    twice = await sec.post(path, json={"by_record_id": new["id"], "reason": "Thay thế"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_sent"


async def test_a_due_date_travels_in_the_package_and_one_before_the_record_is_refused(
        server: Server, session_world: dict[str, Any], directory: None) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec = people["secretary"].client
    record = await _signed_record(server, people, mid, "44/NQ-CP")
    assert (await sec.post(f"/api/records/{record['id']}/publish")).status_code == 200
    path = f"/api/records/{record['id']}/exchange"
    early = await sec.post(path, json={"recipients": [SENDER], "due_date": "2020-01-01"})
    assert early.status_code == 400 and early.json()["error"]["code"] == "bad_due_date"
    sent = await sec.post(path, json={"recipients": [SENDER], "due_date": "2030-01-15"})
    assert sent.status_code == 201, sent.text
    async with server.db.read() as s:
        digest = (await s.get(OutgoingPackage, sent.json()[0]["id"])).package_sha256  # type: ignore[union-attr]
    assert _package(server, digest).due_date == date(2030, 1, 15)
