"""The secretariat's forms and texts (issue 15, point 13): an opinion round has its own form (title,
deadline, questions; no place, no minutes per item); result lines keep their spaces; the report link
appears once on a round's page; the console says "no one has asked to speak" once."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client

pytestmark = pytest.mark.e2e

SECRETARY = ("vpcp.thuky", "BienBan@2026")
CHAIR = ("thutuong", "ChuToa@2026")
ROUND_TITLE = "Lấy ý kiến về Dự thảo Nghị định sửa đổi"
QUESTIONS = ["Thông qua Dự thảo Nghị định?", "Đồng ý thời điểm hiệu lực 01/7/2027?"]


def test_an_opinion_round_has_its_own_form_and_its_page_reads_well(live_server: LiveServer, devices: Any) -> None:
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.get_by_test_id("new-meeting").click()
    expect(page.get_by_test_id("meeting-place")).to_be_visible()
    page.get_by_test_id("meeting-kind").select_option("opinion_round")
    expect(page.get_by_test_id("meeting-place")).to_have_count(0)
    expect(page.get_by_test_id("meeting-starts-at")).to_have_count(0)
    page.get_by_label("Tên đợt lấy ý kiến").fill(ROUND_TITLE)
    page.get_by_test_id("round-form-deadline").fill("2030-12-31T17:00")
    page.get_by_test_id("round-form-questions").fill("\n".join(QUESTIONS))
    sec.screenshot("round-form.png", full_page=True)
    page.get_by_test_id("meeting-submit").click()
    expect(page.get_by_test_id("meeting-heading")).to_have_text(ROUND_TITLE)
    # The round's page of the meeting: its questions, no agenda with minutes.
    section = page.get_by_test_id("round-questions-section")
    expect(section).to_contain_text(QUESTIONS[0])
    expect(section).to_contain_text("31/12/2030")
    expect(page.get_by_test_id("add-agenda-form")).to_have_count(0)
    expect(page.get_by_test_id("add-agenda-minutes")).to_have_count(0)
    mid = int(page.url.rstrip("/").split("/")[-1])

    with rest_client(live_server.base_url, *SECRETARY) as http:
        meeting = http.get(f"/api/meetings/{mid}").json()
        assert meeting["kind"] == "opinion_round" and meeting["place"] == ""
        r = http.get(f"/api/meetings/{mid}/opinion-round").json()
        assert [q["text"] for q in r["questions"]] == QUESTIONS
        users = {u["username"]: u["id"] for u in http.get(f"/api/meetings/{mid}/candidates").json()}
        assert http.post(f"/api/meetings/{mid}/participants",
                         json={"user_id": users["bo.tuphap"], "role": "member"}).status_code == 201
        assert http.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}).status_code == 200
        assert http.post(f"/api/meetings/{mid}/opinion-round/close").status_code == 200
    page.goto(f"{sec.base_url}/#/meetings/{mid}/round")
    expect(page.get_by_test_id("round-status")).to_have_attribute("data-status", "closed")
    expect(page.locator(".round-facts")).to_contain_text("Đã kết thúc · Hạn cuối: ")
    results = page.get_by_test_id("round-result")
    expect(results.nth(0)).to_have_text(f"{QUESTIONS[0]}: Đồng ý 0 · Không đồng ý 0 · Ý kiến khác 0 — Không thông qua")
    expect(page.get_by_text("Báo cáo tổng hợp ý kiến", exact=True)).to_have_count(1)
    sec.screenshot("round-results.png", full_page=True)
    sec.assert_clean()


def test_the_console_says_nobody_asked_to_speak_once(live_server: LiveServer, devices: Any) -> None:
    with rest_client(live_server.base_url, *CHAIR) as http:
        mid = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == "Phiên họp Chính phủ thường kỳ")
        assert http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}).status_code == 200
    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(f"{chair.base_url}/#/meetings/{mid}/console")
    expect(chair.page.get_by_test_id("floor")).to_be_visible()
    expect(chair.page.get_by_text("Chưa có ai đăng ký phát biểu.")).to_have_count(1)
    chair.assert_clean()
