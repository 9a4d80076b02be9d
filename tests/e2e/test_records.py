"""Signed records in the browser: the secretary drafts a resolution from a closed vote and initials it
(a wrong passphrase first), the chair signs, the secretary publishes, a member reads it; then anyone,
logged out, checks the downloaded file on the verify page, and a tampered copy shows as not valid.
Screenshots go to docs/screenshots/."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client

pytestmark = pytest.mark.e2e

CHAIR = ("thutuong", "ThuTuong@2026")
SECRETARY = ("vpcp.thuky", "ThuKy@2026")
MEMBER = ("pho.thutuong1", "PhoThuTuong@2026")
KEY_PASSPHRASE = "KySo@2026"
MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"
QUESTION = "Thông qua Nghị quyết phiên họp Chính phủ thường kỳ tháng 11?"


async def _run_vote(base_url: str, meeting_id: int) -> None:
    """The chair (and a member) run a vote over Socket.IO, as the console and a tablet would."""
    import socketio

    clients = []
    for account in (CHAIR, MEMBER):
        with rest_client(base_url, *account) as http:
            token = http.headers["Authorization"].split()[1]
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(base_url, auth={"token": token}, transports=["websocket"])
        assert (await sio.call("meeting.join", {"meeting_id": meeting_id}))["ok"]
        clients.append(sio)
    chair, member = clients
    poll = (await chair.call("poll.create", {"meeting_id": meeting_id, "question": QUESTION}))["poll"]
    assert (await chair.call("poll.open", {"poll_id": poll["id"]}))["ok"]
    assert (await member.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    assert (await chair.call("vote.cast", {"poll_id": poll["id"], "choice": "yes"}))["ok"]
    assert (await chair.call("poll.close", {"poll_id": poll["id"]}))["ok"]
    for sio in clients:
        await sio.disconnect()


def test_a_resolution_is_drafted_signed_published_and_verified(live_server: LiveServer, devices: Any,
                                                                tmp_path: Path) -> None:
    with rest_client(live_server.base_url, *CHAIR) as http:
        meeting_id = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        if http.get(f"/api/meetings/{meeting_id}").json()["status"] == "published":
            assert http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"}).status_code == 200
    # Playwright's sync API owns this thread's event loop: the Socket.IO clients get their own thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _run_vote(live_server.base_url, meeting_id)).result(timeout=60)

    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/meetings/{meeting_id}")
    page.get_by_test_id("draft-resolution").click()
    page.get_by_test_id("record-poll").select_option(label=QUESTION)
    page.get_by_test_id("record-number").fill("15/NQ-CP")
    page.get_by_test_id("record-title").fill("Nghị quyết phiên họp Chính phủ thường kỳ tháng 11 năm 2026")
    page.get_by_test_id("record-articles").fill("Thông qua báo cáo tình hình kinh tế - xã hội tháng 11.\n"
                                                "Giao các bộ, ngành tổ chức thực hiện.")
    page.get_by_test_id("record-create").click()
    expect(page.get_by_test_id("record-heading")).to_contain_text("Nghị quyết 15/NQ-CP")
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")
    record_url = page.url

    page.get_by_test_id("sign-secret").fill("sai-mat-khau")
    page.get_by_test_id("sign-submit").click()
    expect(page.get_by_test_id("sign-error")).to_contain_text("Sai mật khẩu khóa ký")
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")
    page.get_by_test_id("sign-secret").fill(KEY_PASSPHRASE)
    page.get_by_test_id("sign-submit").click()
    expect(page.get_by_test_id("record-status")).to_have_text("Đã kiểm tra")
    expect(page.get_by_test_id("signature-card")).to_have_count(1)

    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(record_url)
    chair.page.get_by_test_id("sign-secret").fill(KEY_PASSPHRASE)
    chair.page.get_by_test_id("sign-submit").click()
    expect(chair.page.get_by_test_id("record-status")).to_have_text("Đã ký")
    expect(chair.page.get_by_test_id("signature-card")).to_have_count(2)
    expect(chair.page.locator("[data-testid=signature-card][data-valid=true]")).to_have_count(2)

    page.reload()
    page.get_by_test_id("record-publish").click()
    expect(page.get_by_test_id("record-status")).to_have_text("Đã công bố")
    sec.screenshot("record-signed.png", full_page=True)

    member = devices()
    member.open()
    member.login(*MEMBER)
    member.page.goto(f"{member.base_url}/#/meetings/{meeting_id}")
    expect(member.page.get_by_test_id("record-row")).to_contain_text("15/NQ-CP")
    expect(member.page.get_by_test_id("draft-resolution")).to_have_count(0)
    with member.page.expect_download() as download:
        member.page.get_by_test_id("record-link").first.click()
        member.page.get_by_test_id("record-download").click()
    signed = tmp_path / "nghi-quyet.pdf"
    download.value.save_as(signed)

    anyone = devices()
    anyone.open("#/verify")
    anyone.page.get_by_test_id("verify-file").set_input_files(str(signed))
    expect(anyone.page.get_by_test_id("report-verdict")).to_contain_text("Tất cả chữ ký trong tệp đều hợp lệ")
    expect(anyone.page.locator("[data-testid=signature-card][data-valid=true]")).to_have_count(2)
    expect(anyone.page.get_by_test_id("signature-card").first).to_contain_text("Đỗ Thị Lan")
    anyone.screenshot("verify.png", full_page=True)

    tampered = bytearray(signed.read_bytes())
    spot = tampered.index(b"/MediaBox")
    tampered[spot + 1] = ord("N")
    bad = tmp_path / "sua-doi.pdf"
    bad.write_bytes(bytes(tampered))
    anyone.page.get_by_test_id("verify-file").set_input_files(str(bad))
    expect(anyone.page.get_by_test_id("report-verdict")).to_contain_text("không hợp lệ")
    expect(anyone.page.locator("[data-testid=signature-card][data-valid=false]")).to_have_count(2)
    expect(anyone.page.get_by_test_id("signature-reasons").first).to_contain_text("digest mismatch")
    for device in (sec, chair, member, anyone):
        device.assert_clean()
