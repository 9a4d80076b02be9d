"""Tasks of a resolution in the browser: the secretary writes them on the draft record (a past deadline
refused first), the resolution is signed and published, the secretary sends the tasks, the agencies'
status packages move them (apply_status, on the server's own database), and the Government Office's
dashboard (#/tasks) and the meeting's decisions show due, overdue and done; a member sees the meeting's
decisions but not the dashboard. This module's server has an exchange signing key (sending needs one).
Screenshots go to docs/screenshots/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, LiveServer, _env, demo_server, rest_client
from tests.e2e.test_records import CHAIR, KEY_PASSPHRASE, MEETING_TITLE, MEMBER, QUESTION, SECRETARY, _run_vote

pytestmark = pytest.mark.e2e

TAI_CHINH, NGHE_AN, HA_NOI = "000.00.00.G01", "000.00.00.H41", "000.00.00.H29"
NEXT_YEAR = date.today().year + 1


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The e2e server with our exchange signing key and certificate set (a development PKI,
    tests/support/exchange_packages.py): sending tasks signs packages."""
    from tests.support.exchange_packages import exchange_pki

    data_dir = tmp_path_factory.mktemp("e2e-tasks")
    pki = exchange_pki(data_dir / "exchange-pki")
    env = _env(data_dir) | {"ECABINET_EXCHANGE_SIGNING_KEY": str(pki.our_key),
                            "ECABINET_EXCHANGE_SIGNING_CERT": str(pki.our_cert)}
    with demo_server(data_dir, env) as server:
        server.data_dir = data_dir  # type: ignore[attr-defined]
        yield server


def _on_server_db(server: LiveServer, work: Any) -> Any:
    """Run `work(session)` in a write transaction on the server's own SQLite database (as the receiver of
    status packages would, in the server)."""
    from backend.config import Settings
    from backend.db import Database

    url = Settings.from_env({"ECABINET_DATA_DIR": str(server.data_dir)}).effective_database_url  # type: ignore[attr-defined]

    async def run() -> Any:
        db = Database(url)
        try:
            async with db.write() as s:
                return await work(s)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        return pool.submit(asyncio.run, run()).result(timeout=60)


def _sign_and_publish(base_url: str, record_id: int) -> None:
    for account, step in ((SECRETARY, "review"), (CHAIR, "sign")):
        with rest_client(base_url, *account) as http:
            credential = next(c for c in http.get("/api/me/credentials").json() if c["usable"])
            r = http.post(f"/api/records/{record_id}/{step}", json={"credential_id": credential["id"],
                                                                    "secret": KEY_PASSPHRASE})
            assert r.status_code == 200, r.text
    with rest_client(base_url, *SECRETARY) as http:
        assert http.post(f"/api/records/{record_id}/publish").status_code == 200


