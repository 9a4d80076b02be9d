"""Signed records in the browser: the secretary drafts a resolution from a closed vote and initials it
(a wrong passphrase first), the chair signs, the secretary publishes, a member reads it; then anyone,
logged out, checks the downloaded file on the verify page, and a tampered copy shows as not valid.
The record page shows the PDF inline only when the server lets the app frame it (the PDF answer's
`frame-ancestors 'self'`); the test checks whichever the server says. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, LiveServer, rest_client

pytestmark = pytest.mark.e2e

CHAIR = ("thutuong", "ChuToa@2026")
SECRETARY = ("vpcp.thuky", "BienBan@2026")
MEMBER = ("pho.thutuong1", "ThanhVien@2026")
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


def _pdf_framable(base_url: str, record_id: int) -> bool:
    """What the app decides from the same headers: may a page of this origin frame the record's PDF?"""
    with rest_client(base_url, *SECRETARY) as http:
        res = http.head(f"/api/records/{record_id}/pdf")
    assert res.status_code == 200
    policy = res.headers.get("content-security-policy", "")
    ancestors = [part.strip()[len("frame-ancestors"):] for part in policy.replace(",", ";").split(";")
                 if part.strip().startswith("frame-ancestors")]
    if ancestors:
        return all("'self'" in a for a in ancestors)
    return res.headers.get("x-frame-options", "").lower() in ("", "sameorigin")


def _pages_as_png(pdf: Path, stem: str) -> None:
    """Page 1 and the last page as docs/screenshots/<stem>-first.png and -last.png (poppler's pdftoppm),
    for the side-by-side reading against Decree 30's appendix in docs/signing.md."""
    import shutil
    import subprocess

    from pypdf import PdfReader

    tool = shutil.which("pdftoppm")
    if tool is None:
        return  # make installs poppler-utils with the signing tools; without it there is nothing to draw
    last = len(PdfReader(str(pdf)).pages)
    for which, page in (("first", 1), ("last", last)):
        out = SCREENSHOTS / f"{stem}-{which}"
        subprocess.run([tool, "-png", "-r", "60", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(out)],
                       check=True, capture_output=True, timeout=60)
        assert (SCREENSHOTS / f"{stem}-{which}.png").stat().st_size > 10_000


