"""Notifications in the browser: a member's bell counts up live when the secretariat publishes a meeting,
its list leads to the meeting and reading clears the count; the chair's open record page follows the
record when the secretary reviews it (status, and the bell), without a reload."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client
from tests.e2e.test_records import CHAIR, KEY_PASSPHRASE, MEETING_TITLE, MEMBER, SECRETARY, _run_vote

pytestmark = pytest.mark.e2e

NEW_MEETING = "Phiên họp chuyên đề về chuyển đổi số"


def _count(page: Any) -> int:
    badge = page.get_by_test_id("notify-count")
    return int(badge.inner_text()) if badge.count() else 0


def test_the_bell_counts_a_published_meeting_live_and_reading_clears_it(live_server: LiveServer,
                                                                         devices: Any) -> None:
    member = devices()
    member.open()
    page = member.login(*MEMBER)
    expect(page.get_by_test_id("notify-bell")).to_be_visible()
    page.wait_for_timeout(500)  # the count from the server (the demo's published meeting) has arrived
    before = _count(page)

    with rest_client(live_server.base_url, *SECRETARY) as sec, rest_client(live_server.base_url, *MEMBER) as me:
        body_id = sec.get("/api/bodies").json()[0]["id"]
        meeting = sec.post("/api/meetings", json={"body_id": body_id, "title": NEW_MEETING,
                                                  "starts_at": "2026-12-20T08:00:00+07:00"}).json()
        assert sec.post(f"/api/meetings/{meeting['id']}/participants",
                        json={"user_id": me.get("/api/auth/me").json()["user"]["id"], "role": "member"}
                        ).status_code == 201
        assert sec.post(f"/api/meetings/{meeting['id']}/transitions", json={"action": "publish"}).status_code == 200

    # No reload: the count rises by the push to the member's own room.
    expect(page.get_by_test_id("notify-count")).to_have_text(str(before + 1))
    page.get_by_test_id("notify-bell").click()
    item = page.get_by_test_id("notify-item").first
    expect(item).to_contain_text(f"Cuộc họp mới: {NEW_MEETING}")
    expect(item).to_have_attribute("data-read", "false")
    member.screenshot("notifications.png")
    item.get_by_test_id("notify-link").click()
    expect(page).to_have_url(re.compile(rf"#/meetings/{meeting['id']}$"))
    expect(page.get_by_test_id("meeting-heading")).to_have_text(NEW_MEETING)
    # Opening it read it.
    if before:
        expect(page.get_by_test_id("notify-count")).to_have_text(str(before))
        page.get_by_test_id("notify-bell").click()
        expect(page.get_by_test_id("notify-item").first).to_have_attribute("data-read", "true")
        page.get_by_test_id("notify-read-all").click()
    expect(page.get_by_test_id("notify-count")).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("notify-bell")).to_be_visible()
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("notify-count")).to_have_count(0)  # read on the server, not only on screen
    member.assert_clean()


def test_the_chairs_open_record_page_follows_the_secretarys_review(live_server: LiveServer, devices: Any) -> None:
    with rest_client(live_server.base_url, *CHAIR) as http:
        meeting_id = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        if http.get(f"/api/meetings/{meeting_id}").json()["status"] == "published":
            assert http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"}).status_code == 200
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _run_vote(live_server.base_url, meeting_id)).result(timeout=60)
    with rest_client(live_server.base_url, *SECRETARY) as sec:
        poll_id = next(p["id"] for p in sec.get(f"/api/meetings/{meeting_id}/polls").json()
                       if p["status"] == "closed")
        record = sec.post(f"/api/meetings/{meeting_id}/records", json={
            "kind": "resolution", "poll_id": poll_id, "number": "21/NQ-CP",
            "title": "Nghị quyết về chuyển đổi số"}).json()
        credential = sec.get("/api/me/credentials").json()[0]["id"]

    chair = devices()
    chair.open()
    page = chair.login(*CHAIR)
    page.goto(f"{chair.base_url}/#/records/{record['id']}")
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")
    expect(page.locator("main[data-live=online]")).to_have_count(1)  # in the meeting's staff room
    bell = _count(page)

    with rest_client(live_server.base_url, *SECRETARY) as sec:
        r = sec.post(f"/api/records/{record['id']}/review", json={"credential_id": credential,
                                                                 "secret": KEY_PASSPHRASE})
        assert r.status_code == 200, r.text

    expect(page.get_by_test_id("record-status")).to_have_text("Đã kiểm tra")
    expect(page.get_by_test_id("sign-form")).to_be_visible()  # the chair's step, offered without a reload
    expect(page.get_by_test_id("notify-count")).to_have_text(str(bell + 1))
    page.get_by_test_id("notify-bell").click()
    expect(page.get_by_test_id("notify-item").first).to_contain_text("Chờ ký: 21/NQ-CP")
    chair.assert_clean()
