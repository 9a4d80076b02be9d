"""Invitations by the group (issue 15, point 11): the secretariat invites every member of the body, a
saved group, or a previous meeting's participants with their roles; the search box is cleared after
adding someone; the system administrator is never offered as an invitee."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, rest_client

pytestmark = pytest.mark.e2e

SECRETARY = ("vpcp.thuky", "BienBan@2026")
BODY_MEMBERS = ["thutuong", "pho.thutuong1", "pho.thutuong2", "bo.taichinh", "bo.tuphap", "bo.khcn"]


def _draft(server: LiveServer, title: str) -> int:
    with rest_client(server.base_url, *SECRETARY) as http:
        me = http.get("/api/auth/me").json()["user"]
        r = http.post("/api/meetings", json={"body_id": me["body_id"], "title": title,
                                             "starts_at": "2026-12-22T08:00:00+07:00"})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def _row(page: Page, username: str) -> Any:
    return page.locator(f"[data-testid=participant-row][data-username='{username}']")


def test_group_invitations_and_a_cleared_search_without_the_administrator(live_server: LiveServer,
                                                                            devices: Any) -> None:
    first = _draft(live_server, "Phiên họp Thường trực Chính phủ tháng 12")
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/meetings/{first}")

    # One person at a time: the administrator is not offered; the search is cleared after adding.
    search = page.get_by_test_id("add-participant-search")
    search.fill("admin")
    expect(page.get_by_test_id("add-participant-user")).to_contain_text("Không có người phù hợp")
    expect(page.locator("[data-testid=add-participant-user] option[data-username=admin]")).to_have_count(0)
    for username, role in (("thutuong", "chair"), ("bo.tuphap", "member")):
        search.fill(username)
        option = page.locator(f"[data-testid=add-participant-user] option[data-username='{username}']")
        expect(option).to_have_count(1)
        page.get_by_test_id("add-participant-user").select_option(option.get_attribute("value"))
        page.get_by_test_id("add-participant-role").select_option(role)
        page.get_by_test_id("add-participant-submit").click()
        expect(_row(page, username)).to_have_attribute("data-role", role)
        expect(search).to_have_value("")

    # Save this list as a group for next time.
    page.get_by_test_id("save-group-name").fill("Thường trực Chính phủ")
    page.get_by_test_id("save-group").click()
    expect(page.get_by_test_id("meeting-notice")).to_contain_text("Đã lưu nhóm “Thường trực Chính phủ”")

    # A second meeting: the saved group, as members.
    second = _draft(live_server, "Phiên họp chuyên đề xây dựng pháp luật")
    page.goto(f"{sec.base_url}/#/meetings/{second}")
    expect(page.get_by_test_id("meeting-heading")).to_have_text("Phiên họp chuyên đề xây dựng pháp luật")
    group = page.get_by_test_id("invite-group-select")
    expect(group.locator("option", has_text="Thường trực Chính phủ")).to_have_count(1)
    group.select_option(label="Thường trực Chính phủ (3)")
    page.get_by_test_id("invite-group").click()
    expect(page.get_by_test_id("group-invite-notice")).to_contain_text("Đã mời 2 người")
    expect(_row(page, "thutuong")).to_have_attribute("data-role", "member")
    expect(_row(page, "bo.tuphap")).to_have_attribute("data-role", "member")

    # A third: copy the first meeting's participants, roles included.
    third = _draft(live_server, "Phiên họp Chính phủ tháng 1")
    page.goto(f"{sec.base_url}/#/meetings/{third}")
    expect(page.get_by_test_id("meeting-heading")).to_have_text("Phiên họp Chính phủ tháng 1")
    copy = page.get_by_test_id("copy-meeting-select")
    copy.select_option(str(first))
    page.get_by_test_id("copy-meeting").click()
    expect(_row(page, "thutuong")).to_have_attribute("data-role", "chair")
    expect(_row(page, "bo.tuphap")).to_have_attribute("data-role", "member")

    # A fourth: everyone of the body at once (never the administrator).
    fourth = _draft(live_server, "Hội nghị toàn thể")
    page.goto(f"{sec.base_url}/#/meetings/{fourth}")
    expect(page.get_by_test_id("meeting-heading")).to_have_text("Hội nghị toàn thể")
    page.get_by_test_id("group-role").select_option("member")
    page.get_by_test_id("invite-body").click()
    for username in BODY_MEMBERS:
        expect(_row(page, username)).to_have_attribute("data-role", "member")
    expect(_row(page, "admin")).to_have_count(0)
    page.get_by_test_id("group-invite").scroll_into_view_if_needed()
    sec.screenshot("participants-group-invite.png", full_page=True)
    sec.assert_clean()
