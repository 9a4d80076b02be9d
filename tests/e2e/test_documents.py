"""Meeting documents in the browser: the secretariat uploads a PDF; a member opens a document in the
viewer (pdf.js), highlights text and adds a shared note that a second member sees appear live; the
first member goes offline, annotates, comes back, and the annotation arrives; search without
diacritics opens the viewer at the page found; a Mật document offers no download."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, rest_client
from tests.support.sample_pdfs import sample_pdf

pytestmark = pytest.mark.e2e

SECRETARY = ("vpcp.thuky", "BienBan@2026")
MEMBER_A = ("bo.tuphap", "ThanhVien@2026")
MEMBER_B = ("bo.khcn", "ThanhVien@2026")
MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"
REPORT = "Báo cáo tình hình kinh tế - xã hội tháng 11 năm 2026"
SECRET = "Phương án nhân sự thực hiện Đề án chuyển đổi số (Mật)"


def _ids(server: LiveServer) -> tuple[int, int]:
    with rest_client(server.base_url, *SECRETARY) as http:
        mid = next(m["id"] for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        doc = next(d["id"] for d in http.get(f"/api/meetings/{mid}/documents").json() if d["title"] == REPORT)
    return mid, doc


def _select_text(page: Page, words: str) -> None:
    """Selects the text-layer span holding `words`, as a finger or mouse would, and lifts the pointer."""
    page.get_by_test_id("text-layer").locator("span", has_text=words).first.wait_for()
    page.evaluate("""(words) => {
        const span = [...document.querySelectorAll('[data-testid=text-layer] span')]
          .find((s) => s.textContent.includes(words));
        const range = document.createRange();
        range.selectNodeContents(span);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    }""", words)
    page.get_by_test_id("text-layer").dispatch_event("mouseup")


def test_annotations_live_and_offline(live_server: LiveServer, devices: Any, tmp_path: Path) -> None:
    mid, report = _ids(live_server)

    # The secretariat uploads an annex to the first agenda item.
    sec = devices()
    sec.open()
    sec.login(*SECRETARY)
    sec.page.goto(f"{sec.base_url}/#/meetings/{mid}")
    annex = tmp_path / "phu-luc.pdf"
    annex.write_bytes(sample_pdf(3, text=lambda n: f"Phụ lục số liệu giải ngân vốn đầu tư công, trang {n}"))
    form = sec.page.get_by_test_id("upload-form")
    form.get_by_test_id("upload-file").set_input_files(str(annex))
    form.get_by_test_id("upload-title").fill("Phụ lục số liệu giải ngân")
    form.get_by_test_id("upload-submit").click()
    expect(sec.page.get_by_test_id("documents-notice")).to_contain_text("Phụ lục số liệu giải ngân")
    rows = sec.page.get_by_test_id("document-row")
    expect(rows.filter(has_text="Phụ lục số liệu giải ngân")).to_have_count(1)
    sec.page.get_by_test_id("documents-section").scroll_into_view_if_needed()
    sec.screenshot("documents-secretariat.png", full_page=True)

    # Member A opens the report from the meeting page; the Mật one offers no download.
    a = devices()
    network = {"up": True, "sockets": []}

    def on_socket(ws: Any) -> None:
        if not network["up"]:
            ws.close()
            return
        ws.connect_to_server()
        network["sockets"].append(ws)

    a.page.route_web_socket(re.compile(r".*/socket\.io/.*"), on_socket)
    a.open()
    a.login(*MEMBER_A)
    page = a.page
    page.goto(f"{a.base_url}/#/meetings/{mid}")
    secret_row = page.get_by_test_id("document-row").filter(has_text=SECRET)
    expect(secret_row.get_by_test_id("document-secret")).to_be_visible()
    expect(secret_row.get_by_test_id("document-download")).to_have_count(0)
    page.get_by_test_id("document-row").filter(has_text=REPORT).get_by_test_id("document-open").click()
    expect(page.get_by_test_id("viewer-title")).to_have_text(REPORT)
    expect(page.get_by_test_id("page-indicator")).to_contain_text("Trang 1/")
    expect(page.get_by_test_id("viewer-connection")).to_have_text("Đã kết nối")

    # Member B reads the same document on another tablet.
    b = devices()
    b.open()
    b.login(*MEMBER_B)
    b.page.goto(f"{b.base_url}/#/documents/{report}")
    expect(b.page.get_by_test_id("viewer-connection")).to_have_text("Đã kết nối")

    # A highlights a sentence and pins a shared note; B sees both arrive.
    page.get_by_test_id("visibility").select_option("shared")
    page.get_by_test_id("tool-highlight").click()
    _select_text(page, "Tổng sản phẩm")
    expect(page.get_by_test_id("mark-highlight")).to_have_count(1)
    expect(b.page.get_by_test_id("mark-highlight")).to_have_count(1)
    page.get_by_test_id("tool-note").click()
    layer = page.get_by_test_id("annotation-layer")
    layer.click(position={"x": 380, "y": 260})
    page.get_by_test_id("note-text").fill("Đề nghị bổ sung số liệu giải ngân theo từng bộ")
    page.get_by_test_id("note-save").click()
    expect(b.page.get_by_test_id("note-pin")).to_contain_text("Đề nghị bổ sung số liệu giải ngân theo từng bộ")
    expect(b.page.get_by_test_id("mark-row").filter(has_text="Đề nghị bổ sung")).to_have_count(1)
    b.screenshot("documents-viewer-shared-note.png")

    # A goes offline and draws; the stroke waits on the tablet.
    network["up"] = False
    a.context.set_offline(True)
    for ws in network["sockets"]:
        ws.close()
    expect(page.get_by_test_id("viewer-connection")).to_contain_text("Mất kết nối")
    page.get_by_test_id("tool-ink").click()
    box = layer.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 120, box["y"] + 420)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 120 + step * 25, box["y"] + 420 + (step % 3) * 12)
    page.mouse.up()
    expect(page.get_by_test_id("viewer-queued")).to_contain_text("1")
    expect(page.get_by_test_id("mark-row-pending")).to_have_count(1)
    a.screenshot("documents-viewer-offline.png")
    expect(b.page.get_by_test_id("mark-ink")).to_have_count(0)

    # Back online: the outbox is sent and B sees the stroke.
    a.context.set_offline(False)
    network["up"] = True
    expect(page.get_by_test_id("viewer-connection")).to_have_text("Đã kết nối", timeout=20_000)
    expect(page.get_by_test_id("viewer-queued")).to_have_count(0)
    expect(b.page.get_by_test_id("mark-ink")).to_have_count(1)
    expect(page.get_by_test_id("mark-ink")).to_have_count(1)
    expect(b.page.get_by_test_id("mark-row")).to_have_count(3)

    # Search without diacritics finds the annex and opens it at its page.
    page.goto(f"{a.base_url}/#/search?q=giai%20ngan%20von&meeting={mid}")
    hits = page.get_by_test_id("search-hit")
    expect(hits.first).to_be_visible()
    expect(hits.filter(has_text="Phụ lục số liệu giải ngân")).to_have_count(3)
    expect(hits.first.locator("mark").first).to_be_visible()
    a.screenshot("documents-search.png", full_page=True)
    annex_page2 = hits.filter(has_text="Trang 2").filter(has_text="Phụ lục số liệu giải ngân")
    annex_page2.get_by_test_id("search-hit-open").click()
    expect(page.get_by_test_id("viewer-title")).to_have_text("Phụ lục số liệu giải ngân")
    expect(page.get_by_test_id("page-indicator")).to_contain_text("Trang 2/3")
    # With the network gone, the tablet reloads the app and reads the document from what it kept.
    page.wait_for_timeout(1500)  # the service worker keeps what the meeting page asked for
    a.context.set_offline(True)
    page.reload()
    expect(page.get_by_test_id("viewer-title")).to_have_text("Phụ lục số liệu giải ngân")
    expect(page.get_by_test_id("page-indicator")).to_contain_text("Trang 2/3")
    expect(page.get_by_test_id("pdf-canvas")).to_be_visible()
    expect(page.get_by_test_id("text-layer").locator("span", has_text="giải ngân").first).to_be_attached()
    a.context.set_offline(False)
    for tablet in (sec, a, b):
        tablet.assert_clean()


def test_the_service_worker_keeps_nothing_of_a_secret_document(live_server: LiveServer, devices: Any) -> None:
    """Finding 7a: a Mật document's metadata, annotations and pages are answered no-store, and the tablet's
    service worker keeps none of them, while the other documents stay readable offline."""
    mid, report = _ids(live_server)
    with rest_client(live_server.base_url, *SECRETARY) as http:
        secret = next(d["id"] for d in http.get(f"/api/meetings/{mid}/documents").json() if d["title"] == SECRET)
    a = devices()
    a.open()
    a.login(*MEMBER_A)
    page = a.page
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    for doc in (report, secret):
        page.goto(f"{a.base_url}/#/documents/{doc}")
        expect(page.get_by_test_id("page-indicator")).to_contain_text("Trang 1/")
    page.goto(f"{a.base_url}/#/meetings/{mid}")  # asks the worker to keep the meeting's documents
    expect(page.get_by_test_id("document-row").filter(has_text=SECRET)).to_be_visible()
    kept_urls = """async () => {
        const cache = await caches.open('ecabinet-data-v1');
        return (await cache.keys()).map((r) => new URL(r.url).pathname);
    }"""
    page.wait_for_function(f"""async () => (await ({kept_urls})()).includes('/api/documents/{report}')""")
    kept = page.evaluate(kept_urls)
    assert f"/api/documents/{report}/annotations" in kept, kept
    assert not [u for u in kept if u.startswith(f"/api/documents/{secret}")], kept
