"""The member's tablet in session (issue 14) on three devices, a 1024x768 tablet, an 800x1280 tablet in
portrait and a 390x844 phone: a vote opened by the chair comes over the document viewer and the meeting
page and is cast from there; the confirm step is in sight on the phone; the live screen lists the item's
documents and says what is presented only when something is, and the console's page counter presents;
the end of the session and the move to the next item leave no stale quorum warning, item or result;
axe-core finds nothing on the changed screens. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import LiveServer, Tablet
from tests.e2e.sessions import CHAIR, ITEMS, PAPER, PAPER_PAGES, Session, call, fresh_session, token

pytestmark = pytest.mark.e2e

MEMBER = ("pho.thutuong1", "ThanhVien@2026")  # Trần Thị Bình
MEMBER2 = ("bo.taichinh", "ThanhVien@2026")  # Phạm Minh Đức
VIEWPORTS = {
    "tablet": {"viewport": {"width": 1024, "height": 768}, "has_touch": True},
    "portrait": {"viewport": {"width": 800, "height": 1280}, "has_touch": True},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
WALL = {"width": 1440, "height": 900}
# The overlay's arrival, stamped in the member's page with the clock shared by every page of this browser.
WATCH_OVERLAY = """() => {
  window.__overlayAt = null;
  const stamp = () => {
    if (!window.__overlayAt && document.querySelector('[data-testid=vote-overlay]')) {
      window.__overlayAt = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(stamp).observe(document.body, { childList: true, subtree: true });
}"""
STAMP_OPEN = """() => document.addEventListener('click', (e) => {
  if (e.target.closest('[data-testid=poll-open]')) window.__openedAt = performance.timeOrigin + performance.now();
}, true)"""


def _device(devices: Any, who: tuple[str, str], route: str, viewport: str = "tablet") -> Tablet:
    device = devices(**VIEWPORTS[viewport]) if viewport in VIEWPORTS else devices()
    device.open()
    device.login(*who)
    device.page.goto(f"{device.base_url}/#{route}")
    return device


def _online(page: Page) -> None:
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")


def _watching(page: Page) -> None:
    """The app-level watch of the meeting has joined (the overlay's place is there, empty)."""
    expect(page.get_by_test_id("session-alerts")).to_have_count(1)


def _in_viewport(page: Page, testid: str, within: str = "") -> dict[str, float]:
    """The element's box lies wholly inside what the screen shows (the visual viewport: on a phone a page
    wider than the screen is shown zoomed out, and what counts is what the person sees)."""
    box = page.locator(f"{within} [data-testid={testid}]".strip()).first.bounding_box()
    assert box is not None, f"{testid} is not rendered"
    view = page.evaluate("() => { const v = window.visualViewport;"
                         " return { x: v.pageLeft - window.scrollX, y: v.pageTop - window.scrollY,"
                         " width: v.width, height: v.height }; }")
    top, bottom = box["y"], box["y"] + box["height"]
    assert view["y"] - 1 <= top and bottom <= view["y"] + view["height"] + 1, (
        f"{testid} at y={top:.0f}..{bottom:.0f} is outside the {view['height']:.0f} px the screen shows")
    assert view["x"] - 1 <= box["x"] and box["x"] + box["width"] <= view["x"] + view["width"] + 1, (
        f"{testid} is cut off at the side: {box} in {view}")
    return box


def _open_poll_from_console(console: Page, question: str) -> None:
    console.get_by_test_id("poll-question-input").fill(question)
    console.get_by_test_id("poll-create").click()
    draft = console.get_by_test_id("poll-draft").filter(has_text=question)
    expect(draft).to_be_visible()
    draft.get_by_test_id("poll-open").click()
    expect(console.locator("[data-testid=poll-panel][data-status=open]")).to_contain_text(question)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_vote_comes_over_the_document_viewer_and_is_cast_from_it(
        devices: Any, live_server: LiveServer, viewport: str) -> None:
    s = fresh_session(live_server.base_url, label=viewport)
    chair = _device(devices, CHAIR, f"/meetings/{s.meeting_id}/console")
    _online(chair.page)
    chair.page.evaluate(STAMP_OPEN)
    member = _device(devices, MEMBER, f"/documents/{s.document_id}", viewport)
    page = member.page
    expect(page.get_by_test_id("viewer-title")).to_contain_text(PAPER)
    _watching(page)
    page.evaluate(WATCH_OVERLAY)

    question = "Thông qua Báo cáo kết quả thực hiện nhiệm vụ quý IV?"
    _open_poll_from_console(chair.page, question)
    overlay = page.get_by_test_id("vote-overlay")
    expect(overlay).to_be_visible()
    expect(overlay.get_by_test_id("poll-question")).to_have_text(question)
    expect(overlay.get_by_test_id("poll-item")).to_contain_text(ITEMS[0])
    page.wait_for_function("() => window.__overlayAt !== null")
    opened = chair.page.evaluate("window.__openedAt")
    shown = page.evaluate("window.__overlayAt")
    print(f"FIGURE {viewport}: chair opens a vote -> overlay visible on the member's viewer: {shown - opened:.0f} ms")

    # Choose, then confirm: the confirm step is in sight on every device, the phone included.
    overlay.locator("[data-testid=vote-option][data-option=yes]").click()
    expect(overlay.get_by_test_id("vote-confirm")).to_have_text("Xác nhận: Tán thành")
    _in_viewport(page, "vote-confirm", "[data-testid=vote-overlay]")
    member.screenshot(f"vote-overlay-{viewport}.png")
    overlay.get_by_test_id("vote-confirm").click()
    expect(overlay.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Tán thành")
    expect(chair.page.get_by_test_id("turnout")).to_contain_text("Đã biểu quyết 1/")
    # Put aside, the vote stays as a banner until it closes; the viewer is underneath, as it was.
    overlay.get_by_test_id("overlay-vote-hide").click()
    expect(page.get_by_test_id("vote-overlay")).to_have_count(0)
    expect(page.get_by_test_id("overlay-vote-banner")).to_contain_text(question)
    expect(page.get_by_test_id("viewer-title")).to_contain_text(PAPER)
    chair.page.get_by_test_id("poll-close").click()
    chair.page.get_by_test_id("poll-close-confirm").click()
    expect(page.get_by_test_id("overlay-vote-banner")).to_have_count(0)
    chair.assert_clean()
    member.assert_clean()


def test_the_meeting_page_hears_the_start_the_vote_the_floor_and_the_end(
        devices: Any, live_server: LiveServer) -> None:
    s = fresh_session(live_server.base_url, start=False, label="meeting-page")
    member = _device(devices, MEMBER2, f"/meetings/{s.meeting_id}", "phone")
    page = member.page
    expect(page.get_by_test_id("meeting-heading")).to_have_text(s.title)
    _watching(page)

    s.transition("start")
    expect(page.get_by_test_id("overlay-session")).to_have_attribute("data-notice", "started")
    page.get_by_test_id("overlay-session-close").click()
    expect(page.get_by_test_id("overlay-session")).to_have_count(0)

    poll_id = s.open_poll("Đồng ý đưa Đề án vào chương trình?")
    overlay = page.get_by_test_id("vote-overlay")
    expect(overlay).to_be_visible()
    overlay.locator("[data-testid=vote-option][data-option=no]").click()
    _in_viewport(page, "vote-confirm", "[data-testid=vote-overlay]")
    overlay.get_by_test_id("vote-confirm").click()
    expect(overlay.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Không tán thành")
    s.close_poll(poll_id)
    expect(page.get_by_test_id("vote-overlay")).to_have_count(0)

    # The member asks for the floor (from another device) and the chair gives it: the meeting page says so.
    ack = call(live_server.base_url, token(live_server.base_url, MEMBER2), "speaker.request",
               {"meeting_id": s.meeting_id})
    assert ack["ok"], ack
    turns = s.chair("meeting.sync")["state"]["speakers"]["turns"]
    s.chair("speaker.give", {"turn_id": next(t["id"] for t in turns if t["status"] == "waiting")})
    expect(page.get_by_test_id("overlay-floor")).to_contain_text("Bạn đang được phát biểu")
    s.chair("speaker.end")
    expect(page.get_by_test_id("overlay-floor")).to_have_count(0)

    s.transition("close")
    expect(page.get_by_test_id("overlay-session")).to_have_attribute("data-notice", "ended")
    member.assert_clean()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_confirm_step_is_in_sight_after_choosing_on_the_live_screen(
        devices: Any, live_server: LiveServer, viewport: str) -> None:
    s = fresh_session(live_server.base_url, label=f"confirm-{viewport}")
    member = _device(devices, MEMBER, f"/meetings/{s.meeting_id}/live", viewport)
    page = member.page
    _online(page)
    s.open_poll("Thông qua Đề án sắp xếp đơn vị sự nghiệp công lập?")
    panel = page.locator("[data-testid=poll-panel][data-status=open]")
    expect(panel.get_by_test_id("vote-option")).to_have_count(3)
    panel.locator("[data-testid=vote-option][data-option=abstain]").click()
    expect(panel.get_by_test_id("vote-confirm")).to_have_text("Xác nhận: Không biểu quyết")
    box = _in_viewport(page, "vote-confirm")
    print(f"FIGURE {viewport}: confirm button at y={box['y']:.0f}..{box['y'] + box['height']:.0f}")
    member.screenshot(f"live-vote-{viewport}.png")
    panel.get_by_test_id("vote-confirm").click()
    expect(panel.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Không biểu quyết")
    member.assert_clean()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_live_screen_lists_the_items_papers_and_the_console_page_counter_presents(
        devices: Any, live_server: LiveServer, viewport: str) -> None:
    s = fresh_session(live_server.base_url, label=f"papers-{viewport}")
    chair = _device(devices, CHAIR, f"/meetings/{s.meeting_id}/console")
    console = chair.page
    _online(console)
    member = _device(devices, MEMBER, f"/meetings/{s.meeting_id}/live", viewport)
    page = member.page
    _online(page)

    # Item 1: its paper is one tap away; nothing is presented yet, so the screen does not say "page 1".
    expect(page.get_by_test_id("focus-title")).to_contain_text(ITEMS[0])
    link = page.get_by_test_id("item-document")
    expect(link).to_have_count(1)
    expect(link).to_contain_text(PAPER)
    expect(link).to_have_attribute("href", f"#/documents/{s.document_id}")
    expect(page.get_by_test_id("presenter-page")).to_have_count(0)
    member.screenshot(f"live-member-{viewport}.png", full_page=viewport == "phone")

    # A viewer on the paper, open beside: the console's "+" presents it, and turning moves the viewer.
    reader = _device(devices, MEMBER2, f"/documents/{s.document_id}", viewport)
    expect(reader.page.get_by_test_id("page-indicator")).to_contain_text(re.compile(rf"\b1\s*/\s*{PAPER_PAGES}"))
    console.get_by_test_id("page-next").click()
    expect(console.get_by_test_id("console-page")).to_have_text("1")
    expect(console.get_by_test_id("console-page")).to_have_attribute("data-document-id", str(s.document_id))
    expect(page.get_by_test_id("presenter-page")).to_contain_text(f"Đang trình chiếu: {PAPER}, trang 1")
    console.get_by_test_id("page-next").click()
    console.get_by_test_id("page-next").click()
    expect(console.get_by_test_id("console-page")).to_have_text("3")
    expect(page.get_by_test_id("presenter-page")).to_contain_text("trang 3")
    expect(page.get_by_test_id("open-presented")).to_have_attribute("href", f"#/documents/{s.document_id}?page=3")
    expect(reader.page.get_by_test_id("follow")).to_be_visible()
    expect(reader.page.get_by_test_id("page-indicator")).to_contain_text(re.compile(rf"\b3\s*/\s*{PAPER_PAGES}"))

    # Item 2 has no paper: the screen says so, presents nothing, and the console's counter cannot turn.
    console.get_by_test_id("console-agenda-item").filter(has_text=ITEMS[1]).get_by_test_id("agenda-goto").click()
    expect(page.get_by_test_id("focus-title")).to_contain_text(ITEMS[1])
    expect(page.get_by_test_id("item-documents-none")).to_be_visible()
    expect(page.get_by_test_id("presenter-page")).to_have_count(0)
    expect(console.get_by_test_id("console-no-document")).to_be_visible()
    expect(console.get_by_test_id("page-next")).to_be_disabled()

    # After the end, nothing is "presented" any more.
    s.transition("close")
    expect(page.get_by_test_id("session-notice")).to_be_visible()
    expect(page.get_by_test_id("presenter-page")).to_have_count(0)
    for device in (chair, member, reader):
        device.assert_clean()


def _close_vote_on_first_item(s: Session, member: Page) -> None:
    poll_id = s.open_poll("Thông qua Báo cáo quý IV?")
    panel = member.locator("[data-testid=poll-panel][data-status=open]")
    panel.locator("[data-testid=vote-option][data-option=yes]").click()
    panel.get_by_test_id("vote-confirm").click()
    expect(panel.get_by_test_id("poll-voted")).to_be_visible()
    s.close_poll(poll_id)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_between_items_and_after_the_end_the_tablet_and_the_wall_say_what_is_true(
        devices: Any, live_server: LiveServer, viewport: str) -> None:
    s = fresh_session(live_server.base_url, label=f"states-{viewport}")
    member = _device(devices, MEMBER, f"/meetings/{s.meeting_id}/live", viewport)
    page = member.page
    _online(page)
    chair = _device(devices, CHAIR, f"/meetings/{s.meeting_id}/wall")
    chair.page.set_viewport_size(WALL)
    wall = chair.page
    expect(wall.get_by_test_id("wall-item")).to_contain_text(ITEMS[0])
    s.chair("agenda.goto", {"item_id": s.items[0]})
    _close_vote_on_first_item(s, page)

    # The result of item 1 under item 1: the wall's verdict is in sight at 1440x900.
    expect(wall.get_by_test_id("poll-verdict")).to_have_text(re.compile("thông qua", re.IGNORECASE))
    expect(wall.get_by_test_id("wall-poll").get_by_test_id("poll-item")).to_contain_text(ITEMS[0])
    _in_viewport(wall, "poll-verdict")
    if viewport == "tablet":
        chair.screenshot("wall-result.png", page=wall)

    # Item 2: the tablet labels the older result with its own item; the wall no longer shows it.
    s.chair("agenda.goto", {"item_id": s.items[1]})
    expect(page.get_by_test_id("focus-title")).to_contain_text(ITEMS[1])
    result = page.locator("[data-testid=poll-panel][data-status=closed]")
    expect(result.get_by_test_id("poll-item")).to_contain_text(ITEMS[0])
    expect(wall.get_by_test_id("wall-item")).to_contain_text(ITEMS[1])
    expect(wall.get_by_test_id("wall-poll")).to_have_count(0)

    # The end: no quorum warning, no item "under discussion", the screen says the session is over.
    expect(page.get_by_test_id("quorum")).to_have_count(1)
    s.transition("close")
    expect(page.get_by_test_id("session-notice")).to_be_visible()
    expect(page.get_by_test_id("quorum")).to_have_count(0)
    expect(page.locator("[data-testid=live-agenda-item][data-current=true]")).to_have_count(0)
    expect(page.locator(".badge-item-current")).to_have_count(0)
    expect(page.get_by_test_id("focus-empty")).to_contain_text("Phiên họp đã kết thúc")
    expect(wall.get_by_test_id("wall-notice")).to_be_visible()
    expect(wall.get_by_test_id("wall-quorum")).to_have_count(0)
    member.screenshot(f"live-ended-{viewport}.png")
    member.assert_clean()
    chair.assert_clean()


def test_the_console_and_the_tablets_agree_on_who_is_present_from_the_start(
        devices: Any, live_server: LiveServer) -> None:
    s = fresh_session(live_server.base_url, start=False, label="presence")
    chair = _device(devices, CHAIR, f"/meetings/{s.meeting_id}/console")
    tablets = [_device(devices, who, f"/meetings/{s.meeting_id}/live") for who in (MEMBER, MEMBER2)]
    for device in (chair, *tablets):
        _online(device.page)
    # Every screen records each count it shows from the start on, so a disagreement shows however short.
    record = """() => {
      window.__counts = [];
      const look = () => {
        const el = document.querySelector('[data-testid=quorum]');
        const text = el ? el.querySelector('.chip-strong').textContent : null;
        if (text && window.__counts[window.__counts.length - 1] !== text) window.__counts.push(text);
      };
      new MutationObserver(look).observe(document.body, { childList: true, subtree: true, characterData: true });
      look();
    }"""
    for device in (chair, *tablets):
        device.page.evaluate(record)
    s.transition("start")
    for device in (chair, *tablets):
        expect(device.page.get_by_test_id("quorum")).to_contain_text("Có mặt 3/4")
    shown = {device.page.url.rsplit("/", 1)[-1] + str(i): device.page.evaluate("window.__counts")
             for i, device in enumerate((chair, *tablets))}
    # Each screen goes straight to the final count: no screen showed a count the others never showed.
    for counts in shown.values():
        assert counts == ["Có mặt 3/4"], shown


def test_axe_finds_nothing_on_the_live_screen_the_overlay_and_the_viewer(
        devices: Any, live_server: LiveServer) -> None:
    s = fresh_session(live_server.base_url, label="axe")
    member = _device(devices, MEMBER, f"/meetings/{s.meeting_id}/live")
    page = member.page
    _online(page)
    assert_accessible(page)
    poll_id = s.open_poll("Thông qua Báo cáo quý IV?")
    expect(page.locator("[data-testid=poll-panel][data-status=open]")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{member.base_url}/#/documents/{s.document_id}")
    expect(page.get_by_test_id("vote-overlay")).to_be_visible()
    expect(page.get_by_test_id("pdf-page").first).to_be_visible()
    assert_accessible(page, include="[data-testid=vote-overlay]")
    assert_accessible(page)  # the viewer as it is, under the overlay
    s.close_poll(poll_id)
    expect(page.get_by_test_id("vote-overlay")).to_have_count(0)
    assert_accessible(page)
    member.assert_clean()
