"""The secretariat's inbox in the browser (issue 17 point 5): two documents arrive from Nghệ An through
the gateway's endpoint (one already past its due date); the clerk sees them with their status and the
overdue badge, opens one, downloads its attachment byte for byte, cannot refuse without a reason, accepts
and assigns it (each confirmed once more) and sees its history grow; refuses the other with a reason. A
member has no inbox. Then a published record sent to Nghệ An shows, on its page, the statuses Nghệ An
reported (the tracking panel). Screenshots go to docs/screenshots/."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client
from tests.e2e.test_records import CHAIR, KEY_PASSPHRASE, MEETING_TITLE, MEMBER, QUESTION, SECRETARY, _run_vote
from tests.support.exchange_packages import (
    GATEWAY_SECRET,
    PDF,
    SENDER,
    document,
    exchange_pki,
    signed,
    signed_status,
    status_from,
)

pytestmark = pytest.mark.e2e


def _deliver(live_server: LiveServer, data: bytes) -> httpx.Response:
    return httpx.post(f"{live_server.base_url}/api/exchange/inbound", content=data, timeout=60,
                      headers={"Content-Type": "application/xml", "Authorization": f"Bearer {GATEWAY_SECRET}"})


def _pki(live_server: LiveServer) -> Any:
    """The PKI tests/e2e/conftest.py made for the server, under its data directory."""
    return exchange_pki(live_server.log.parent / "exchange-pki")


def _today() -> date:
    """Today in Vietnam, where the server counts due dates."""
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


def test_the_secretariat_handles_a_document_received_and_tracks_one_sent(devices: Any, live_server: LiveServer,
                                                                         tmp_path: Path) -> None:
    pki = _pki(live_server)
    late = document(subject="Báo cáo tiến độ giải ngân vốn đầu tư công (đã quá hạn)",
                    due_date=_today() - timedelta(days=3))
    plain = document(subject="Tờ trình đề nghị bổ sung kinh phí phòng chống thiên tai")
    for package in (late, plain):
        r = _deliver(live_server, signed(package, pki.sender))
        assert r.status_code == 201, r.text
    late_id, plain_id = (_inbox_id(live_server, p) for p in (late, plain))

    # A member has no inbox: no link, and the page says so.
    member = devices()
    member.open()
    member.login(*MEMBER)
    expect(member.page.get_by_test_id("nav-inbox")).to_have_count(0)
    member.page.goto(f"{member.base_url}/#/exchange/inbox")
    expect(member.page.get_by_test_id("inbox-error")).to_be_visible()

    sec = devices()
    sec.open()
    page = sec.login(*SECRETARY)
    page.get_by_test_id("nav-inbox").click()
    expect(page.get_by_test_id("inbox-table")).to_be_visible()
    late_row = page.locator(f"[data-testid=inbox-row][data-incoming-id='{late_id}']")
    plain_row = page.locator(f"[data-testid=inbox-row][data-incoming-id='{plain_id}']")
    expect(late_row.get_by_test_id("overdue-badge")).to_have_text("Quá hạn")
    expect(plain_row.get_by_test_id("overdue-badge")).to_have_count(0)
    expect(late_row.get_by_test_id("inbox-status")).to_have_text("Đã đến")
    sec.screenshot("exchange-inbox.png")

    # One document: its attachment, exactly as sent; its history; the steps.
    late_row.get_by_test_id("inbox-open").click()
    expect(page.get_by_test_id("incoming-subject")).to_have_text(late.subject)
    with page.expect_download() as download:
        page.get_by_test_id("attachment-download").click()
    saved = tmp_path / "to-trinh.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == PDF
    expect(page.get_by_test_id("history-step")).to_have_count(1)
    expect(page.get_by_test_id("step-02")).to_be_disabled()  # a refusal needs its reason
    expect(page.get_by_test_id("refuse-hint")).to_be_visible()
    page.get_by_test_id("step-03").click()
    expect(page.get_by_test_id("history-step")).to_have_count(1)  # not yet: it asks once more
    page.get_by_test_id("step-03-confirm").click()
    expect(page.get_by_test_id("inbox-notice")).to_contain_text("Đã tiếp nhận")
    expect(page.get_by_test_id("inbox-status")).to_have_text("Đã tiếp nhận")
    expect(page.get_by_test_id("step-04")).to_be_disabled()  # an assignment names a department and a person
    page.get_by_test_id("step-department").fill("Vụ Kinh tế ngành")
    page.get_by_test_id("step-person").fill("Nguyễn Văn Hùng")
    page.get_by_test_id("step-note").fill("Đề nghị tham mưu trước ngày 10/12.")
    page.get_by_test_id("step-04").click()
    page.get_by_test_id("step-04-confirm").click()
    expect(page.get_by_test_id("inbox-status")).to_have_text("Đã phân công")
    expect(page.get_by_test_id("history-step")).to_have_count(3)
    expect(page.locator("[data-testid=history-step][data-code='04']")).to_contain_text("Nguyễn Văn Hùng")
    expect(page.get_by_test_id("overdue-badge")).to_be_visible()
    sec.screenshot("exchange-incoming.png", full_page=True)

    # The other: refused with its reason; nothing follows a refusal.
    page.get_by_test_id("inbox-back").click()
    page.locator(f"[data-testid=inbox-row][data-incoming-id='{plain_id}']").get_by_test_id("inbox-open").click()
    page.get_by_test_id("step-note").fill("Không thuộc thẩm quyền của Văn phòng Chính phủ.")
    page.get_by_test_id("step-02").click()
    page.get_by_test_id("step-02-confirm").click()
    expect(page.get_by_test_id("inbox-status")).to_have_text("Từ chối")
    expect(page.get_by_test_id("inbox-final")).to_be_visible()
    sec.assert_clean()
    member.assert_clean()

    # Tracking: a record published and sent to Nghệ An, which reports 01 then 03.
    record_id, document_id = _published_and_sent(live_server)
    for code, hour in (("01", 8), ("03", 9)):
        r = _deliver(live_server, signed_status(status_from(SENDER, document_id, code,
                                                            at=_today_at(hour), description="Đã vào sổ" if code == "03"
                                                            else ""), pki.sender))
        assert r.status_code == 201, r.text
    page.goto(f"{sec.base_url}/#/records/{record_id}")
    # One card tells both what was delivered and what the recipient reported since.
    panel = page.get_by_test_id("exchange-send")
    expect(panel).to_be_visible()
    row = panel.locator(f"[data-testid=exchange-row][data-recipient='{SENDER}']")
    expect(row).to_have_attribute("data-latest", "03")
    expect(row.get_by_test_id("exchange-state")).to_be_visible()  # the delivery, beside what was reported
    expect(row.get_by_test_id("tracking-latest")).to_contain_text("Đã tiếp nhận")
    row.locator("summary").click()
    expect(row.get_by_test_id("tracking-step")).to_have_text([re.compile("^01"), re.compile("^03.*Đã vào sổ")])
    expect(page.locator("[data-testid=exchange-send], [data-testid=exchange-tracking]")).to_have_count(1)
    panel.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "exchange-tracking.png"))
    sec.assert_clean()


def _inbox_id(live_server: LiveServer, package: Any) -> int:
    with rest_client(live_server.base_url, *SECRETARY) as http:
        return int(next(d["id"] for d in http.get("/api/exchange/inbox").json()
                        if d["document_id"] == package.document_id))


def _today_at(hour: int) -> datetime:
    return datetime.combine(_today(), datetime.min.time()).replace(hour=hour)


def _published_and_sent(live_server: LiveServer) -> tuple[int, str]:
    """A resolution of the demo meeting voted, initialled, signed, published and sent to Nghệ An (by REST)."""
    with rest_client(live_server.base_url, *CHAIR) as http:
        meeting_id = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        if http.get(f"/api/meetings/{meeting_id}").json()["status"] == "published":
            assert http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"}).status_code == 200
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _run_vote(live_server.base_url, meeting_id)).result(timeout=60)
    with rest_client(live_server.base_url, *SECRETARY) as sec, rest_client(live_server.base_url, *CHAIR) as chair:
        poll_id = next(p["id"] for p in sec.get(f"/api/meetings/{meeting_id}/polls").json()
                       if p["question"] == QUESTION)
        record = sec.post(f"/api/meetings/{meeting_id}/records", json={
            "kind": "resolution", "poll_id": poll_id, "number": "16/NQ-CP",
            "title": "Nghị quyết về giải ngân vốn đầu tư công"})
        assert record.status_code == 201, record.text
        rid = record.json()["id"]
        for client, step in ((sec, "review"), (chair, "sign")):
            credential = client.get("/api/me/credentials").json()[0]["id"]
            r = client.post(f"/api/records/{rid}/{step}", json={"credential_id": credential, "secret": KEY_PASSPHRASE})
            assert r.status_code == 200, r.text
        assert sec.post(f"/api/records/{rid}/publish").status_code == 200
        sent = sec.post(f"/api/records/{rid}/exchange", json={
            "recipients": [SENDER], "due_date": (_today() + timedelta(days=14)).isoformat()})
        assert sent.status_code == 201, sent.text
        return rid, str(sent.json()[0]["document_id"])


def test_the_clerk_puts_a_received_pdf_before_a_meeting_under_an_agenda_item(devices: Any,
                                                                            live_server: LiveServer) -> None:
    """Issue 17 point 4: a valid document received can be attached to a meeting's agenda."""
    import exchange as ex
    from tests.support.sample_pdfs import sample_pdf

    title = "Phiên họp xem xét tờ trình của tỉnh Nghệ An"
    with rest_client(live_server.base_url, *SECRETARY) as http:
        me = http.get("/api/auth/me").json()["user"]
        meeting = http.post("/api/meetings", json={"body_id": me["body_id"], "title": title,
                                                   "starts_at": "2026-12-22T08:00:00+07:00"}).json()
        item = http.post(f"/api/meetings/{meeting['id']}/agenda",
                         json={"title": "Tờ trình hỗ trợ kinh phí khắc phục bão lũ"}).json()
    pdf = ex.Attachment("to-trinh-bao-lu.pdf", "application/pdf", sample_pdf(1, title="Tờ trình"), "Toàn văn")
    package = document(subject="Tờ trình đề nghị hỗ trợ kinh phí khắc phục bão lũ", attachments=(pdf,))
    assert _deliver(live_server, signed(package, _pki(live_server).sender)).status_code == 201
    incoming = _inbox_id(live_server, package)

    sec = devices()
    sec.open()
    page = sec.login(*SECRETARY)
    page.goto(f"{sec.base_url}/#/exchange/inbox/{incoming}")
    expect(page.get_by_test_id("attachment-unsigned")).to_have_text("Chưa ký số")
    page.get_by_test_id("to-meeting-open").click()
    page.get_by_test_id("to-meeting-meeting").select_option(label=title)
    page.get_by_test_id("to-meeting-item").select_option(label=item["title"])
    page.get_by_test_id("to-meeting-submit").click()
    expect(page.get_by_text("thành tài liệu họp?", exact=False)).to_be_visible()  # asks once more
    sec.screenshot("exchange-to-meeting.png")
    page.get_by_test_id("to-meeting-submit-confirm").click()
    expect(page.get_by_test_id("to-meeting-done")).to_be_visible()
    with rest_client(live_server.base_url, *SECRETARY) as http:
        documents = http.get(f"/api/meetings/{meeting['id']}/documents").json()
    assert [(d["agenda_item_id"], d["title"]) for d in documents] == [
        (item["id"], f"{package.code.number}/{package.code.notation} — {package.subject}")]
    page.get_by_test_id("to-meeting-done").get_by_role("link").click()
    expect(page.get_by_test_id("meeting-heading")).to_have_text(title)
    sec.assert_clean()