def test_tasks_are_written_sent_followed_and_shown(live_server: LiveServer, devices: Any) -> None:
    base = live_server.base_url
    with rest_client(base, *CHAIR) as http:
        meeting_id = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        if http.get(f"/api/meetings/{meeting_id}").json()["status"] == "published":
            assert http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"}).status_code == 200
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _run_vote(base, meeting_id)).result(timeout=60)
    with rest_client(base, *SECRETARY) as http:
        poll_id = next(p["id"] for p in http.get(f"/api/meetings/{meeting_id}/polls").json()
                       if p["question"] == QUESTION)
        r = http.post(f"/api/meetings/{meeting_id}/records", json={
            "kind": "resolution", "poll_id": poll_id, "number": "21/NQ-CP",
            "title": "Nghị quyết phiên họp Chính phủ thường kỳ tháng 11 năm 2026",
            "articles": [{"heading": "Điều 1.", "text": "Thông qua báo cáo tình hình kinh tế - xã hội tháng 11."},
                         {"heading": "Điều 2.", "text": "Giao các bộ, ngành, địa phương tổ chức thực hiện."}]})
        assert r.status_code == 201, r.text
        record_id = r.json()["id"]

    # The secretary writes the tasks on the draft.
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    page = sec.page
    page.goto(f"{base}/#/records/{record_id}")
    panel = page.get_by_test_id("record-tasks")
    expect(panel).to_contain_text("Nhiệm vụ giao")
    expect(panel.get_by_test_id("task-item")).to_have_count(0)
    page.get_by_test_id("task-article").select_option("2")
    page.get_by_test_id("task-text-input").fill(
        "Giao Bộ Tài chính chủ trì, phối hợp với Ủy ban nhân dân tỉnh Nghệ An rà soát nguồn vốn đầu tư công, "
        "báo cáo Thủ tướng Chính phủ.")
    page.get_by_test_id("task-lead-input").select_option(TAI_CHINH)
    page.get_by_test_id("task-cooperating-input").select_option([NGHE_AN])
    page.get_by_test_id("task-output-input").fill("Báo cáo Thủ tướng Chính phủ")
    page.get_by_test_id("task-deadline-input").fill("2020-01-31")
    page.get_by_test_id("task-add").click()
    expect(page.get_by_test_id("task-form-error")).to_contain_text("quá hạn")  # a past deadline is refused
    page.get_by_test_id("task-deadline-input").fill(f"{NEXT_YEAR}-12-31")
    page.get_by_test_id("task-add").click()
    expect(page.get_by_test_id("tasks-notice")).to_contain_text("Đã thêm nhiệm vụ")
    expect(panel.get_by_test_id("task-item")).to_have_count(1)
    expect(panel.get_by_test_id("task-lead").first).to_have_text("Bộ Tài chính")
    page.get_by_test_id("task-article").select_option("2")
    page.get_by_test_id("task-text-input").fill("Giao Ủy ban nhân dân thành phố Hà Nội hoàn thành giải phóng mặt bằng.")
    page.get_by_test_id("task-lead-input").select_option(HA_NOI)
    page.get_by_test_id("task-deadline-input").fill(f"{NEXT_YEAR}-06-30")
    page.get_by_test_id("task-add").click()
    expect(panel.get_by_test_id("task-item")).to_have_count(2)
    # Edited in place: the second task's deadline.
    panel.get_by_test_id("task-edit").nth(1).click()
    panel.get_by_test_id("task-form").first.get_by_test_id("task-deadline-input").fill(f"{NEXT_YEAR}-09-30")
    panel.get_by_test_id("task-save").click()
    expect(page.get_by_test_id("tasks-notice")).to_contain_text("Đã lưu nhiệm vụ")
    expect(panel.get_by_test_id("task-deadline").nth(1)).to_contain_text(f"30/09/{NEXT_YEAR}")
    panel.screenshot(path=str(SCREENSHOTS / "record-tasks-draft.png"))

    # Signed and published (as tests/e2e/test_records.py does it in the browser), the tasks are frozen and
    # the secretary sends them: one signed package per task.
    _sign_and_publish(base, record_id)
    page.reload()
    expect(page.get_by_test_id("record-status")).to_have_text("Đã công bố")
    expect(panel.get_by_test_id("task-form")).to_have_count(0)
    expect(panel.get_by_test_id("task-edit")).to_have_count(0)
    page.get_by_test_id("tasks-send").click()
    page.get_by_test_id("tasks-send-confirm").click()
    expect(page.get_by_test_id("tasks-notice")).to_contain_text("hàng đợi")
    expect(panel.get_by_test_id("task-delivery")).to_have_count(3)
    expect(panel.locator("[data-testid=task-delivery][data-status=sent]")).to_have_count(3)
    expect(page.get_by_test_id("tasks-send")).to_have_count(0)

    # The agencies answer (status packages, applied on the server's database): the Ministry of Finance is
    # done, Nghệ An has the task in hand; Hà Nội's deadline has passed without a 06.
    with rest_client(base, *SECRETARY) as http:
        tasks = {t["lead_code"]: t for t in http.get(f"/api/records/{record_id}/tasks").json()}

    async def answer(s: Any) -> None:
        from backend.models import RecordTask
        from backend.services.tasks import apply_status

        finance = tasks[TAI_CHINH]["document_id"]
        assert await apply_status(s, finance, NGHE_AN, "04", datetime(2026, 12, 8, 9, 30))
        assert await apply_status(s, finance, TAI_CHINH, "06", datetime(2026, 12, 9, 15, 0))
        late = await s.get(RecordTask, tasks[HA_NOI]["id"])
        late.deadline = date(2026, 12, 1)
        s.add(late)

    _on_server_db(live_server, answer)
    page.reload()
    expect(panel.locator("[data-testid=task-item][data-state=done]")).to_have_count(1)
    expect(panel.locator("[data-testid=task-item][data-state=overdue]")).to_have_count(1)
    expect(panel.locator("[data-testid=task-delivery][data-status='06']")).to_contain_text("Hoàn thành")
    expect(panel.locator("[data-testid=task-delivery][data-status='04']")).to_contain_text("Đã phân công")
    panel.screenshot(path=str(SCREENSHOTS / "record-tasks-sent.png"))

    # The dashboard: the secretariat's link, counts by agency, filters.
    page.get_by_test_id("nav-tasks").click()
    expect(page.get_by_role("heading", name="Theo dõi nhiệm vụ được giao")).to_be_visible()
    expect(page.get_by_test_id("tasks-totals-due")).to_contain_text("0")
    expect(page.get_by_test_id("tasks-totals-overdue")).to_contain_text("1")
    expect(page.get_by_test_id("tasks-totals-done")).to_contain_text("1")
    expect(page.get_by_test_id("tasks-agency-row")).to_have_count(3)
    expect(page.get_by_test_id("task-item")).to_have_count(2)
    sec.screenshot("tasks-dashboard.png", full_page=True)
    page.locator(f"[data-testid=tasks-agency-row][data-code='{HA_NOI}']").get_by_test_id("tasks-agency-overdue").click()
    expect(page.get_by_test_id("task-item")).to_have_count(1)
    expect(page.get_by_test_id("task-item")).to_contain_text("Hà Nội")
    page.get_by_test_id("tasks-filter-state").select_option("done")
    expect(page.get_by_test_id("tasks-empty")).to_be_visible()
    page.get_by_test_id("tasks-filter-agency").select_option("")
    expect(page.get_by_test_id("task-item")).to_have_count(1)
    expect(page.get_by_test_id("task-item")).to_contain_text("Bộ Tài chính")
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_role("heading", name="Follow-up of assigned tasks")).to_be_visible()
    expect(page.get_by_test_id("task-state")).to_have_text("Done")
    sec.screenshot("tasks-dashboard-en.png", full_page=True)
    page.get_by_test_id("lang-vi").click()

    # A member: the meeting's decisions, but no dashboard.
    member = devices()
    member.open()
    member.login(*MEMBER)
    expect(member.page.get_by_test_id("nav-tasks")).to_have_count(0)
    member.page.goto(f"{base}/#/meetings/{meeting_id}")
    decisions = member.page.get_by_test_id("meeting-tasks")
    expect(decisions).to_contain_text("Kết quả thực hiện các quyết định")
    expect(decisions.get_by_test_id("task-item")).to_have_count(2)
    expect(decisions.get_by_test_id("task-counts-overdue")).to_contain_text("1")
    expect(decisions.get_by_test_id("task-counts-done")).to_contain_text("1")
    decisions.screenshot(path=str(SCREENSHOTS / "meeting-decisions.png"))
    member.page.goto(f"{base}/#/tasks")
    expect(member.page.get_by_test_id("tasks-dashboard-error")).to_be_visible()
    for device in (sec, member):
        device.assert_clean()
