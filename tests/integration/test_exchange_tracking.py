"""Tracking each document's handling (issue 17 point 5), on SQLite and PostgreSQL.

As RECIPIENT: a document that lands queues our signed 01 "arrived" back to its sender; the secretariat's
steps (02 ... 06) follow their legal order, each recorded with its audit entry and reported as a signed
status package through the outbox. As SENDER: the statuses a recipient reports about a document we sent it
are stored once (the same package twice is one row), shown per recipient with the latest and `overdue`,
and handed to the LISTENERS; a status about a document we never sent to that agency is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import exchange as ex
from backend.models import AuditEntry, IncomingStep, OutgoingPackage, ReceivedStatus
from backend.services.context import Actor
from backend.services.exchange import agencies, inbound, sender, steps, tracking, watched
from backend.services.files import FileStore
from tests.integration.conftest import Cast, Client, Server
from tests.integration.test_exchange_api import _our_root, deliver, pki
from tests.integration.test_exchange_outbox_api import _signed_record
from tests.integration.test_exchange_outbox_delivery import FakeGateway, _settings
from tests.integration.test_exchange_outbox_delivery import gateway as gateway  # noqa: F401  (fixture)
from tests.support.exchange_packages import DIRECTORY, OURS, SENDER, document, signed, signed_status, status_from

OTHER = "000.00.00.H26"  # in the directory, but nothing is sent to it


@pytest.fixture
async def directory(server: Server) -> None:
    await agencies.import_csv(server.db, DIRECTORY)


async def _received(server: Server, **changes: Any) -> dict[str, Any]:
    r = await deliver(server, signed(document(**changes), pki(server).sender))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _status_rows(server: Server, incoming_id: int) -> list[OutgoingPackage]:
    async with server.db.read() as s:
        return list((await s.exec(select(OutgoingPackage).where(OutgoingPackage.incoming_id == incoming_id)
                                  .order_by(col(OutgoingPackage.id)))).all())


async def _parsed_status(server: Server, row: OutgoingPackage) -> ex.StatusPackage:
    data = await FileStore.for_settings(server.settings).get(row.package_sha256)
    status = ex.parse_package(data, trust_anchors=[_our_root(server)])
    assert isinstance(status, ex.StatusPackage)
    return status


# --- our side as recipient ---------------------------------------------------------------------------------


async def test_a_received_document_queues_our_signed_arrived_status_to_its_sender(
        server: Server, cast: Cast, directory: None) -> None:
    package = document()
    r = await deliver(server, signed(package, pki(server).sender))
    assert r.status_code == 201, r.text
    stored = r.json()
    rows = await _status_rows(server, stored["id"])
    assert [(r.kind, r.status_code, r.recipient_code, r.state, r.record_id, r.created_by) for r in rows] == [
        ("status", "01", SENDER, "queued", None, None)]
    status = await _parsed_status(server, rows[0])
    assert status.status_code is ex.StatusCode.ARRIVED and status.sender.organ_id == OURS
    assert status.response_for.organ_id == SENDER and status.response_for.code == f"{package.code.number}/TTr-UBND"
    assert status.response_for.document_id == stored["document_id"] == rows[0].document_id
    one = (await cast["secretary"].client.get(f"/api/exchange/inbox/{stored['id']}")).json()
    assert [(h["code"], h["name"], h["status_sent"], h["delivery"]) for h in one["history"]] == [
        ("01", "arrived", True, "queued")]
    assert one["status"] == "arrived" and one["overdue"] is False


async def test_the_secretariat_takes_the_steps_in_order_each_reported_to_the_sender(
        server: Server, cast: Cast, root: Client, directory: None) -> None:
    stored = await _received(server)
    sec, member = cast["secretary"].client, cast["member"].client
    path = f"/api/exchange/inbox/{stored['id']}/status"

    # May not: a member, a document that does not exist, a step out of order, a code that is no step.
    denied = await member.post(path, json={"code": "03"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    missing = await sec.post("/api/exchange/inbox/2147483647/status", json={"code": "03"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    early = await sec.post(path, json={"code": "06"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "illegal_step"
    assert "03 accepted" in early.json()["error"]["message"]
    for code in ("01", "13", "xx"):
        r = await sec.post(path, json={"code": code})
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_step", code
    assert (await sec.post(path, json={"code": "03", "extra": 1})).status_code in (400, 422)

    # May: accept, assign (department and person required), in progress, done.
    accepted = await sec.post(path, json={"code": "03", "description": "Đã vào sổ"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["status_sent"] is True
    again = await sec.post(path, json={"code": "03"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_step"
    nobody = await sec.post(path, json={"code": "04", "department": "Vụ Tổng hợp"})
    assert nobody.status_code == 400 and nobody.json()["error"]["code"] == "assignee_required"
    assigned = await sec.post(path, json={"code": "04", "department": "Vụ Tổng hợp", "person": "Nguyễn Văn A"})
    assert assigned.status_code == 200 and assigned.json()["step"]["person"] == "Nguyễn Văn A"
    assert (await sec.post(path, json={"code": "05"})).status_code == 200
    done = await root.post(path, json={"code": "06", "description": "Đã trình Thủ tướng"})  # an administrator
    assert done.status_code == 200 and done.json()["status"] == "done"
    final = await sec.post(path, json={"code": "02", "description": "muộn"})
    assert final.status_code == 409 and final.json()["error"]["code"] == "illegal_step"

    one = (await sec.get(f"/api/exchange/inbox/{stored['id']}")).json()
    assert [h["code"] for h in one["history"]] == ["01", "03", "04", "05", "06"] and one["status"] == "done"
    assert one["history"][2]["department"] == "Vụ Tổng hợp"
    rows = await _status_rows(server, stored["id"])
    assert [r.status_code for r in rows] == ["01", "03", "04", "05", "06"]
    assigned_status = await _parsed_status(server, rows[2])
    assert assigned_status.status_code is ex.StatusCode.ASSIGNED
    assert assigned_status.staff == ex.StaffInfo("Vụ Tổng hợp", "Nguyễn Văn A")
    assert (await _parsed_status(server, rows[4])).description == "Đã trình Thủ tướng"
    async with server.db.read() as s:
        audited = (await s.exec(select(AuditEntry.details).where(
            AuditEntry.action == "exchange.step", AuditEntry.object_id == stored["id"],
            AuditEntry.object_type == "incoming_document"))).all()
    assert len(audited) == 4


async def test_a_refusal_needs_its_reason_and_ends_the_handling(server: Server, cast: Cast, directory: None) -> None:
    stored = await _received(server)
    sec = cast["secretary"].client
    path = f"/api/exchange/inbox/{stored['id']}/status"
    blank = await sec.post(path, json={"code": "02", "description": "   "})
    assert blank.status_code == 400 and blank.json()["error"]["code"] == "refusal_reason_required"
    refused = await sec.post(path, json={"code": "02", "description": "Không thuộc thẩm quyền"})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    later = await sec.post(path, json={"code": "03"})
    assert later.status_code == 409 and later.json()["error"]["code"] == "illegal_step"
    status = await _parsed_status(server, (await _status_rows(server, stored["id"]))[-1])
    assert status.status_code is ex.StatusCode.REFUSED and status.description == "Không thuộc thẩm quyền"


async def test_without_our_signing_key_a_step_is_recorded_and_says_no_status_was_sent(
        server: Server, cast: Cast, directory: None) -> None:
    settings = replace(server.settings, exchange_signing_key=None, exchange_signing_cert=None)
    result = await inbound.receive(server.db, settings, signed(document(), pki(server).sender))
    assert isinstance(result, dict)
    assert await _status_rows(server, result["id"]) == []  # nothing could be signed
    clerk = cast["secretary"]
    actor = Actor(user_id=clerk.id, username=clerk.username, is_admin=False, is_secretariat=True, body_id=None)
    taken = await steps.take_step(server.db, settings, actor, result["id"], "03")
    assert taken["status"] == "accepted" and taken["status_sent"] is False
    assert "ECABINET_EXCHANGE_SIGNING_KEY" in taken["message"]
    assert await _status_rows(server, result["id"]) == []
    async with server.db.read() as s:
        codes = (await s.exec(select(IncomingStep.code).where(IncomingStep.incoming_id == result["id"])
                              .order_by(col(IncomingStep.id)))).all()
    assert list(codes) == ["01", "03"]


async def test_a_document_past_its_due_date_is_overdue_until_done(server: Server, cast: Cast,
                                                                  directory: None) -> None:
    stored = await _received(server, due_date=steps.today(server.settings) - timedelta(days=1))
    sec = cast["secretary"].client
    listed = {d["id"]: d for d in (await sec.get("/api/exchange/inbox")).json()}
    assert listed[stored["id"]]["overdue"] is True
    assert [h["code"] for h in listed[stored["id"]]["history"]] == ["01"]
    path = f"/api/exchange/inbox/{stored['id']}/status"
    for body in ({"code": "03"}, {"code": "04", "department": "Vụ Pháp luật", "person": "Lê C"}, {"code": "06"}):
        assert (await sec.post(path, json=body)).status_code == 200
    assert (await sec.get(f"/api/exchange/inbox/{stored['id']}")).json()["overdue"] is False


async def test_status_packages_are_delivered_by_the_outbox_like_documents(
        server: Server, directory: None, gateway: FakeGateway) -> None:  # noqa: F811
    async with server.db.write() as s:  # the server is shared: other tests' rows set aside
        await s.exec(update(OutgoingPackage).where(  # type: ignore[call-overload]
            col(OutgoingPackage.state).in_(["queued", "sending"])).values(state="failed"))
    stored = await _received(server)
    assert await sender.run_once(server.db, _settings(server, gateway)) == 1
    row = (await _status_rows(server, stored["id"]))[0]
    assert row.state == "delivered"
    assert gateway.received[0][1] == await FileStore.for_settings(server.settings).get(row.package_sha256)
    async with server.db.read() as s:
        audited = (await s.exec(select(AuditEntry).where(AuditEntry.action == "exchange.delivered",
                                                         AuditEntry.object_type == "incoming_document",
                                                         AuditEntry.object_id == stored["id"]))).all()
    assert len(audited) == 1


# --- our side as sender -----------------------------------------------------------------------------------


async def _sent(server: Server, world: dict[str, Any], number: str, due: date | None = None) -> dict[str, Any]:
    people, mid = world["people"], world["meeting_id"]
    await agencies.import_csv(server.db, DIRECTORY)
    record = await _signed_record(server, people, mid, number)
    sec = people["secretary"].client
    assert (await sec.post(f"/api/records/{record['id']}/publish")).status_code == 200
    body: dict[str, Any] = {"recipients": [SENDER]}
    if due is not None:
        body["due_date"] = due.isoformat()
    sent = await sec.post(f"/api/records/{record['id']}/exchange", json=body)
    assert sent.status_code == 201, sent.text
    return {"record": record, "row": sent.json()[0]}


async def _report(server: Server, document_id: str, code: str, *, agency: str = SENDER, **kw: Any) -> Any:
    return await deliver(server, signed_status(status_from(agency, document_id, code, **kw), pki(server).sender))


async def test_a_recipients_statuses_are_tracked_once_each_and_told_to_the_listeners(
        server: Server, session_world: dict[str, Any]) -> None:
    sent = await _sent(server, session_world, "31/NQ-CP", due=steps.today(server.settings) + timedelta(days=10))
    document_id, record_id = sent["row"]["document_id"], sent["record"]["id"]
    assert sent["row"]["due_date"] == (steps.today(server.settings) + timedelta(days=10)).isoformat()
    heard: list[tuple[str, str, str, datetime]] = []

    async def on_status(s: AsyncSession, document: str, agency: str, code: str, at: datetime) -> None:
        assert (await s.exec(select(func.count()).select_from(ReceivedStatus).where(
            ReceivedStatus.code == code))).one() >= 1  # called after the row is written, in its transaction
        heard.append((document, agency, code, at))

    tracking.LISTENERS.append(on_status)
    try:
        first = await _report(server, document_id, "01", at=datetime(2026, 12, 4, 8, 0, 0))
        assert first.status_code == 201, first.text
        assert first.json()["kind"] == "status" and first.json()["status"] == "01"
        data = signed_status(status_from(SENDER, document_id, "03", at=datetime(2026, 12, 4, 9, 30, 0),
                                         description="Đã vào sổ công văn đến"), pki(server).sender)
        assert (await deliver(server, data)).status_code == 201
        again = await deliver(server, data)
        assert again.status_code == 200 and again.json()["duplicate"] is True
    finally:
        tracking.LISTENERS.remove(on_status)
    assert [(d, a, c) for d, a, c, _ in heard] == [(document_id, SENDER, "01"), (document_id, SENDER, "03")]
    # The status's Timestamp is the agency's local time: the same instant, as an aware datetime.
    assert heard[1][3] == datetime(2026, 12, 4, 9, 30, tzinfo=ZoneInfo(server.settings.signing_timezone))

    listed = (await session_world["people"]["secretary"].client.get(f"/api/records/{record_id}/exchange")).json()
    mine = listed[0]
    assert [h["code"] for h in mine["history"]] == ["01", "03"]
    assert mine["latest"]["code"] == "03" and mine["latest"]["description"] == "Đã vào sổ công văn đến"
    assert mine["latest"]["staff"] == "Trần Thị B" and len(mine["latest"]["package_sha256"]) == 64
    assert mine["overdue"] is False
    async with server.db.read() as s:
        count = (await s.exec(select(func.count()).select_from(ReceivedStatus)
                              .where(ReceivedStatus.outgoing_id == mine["id"]))).one()
    assert count == 2, "the same status package twice is one row"

    # A listener that fails refuses the status: nothing of it is stored, the gateway will try again.
    async def broken(s: AsyncSession, document: str, agency: str, code: str, at: datetime) -> None:
        raise RuntimeError("the tasks module is down")

    tracking.LISTENERS.append(broken)
    try:
        with pytest.raises(RuntimeError):
            await inbound.receive(server.db, server.settings, signed_status(
                status_from(SENDER, document_id, "04"), pki(server).sender))
    finally:
        tracking.LISTENERS.remove(broken)
    after = (await session_world["people"]["secretary"].client.get(f"/api/records/{record_id}/exchange")).json()
    assert [h["code"] for h in after[0]["history"]] == ["01", "03"]


async def test_a_status_about_a_document_we_never_sent_to_that_agency_is_refused(
        server: Server, session_world: dict[str, Any]) -> None:
    sent = await _sent(server, session_world, "32/NQ-CP")
    document_id = sent["row"]["document_id"]
    never = await _report(server, document_id.replace("32/NQ-CP", "987/NQ-CP"), "01")  # no test sends 987
    assert never.status_code == 422 and never.json()["error"]["code"] == "unknown_document"
    assert "status_package" not in never.json()  # no refusal is sent back about a status
    not_to_them = await _report(server, document_id, "01", agency=OTHER)
    assert not_to_them.status_code == 422 and not_to_them.json()["error"]["code"] == "unknown_document"
    stranger = await _report(server, document_id, "01", agency="000.00.00.H58")
    assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "unknown_agency"
    async with server.db.read() as s:
        count = (await s.exec(select(func.count()).select_from(ReceivedStatus)
                              .where(ReceivedStatus.outgoing_id == sent["row"]["id"]))).one()
    assert count == 0


async def test_a_sent_document_past_its_due_date_without_done_is_overdue(
        server: Server, session_world: dict[str, Any]) -> None:
    sec = session_world["people"]["secretary"].client
    record = await _signed_record(server, session_world["people"], session_world["meeting_id"], "33/NQ-CP")
    assert (await sec.post(f"/api/records/{record['id']}/publish")).status_code == 200
    path = f"/api/records/{record['id']}/exchange"
    past = await sec.post(path, json={"recipients": [SENDER], "due_date": "2020-01-01"})
    assert past.status_code == 400 and past.json()["error"]["code"] == "bad_due_date"
    assert (await sec.post(path, json={"recipients": [SENDER], "due_date": "someday"})).status_code in (400, 422)
    row = (await sec.post(path, json={"recipients": [SENDER], "due_date": steps.today(server.settings)
                                      .isoformat()})).json()[0]
    # The due day passes (moved back in the database rather than waiting).
    async with server.db.write() as s:
        await s.exec(update(OutgoingPackage).where(  # type: ignore[call-overload]
            col(OutgoingPackage.id) == row["id"]).values(due_date=date(2026, 11, 1)))
    assert (await sec.get(path)).json()[0]["overdue"] is True
    assert (await _report(server, row["document_id"], "05")).status_code == 201
    assert (await sec.get(path)).json()[0]["overdue"] is True
    assert (await _report(server, row["document_id"], "06", at=datetime(2026, 12, 4, 10, 0))).status_code == 201
    done = (await sec.get(path)).json()[0]
    assert done["overdue"] is False and done["latest"]["code"] == "06"


async def test_a_status_dropped_in_the_watched_folder_is_tracked(
        server: Server, session_world: dict[str, Any], tmp_path: Path) -> None:
    sent = await _sent(server, session_world, "34/NQ-CP")
    settings = replace(server.settings, exchange_inbox_dir=tmp_path)
    (tmp_path / "status.edxml").write_bytes(signed_status(status_from(SENDER, sent["row"]["document_id"], "01"),
                                                          pki(server).sender))
    (tmp_path / "stray.edxml").write_bytes(signed_status(status_from(SENDER, "000.00.00.G22,2026/01/01,1/X", "01"),
                                                         pki(server).sender))
    assert await watched.sweep(server.db, settings) == {"status.edxml": "done", "stray.edxml": "unknown_document"}
    listed = (await session_world["people"]["secretary"].client.get(
        f"/api/records/{sent['record']['id']}/exchange")).json()
    assert [h["code"] for h in listed[0]["history"]] == ["01"]

