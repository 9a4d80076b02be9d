"""Resolutions and minutes over REST, on SQLite and PostgreSQL: drafted from a closed poll and from a
closed session, rendered in Vietnamese, initialled by the secretary (certification), signed by the
chair, published, and verified by anyone, with the bad inputs each step refuses."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlmodel import col, select

from backend.models import AuditEntry, Resolution
from backend.services import credentials
from tests.integration.conftest import Server

PASSPHRASE = "KySo@2026-thu"


async def _credential(server: Server, username: str) -> int:
    if not credentials.dev_ca(server.settings).exists:
        credentials.init_ca(server.settings)
    out = await credentials.issue(server.db, server.settings, username, PASSPHRASE)
    return int(out["id"])


async def _closed_poll(live_factory: Any, people: dict[str, Any], mid: int) -> int:
    chair = await live_factory(people["chair"])
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    member = await live_factory(people["member"])
    assert (await member.call("meeting.join", {"meeting_id": mid}))["ok"]
    poll = (await chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua Nghị quyết về đầu tư công?"}))
    poll_id = poll["poll"]["id"]
    assert (await chair.call("poll.open", {"poll_id": poll_id}))["ok"]
    assert (await member.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
    assert (await chair.call("vote.cast", {"poll_id": poll_id, "choice": "yes"}))["ok"]
    assert (await chair.call("poll.close", {"poll_id": poll_id}))["ok"]
    return int(poll_id)


RESOLUTION = {
    "kind": "resolution", "number": "15/NQ-UBND", "title": "Về việc phân bổ vốn đầu tư công năm 2027",
    "preamble": ["Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025;"],
    "articles": [{"heading": "Điều 1.", "text": "Thông qua phương án phân bổ vốn đầu tư công năm 2027."},
                 {"heading": "Điều 2.", "text": "Giao Sở Tài chính tổ chức thực hiện."}],
    "recipients": ["Các thành viên UBND tỉnh", "Lưu: VT"],
}


async def test_a_resolution_from_draft_to_published_and_verified(
        server: Server, session_world: dict[str, Any], live_factory: Any, client_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, chair, member = (people[k].client for k in ("secretary", "chair", "member"))
    sec_cred = await _credential(server, people["secretary"].username)
    chair_cred = await _credential(server, people["chair"].username)
    poll_id = await _closed_poll(live_factory, people, mid)

    r = await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": poll_id})
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["status"] == "draft" and record["signatures"] == []
    # The draft is the staff's: a member neither lists nor reads it.
    assert (await member.get(f"/api/meetings/{mid}/records")).json() == []
    assert (await member.get(f"/api/records/{record['id']}")).status_code == 404

    answer = await sec.get(f"/api/records/{record['id']}/pdf")
    # Filed under its number and symbol, not "resolution-1.pdf".
    assert 'filename="nghi-quyet-15-NQ-UBND.pdf"' in answer.headers["content-disposition"]
    pdf = answer.content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for line in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "NGHỊ QUYẾT",
                 "Về việc phân bổ vốn đầu tư công năm 2027", "Thông qua Nghị quyết về đầu tư công?",
                 "Nghị quyết được thông qua.", "Giao Sở Tài chính tổ chức thực hiện.",
                 # Decree 30 defaults: the body's heading, and the chair signs on behalf of the collective.
                 "ỦY BAN NHÂN DÂN\n TỈNH ", "TM. ỦY BAN NHÂN DÂN", "DỰ THẢO"):
        assert line in text, line
    assert "CHỦ TỌA" not in text, "a resolution is signed for the body (TM.), not as the session's chair"

    # Order matters: the chair cannot sign before the secretary has reviewed.
    early = await chair.post(f"/api/records/{record['id']}/sign", json={"credential_id": chair_cred,
                                                                          "secret": PASSPHRASE})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_reviewed"
    wrong = await sec.post(f"/api/records/{record['id']}/review", json={"credential_id": sec_cred,
                                                                          "secret": "sai-mat-khau"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_passphrase"
    foreign = await sec.post(f"/api/records/{record['id']}/review", json={"credential_id": chair_cred,
                                                                            "secret": PASSPHRASE})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "unknown_credential"
    by_member = await member.post(f"/api/records/{record['id']}/review", json={"credential_id": sec_cred,
                                                                                 "secret": PASSPHRASE})
    assert by_member.status_code == 403
    after_refusals = (await sec.get(f"/api/records/{record['id']}")).json()
    assert after_refusals["status"] == "draft" and after_refusals["pdf_sha256"] == record["pdf_sha256"]

    reviewed = await sec.post(f"/api/records/{record['id']}/review", json={"credential_id": sec_cred,
                                                                             "secret": PASSPHRASE})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "reviewed"
    edit = await sec.patch(f"/api/records/{record['id']}", json={"title": "Đổi sau khi ký"})
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "not_draft"
    kept = await sec.delete(f"/api/records/{record['id']}")
    assert kept.status_code == 409 and kept.json()["error"]["code"] == "not_draft"

    signed = await chair.post(f"/api/records/{record['id']}/sign", json={"credential_id": chair_cred,
                                                                           "secret": PASSPHRASE})
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["status"] == "signed"
    # The secretary initialled the draft (invisibly); the issued text is the chair's, who certifies it.
    assert [(s["field_name"], s["certify"]) for s in body["signatures"]] == [("secretary", False), ("chair", True)]

    report = (await sec.get(f"/api/records/{record['id']}/verification")).json()
    assert report["valid"] is True
    assert [s["field_name"] for s in report["signatures"]] == ["chair"]
    assert all(s["valid"] and s["pades_level"] == "B-B" for s in report["signatures"])
    assert report["signatures"][0]["certification"] is True
    assert report["signatures"][0]["docmdp_permission"] == "fill_forms"
    issued = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(
        (await sec.get(f"/api/records/{record['id']}/pdf")).content)).pages)
    assert "DỰ THẢO" not in issued and "(NS)." in issued, "the secretary's initials (ký nháy), Người secretary"
    assert "THƯ KÝ" not in issued, "no signature block for the review on the issued resolution"

    published = await sec.post(f"/api/records/{record['id']}/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert [r["id"] for r in (await member.get(f"/api/meetings/{mid}/records")).json()] == [record["id"]]
    signed_pdf = (await member.get(f"/api/records/{record['id']}/pdf")).content

    # Anyone verifies the file, without logging in.
    anonymous = client_factory()
    checked = await anonymous.http.post("/api/verify", content=signed_pdf,
                                        headers={"Content-Type": "application/pdf"})
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is True and len(checked.json()["signatures"]) == 1
    tampered = bytearray(signed_pdf)
    spot = tampered.index(b"/Contents") // 2  # inside the first revision's bytes, covered by both signatures
    tampered[spot] = ord("A") if tampered[spot] != ord("A") else ord("B")
    broken = (await anonymous.http.post("/api/verify", content=bytes(tampered),
                                        headers={"Content-Type": "application/pdf"})).json()
    assert broken["valid"] is False
    assert all(not s["valid"] for s in broken["signatures"])
    assert any("digest mismatch" in reason for s in broken["signatures"] for reason in s["reasons"])

    async with server.db.read() as s:
        actions = [a.action for a in (await s.exec(select(AuditEntry).where(
            AuditEntry.object_type == "record", AuditEntry.object_id == record["id"]).order_by(
            col(AuditEntry.id)))).all()]
    assert actions == ["resolution.drafted", "resolution.reviewed", "resolution.signed", "resolution.published"]


async def test_minutes_need_a_closed_session_and_list_what_happened(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, chair = people["secretary"].client, people["chair"].client
    await _closed_poll(live_factory, people, mid)
    early = await sec.post(f"/api/meetings/{mid}/records", json={"kind": "minutes", "number": "02/BB-UBND",
                                                                 "title": "Biên bản phiên họp"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "session_not_closed"
    assert (await chair.post(f"/api/meetings/{mid}/transitions", json={"action": "close"})).status_code == 200
    r = await sec.post(f"/api/meetings/{mid}/records", json={"kind": "minutes", "number": "02/BB-UBND",
                                                             "title": "Biên bản phiên họp thường kỳ",
                                                             "summary": ["Các đại biểu thống nhất cao."]})
    assert r.status_code == 201, r.text
    pdf = (await sec.get(f"/api/records/{r.json()['id']}/pdf")).content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # Times are stored in UTC and printed in the body's time zone (Asia/Ho_Chi_Minh by default).
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    hours = {f"{(local - timedelta(minutes=m)).hour:02d} giờ" for m in (0, 5)}
    assert any(f"Thời gian bắt đầu: {h}" in text for h in hours), text[:400]
    for line in ("BIÊN BẢN", "THÀNH PHẦN THAM DỰ", "Người member", "Người chair", "Báo cáo kinh tế - xã hội",
                 "Thông qua Nghị quyết về đầu tư công?", "Các đại biểu thống nhất cao.", "Cuộc họp kết thúc lúc"):
        assert line in text, line
    # The second item was never reached: the minutes say so instead of listing it like a discussed one.
    untouched = text.split("Các nội dung chưa thảo luận", 1)
    assert len(untouched) == 2 and "Dự án Luật Đất đai (sửa đổi) (chưa thảo luận)" in untouched[1], text
    assert "Dự án Luật Đất đai" not in untouched[0]
    # The secretary worked over REST (never checked in on a tablet) and signs as the session's secretary:
    # listed present, not absent.
    import re

    row = re.search(r"Người secretary.{0,80}?Thư ký\s*(Có mặt|Vắng)", text, re.DOTALL)
    assert row is not None and row.group(1) == "Có mặt", text
    again = await sec.post(f"/api/meetings/{mid}/records", json={"kind": "minutes", "number": "02/BB-UBND",
                                                                 "title": "Trùng số"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_number"
    # The minutes keep both signatures: the secretary certifies, the chair signs after.
    sec_cred = await _credential(server, people["secretary"].username)
    chair_cred = await _credential(server, people["chair"].username)
    rid = r.json()["id"]
    assert (await sec.post(f"/api/records/{rid}/review", json={"credential_id": sec_cred,
                                                               "secret": PASSPHRASE})).status_code == 200
    assert (await chair.post(f"/api/records/{rid}/sign", json={"credential_id": chair_cred,
                                                               "secret": PASSPHRASE})).status_code == 200
    report = (await sec.get(f"/api/records/{rid}/verification")).json()
    assert [(s["field_name"], s["certification"], s["valid"]) for s in report["signatures"]] == [
        ("secretary", True, True), ("chair", False, True)], report


async def test_bad_record_requests_get_clear_errors_and_write_nothing(
        server: Server, session_world: dict[str, Any], live_factory: Any, client_factory: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, member = people["secretary"].client, people["member"].client
    open_poll = (await (await live_factory(people["chair"])).call(
        "poll.create", {"meeting_id": mid, "question": "Chưa biểu quyết"}))["poll"]["id"]
    cases = [
        (sec, {**RESOLUTION}, 400, "unknown_poll"),
        (sec, {**RESOLUTION, "poll_id": 2_000_000}, 400, "unknown_poll"),
        (sec, {**RESOLUTION, "poll_id": open_poll}, 409, "poll_not_closed"),
        (sec, {**RESOLUTION, "kind": "decree"}, 422, "validation_error"),
        (sec, {**RESOLUTION, "number": ""}, 422, "validation_error"),
        (sec, {**RESOLUTION, "articles": [{"heading": "Điều 1."}]}, 422, "validation_error"),
        (member, {**RESOLUTION, "poll_id": open_poll}, 403, "forbidden"),
    ]
    for client, body, status, code in cases:
        r = await client.post(f"/api/meetings/{mid}/records", json=body)
        assert r.status_code == status and r.json()["error"]["code"] == code, (body, r.text)
    async with server.db.read() as s:
        assert (await s.exec(select(Resolution).where(Resolution.meeting_id == mid))).all() == []
    anonymous = client_factory()
    for content, ctype, status, code in [
        (b"not a pdf at all", "application/pdf", 400, "invalid_pdf"),
        (b"", "application/pdf", 400, "empty_file"),
        (b"%PDF-1.7", "text/plain", 415, "unsupported_media_type"),
        (b"x" * (server.settings.max_verify_bytes + 1), "application/pdf", 413, "payload_too_large"),
    ]:
        r = await anonymous.http.post("/api/verify", content=content, headers={"Content-Type": ctype})
        assert r.status_code == status and r.json()["error"]["code"] == code, (status, r.text)
    unsigned = (await anonymous.http.post("/api/verify", content=_blank_pdf(),
                                          headers={"Content-Type": "application/pdf"})).json()
    assert unsigned == {**unsigned, "valid": False, "signatures": []}
    assert (await anonymous.get(f"/api/meetings/{mid}/records")).status_code == 401


def _blank_pdf() -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(595, 842)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


async def test_a_draft_can_be_discarded_by_the_staff_and_its_number_is_free_again(
        server: Server, session_world: dict[str, Any], live_factory: Any, admin: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, chair, member = (people[k].client for k in ("secretary", "chair", "member"))
    poll_id = await _closed_poll(live_factory, people, mid)
    draft = (await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": poll_id})).json()
    # A member may not see the draft, so may not learn it exists by discarding it.
    hidden = await member.delete(f"/api/records/{draft['id']}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "unknown_record"
    assert (await chair.delete(f"/api/records/{draft['id']}")).status_code == 204
    assert (await sec.get(f"/api/records/{draft['id']}")).status_code == 404
    gone = await sec.delete(f"/api/records/{draft['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_record"
    again = await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": poll_id})
    assert again.status_code == 201 and again.json()["number"] == RESOLUTION["number"]
    entries = (await admin.get("/api/audit", params={"meeting_id": mid})).json()
    assert any(e["action"] == "resolution.discarded" and e["details"]["number"] == RESOLUTION["number"]
               for e in entries), entries


async def test_a_resolution_is_dated_the_day_the_chair_signs_it_not_the_day_it_was_drafted(
        server: Server, session_world: dict[str, Any], live_factory: Any) -> None:
    """Reviewed at 23:58 and signed at 00:00:20 the next day (Hà Nội): the date line says the next day,
    as the signature does (it said the day the draft was rendered)."""
    from datetime import UTC, datetime

    from backend.services import auth
    from backend.services.files import FileStore
    from backend.services.records import Records

    people, mid = session_world["people"], session_world["meeting_id"]
    sec_cred = await _credential(server, people["secretary"].username)
    chair_cred = await _credential(server, people["chair"].username)
    poll_id = await _closed_poll(live_factory, people, mid)
    now = [datetime(2026, 12, 31, 16, 58, tzinfo=UTC)]  # 23:58 on 31 December in Hà Nội
    records = Records(server.db, FileStore.for_settings(server.settings), server.settings, clock=lambda: now[0])
    from backend.models import User

    async with server.db.read() as s:
        sec_user, chair_user = await s.get(User, people["secretary"].id), await s.get(User, people["chair"].id)
    assert sec_user is not None and chair_user is not None
    secretary, head = auth.actor_for(sec_user), auth.actor_for(chair_user)
    draft = await records.create(secretary, mid, {**RESOLUTION, "number": "99/NQ-UBND", "poll_id": poll_id})
    await records.review(secretary, draft["id"], sec_cred, PASSPHRASE)
    now[0] = datetime(2026, 12, 31, 17, 0, 20, tzinfo=UTC)  # 00:00:20 on 1 January 2027
    signed = await records.sign(head, draft["id"], chair_cred, PASSPHRASE)
    _, pdf = await records.pdf(head, signed["id"])
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Hà Nội, ngày 01 tháng 01 năm 2027" in text, text[:600]
    assert "năm 2026" not in text.split("NGHỊ QUYẾT")[0], "nothing of the draft's day in the letterhead"


async def test_wrong_passphrases_of_a_signing_key_are_audited_and_stop_the_key(
        server: Server, session_world: dict[str, Any], live_factory: Any, admin: Any) -> None:
    """Twelve wrong tries at 5-20 ms each went by unslowed and unrecorded: now each is an audit entry, and
    after ten the key refuses even the right passphrase for a while (only its logged-in owner can try)."""
    from backend.services import signing_guard

    people, mid = session_world["people"], session_world["meeting_id"]
    sec = people["secretary"].client
    sec_cred = await _credential(server, people["secretary"].username)
    poll_id = await _closed_poll(live_factory, people, mid)
    draft = (await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "poll_id": poll_id})).json()
    url = f"/api/records/{draft['id']}/review"
    for _ in range(signing_guard.LOCK_AFTER):
        wrong = await sec.post(url, json={"credential_id": sec_cred, "secret": "doan-sai-mat-khau"})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_passphrase", wrong.text
    locked = await sec.post(url, json={"credential_id": sec_cred, "secret": PASSPHRASE})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "signing_key_locked", locked.text
    assert int(locked.headers["retry-after"]) > 0
    assert (await sec.get(f"/api/records/{draft['id']}")).json()["status"] == "draft", "nothing was signed"
    entries = (await admin.get("/api/audit", params={"limit": 200})).json()
    tries = [e for e in entries if e["action"] == "credential.wrong_secret" and e["object_id"] == sec_cred]
    assert len(tries) == signing_guard.LOCK_AFTER
    assert {e["actor_id"] for e in tries} == {people["secretary"].id}
