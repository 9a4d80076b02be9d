"""An opinion round in the browser: the secretariat sets the questions and the deadline and sends the
round; two members answer (one with an "other opinion") and sign on their tablets while the
secretariat's board updates live; the secretariat closes the round, opens the report and drafts the
resolution from it. Screenshots go to docs/screenshots/."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client

pytestmark = pytest.mark.e2e

SECRETARY = ("vpcp.thuky", "BienBan@2026")
MEMBER1 = ("pho.thutuong1", "ThanhVien@2026")  # Trần Thị Bình
MEMBER2 = ("bo.taichinh", "ThanhVien@2026")  # Phạm Minh Đức
KEY_PASSPHRASE = "KySo@2026"
TITLE = "Lấy ý kiến thành viên Chính phủ về Dự thảo Nghị định quy định chi tiết Luật Dữ liệu"


def _prepare_round(server: LiveServer) -> int:
    """A draft round with two members asked (the meeting and participant screens have their own test)."""
    with rest_client(server.base_url, *SECRETARY) as http:
        me = http.get("/api/auth/me").json()["user"]
        r = http.post("/api/meetings", json={"body_id": me["body_id"], "kind": "opinion_round", "title": TITLE,
                                             "starts_at": "2026-12-01T08:00:00+07:00"})
        assert r.status_code == 201, r.text
        mid = int(r.json()["id"])
        users = {u["username"]: u["id"] for u in http.get(f"/api/meetings/{mid}/candidates",
                                                           params={"q": ""}).json()}
        for username in (MEMBER1[0], MEMBER2[0]):
            r = http.post(f"/api/meetings/{mid}/participants", json={"user_id": users[username], "role": "member"})
            assert r.status_code == 201, r.text
    return mid


def _answer(devices: Any, account: tuple[str, str], mid: int, choices: list[str], other: str = "") -> Any:
    device = devices()
    device.open()
    device.login(*account)
    page = device.page
    page.goto(f"{device.base_url}/#/meetings")
    expect(page.get_by_test_id("round-waiting").first).to_be_visible()  # the waiting round comes first
    expect(page.get_by_test_id("meeting-row").first).to_contain_text(TITLE)
    page.goto(f"{device.base_url}/#/meetings/{mid}/round")
    questions = page.get_by_test_id("question")
    expect(questions).to_have_count(len(choices))
    for i, choice in enumerate(choices):
        questions.nth(i).get_by_test_id(f"choice-{choice}").check()
        if choice == "other":
            questions.nth(i).get_by_test_id("other-text").fill(other)
    page.get_by_test_id("ballot-secret").fill(KEY_PASSPHRASE)
    page.get_by_test_id("ballot-submit").click()
    expect(page.get_by_test_id("ballot-sent")).to_be_visible()
    return device


def test_a_round_is_sent_answered_closed_reported_and_resolved(live_server: LiveServer, devices: Any) -> None:
    mid = _prepare_round(live_server)
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/meetings/{mid}/round")
    page.get_by_test_id("round-questions").fill("Thông qua Dự thảo Nghị định?\nĐồng ý thời điểm hiệu lực 01/7/2027?")
    page.get_by_test_id("round-deadline-input").fill("2030-12-31T17:00")
    page.get_by_test_id("round-save").click()
    expect(page.get_by_test_id("round-notice")).to_be_visible()
    page.goto(f"{sec.base_url}/#/meetings/{mid}")
    page.get_by_test_id("action-publish").click()
    page.get_by_test_id("action-publish-confirm").click()
    expect(page.get_by_test_id("status-badge")).to_contain_text("Đã công bố")
    page.goto(f"{sec.base_url}/#/meetings/{mid}/round")
    expect(page.get_by_test_id("round-status")).to_have_attribute("data-status", "open")
    expect(page.locator("[data-testid=board-row][data-answered=true]")).to_have_count(0)

    first = _answer(devices, MEMBER1, mid, ["agree", "agree"])
    # The board follows without a reload.
    expect(page.locator("[data-testid=board-row][data-answered=true]")).to_have_count(1)
    second = _answer(devices, MEMBER2, mid, ["agree", "other"], "Đề nghị lùi hiệu lực sang 01/01/2028.")
    expect(page.locator("[data-testid=board-row][data-answered=true]")).to_have_count(2)
    expect(page.get_by_test_id("round-answered")).to_contain_text("2/2")
    second.screenshot("opinion-ballot.png", full_page=True)
    sec.screenshot("opinion-board.png", full_page=True)

    page.get_by_test_id("round-close").click()
    page.get_by_test_id("round-close-confirm").click()
    expect(page.get_by_test_id("round-status")).to_have_attribute("data-status", "closed")
    results = page.get_by_test_id("round-result")
    expect(results.nth(0)).to_have_attribute("data-passed", "true")
    expect(results.nth(1)).to_have_attribute("data-passed", "false")  # 1 agree of 2 asked: not more than half
    report_url = page.get_by_test_id("round-report-final").get_attribute("href")
    assert report_url
    cookies = {c["name"]: c["value"] for c in sec.context.cookies()}
    report = httpx.get(f"{sec.base_url}{report_url}", cookies=cookies, timeout=30)
    assert report.status_code == 200 and report.content.startswith(b"%PDF")

    page.goto(f"{sec.base_url}/#/meetings/{mid}")
    page.get_by_test_id("draft-resolution").click()
    expect(page.get_by_test_id("record-poll")).to_have_count(0)  # a round's result is the source
    page.get_by_test_id("record-number").fill("25/NQ-CP")
    page.get_by_test_id("record-title").fill("Về Dự thảo Nghị định quy định chi tiết Luật Dữ liệu")
    page.get_by_test_id("record-create").click()
    expect(page.get_by_test_id("record-heading")).to_contain_text("Nghị quyết 25/NQ-CP")
    for device in (sec, first, second):
        device.assert_clean()
