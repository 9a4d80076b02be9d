"""The live session in the browser: the chair runs the demo meeting from the console while two
members follow on their tablets, ask to speak and vote; a tablet that reloads mid-poll still shows
its vote, and a secret ballot's receipt stays on the voter's tablet. Screenshots go to
docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, LiveServer, Tablet, rest_client

pytestmark = pytest.mark.e2e

CHAIR = ("thutuong", "ChuToa@2026")
MEMBER1 = ("pho.thutuong1", "ThanhVien@2026")  # Trần Thị Bình
MEMBER2 = ("bo.taichinh", "ThanhVien@2026")  # Phạm Minh Đức
ABSENT_MEMBER = "Lê Quang Cường"  # pho.thutuong2: in the room without a tablet, recorded by the chair
MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"
ITEM1 = "Báo cáo tình hình kinh tế - xã hội tháng 11 và 11 tháng năm 2026"
ITEM2 = "Tình hình thực hiện dự toán ngân sách nhà nước năm 2026"


def _meeting_id(server: LiveServer) -> int:
    with rest_client(server.base_url, *CHAIR) as http:
        meetings = http.get("/api/meetings").json()
    return int(next(m["id"] for m in meetings if m["title"] == MEETING_TITLE))


def _ensure_started(server: LiveServer, meeting_id: int) -> None:
    """Tests after the first find the session running; alone, a test starts it over REST."""
    with rest_client(server.base_url, *CHAIR) as http:
        if http.get(f"/api/meetings/{meeting_id}").json()["status"] == "published":
            r = http.post(f"/api/meetings/{meeting_id}/transitions", json={"action": "start"})
            assert r.status_code == 200, r.text


def _tablet(devices: Any, account: tuple[str, str], route: str, **options: Any) -> Tablet:
    device = devices(**options)
    device.open()
    device.login(*account)
    device.page.goto(f"{device.base_url}/#{route}")
    expect(device.page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    return device


def _highlighted(page: Page) -> Any:
    return page.locator("[data-testid=live-agenda-item][data-current=true] [data-testid=live-agenda-title]")


def _goto(console: Page, title: str) -> None:
    """The chair moves the session to an item (nothing to do when it is the current one already)."""
    current = console.locator("[data-testid=console-agenda-item][data-current=true]")
    expect(console.get_by_test_id("console-agenda-item").first).to_be_visible()
    if title not in (current.all_inner_texts() or [""])[0]:
        console.get_by_test_id("console-agenda-item").filter(has_text=title).get_by_test_id("agenda-goto").click()
    expect(current).to_contain_text(title)


def _vote(page: Page, option: str) -> None:
    page.locator(f"[data-testid=vote-option][data-option={option}]").click()
    page.get_by_test_id("vote-confirm").click()


def _create_and_open_poll(console: Page, question: str, *, secret: bool = False) -> None:
    console.get_by_test_id("poll-question-input").fill(question)
    if secret:
        console.get_by_test_id("poll-secret").check()
    console.get_by_test_id("poll-create").click()
    draft = console.get_by_test_id("poll-draft").filter(has_text=question)
    expect(draft).to_be_visible()
    draft.get_by_test_id("poll-open").click()
    expect(console.locator("[data-testid=poll-panel][data-status=open]")).to_contain_text(question)


def _close_poll(console: Page) -> None:
    console.get_by_test_id("poll-close").click()
    console.get_by_test_id("poll-close-confirm").click()


def _result_counts(page: Page) -> dict[str, str]:
    panel = page.locator("[data-testid=poll-panel][data-status=closed]")
    expect(panel).to_be_visible()
    rows = panel.get_by_test_id("result-row")
    return {rows.nth(i).get_attribute("data-option") or "": rows.nth(i).get_by_test_id("result-count").inner_text()
            for i in range(rows.count())}


def test_chair_runs_the_session_while_two_member_tablets_follow_speak_and_vote(
        devices: Any, live_server: LiveServer) -> None:
    # The chair opens the published demo meeting, starts it and opens the console.
    chair = devices()
    page = chair.open()
    chair.login(*CHAIR)
    page.get_by_test_id("meeting-row").filter(has_text=MEETING_TITLE).get_by_role("link").click()
    expect(page.get_by_test_id("meeting-heading")).to_have_text(MEETING_TITLE)
    expect(page.get_by_test_id("open-live")).to_have_text("Vào phiên họp")
    expect(page.get_by_test_id("open-wall")).to_have_text("Màn hình chiếu")
    page.get_by_test_id("action-start").click()
    page.get_by_test_id("action-start-confirm").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Đang họp")
    page.get_by_test_id("open-console").click()
    console = page
    expect(console.get_by_test_id("live-heading")).to_have_text(MEETING_TITLE)
    expect(console.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    meeting_id = int(re.search(r"/meetings/(\d+)/console", console.url).group(1))  # type: ignore[union-attr]

    # Both members open the live view on their tablets.
    route = f"/meetings/{meeting_id}/live"
    binh = _tablet(devices, MEMBER1, route)
    duc = _tablet(devices, MEMBER2, route)
    tablets = (binh.page, duc.page)
    for tablet in tablets:
        expect(tablet.get_by_test_id("live-heading")).to_have_text(MEETING_TITLE)
        expect(tablet.get_by_test_id("follow-indicator")).to_have_attribute("data-following", "true")
        expect(tablet.get_by_test_id("follow-indicator")).to_contain_text("Theo dõi chủ tọa")

    # The chair moves to item 2 and presents its document from the console's page counter: both tablets
    # follow and say which document and page (the demo's documents have one page).
    _goto(console, ITEM2)
    console.get_by_test_id("page-next").click()
    expect(console.get_by_test_id("console-page")).to_have_text("1")
    for tablet in tablets:
        expect(_highlighted(tablet)).to_have_text(ITEM2)
        expect(tablet.get_by_test_id("focus-title")).to_contain_text(ITEM2)
        expect(tablet.get_by_test_id("presenter-page")).to_contain_text("Đang trình chiếu: Tờ trình")
        expect(tablet.get_by_test_id("presenter-page")).to_contain_text("trang 1")

    # The Minister of Finance asks to speak; the chair sees the request and gives the floor (2 min).
    duc.page.get_by_test_id("speak-request").click()
    expect(duc.page.get_by_test_id("queue-position")).to_contain_text("vị trí 1/1")
    expect(binh.page.get_by_test_id("speaking-next")).to_contain_text("Phạm Minh Đức")
    row = console.get_by_test_id("queue-row").filter(has_text="Phạm Minh Đức")
    expect(row).to_be_visible()
    console.get_by_test_id("give-seconds").select_option("120")
    row.get_by_test_id("speaker-give").click()
    expect(console.get_by_test_id("speaking-now")).to_contain_text("Phạm Minh Đức")
    for tablet in tablets:
        expect(tablet.get_by_test_id("speaking-now")).to_contain_text("Phạm Minh Đức")
        expect(tablet.get_by_test_id("speaker-countdown")).to_contain_text(re.compile(r"0[12]:\d\d"))
    expect(duc.page.get_by_test_id("my-floor")).to_have_text("Bạn đang được phát biểu")
    binh.screenshot("live-member.png")

    # Quorum: chair and both members are checked in by joining (3 of 6); the chair records a fourth.
    expect(console.get_by_test_id("console-quorum")).to_contain_text("Có mặt 3/6")
    console.get_by_test_id("attendance-row").filter(has_text=ABSENT_MEMBER).get_by_test_id("attendance-present").click()
    expect(console.get_by_test_id("console-quorum")).to_have_attribute("data-reached", "true")
    for tablet in tablets:
        expect(tablet.get_by_test_id("quorum")).to_contain_text("Đủ số lượng")

    # A named poll: the two members vote differently, the chair votes too.
    question = "Thông qua Báo cáo tình hình thực hiện dự toán ngân sách nhà nước năm 2026?"
    _create_and_open_poll(console, question)
    for tablet in tablets:
        panel = tablet.locator("[data-testid=poll-panel][data-status=open]")
        expect(panel.get_by_test_id("poll-question")).to_have_text(question)
        expect(panel.get_by_test_id("vote-option")).to_have_text(["Tán thành", "Không tán thành", "Không biểu quyết"])
    binh.page.locator("[data-testid=vote-option][data-option=yes]").click()
    expect(binh.page.get_by_test_id("vote-confirm")).to_have_text("Xác nhận: Tán thành")
    binh.screenshot("live-member-vote.png")
    binh.page.get_by_test_id("vote-confirm").click()
    expect(binh.page.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Tán thành")
    _vote(duc.page, "no")
    expect(duc.page.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Không tán thành")
    _vote(console, "yes")
    expect(console.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Tán thành")
    for tablet in (*tablets, console):
        expect(tablet.get_by_test_id("turnout")).to_contain_text("Đã biểu quyết 3/6")
    console.evaluate("window.scrollTo(0, 0)")
    chair.screenshot("console.png")

    # The chair closes the poll: every screen shows the counts, the verdict and the quorum.
    _close_poll(console)
    for tablet in (*tablets, console):
        assert _result_counts(tablet) == {"yes": "2", "no": "1", "abstain": "0"}
        expect(tablet.get_by_test_id("poll-verdict")).to_have_text("Thông qua")
        expect(tablet.get_by_test_id("poll-quorum")).to_have_text("Đủ số lượng")
    binh.screenshot("live-result.png")

    # The projector: current item, who speaks, the last result.
    wall = chair.new_page(f"#/meetings/{meeting_id}/wall")
    expect(wall.get_by_test_id("wall-item")).to_contain_text(ITEM2)
    expect(wall.get_by_test_id("speaking-now")).to_contain_text("Phạm Minh Đức")
    expect(wall.get_by_test_id("wall-poll")).to_have_attribute("data-status", "closed")
    expect(wall.get_by_test_id("poll-verdict")).to_have_text("Thông qua")
    chair.screenshot("wall.png", page=wall)

    # The chair ends the floor; the tablets see nobody speaking.
    console.get_by_test_id("speaker-end").click()
    for tablet in tablets:
        expect(tablet.get_by_test_id("speaking-nobody")).to_be_visible()
    for device in (chair, binh, duc):
        device.assert_clean()


def test_leaving_follow_mode_keeps_the_member_where_they_are(devices: Any, live_server: LiveServer) -> None:
    meeting_id = _meeting_id(live_server)
    _ensure_started(live_server, meeting_id)
    chair = _tablet(devices, CHAIR, f"/meetings/{meeting_id}/console")
    binh = _tablet(devices, MEMBER1, f"/meetings/{meeting_id}/live")
    console, tablet = chair.page, binh.page
    _goto(console, ITEM1)
    expect(_highlighted(tablet)).to_have_text(ITEM1)

    # The member leaves follow mode: the chair's next move is marked but does not move their screen.
    tablet.get_by_test_id("follow-toggle").click()
    expect(tablet.get_by_test_id("follow-indicator")).to_have_attribute("data-following", "false")
    _goto(console, ITEM2)
    expect(_highlighted(tablet)).to_have_text(ITEM2)
    expect(tablet.get_by_test_id("focus-title")).to_contain_text(ITEM1)
    expect(tablet.get_by_test_id("focus-card")).to_contain_text(f"Chủ tọa đang ở nội dung: {ITEM2}")

    # Browsing: another item opens; "follow the chair" brings the chair's item back.
    tablet.get_by_test_id("live-agenda-item").nth(3).click()
    expect(tablet.get_by_test_id("focus-title")).to_contain_text("Đề án chuyển đổi số")
    tablet.get_by_test_id("follow-toggle").click()
    expect(tablet.get_by_test_id("follow-indicator")).to_have_attribute("data-following", "true")
    expect(tablet.get_by_test_id("focus-title")).to_contain_text(ITEM2)
    chair.assert_clean()
    binh.assert_clean()


def test_a_member_who_reloads_mid_poll_still_sees_their_vote(devices: Any, live_server: LiveServer) -> None:
    meeting_id = _meeting_id(live_server)
    _ensure_started(live_server, meeting_id)
    chair = _tablet(devices, CHAIR, f"/meetings/{meeting_id}/console")
    duc = _tablet(devices, MEMBER2, f"/meetings/{meeting_id}/live")
    question = "Đồng ý đưa Dự án Luật vào chương trình phiên họp tháng 12?"
    _create_and_open_poll(chair.page, question)
    _vote(duc.page, "abstain")
    expect(duc.page.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Không biểu quyết")

    # After a reload the tablet knows nothing but what meeting.join sends back.
    duc.page.evaluate("window.localStorage.clear(); window.sessionStorage.clear()")
    duc.page.reload()
    expect(duc.page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    panel = duc.page.locator("[data-testid=poll-panel][data-status=open]")
    expect(panel.get_by_test_id("poll-question")).to_have_text(question)
    expect(panel.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Không biểu quyết")
    expect(panel.get_by_test_id("vote-option")).to_have_count(0)  # no second ballot in this poll
    expect(panel.get_by_test_id("turnout")).to_contain_text("Đã biểu quyết 1/6")
    _close_poll(chair.page)
    assert _result_counts(duc.page) == {"yes": "0", "no": "0", "abstain": "1"}
    chair.assert_clean()
    duc.assert_clean()


_STORED = "JSON.stringify(Object.entries(window.localStorage))"


def test_a_secret_ballot_shows_its_receipt_which_the_published_list_confirms(
        devices: Any, live_server: LiveServer) -> None:
    meeting_id = _meeting_id(live_server)
    _ensure_started(live_server, meeting_id)
    chair = _tablet(devices, CHAIR, f"/meetings/{meeting_id}/console")
    binh = _tablet(devices, MEMBER1, f"/meetings/{meeting_id}/live", viewport=PHONE, is_mobile=True, has_touch=True)
    page = binh.page
    _create_and_open_poll(chair.page, "Bầu Tổ trưởng Tổ công tác (bỏ phiếu kín)?", secret=True)
    _vote(page, "yes")
    expect(page.get_by_test_id("poll-voted")).to_have_text("Bạn đã bỏ phiếu.")  # the choice is not kept
    receipt = page.get_by_test_id("receipt-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", receipt), receipt
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.reload()  # the receipt is kept on the device, the server only knows that this member voted
    expect(page.get_by_test_id("receipt-code")).to_have_text(receipt)
    # Kept encrypted with the device's store key (which only a live session gets), never in the clear.
    stored = page.evaluate(_STORED)
    assert "ecabinet.ballot." in stored and receipt not in stored, stored
    assert '"yes"' not in stored and "choice" not in stored, stored
    _close_poll(chair.page)
    expect(page.get_by_test_id("receipt")).to_contain_text("Phiếu của bạn có trong danh sách phiếu đã được tính")
    assert _result_counts(page)["yes"] == "1"
    chair.assert_clean()
    binh.assert_clean()


def test_after_logout_the_tablet_keeps_no_receipt_and_no_choice_of_a_secret_ballot(
        devices: Any, live_server: LiveServer) -> None:
    meeting_id = _meeting_id(live_server)
    _ensure_started(live_server, meeting_id)
    chair = _tablet(devices, CHAIR, f"/meetings/{meeting_id}/console")
    binh = _tablet(devices, MEMBER1, f"/meetings/{meeting_id}/live")
    page = binh.page
    _create_and_open_poll(chair.page, "Bầu Phó Tổ trưởng (bỏ phiếu kín)?", secret=True)
    _vote(page, "no")
    receipt = page.get_by_test_id("receipt-code").inner_text()
    page.wait_for_function("Object.keys(localStorage).some((k) => k.startsWith('ecabinet.ballot.'))")
    assert receipt not in page.evaluate(_STORED)  # kept encrypted only
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-username")).to_be_visible()
    stored = page.evaluate(_STORED)
    assert receipt not in stored and "ecabinet.ballot" not in stored and '"no"' not in stored, stored
    _close_poll(chair.page)
    chair.assert_clean()


def test_a_tablet_that_loses_its_connection_says_so_and_shows_the_current_state_again(
        devices: Any, live_server: LiveServer) -> None:
    meeting_id = _meeting_id(live_server)
    _ensure_started(live_server, meeting_id)
    chair = _tablet(devices, CHAIR, f"/meetings/{meeting_id}/console")
    console = chair.page
    _goto(console, ITEM1)

    # The member's tablet talks to the server through a switch the test can turn off.
    network = {"up": True, "sockets": []}

    def on_socket(ws: Any) -> None:
        if not network["up"]:
            ws.close()
            return
        ws.connect_to_server()
        network["sockets"].append(ws)

    binh = devices()
    page = binh.page
    page.route_web_socket(re.compile(r".*/socket\.io/.*"), on_socket)
    page.route(re.compile(r".*/socket\.io/.*"), lambda route: route.abort() if not network["up"] else route.continue_())
    binh.open()
    binh.login(*MEMBER1)
    page.goto(f"{binh.base_url}/#/meetings/{meeting_id}/live")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    expect(_highlighted(page)).to_have_text(ITEM1)

    # The connection drops: the tablet says so at once and dims what it shows.
    network["up"] = False
    for ws in network["sockets"]:
        ws.close()
    expect(page.get_by_test_id("connection-banner")).to_contain_text("Mất kết nối với máy chủ")
    expect(page.get_by_test_id("connection-status")).to_have_text("Mất kết nối")
    expect(page.locator("main")).to_have_attribute("data-connection", "reconnecting")
    expect(page.get_by_test_id("speak-request")).to_be_disabled()

    # Meanwhile the chair moves on; the tablet hears nothing of it.
    _goto(console, ITEM2)
    expect(_highlighted(page)).to_have_text(ITEM1)

    # Back online: the tablet joins again and replaces its state with the server's.
    network["up"] = True
    # The client's back-off between attempts grows to 2 s (±50 %) while the network is down: the next try
    # may come 3 s after the network returns, and joining takes its time on a loaded machine.
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online", timeout=25_000)
    expect(page.get_by_test_id("connection-banner")).to_have_count(0)
    expect(_highlighted(page)).to_have_text(ITEM2)
    expect(page.get_by_test_id("focus-title")).to_contain_text(ITEM2)
    chair.assert_clean()
    binh.assert_clean()


def test_a_tablet_refused_because_the_database_is_busy_tries_again_by_itself(
        devices: Any, live_server: LiveServer) -> None:
    """A reconnect storm or a database outage makes the server refuse a connection with `database_busy` /
    `database_unavailable` ("try again"): socket.io-client never retries a refusal by itself, so the
    tablet used to say "refused, log in again" for good. It now tries again, and gets in."""
    meeting_id = _meeting_id(live_server)
    _ensure_started(live_server, meeting_id)
    refusals = {"left": 1, "sent": 0}

    def on_socket(ws: Any) -> None:
        if refusals["left"] == 0:
            ws.connect_to_server()
            return
        refusals["left"] -= 1

        def answer(message: str | bytes) -> None:  # the server's side of Engine.IO, then its refusal
            if isinstance(message, str) and message.startswith("40"):
                ws.send('44{"message":"Máy chủ đang bận","data":{"code":"database_busy"}}')
                refusals["sent"] += 1
                ws.close()
        ws.on_message(answer)
        ws.send('0{"sid":"refused-once","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')

    binh = devices()
    page = binh.page
    page.route_web_socket(re.compile(r".*/socket\.io/.*"), on_socket)  # the first connection is refused
    binh.open()
    binh.login(*MEMBER1)
    page.goto(f"{binh.base_url}/#/meetings/{meeting_id}/live")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online", timeout=15_000)
    assert refusals["sent"] == 1, refusals  # it was refused once, and came back without a hand on it
    expect(page.get_by_test_id("connection-banner")).to_have_count(0)
    binh.assert_clean()
