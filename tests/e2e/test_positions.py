"""Positions before a session in the browser: a member marks the demo meeting's items (an objection
needs its reason), the secretariat sees which items may be adopted together, and once the session
runs the chair adopts them in one step."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client

pytestmark = pytest.mark.e2e

CHAIR = ("thutuong", "ChuToa@2026")
SECRETARY = ("vpcp.thuky", "BienBan@2026")
MEMBER = ("bo.tuphap", "ThanhVien@2026")
MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"


def test_members_state_positions_and_the_chair_adopts_the_unopposed(live_server: LiveServer, devices: Any) -> None:
    with rest_client(live_server.base_url, *CHAIR) as http:
        mid = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
    member = devices()
    member.open()
    member.login(*MEMBER)
    page = member.page
    page.goto(f"{member.base_url}/#/meetings/{mid}")
    items = page.get_by_test_id("position-item")
    expect(items).to_have_count(5)
    items.nth(0).get_by_test_id("position-no_objection").click()
    expect(items.nth(0).get_by_test_id("position-no_objection")).to_have_attribute("aria-pressed", "true")
    items.nth(1).get_by_test_id("position-objection").click()
    expect(page.get_by_test_id("positions-error")).to_contain_text("Hãy ghi lý do")
    items.nth(1).get_by_test_id("position-reason").fill("Cần bổ sung số liệu quý IV.")
    items.nth(1).get_by_test_id("position-objection").click()
    expect(items.nth(1).get_by_test_id("position-objection")).to_have_attribute("aria-pressed", "true")
    items.nth(2).get_by_test_id("position-wish_to_speak").click()
    expect(items.nth(2).get_by_test_id("position-wish_to_speak")).to_have_attribute("aria-pressed", "true")
    member.screenshot("positions-member.png", full_page=True)

    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    sec.page.goto(f"{sec.base_url}/#/meetings/{mid}")
    staff_items = sec.page.get_by_test_id("position-item")
    expect(staff_items.nth(1)).to_contain_text("Cần bổ sung số liệu quý IV.")
    expect(sec.page.locator("[data-testid=position-item][data-adoptable=true]")).to_have_count(3)

    with rest_client(live_server.base_url, *CHAIR) as http:
        assert http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}).status_code == 200
    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(f"{chair.base_url}/#/meetings/{mid}")
    chair.page.get_by_test_id("adopt-unopposed").click()
    expect(chair.page.get_by_test_id("positions-notice")).to_contain_text("3")
    with rest_client(live_server.base_url, *CHAIR) as http:
        agenda = http.get(f"/api/meetings/{mid}").json()["agenda"]
    assert [i["status"] for i in agenda] == ["adopted", "current", "pending", "adopted", "adopted"]
    for device in (member, sec, chair):
        device.assert_clean()
