"""Tasks a resolution assigns (issue 17 point 6), on SQLite and PostgreSQL: the meeting's secretariat writes
them on the draft (every bad input refused with its own code; frozen once reviewed), sends them after
publication as one signed edXML package per task with its own document id (queued in the outbox, one
delivery per agency), their status follows the agencies' status packages (apply_status), and the dashboard
and the meeting show what became of them, each to whom it may."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography import x509
from sqlalchemy import func
from sqlmodel import col, select

import exchange as ex
from backend.models import AuditEntry, OutgoingPackage, RecordTask, TaskDelivery
from backend.services import credentials
from backend.services.exchange import agencies
from backend.services.files import FileStore
from backend.services.tasks import apply_status
from tests.integration.conftest import Server
from tests.integration.helpers import assert_error, ok
from tests.integration.test_exchange_outbox_api import _closed_poll
from tests.support.exchange_packages import DIRECTORY

SECRET = "Khoa-ky-nhiem-vu-2026"
NGHE_AN, HA_TINH, TAI_CHINH = "000.00.00.H41", "000.00.00.H26", "000.00.00.G01"
NEXT_YEAR = f"{date.today().year + 1}-12-31"
TASK = {"article": 2, "text": "Giao Bộ Tài chính chủ trì, phối hợp với Ủy ban nhân dân tỉnh Nghệ An rà soát "
                              "nguồn vốn, báo cáo Thủ tướng Chính phủ trước ngày 31 tháng 12.",
        "lead_code": TAI_CHINH, "cooperating": [NGHE_AN], "deadline": NEXT_YEAR,
        "output": "Báo cáo Thủ tướng Chính phủ"}


async def _directory(server: Server) -> None:
    await agencies.import_csv(server.db, DIRECTORY + f"{TAI_CHINH},Bộ Tài chính,1,\n")


async def _draft(server: Server, cast: dict[str, Any], mid: int, number: str) -> dict[str, Any]:
    """A draft resolution with two articles, from a closed poll."""
    poll_id = await _closed_poll(server, cast, mid)
    r = await cast["secretary"].client.post(f"/api/meetings/{mid}/records", json={
        "kind": "resolution", "poll_id": poll_id, "number": number, "title": "Về việc phân bổ vốn đầu tư công",
        "articles": [{"heading": "Điều 1.", "text": "Thông qua phương án phân bổ."},
                     {"heading": "Điều 2.", "text": "Giao các bộ, ngành tổ chức thực hiện."}]})
    return dict(ok(r, 201))


async def _sign_and_publish(server: Server, cast: dict[str, Any], record_id: int, *, publish: bool = True) -> None:
    if not credentials.dev_ca(server.settings).exists:
        credentials.init_ca(server.settings)
    sec_cred = (await credentials.issue(server.db, server.settings, cast["secretary"].username, SECRET))["id"]
    chair_cred = (await credentials.issue(server.db, server.settings, cast["chair"].username, SECRET))["id"]
    sec, chair = cast["secretary"].client, cast["chair"].client
    ok(await sec.post(f"/api/records/{record_id}/review", json={"credential_id": sec_cred, "secret": SECRET}))
    ok(await chair.post(f"/api/records/{record_id}/sign", json={"credential_id": chair_cred, "secret": SECRET}))
    if publish:
        ok(await sec.post(f"/api/records/{record_id}/publish"))


async def test_the_secretariat_writes_tasks_on_the_draft_and_they_freeze_once_reviewed(
        server: Server, session_world: dict[str, Any]) -> None:
    await _directory(server)
    cast, mid = session_world["people"], session_world["meeting_id"]
    sec, chair, member, outsider = (cast[k].client for k in ("secretary", "chair", "member", "outsider"))
    record = await _draft(server, cast, mid, "31/NQ-CP")
    path = f"/api/records/{record['id']}/tasks"

    # May: the secretariat adds a task; it is listed with the agencies' names, due, not yet sent.
    async with server.db.read() as s:  # the server is shared: a deleted task's id may be given again (SQLite)
        audit_before = (await s.exec(select(func.max(AuditEntry.id)))).one() or 0
    task = ok(await sec.post(path, json=TASK), 201)
    assert (task["lead_code"], task["lead_name"], task["state"], task["document_id"]) == (
        TAI_CHINH, "Bộ Tài chính", "due", None)
    assert task["cooperating"] == [{"code": NGHE_AN, "name": "Ủy ban nhân dân tỉnh Nghệ An"}]
    assert task["deadline"] == NEXT_YEAR and task["deliveries"] == []
    assert [t["id"] for t in ok(await sec.get(path))] == [task["id"]]
    assert [t["id"] for t in ok(await chair.get(path))] == [task["id"]]  # the chair reads them on the draft

    # May not: the chair (staff, but writing tasks is the secretariat's), a member and an outsider (who may
    # not even see the draft).
    assert_error(await chair.post(path, json=TASK), 403)
    assert_error(await member.post(path, json=TASK), 404, "unknown_record")
    assert_error(await member.get(path), 404, "unknown_record")
    assert_error(await outsider.post(path, json=TASK), 404, "unknown_record")
    assert_error(await chair.patch(f"/api/tasks/{task['id']}", json={"output": "x"}), 403)
    assert_error(await member.delete(f"/api/tasks/{task['id']}"), 404, "unknown_task")

    # Each bad input, its own answer; nothing is added.
    bad = [({"lead_code": "H41"}, 400, "bad_agency_code"),
           ({"cooperating": ["000.00.00.h26"]}, 400, "bad_agency_code"),
           ({"lead_code": "000.00.00.H99"}, 422, "unknown_agency"),
           ({"cooperating": [NGHE_AN, "000.00.00.G98"]}, 422, "unknown_agency"),
           ({"cooperating": [TAI_CHINH]}, 400, "lead_also_cooperating"),
           ({"lead_code": server.settings.exchange_agency_code}, 400, "own_agency"),
           ({"deadline": "31/12/2027"}, 400, "bad_deadline"),
           ({"deadline": "2027-02-30"}, 400, "bad_deadline"),
           ({"deadline": "2020-01-01"}, 422, "deadline_passed"),
           ({"article": 3}, 422, "unknown_article"),
           ({"article": 0}, 422, "validation_error"),
           ({"text": ""}, 422, "validation_error"),
           ({"deadline": 20271231}, 422, "validation_error")]
    for change, status, code in bad:
        assert_error(await sec.post(path, json=TASK | change), status, code)
    assert_error(await sec.post(path, json={k: v for k, v in TASK.items() if k != "lead_code"}), 422,
                 "validation_error")
    assert len(ok(await sec.get(path))) == 1

    # Edit and remove while a draft (each bad edit refused the same way).
    second = ok(await sec.post(path, json=TASK | {"article": 1, "lead_code": HA_TINH, "cooperating": []}), 201)
    edited = ok(await sec.patch(f"/api/tasks/{second['id']}", json={"cooperating": [NGHE_AN],
                                                                     "deadline": f"{date.today().year + 2}-06-30"}))
    assert edited["cooperating"][0]["code"] == NGHE_AN and edited["deadline"] == f"{date.today().year + 2}-06-30"
    assert edited["lead_code"] == HA_TINH and edited["text"] == TASK["text"]
    assert_error(await sec.patch(f"/api/tasks/{second['id']}", json={"cooperating": [HA_TINH]}), 400,
                 "lead_also_cooperating")
    assert_error(await sec.patch(f"/api/tasks/{second['id']}", json={"deadline": "ngày mai"}), 400, "bad_deadline")
    assert_error(await sec.patch("/api/tasks/999999", json={"output": "x"}), 404, "unknown_task")
    assert [t["article"] for t in ok(await sec.get(path))] == [1, 2]  # by article
    assert ok(await sec.delete(f"/api/tasks/{second['id']}"), 204) is None
    assert [t["id"] for t in ok(await sec.get(path))] == [task["id"]]

    # Reviewed (then signed): the text and its tasks no longer change.
    await _sign_and_publish(server, cast, record["id"], publish=False)
    assert_error(await sec.post(path, json=TASK), 409, "not_draft")
    assert_error(await sec.patch(f"/api/tasks/{task['id']}", json={"output": "x"}), 409, "not_draft")
    assert_error(await sec.delete(f"/api/tasks/{task['id']}"), 409, "not_draft")
    assert len(ok(await sec.get(path))) == 1

    # A discarded draft takes its tasks with it (the foreign key cascades, on both databases).
    other = await _draft(server, cast, mid, "32/NQ-CP")
    gone = ok(await sec.post(f"/api/records/{other['id']}/tasks", json=TASK), 201)
    ok(await sec.delete(f"/api/records/{other['id']}"), 204)
    async with server.db.read() as s:
        assert await s.get(RecordTask, gone["id"]) is None
        audited = (await s.exec(select(AuditEntry.action).where(AuditEntry.object_type == "task",
                                                                AuditEntry.object_id == task["id"],
                                                                col(AuditEntry.id) > audit_before))).all()
    assert list(audited) == ["task.added"]


async def test_sending_queues_one_signed_package_per_task_and_statuses_follow_it(
        server: Server, session_world: dict[str, Any]) -> None:
    await _directory(server)
    cast, mid = session_world["people"], session_world["meeting_id"]
    sec, chair, member = (cast[k].client for k in ("secretary", "chair", "member"))
    record = await _draft(server, cast, mid, "41/NQ-CP")
    path = f"/api/records/{record['id']}/tasks"
    first = ok(await sec.post(path, json=TASK), 201)
    second = ok(await sec.post(path, json=TASK | {"article": 1, "lead_code": HA_TINH, "cooperating": []}), 201)
    await _sign_and_publish(server, cast, record["id"], publish=False)
    send = f"{path}/send"
    assert_error(await sec.post(send), 409, "not_published")
    ok(await sec.post(f"/api/records/{record['id']}/publish"))

    async with server.db.read() as s:
        before = int((await s.exec(select(func.count()).select_from(OutgoingPackage))).one())
    # May not: the chair, a member; may: the secretariat, once.
    assert_error(await chair.post(send), 403)
    assert (await member.post(send)).status_code in (403, 404)
    sent = ok(await sec.post(send), 201)
    assert_error(await sec.post(send), 409, "already_sent")

    # By article: the article-1 task is the first package (-NV1), the article-2 task the second.
    assert [t["id"] for t in sent] == [second["id"], first["id"]]
    prefix = f"{server.settings.exchange_agency_code},"
    assert [t["document_id"].rsplit(",", 1)[1] for t in sent] == ["41/NQ-CP-NV1", "41/NQ-CP-NV2"]
    assert all(t["document_id"].startswith(prefix) and t["sent_at"] for t in sent)
    assert [(d["agency_code"], d["role"], d["status"], d["delivery"]) for d in sent[1]["deliveries"]] == [
        (TAI_CHINH, "lead", "sent", "queued"), (NGHE_AN, "cooperating", "sent", "queued")]
    async with server.db.read() as s:
        rows = (await s.exec(select(OutgoingPackage).where(OutgoingPackage.record_id == record["id"])
                             .order_by(col(OutgoingPackage.id)))).all()
        assert int((await s.exec(select(func.count()).select_from(OutgoingPackage))).one()) == before + 3
    assert [(r.recipient_code, r.state) for r in rows] == [(HA_TINH, "queued"), (TAI_CHINH, "queued"),
                                                           (NGHE_AN, "queued")]
    assert len({r.package_sha256 for r in rows}) == 2, "one package per task"
    # The package says the task: its own code, the deadline as DueDate, the task as subject and content,
    # a steering document, the signed resolution attached byte for byte, both agencies as recipients.
    data = await FileStore.for_settings(server.settings).get(rows[1].package_sha256)
    assert server.settings.exchange_signing_cert is not None
    chain = x509.load_pem_x509_certificates(server.settings.exchange_signing_cert.read_bytes())
    package = ex.parse_package(data, trust_anchors=[chain[-1]])
    assert isinstance(package, ex.DocumentPackage)
    assert package.document_id == sent[1]["document_id"]
    assert package.code == ex.DocumentCode("41", "NQ-CP-NV2")
    assert {o.organ_id for o in package.recipients} == {TAI_CHINH, NGHE_AN}
    assert package.due_date == date.fromisoformat(NEXT_YEAR) and package.other.direction
    assert package.subject.startswith("Nhiệm vụ tại Điều 2 Nghị quyết số 41/NQ-CP: Giao Bộ Tài chính")
    assert "Cơ quan chủ trì: Bộ Tài chính (000.00.00.G01)" in package.content
    assert "Sản phẩm: Báo cáo Thủ tướng Chính phủ" in package.content
    pdf = (await sec.get(f"/api/records/{record['id']}/pdf")).content
    assert [a.data for a in package.attachments] == [pdf]

    # apply_status, directly (the receiver of status packages calls it): the cooperating agency's and the
    # lead's statuses are kept apart; only the lead's 06 makes the task done; an older status does not
    # replace a newer one; recall codes and strangers change nothing.
    doc = sent[1]["document_id"]
    t0 = datetime(2026, 12, 10, 8, 0)  # edXML times are local, without a zone
    async with server.db.write() as s:
        assert await apply_status(s, doc, NGHE_AN, "01", t0) is True
        assert await apply_status(s, doc, TAI_CHINH, "05", t0 + timedelta(days=2)) is True
        assert await apply_status(s, doc, TAI_CHINH, "03", t0 + timedelta(days=1)) is True  # older: kept 05
        assert await apply_status(s, doc, NGHE_AN, "13", t0 + timedelta(days=3)) is True  # a recall code
        assert await apply_status(s, doc, HA_TINH, "06", t0) is False  # not an agency of this task
        assert await apply_status(s, "000.00.00.G22,2026/12/01,1/NQ-CP", TAI_CHINH, "06", t0) is False
        assert await apply_status(s, doc, NGHE_AN, "06", t0 + timedelta(days=4)) is True  # cooperating: not done
    listed = {t["id"]: t for t in ok(await sec.get(path))}
    statuses = {d["agency_code"]: (d["status"], d["status_at"]) for d in listed[first["id"]]["deliveries"]}
    assert statuses[TAI_CHINH] == ("05", "2026-12-12T01:00:00Z")  # 08:00 in Hà Nội
    assert statuses[NGHE_AN][0] == "06"
    assert listed[first["id"]]["state"] == "due" and listed[first["id"]]["done_at"] is None
    async with server.db.write() as s:
        assert await apply_status(s, doc, TAI_CHINH, "06", datetime(2026, 12, 20, 9, 0, tzinfo=UTC)) is True
    done = next(t for t in ok(await sec.get(path)) if t["id"] == first["id"])
    assert done["state"] == "done" and done["done_at"] == "2026-12-20T09:00:00Z"
    async with server.db.read() as s:
        delivery = (await s.exec(select(TaskDelivery).where(TaskDelivery.task_id == first["id"],
                                                            TaskDelivery.agency_code == TAI_CHINH))).one()
        assert delivery.status == "06"
        assert int((await s.exec(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "task.status", AuditEntry.object_id == first["id"]))).one()) == 4

    # A resolution without tasks has nothing to send.
    bare = await _draft(server, cast, mid, "42/NQ-CP")
    await _sign_and_publish(server, cast, bare["id"])
    assert_error(await sec.post(f"/api/records/{bare['id']}/tasks/send"), 409, "no_tasks")


async def test_the_dashboard_and_the_meeting_show_what_became_of_the_decisions(
        server: Server, session_world: dict[str, Any], cast: Any) -> None:
    await _directory(server)
    people, mid, admin = session_world["people"], session_world["meeting_id"], session_world["admin"]
    sec, member, guest, outsider = (people[k].client for k in ("secretary", "member", "guest", "outsider"))
    record = await _draft(server, people, mid, "51/NQ-CP")
    path = f"/api/records/{record['id']}/tasks"
    done = ok(await sec.post(path, json=TASK | {"article": 1}), 201)
    late = ok(await sec.post(path, json=TASK | {"lead_code": HA_TINH, "cooperating": []}), 201)
    due = ok(await sec.post(path, json=TASK | {"lead_code": NGHE_AN, "cooperating": [HA_TINH]}), 201)
    await _sign_and_publish(server, people, record["id"])
    sent = {t["id"]: t for t in ok(await sec.post(f"{path}/send"), 201)}
    async with server.db.write() as s:
        assert await apply_status(s, sent[done["id"]]["document_id"], TAI_CHINH, "06", datetime(2026, 12, 5, 9))
        task = await s.get(RecordTask, late["id"])
        assert task is not None
        task.deadline = date(2026, 1, 31)  # its deadline has passed (written in the past directly)
        s.add(task)
    draft = await _draft(server, people, mid, "52/NQ-CP")  # a draft's tasks are not decisions yet
    ok(await sec.post(f"/api/records/{draft['id']}/tasks", json=TASK), 201)

    # May: the secretariat of the body, and administrators.
    board = ok(await sec.get("/api/tasks"))
    mine = {t["id"]: t["state"] for t in board["tasks"] if t["meeting_id"] == mid}
    assert mine == {done["id"]: "done", late["id"]: "overdue", due["id"]: "due"}
    assert board["totals"] == {"due": 1, "overdue": 1, "done": 1}  # this body's meetings only
    counts = {a["code"]: (a["due"], a["overdue"], a["done"]) for a in board["agencies"]}
    assert counts == {TAI_CHINH: (0, 0, 1), NGHE_AN: (1, 0, 1), HA_TINH: (1, 1, 0)}
    assert next(a for a in board["agencies"] if a["code"] == HA_TINH)["name"] == "Ủy ban nhân dân tỉnh Hà Tĩnh"
    assert [t["id"] for t in ok(await sec.get("/api/tasks?state=overdue"))["tasks"]] == [late["id"]]
    by_ha_tinh = ok(await sec.get(f"/api/tasks?agency={HA_TINH}"))["tasks"]
    assert sorted(t["id"] for t in by_ha_tinh) == sorted([late["id"], due["id"]])  # lead or cooperating
    assert [t["id"] for t in ok(await sec.get(f"/api/tasks?agency={HA_TINH}&state=due"))["tasks"]] == [due["id"]]
    everything = ok(await admin.get("/api/tasks"))
    assert {done["id"], late["id"], due["id"]} <= {t["id"] for t in everything["tasks"]}
    # May not: a member (403); the secretariat of another body sees none of this body's tasks.
    assert_error(await member.get("/api/tasks"), 403)
    others = ok(await cast["other_secretary"].client.get("/api/tasks"))
    assert not {done["id"], late["id"], due["id"]} & {t["id"] for t in others["tasks"]}
    assert_error(await sec.get("/api/tasks?agency=Nghe-An"), 400, "bad_agency_code")
    assert_error(await sec.get("/api/tasks?state=late"), 422)

    # The meeting's decisions: its participants (a member, a guest) see the published resolution's tasks,
    # the staff also the draft's; someone outside the meeting learns nothing.
    seen = ok(await member.get(f"/api/meetings/{mid}/tasks"))
    assert [t["id"] for t in seen["tasks"]] == [done["id"], late["id"], due["id"]]
    assert seen["totals"] == {"due": 1, "overdue": 1, "done": 1}
    assert [t["id"] for t in ok(await guest.get(f"/api/meetings/{mid}/tasks"))["tasks"]] == [
        done["id"], late["id"], due["id"]]
    staff = ok(await sec.get(f"/api/meetings/{mid}/tasks"))
    assert len(staff["tasks"]) == 4 and staff["tasks"][3]["record_status"] == "draft"
    assert staff["totals"] == seen["totals"]
    assert_error(await outsider.get(f"/api/meetings/{mid}/tasks"), 404)
    # A published resolution's tasks are the participants' to read, record by record, too.
    assert len(ok(await member.get(path))) == 3
    assert_error(await member.get(f"/api/records/{draft['id']}/tasks"), 404, "unknown_record")
