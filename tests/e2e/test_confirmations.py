"""Every step that cannot be undone asks first, in Vietnamese, saying what will happen (issue 15, point
9): clicking the action alone changes nothing; confirming does it. Publish, withdraw to draft, start,
close an opinion round, and upload a new version of a document (naming the file, its size and the
version it replaces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, rest_client
from tests.support.sample_pdfs import sample_pdf

pytestmark = pytest.mark.e2e

SECRETARY = ("vpcp.thuky", "BienBan@2026")
CHAIR = ("thutuong", "ChuToa@2026")
MEMBER = ("bo.tuphap", "ThanhVien@2026")


def _draft(server: LiveServer, title: str, *, kind: str = "session") -> int:
    with rest_client(server.base_url, *SECRETARY) as http:
        me = http.get("/api/auth/me").json()["user"]
        r = http.post("/api/meetings", json={"body_id": me["body_id"], "kind": kind, "title": title,
                                             "starts_at": "2026-12-20T08:00:00+07:00"})
        assert r.status_code == 201, r.text
        mid = int(r.json()["id"])
        users = {u["username"]: u["id"] for u in http.get(f"/api/meetings/{mid}/candidates").json()}
        for username, role in ((CHAIR[0], "chair"), (MEMBER[0], "member")):
            r = http.post(f"/api/meetings/{mid}/participants", json={"user_id": users[username], "role": role})
            assert r.status_code == 201, r.text
    return mid


def _status(server: LiveServer, mid: int) -> str:
    with rest_client(server.base_url, *SECRETARY) as http:
        return str(http.get(f"/api/meetings/{mid}").json()["status"])


def test_publish_withdraw_and_start_happen_only_once_confirmed(live_server: LiveServer, devices: Any) -> None:
    mid = _draft(live_server, "Phiên họp kiểm tra xác nhận")
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/meetings/{mid}")

    page.get_by_test_id("action-publish").click()
    question = page.get_by_role("group", name="Công bố cuộc họp?", exact=False)
    expect(question).to_contain_text("Các thành phần tham dự sẽ thấy cuộc họp")
    sec.screenshot("confirm-publish.png")
    assert _status(live_server, mid) == "draft"
    page.get_by_test_id("action-publish-confirm").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Đã công bố")
    assert _status(live_server, mid) == "published"

    page.get_by_test_id("action-withdraw").click()
    expect(page.get_by_text("Thu hồi cuộc họp về bản nháp?", exact=False)).to_be_visible()
    assert _status(live_server, mid) == "published"
    page.get_by_test_id("action-withdraw-confirm").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Bản nháp")
    page.get_by_test_id("action-publish").click()
    page.get_by_test_id("action-publish-confirm").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Đã công bố")

    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(f"{chair.base_url}/#/meetings/{mid}")
    chair.page.get_by_test_id("action-start").click()
    expect(chair.page.get_by_text("Bắt đầu phiên họp?", exact=False)).to_be_visible()
    assert _status(live_server, mid) == "published"
    chair.page.get_by_test_id("action-start-confirm").click()
    expect(chair.page.get_by_test_id("status-badge")).to_have_text("Đang họp")
    assert _status(live_server, mid) == "in_progress"
    for device in (sec, chair):
        device.assert_clean()


def test_closing_an_opinion_round_happens_only_once_confirmed(live_server: LiveServer, devices: Any) -> None:
    mid = _draft(live_server, "Lấy ý kiến kiểm tra xác nhận", kind="opinion_round")
    with rest_client(live_server.base_url, *SECRETARY) as http:
        r = http.put(f"/api/meetings/{mid}/opinion-round", json={
            "deadline": "2030-12-31T17:00:00+07:00", "rule": "majority_asked", "questions": ["Thông qua?"]})
        assert r.status_code == 200, r.text
        assert http.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}).status_code == 200
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/meetings/{mid}/round")
    expect(page.get_by_test_id("round-status")).to_have_attribute("data-status", "open")
    page.get_by_test_id("round-close").click()
    expect(page.get_by_text("Kết thúc lấy ý kiến ngay?", exact=False)).to_contain_text("không thể mở lại")
    sec.screenshot("confirm-close-round.png")
    with rest_client(live_server.base_url, *SECRETARY) as http:
        assert http.get(f"/api/meetings/{mid}/opinion-round").json()["status"] == "open"
    page.get_by_test_id("round-close-confirm").click()
    expect(page.get_by_test_id("round-status")).to_have_attribute("data-status", "closed")
    sec.assert_clean()


def test_a_new_version_names_the_file_and_the_version_it_replaces_before_uploading(
        live_server: LiveServer, devices: Any, tmp_path: Path) -> None:
    mid = _draft(live_server, "Phiên họp kiểm tra phiên bản tài liệu")
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{sec.base_url}/#/meetings/{mid}")
    first = tmp_path / "to-trinh.pdf"
    first.write_bytes(sample_pdf(2))
    form = page.get_by_test_id("upload-form")
    expect(form.get_by_test_id("upload-file-name")).to_have_text("Chưa chọn tệp")
    form.get_by_test_id("upload-file").set_input_files(str(first))
    expect(form.get_by_test_id("upload-file-name")).to_contain_text("to-trinh.pdf")
    form.get_by_test_id("upload-title").fill("Tờ trình mẫu")
    form.get_by_test_id("upload-submit").click()
    row = page.get_by_test_id("document-row").filter(has_text="Tờ trình mẫu")
    expect(row).to_contain_text("Phiên bản 1")

    second = tmp_path / "to-trinh-sua-doi.pdf"
    second.write_bytes(sample_pdf(3, seed=1))
    row.get_by_test_id("document-new-version").set_input_files(str(second))
    question = row.get_by_test_id("new-version-question")
    expect(question).to_contain_text("“to-trinh-sua-doi.pdf”")
    expect(question).to_contain_text("KB")
    expect(question).to_contain_text("phiên bản 2, thay cho phiên bản 1 của “Tờ trình mẫu”")
    sec.screenshot("confirm-new-version.png")
    doc_id = row.get_attribute("data-document-id")
    with rest_client(live_server.base_url, *SECRETARY) as http:
        assert http.get(f"/api/documents/{doc_id}").json()["current_version"] == 1
    row.get_by_test_id("document-new-version-confirm").click()
    expect(row).to_contain_text("Phiên bản 2")
    with rest_client(live_server.base_url, *SECRETARY) as http:
        assert http.get(f"/api/documents/{doc_id}").json()["current_version"] == 2
    # Cancelling leaves the document as it is.
    row.get_by_test_id("document-new-version").set_input_files(str(first))
    row.get_by_test_id("document-new-version-cancel").click()
    expect(row.get_by_test_id("new-version-question")).to_have_count(0)
    expect(row).to_contain_text("Phiên bản 2")
    sec.assert_clean()
