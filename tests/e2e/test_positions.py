"""Positions before a session in the browser (issue 15, point 12): a member's objection is saved with
its reason in one step and shown again after a reload; silence is not consent (an item is adopted
together only when every entitled member said "no objection"); the overview lists who has not
answered; the chair's console shows the current item's objections and adopts the others together."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client

pytestmark = pytest.mark.e2e

CHAIR = ("thutuong", "ChuToa@2026")
SECRETARY = ("vpcp.thuky", "BienBan@2026")
MEMBER = ("bo.tuphap", "ThanhVien@2026")
OTHERS = [CHAIR, ("pho.thutuong1", "ThanhVien@2026"), ("pho.thutuong2", "ThanhVien@2026"),
          ("bo.taichinh", "ThanhVien@2026"), ("bo.khcn", "ThanhVien@2026")]
MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"
REASON = "Cần bổ sung số liệu quý IV."


def test_positions_objection_reason_silence_overview_and_console(live_server: LiveServer, devices: Any) -> None:
    with rest_client(live_server.base_url, *CHAIR) as http:
        mid = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        item_ids = [i["id"] for i in http.get(f"/api/meetings/{mid}").json()["agenda"]]
    member = devices()
    member.open()
    member.login(*MEMBER)
    page = member.page
    page.goto(f"{member.base_url}/#/meetings/{mid}")
    items = page.get_by_test_id("position-item")
    expect(items).to_have_count(5)
    items.nth(0).get_by_test_id("position-no_objection").click()
    expect(items.nth(0).get_by_test_id("position-no_objection")).to_have_attribute("aria-pressed", "true")

    # "Objection" first, then the reason: no error, nothing saved until the reason goes with it.
    items.nth(1).get_by_test_id("position-objection").click()
    expect(items.nth(1).get_by_test_id("position-reason")).to_be_focused()
    expect(page.get_by_test_id("positions-error")).to_have_count(0)
    with rest_client(live_server.base_url, *MEMBER) as http:
        assert http.get(f"/api/meetings/{mid}/positions").json()["items"][1]["mine"] is None
    items.nth(1).get_by_test_id("position-reason").fill(REASON)
    items.nth(1).get_by_test_id("position-save-objection").click()
    expect(items.nth(1).get_by_test_id("position-save-objection")).to_have_count(0)
    expect(page.get_by_test_id("positions-error")).to_have_count(0)
    with rest_client(live_server.base_url, *MEMBER) as http:
        assert http.get(f"/api/meetings/{mid}/positions").json()["items"][1]["mine"] == {
            "position": "objection", "reason": REASON}
    items.nth(2).get_by_test_id("position-wish_to_speak").click()
    expect(items.nth(2).get_by_test_id("position-wish_to_speak")).to_have_attribute("aria-pressed", "true")
    # After a reload the member's own reason is there again.
    page.reload()
    expect(items.nth(1).get_by_test_id("position-objection")).to_have_attribute("aria-pressed", "true")
    expect(items.nth(1).get_by_test_id("position-reason")).to_have_value(REASON)
    member.screenshot("positions-member.png", full_page=True)

    # The secretariat's overview: silence is not consent, and it says who has not answered.
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    sec.page.goto(f"{sec.base_url}/#/meetings/{mid}")
    staff_items = sec.page.get_by_test_id("position-item")
    expect(staff_items.nth(1)).to_contain_text(REASON)
    expect(staff_items.nth(0).get_by_test_id("position-not-answered")).to_contain_text("Chưa cho ý kiến:")
    expect(staff_items.nth(0).get_by_test_id("position-not-answered")).to_contain_text("Nguyễn Văn An")
    expect(staff_items.nth(0).get_by_test_id("position-not-answered")).not_to_contain_text("Hoàng Thu Hà")
    expect(sec.page.locator("[data-testid=position-item][data-adoptable=true]")).to_have_count(0)

    # Everyone else says "no objection" to items 1, 4 and 5: those three, and only those, may go together.
    for account in OTHERS:
        with rest_client(live_server.base_url, *account) as http:
            for index in (0, 3, 4):
                r = http.put(f"/api/meetings/{mid}/positions", json={"agenda_item_id": item_ids[index],
                                                                       "position": "no_objection"})
                assert r.status_code == 200, r.text
    with rest_client(live_server.base_url, *MEMBER) as http:
        for index in (3, 4):
            assert http.put(f"/api/meetings/{mid}/positions", json={"agenda_item_id": item_ids[index],
                                                                      "position": "no_objection"}).status_code == 200
    sec.page.reload()
    expect(sec.page.locator("[data-testid=position-item][data-adoptable=true]")).to_have_count(3)
    expect(staff_items.nth(0).get_by_test_id("position-not-answered")).to_have_text(
        "Tất cả thành viên đã cho ý kiến.")
    sec.page.get_by_test_id("positions-rule").scroll_into_view_if_needed()
    sec.screenshot("positions-overview.png", full_page=True)

    # The chair's console: the current item's objections, and "adopt together".
    with rest_client(live_server.base_url, *CHAIR) as http:
        assert http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}).status_code == 200
    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(f"{chair.base_url}/#/meetings/{mid}/console")
    console = chair.page
    expect(console.get_by_test_id("console-no-objections")).to_be_visible()  # item 1: no objection
    console.get_by_test_id("console-adopt").click()
    expect(console.get_by_text("Thông qua chung 3 nội dung", exact=False).last).to_be_visible()
    with rest_client(live_server.base_url, *CHAIR) as http:
        assert [i["status"] for i in http.get(f"/api/meetings/{mid}").json()["agenda"]][0] == "current"
    console.get_by_test_id("console-adopt-confirm").click()
    expect(console.get_by_test_id("console-adopt-notice")).to_contain_text("3")
    # The session moved on to item 2, the one with the objection: its reason is on the console.
    expect(console.get_by_test_id("console-objection")).to_contain_text("Hoàng Thu Hà")
    expect(console.get_by_test_id("console-objection")).to_contain_text(REASON)
    expect(console.get_by_test_id("console-not-answered")).to_contain_text("Nguyễn Văn An")
    chair.screenshot("console-positions.png", full_page=True)
    with rest_client(live_server.base_url, *CHAIR) as http:
        agenda = http.get(f"/api/meetings/{mid}").json()["agenda"]
    assert [i["status"] for i in agenda] == ["adopted", "current", "pending", "adopted", "adopted"]
    for device in (member, sec, chair):
        device.assert_clean()