def _pdf_text(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


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
    page.get_by_test_id("record-preamble").fill("Căn cứ Luật Tổ chức Chính phủ ngày 18 tháng 02 năm 2025;\n"
                                                "Căn cứ Quy chế làm việc của Chính phủ;")
    page.get_by_test_id("record-articles").fill("Thông qua báo cáo tình hình kinh tế - xã hội tháng 11.\n"
                                                "Giao các bộ, ngành tổ chức thực hiện.")
    page.get_by_test_id("record-recipients").fill("Các bộ, cơ quan ngang bộ;\nLưu: VT, TKBT.")
    page.get_by_test_id("record-form").locator("xpath=ancestor::section[1]").screenshot(
        path=str(SCREENSHOTS / "meeting-records.png"))
    # The record page asks (HEAD) whether the server lets it show the PDF inline.
    with page.expect_response(lambda r: r.request.method == "HEAD" and "/pdf" in r.url) as framing_check:
        page.get_by_test_id("record-create").click()
    assert framing_check.value.status == 200
    expect(page.get_by_test_id("record-heading")).to_contain_text("Nghị quyết 15/NQ-CP")
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")
    record_url = page.url
    record_id = int(record_url.rsplit("/", 1)[1])
    with rest_client(live_server.base_url, *SECRETARY) as http:
        content = http.get(f"/api/records/{record_id}").json()["content"]
    assert content["preamble"] == ["Căn cứ Luật Tổ chức Chính phủ ngày 18 tháng 02 năm 2025;",
                                   "Căn cứ Quy chế làm việc của Chính phủ;"]
    assert [a["heading"] for a in content["articles"]] == ["Điều 1.", "Điều 2."]
    assert content["recipients"] == ["Các bộ, cơ quan ngang bộ;", "Lưu: VT, TKBT."]
    # The PDF in the page when the server allows framing it, else only the open/download links.
    expect(page.get_by_test_id("record-open-pdf")).to_be_visible()
    if _pdf_framable(live_server.base_url, record_id):
        expect(page.get_by_test_id("record-pdf")).to_be_visible()
    else:
        expect(page.get_by_test_id("record-pdf")).to_have_count(0)

    # A typo is mended in place: the draft is edited and rendered again (it was REST-only).
    page.get_by_test_id("record-edit").click()
    expect(page.get_by_test_id("record-title")).to_have_value(
        "Nghị quyết phiên họp Chính phủ thường kỳ tháng 11 năm 2026")
    expect(page.get_by_test_id("record-articles")).to_have_value(
        "Thông qua báo cáo tình hình kinh tế - xã hội tháng 11.\nGiao các bộ, ngành tổ chức thực hiện.")
    page.get_by_test_id("record-articles").fill("Thông qua báo cáo tình hình kinh tế - xã hội tháng 11 năm 2026.\n"
                                                "Giao các bộ, ngành tổ chức thực hiện.")
    page.get_by_test_id("record-save").click()
    expect(page.get_by_test_id("record-notice")).to_contain_text("Đã lưu dự thảo")
    expect(page.get_by_test_id("record-form")).to_have_count(0)
    with rest_client(live_server.base_url, *SECRETARY) as http:
        text = _pdf_text(http.get(f"/api/records/{record_id}/pdf").content)
    assert "tháng 11 năm 2026." in text and "Giao các bộ, ngành" in text

    # A wrong draft is discarded, after a confirmation, and leaves the meeting's list.
    page.goto(f"{sec.base_url}/#/meetings/{meeting_id}")
    page.get_by_test_id("draft-resolution").click()
    page.get_by_test_id("record-poll").select_option(label=QUESTION)
    page.get_by_test_id("record-number").fill("16/NQ-CP")
    page.get_by_test_id("record-title").fill("Dự thảo nhầm")
    page.get_by_test_id("record-create").click()
    expect(page.get_by_test_id("record-heading")).to_contain_text("16/NQ-CP")
    page.get_by_test_id("record-discard").click()
    expect(page.get_by_test_id("record-heading")).to_contain_text("16/NQ-CP")  # nothing happens before confirming
    page.get_by_test_id("record-discard-confirm").click()
    expect(page.get_by_test_id("record-row")).to_have_count(1)
    expect(page.get_by_test_id("record-row")).to_contain_text("15/NQ-CP")
    page.goto(record_url)
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")

    page.get_by_test_id("sign-secret").fill("sai-mat-khau")
    page.get_by_test_id("sign-submit").click()
    expect(page.get_by_test_id("sign-error")).to_contain_text("Sai mật khẩu khóa ký")
    expect(page.get_by_test_id("sign-secret")).to_be_focused()  # emptied, ready for another try
    expect(page.get_by_test_id("sign-secret")).to_have_value("")
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")
    expect(page.get_by_test_id("signature-card")).to_have_count(0)
    page.get_by_test_id("sign-secret").fill(KEY_PASSPHRASE)
    page.get_by_test_id("sign-submit").click()
    expect(page.get_by_test_id("record-status")).to_have_text("Đã kiểm tra")
    expect(page.get_by_test_id("record-next")).to_have_text("Chờ chủ tọa ký.")
    expect(page.get_by_test_id("signature-card")).to_have_count(1)
    expect(page.get_by_test_id("signature-card")).to_contain_text("Thư ký (ký nháy)")  # on the undated draft

    chair = devices()
    chair.open()
    chair.login(*CHAIR)
    chair.page.goto(record_url)
    # The chair's handwritten signature, drawn in the box of what they sign (with the body's seal, if any).
    signature_png = tmp_path / "chu-ky.png"
    from PIL import Image, ImageDraw

    scribble = Image.new("RGBA", (300, 100), (255, 255, 255, 0))  # ink strokes on a transparent sheet
    ImageDraw.Draw(scribble).line([(20, 70), (60, 20), (90, 75), (130, 25), (170, 70), (210, 30), (280, 60)],
                                  fill=(0, 0, 140, 255), width=5, joint="curve")
    scribble.save(signature_png, "PNG")
    expect(chair.page.get_by_test_id("signature-image-preview")).to_have_count(0)
    chair.page.get_by_test_id("signature-image-file").set_input_files(str(signature_png))
    expect(chair.page.get_by_test_id("signature-image-preview")).to_be_visible()
    chair.page.get_by_test_id("sign-secret").fill(KEY_PASSPHRASE)
    chair.page.get_by_test_id("sign-submit").click()
    expect(chair.page.get_by_test_id("record-status")).to_have_text("Đã ký")
    # The issued text is made now, dated today; its first signature, the chair's, certifies it. The
    # secretary's review stays in the record's history (and the audit log), not as a block on the text.
    expect(chair.page.locator("[data-testid=signature-card][data-valid=true]")).to_contain_text(
        "Chủ tọa · chữ ký chứng nhận", timeout=30_000)
    expect(chair.page.get_by_test_id("signature-card")).to_have_count(1)
    expect(chair.page.locator(".signature-history li")).to_have_count(2)

    page.reload()
    page.get_by_test_id("record-publish").click()  # asks once more: publishing cannot be undone
    page.get_by_test_id("record-publish-confirm").click()
    expect(page.get_by_test_id("record-status")).to_have_text("Đã công bố")
    expect(page.get_by_test_id("record-next")).to_contain_text("Công bố lúc")
    expect(page.locator("[data-testid=signature-card][data-valid=true]")).to_have_count(1)
    sec.screenshot("record-signed.png", full_page=True)

    member = devices()
    member.open()
    member.login(*MEMBER)
    member.page.goto(f"{member.base_url}/#/meetings/{meeting_id}")
    expect(member.page.get_by_test_id("record-row")).to_contain_text("15/NQ-CP")
    expect(member.page.get_by_test_id("draft-resolution")).to_have_count(0)
    member.page.get_by_test_id("record-link").first.click()
    expect(member.page.get_by_test_id("record-status")).to_have_text("Đã công bố")
    expect(member.page.get_by_test_id("sign-form")).to_have_count(0)
    expect(member.page.get_by_test_id("record-publish")).to_have_count(0)
    with member.page.expect_download() as download:
        member.page.get_by_test_id("record-download").click()
    assert download.value.suggested_filename == "nghi-quyet-15-NQ-CP.pdf"  # filed under its number and symbol
    signed = tmp_path / "nghi-quyet.pdf"
    download.value.save_as(signed)
    _pages_as_png(signed, "record-resolution")

    # Logged out: the login page links to the public verify page.
    anyone = devices()
    anyone.open()
    anyone.page.get_by_test_id("login-verify").click()
    expect(anyone.page.get_by_role("heading", name="Kiểm tra chữ ký số")).to_be_visible()
    not_pdf = tmp_path / "khong-phai-pdf.pdf"
    not_pdf.write_bytes(b"day khong phai la tep PDF\n")
    anyone.page.get_by_test_id("verify-file").set_input_files(str(not_pdf))
    expect(anyone.page.get_by_test_id("verify-error")).to_contain_text("Tệp không phải là PDF hợp lệ")
    anyone.page.get_by_test_id("verify-file").set_input_files(str(signed))
    expect(anyone.page.get_by_test_id("verify-error")).to_have_count(0)
    expect(anyone.page.get_by_test_id("report-verdict")).to_contain_text("Tất cả chữ ký trong tệp đều hợp lệ")
    expect(anyone.page.locator("[data-testid=signature-card][data-valid=true]")).to_have_count(1)
    card = anyone.page.get_by_test_id("signature-card")
    expect(card).to_contain_text("Chữ ký hợp lệ: Nguyễn Văn An")
    expect(card).to_contain_text("Chủ tọa · chữ ký chứng nhận")
    expect(card).to_contain_text("PAdES B-")
    expect(card).to_contain_text("Toàn bộ tệp")
    expect(anyone.page.get_by_test_id("report-document")).to_contain_text("Tài liệu: NGHỊ QUYẾT 15/NQ-CP")
    expect(anyone.page.get_by_test_id("verify-name")).to_contain_text("nghi-quyet.pdf")
    anyone.screenshot("verify.png", full_page=True)

    tampered = bytearray(signed.read_bytes())
    spot = tampered.index(b"/MediaBox")
    tampered[spot + 1] = ord("N")
    bad = tmp_path / "sua-doi.pdf"
    bad.write_bytes(bytes(tampered))
    anyone.page.get_by_test_id("verify-file").set_input_files(str(bad))
    expect(anyone.page.get_by_test_id("report-verdict")).to_contain_text("không hợp lệ")
    expect(anyone.page.locator("[data-testid=signature-card][data-valid=false]")).to_have_count(1)
    reasons = anyone.page.get_by_test_id("signature-reasons").first
    expect(reasons).to_contain_text("Nội dung tệp đã bị thay đổi sau khi ký.")
    # The verifier's own English words stay for the expert, folded away from the Vietnamese reading.
    expect(reasons.get_by_text("digest mismatch")).to_be_hidden()
    reasons.get_by_text("Chi tiết kỹ thuật").first.click()
    expect(reasons.get_by_text("digest mismatch").first).to_be_visible()
    # Only the bytes changed: trust is not judged, so the card must not call the certificate untrusted.
    expect(anyone.page.get_by_test_id("signature-card").first).to_contain_text("Không xét (nội dung đã bị thay đổi)")
    expect(anyone.page.get_by_test_id("signature-card").first).to_contain_text("Chữ ký không hợp lệ")
    anyone.screenshot("verify-tampered.png", full_page=True)
    anyone.page.reload()  # opened directly, logged out: the page stays (no detour to the login page)
    expect(anyone.page.get_by_test_id("verify-drop")).to_be_visible()
    assert anyone.page.url.endswith("#/verify")
    expect(anyone.page.get_by_test_id("nav-login")).to_be_visible()

    # The minutes are drafted once the chair has closed the session.
    page.goto(f"{sec.base_url}/#/meetings/{meeting_id}")
    expect(page.get_by_test_id("record-row")).to_have_count(1)
    expect(page.get_by_test_id("draft-minutes")).to_have_count(0)
    with rest_client(live_server.base_url, *CHAIR) as http:
        assert http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "close"}).status_code == 200
    page.reload()
    page.get_by_test_id("draft-minutes").click()
    expect(page.get_by_test_id("record-poll")).to_have_count(0)
    page.get_by_test_id("record-number").fill("02/BB-CP")
    page.get_by_test_id("record-title").fill("Biên bản phiên họp Chính phủ thường kỳ tháng 11 năm 2026")
    page.get_by_test_id("record-articles").fill("Chính phủ thống nhất thông qua Nghị quyết 15/NQ-CP.")
    page.get_by_test_id("record-create").click()
    expect(page.get_by_test_id("record-heading")).to_contain_text("Biên bản 02/BB-CP")
    expect(page.get_by_test_id("record-status")).to_have_text("Dự thảo")
    expect(page.get_by_test_id("sign-form")).to_be_visible()
    # The minutes keep two signatures (secretary and chair, Decree 30): the secretary's certification
    # covers its revision, and the chair's signature added after it is worded as allowed, not as a change.
    page.get_by_test_id("sign-secret").fill(KEY_PASSPHRASE)
    page.get_by_test_id("sign-submit").click()
    expect(page.get_by_test_id("record-status")).to_have_text("Đã kiểm tra")
    chair.page.goto(page.url)
    chair.page.get_by_test_id("sign-secret").fill(KEY_PASSPHRASE)
    chair.page.get_by_test_id("sign-submit").click()
    expect(chair.page.get_by_test_id("record-status")).to_have_text("Đã ký")
    cards = chair.page.locator("[data-testid=signature-card][data-valid=true]")
    expect(cards).to_have_count(2, timeout=30_000)  # verified in a sandboxed child: allow a loaded machine
    expect(cards.first).to_contain_text("Thư ký (ký nháy) · chữ ký chứng nhận")
    expect(cards.first).to_contain_text("được chữ ký này cho phép")
    expect(cards.first).not_to_contain_text("có thay đổi sau đó mà")
    minutes_id = int(chair.page.url.rsplit("/", 1)[1])
    with rest_client(live_server.base_url, *CHAIR) as http:
        (tmp_path / "bien-ban.pdf").write_bytes(http.get(f"/api/records/{minutes_id}/pdf").content)
    _pages_as_png(tmp_path / "bien-ban.pdf", "record-minutes")
    for device in (sec, chair, member, anyone):
        device.assert_clean()
