"""Sending a published record to other agencies in the browser (issue 17): on the record's page the
secretary picks two agencies of the directory and a due date, confirms, and sees one queued row per
recipient; as the outbox delivers one and gives up on the other, the page follows (the states are set in the
database here: this server has no gateway, the delivery itself is tested in
tests/integration/test_exchange_outbox_*.py). The chair sees the deliveries but may not send; a member sees
no exchange card. Screenshot: docs/screenshots/exchange-send.png."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, LiveServer, rest_client
from tests.e2e.test_records import CHAIR, KEY_PASSPHRASE, MEETING_TITLE, MEMBER, QUESTION, SECRETARY, _run_vote

pytestmark = pytest.mark.e2e

FINANCE, NGHE_AN = "000.00.00.G01", "000.00.00.H41"


def _published_record(base_url: str) -> int:
    """A resolution voted, initialled, signed and published through the REST API (the browser flow of it is
    tests/e2e/test_records.py)."""
    with rest_client(base_url, *CHAIR) as http:
        meeting_id = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        if http.get(f"/api/meetings/{meeting_id}").json()["status"] == "published":
            assert http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"}).status_code == 200
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _run_vote(base_url, meeting_id)).result(timeout=60)
    with rest_client(base_url, *SECRETARY) as sec:
        polls = sec.get(f"/api/meetings/{meeting_id}/polls").json()
        poll_id = next(p["id"] for p in polls if p["question"] == QUESTION)
        record = sec.post(f"/api/meetings/{meeting_id}/records", json={
            "kind": "resolution", "poll_id": poll_id, "number": "25/NQ-CP",
            "title": "Nghị quyết về phân bổ vốn đầu tư công năm 2027"})
        assert record.status_code == 201, record.text
        record_id = int(record.json()["id"])
        credential = sec.get("/api/me/credentials").json()[0]["id"]
        r = sec.post(f"/api/records/{record_id}/review", json={"credential_id": credential, "secret": KEY_PASSPHRASE})
        assert r.status_code == 200, r.text
    with rest_client(base_url, *CHAIR) as chair:
        credential = chair.get("/api/me/credentials").json()[0]["id"]
        r = chair.post(f"/api/records/{record_id}/sign", json={"credential_id": credential, "secret": KEY_PASSPHRASE})
        assert r.status_code == 200, r.text
    with rest_client(base_url, *SECRETARY) as sec:
        assert sec.post(f"/api/records/{record_id}/publish").status_code == 200
    return record_id


def _outbox_moves(live_server: LiveServer, record_id: int) -> None:
    """What the outbox would write: Nghệ An delivered, the ministry failed after its attempts."""
    con = sqlite3.connect(live_server.log.parent / "ecabinet.sqlite3")
    with con:
        con.execute("UPDATE outgoing_packages SET state = 'delivered', attempts = 1, delivered_at = created_at "
                    "WHERE record_id = ? AND recipient_code = ?", (record_id, NGHE_AN))
        con.execute("UPDATE outgoing_packages SET state = 'failed', attempts = 12, "
                    "last_error = 'HTTP 503: gateway busy' WHERE record_id = ? AND recipient_code = ?",
                    (record_id, FINANCE))
    con.close()


def test_the_secretary_sends_a_published_record_and_follows_each_recipient(live_server: LiveServer,
                                                                           devices: Any) -> None:
    record_id = _published_record(live_server.base_url)
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/records/{record_id}")
    card = page.get_by_test_id("exchange-send")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("exchange-none")).to_have_text("Văn bản chưa được gửi đến cơ quan nào.")
    send = card.get_by_test_id("exchange-send-button")
    expect(send).to_be_disabled()  # nobody picked yet
    card.locator(f"[data-testid=exchange-recipient][value='{FINANCE}']").check()
    card.locator(f"[data-testid=exchange-recipient][value='{NGHE_AN}']").check()
    card.get_by_test_id("exchange-due").fill("2027-01-15")
    send.click()
    expect(card.get_by_text("Gửi văn bản đã ký số đến 2 cơ quan?")).to_be_visible()
    card.get_by_test_id("exchange-send-button-confirm").click()
    expect(card.get_by_test_id("exchange-notice")).to_have_text("Đã xếp hàng gửi đến 2 cơ quan.")
    rows = card.get_by_test_id("exchange-row")
    expect(rows).to_have_count(2)
    expect(card.get_by_test_id("exchange-state")).to_have_text(["Đang chờ gửi", "Đang chờ gửi"])
    # Sent once: the agencies sent to are no longer offered.
    expect(card.locator(f"[data-testid=exchange-recipient][value='{FINANCE}']")).to_have_count(0)
    with rest_client(live_server.base_url, *SECRETARY) as http:
        listed = http.get(f"/api/records/{record_id}/exchange").json()
    assert sorted(r["recipient_code"] for r in listed) == [FINANCE, NGHE_AN]

    _outbox_moves(live_server, record_id)
    nghe_an = card.locator(f"[data-testid=exchange-row][data-recipient='{NGHE_AN}']")
    finance = card.locator(f"[data-testid=exchange-row][data-recipient='{FINANCE}']")
    expect(nghe_an.get_by_test_id("exchange-state")).to_have_text("Đã gửi đến", timeout=15_000)
    expect(finance.get_by_test_id("exchange-state")).to_have_text("Gửi không thành công")
    expect(finance.get_by_test_id("exchange-last-error")).to_contain_text("HTTP 503")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(SCREENSHOTS / "exchange-send.png"))

    # The chair follows the deliveries but does not send; a member sees no exchange card.
    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(f"{chair.base_url}/#/records/{record_id}")
    expect(chair.page.get_by_test_id("exchange-row")).to_have_count(2)
    expect(chair.page.get_by_test_id("exchange-send-button")).to_have_count(0)
    member = devices()
    member.open()
    member.login(*MEMBER)
    member.page.goto(f"{member.base_url}/#/records/{record_id}")
    expect(member.page.get_by_test_id("record-heading")).to_contain_text("25/NQ-CP")
    expect(member.page.get_by_test_id("exchange-send")).to_have_count(0)
    for device in (sec, chair, member):
        device.assert_clean()
