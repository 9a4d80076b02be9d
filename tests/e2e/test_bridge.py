"""The video bridge with real Chromium peers (fake camera and microphone): the chair and a bridge point
publish through the relay; a member's tablet sees and hears the chair at once; the bridge point asks
for the floor, the chair gives it, and the tablet decodes its video and receives its sound, as WebRTC's
own statistics say, per slot. The chair's control room, opened and left on a second connection, does
not take the chair off the air.

WebRTC traffic must stay on test hosts: Chromium runs in a network namespace this test creates, joined
to the host by a veth pair; the server and its relay listen only on the host end of that pair."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import socketio
from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import SCREENSHOTS, LiveServer, _env, browser_in_namespace, demo_server
from tests.e2e.sessions import fresh_session

pytestmark = pytest.mark.e2e

CHAIR = ("thutuong", "ChuToa@2026")
BRIDGE_POINT = ("diemcau.hanoi", "DiemCau@2026")
MEMBER = ("bo.tuphap", "ThanhVien@2026")
SECRETARY = ("vpcp.thuky", "BienBan@2026")
MEETING_TITLE = "Phiên họp Chính phủ thường kỳ"


@pytest.fixture(scope="module")
def bridge_server(netns: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _, host, _ = netns
    data_dir = tmp_path_factory.mktemp("bridge-data")
    with demo_server(data_dir, {**_env(data_dir), "ECABINET_MEDIA_HOST_ADDRESSES": host}, host) as server:
        yield server


@pytest.fixture(scope="module")
def ns_browser(netns: tuple[str, str, str], bridge_server: LiveServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with browser_in_namespace(netns[0], bridge_server, tmp_path_factory.mktemp("chromium")) as launched:
        yield launched


def _token(base_url: str, who: tuple[str, str]) -> str:
    r = httpx.post(f"{base_url}/api/auth/tokens", json={"username": who[0], "password": who[1]}, timeout=10)
    r.raise_for_status()
    return str(r.json()["token"])


def _page(browser: Browser, base_url: str, who: tuple[str, str], route: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{base_url}/")
    page.get_by_test_id("login-username").fill(who[0])
    page.get_by_test_id("login-password").fill(who[1])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout")).to_be_visible()
    page.goto(f"{base_url}/#{route}")
    return page


def _call(base_url: str, token: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """One event from the chair's own connection (the console's part, without its screen)."""
    async def go() -> dict[str, Any]:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(base_url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        try:
            ack: dict[str, Any] = await client.call(event, data, timeout=10)
            return ack
        finally:
            await client.disconnect()
    # Playwright's sync API owns this thread's event loop: the call runs in a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result(timeout=30)


def _stat(page: Page, name: str) -> int:
    value = page.get_by_test_id("bridge-stats").get_attribute(f"data-{name}")
    return int(value or 0)


def test_the_chair_is_heard_at_once_and_a_bridge_point_given_the_floor_is_seen_and_heard(
        bridge_server: LiveServer, ns_browser: Browser) -> None:
    base = bridge_server.base_url
    chair_token = _token(base, CHAIR)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {chair_token}"}, timeout=10) as http:
        meeting = next(m for m in http.get("/api/meetings").json() if m["title"] == MEETING_TITLE)
        mid = meeting["id"]
        assert http.post(f"/api/meetings/{mid}/transitions", json={"action": "start"}).status_code == 200
        first_item = http.get(f"/api/meetings/{mid}").json()["agenda"][0]["id"]
    def chair(event: str, data: dict[str, Any]) -> dict[str, Any]:
        return _call(base, chair_token, event, data)

    assert chair("agenda.goto", {"meeting_id": mid, "item_id": first_item})["ok"]
    chair_room = _page(ns_browser, base, CHAIR, f"/meetings/{mid}/bridge")
    hanoi = _page(ns_browser, base, BRIDGE_POINT, f"/meetings/{mid}/bridge")
    member = _page(ns_browser, base, MEMBER, f"/meetings/{mid}/bridge")
    for page in (chair_room, hanoi, member):
        expect(page.get_by_test_id("bridge-status")).to_have_attribute("data-status", "connected", timeout=30_000)
    expect(hanoi.get_by_test_id("bridge-stats")).not_to_have_attribute("data-frames-sent", "0")
    # Everyone sees and hears the chair at once (the chair's sound is the relay's second audio m-line).
    member.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=bridge-stats]');"
        " return s && Number(s.dataset.chairFrames) > 30 && Number(s.dataset.chairAudioBytes) > 2000; }",
        timeout=30_000)
    chair_audio = _stat(member, "chair-audio-bytes")
    print(f"FIGURE the member received {chair_audio} bytes of the chair's audio")
    # Before the floor is given, the member receives nothing from Hà Nội.
    member.wait_for_timeout(1500)
    assert _stat(member, "floor-frames") == 0 and _stat(member, "floor-audio-bytes") == 0
    hanoi.get_by_test_id("speak-request").click()
    waiting: list[dict[str, Any]] = []
    for _ in range(50):  # the request travels from the bridge point's tablet
        state = chair("meeting.sync", {"meeting_id": mid})["state"]
        waiting = [t for t in state["speakers"]["turns"] if t["status"] == "waiting"]
        if waiting:
            break
        hanoi.wait_for_timeout(200)
    turn = waiting[0]
    assert chair("speaker.give", {"meeting_id": mid, "turn_id": turn["id"]})["ok"]
    member.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=bridge-stats]');"
        " return s && Number(s.dataset.floorFrames) > 30 && Number(s.dataset.floorAudioBytes) > 2000; }",
        timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page in (member, hanoi):
        page.evaluate("window.scrollTo(0, 0)")
    member.screenshot(path=str(SCREENSHOTS / "bridge-member.png"))
    hanoi.screenshot(path=str(SCREENSHOTS / "bridge-point.png"))
    # The chair opens the control room on a second connection and leaves it (media.leave): the chair's own
    # picture and sound stay on the air for everyone.
    chair_control = _page(ns_browser, base, CHAIR, f"/meetings/{mid}/control")
    expect(chair_control.get_by_test_id("control-tile")).to_have_count(3, timeout=30_000)
    chair_control.goto(f"{base}/#/meetings/{mid}")
    expect(chair_control.get_by_test_id("control-grid")).to_have_count(0)
    member.wait_for_timeout(1000)
    frames, sound = _stat(member, "chair-frames"), _stat(member, "chair-audio-bytes")
    member.wait_for_timeout(2000)
    assert _stat(member, "chair-frames") - frames > 20 and _stat(member, "chair-audio-bytes") - sound > 1000
    chair_control.context.close()
    # The secretariat's control room shows every site, with their figures.
    control = _page(ns_browser, base, SECRETARY, f"/meetings/{mid}/control")
    expect(control.get_by_test_id("control-tile")).to_have_count(3, timeout=30_000)
    expect(control.get_by_test_id("control-tile").filter(has_text="Điểm cầu Hà Nội")).to_have_count(1)
    control.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=control-tile] video')]"
        ".every((v) => v.readyState >= 2 && v.videoWidth > 0)", timeout=30_000)
    expect(control.get_by_test_id("control-site")).to_have_count(3, timeout=10_000)
    control.screenshot(path=str(SCREENSHOTS / "bridge-control-room.png"))
    # The floor ends: Hà Nội is no longer carried.
    assert chair("speaker.end", {"meeting_id": mid})["ok"]
    member.wait_for_timeout(2000)
    stopped_at = _stat(member, "floor-frames")
    member.wait_for_timeout(2000)
    assert _stat(member, "floor-frames") - stopped_at <= 3


SELF_CAMERA = "document.querySelector('[data-testid=video-self]')"


def test_the_bridge_page_says_what_its_tiles_show_goes_on_air_and_stops_the_camera_at_the_end(
        bridge_server: LiveServer, ns_browser: Browser) -> None:
    base = bridge_server.base_url
    s = fresh_session(base, label="bridge")
    hanoi = _page(ns_browser, base, BRIDGE_POINT, f"/meetings/{s.meeting_id}/bridge")
    member = _page(ns_browser, base, MEMBER, f"/meetings/{s.meeting_id}/bridge")
    for page in (hanoi, member):
        expect(page.get_by_test_id("bridge-status")).to_have_attribute("data-status", "connected", timeout=30_000)
        page.wait_for_function(f"() => {SELF_CAMERA} && {SELF_CAMERA}.srcObject")
        # Keep this page's own camera track to look at it after the page has let go of it.
        page.evaluate(f"() => {{ window.__camera = {SELF_CAMERA}.srcObject.getTracks(); }}")
    # The site's own picture and a minister's own camera are labelled for who they are.
    expect(hanoi.get_by_test_id("video-self-tile").locator("figcaption")).to_have_text("Hình ảnh của điểm cầu này")
    expect(member.get_by_test_id("video-self-tile").locator("figcaption")).to_have_text("Camera của bạn")
    # Nobody speaks and the chair has no camera here: the tiles say so instead of showing black.
    expect(member.get_by_test_id("video-floor-empty")).to_have_attribute("data-reason", "nobody")
    expect(member.get_by_test_id("video-floor-empty")).to_have_text(re.compile("Chưa có ai được phát biểu"))
    expect(member.get_by_test_id("video-chair-empty")).to_have_attribute("data-reason", "no_video")
    assert_accessible(member)

    # A minister in the main room (on the live screen, no camera) has the floor: the tile says where.
    speaker = _token(base, ("pho.thutuong1", "ThanhVien@2026"))
    assert _call(base, speaker, "speaker.request", {"meeting_id": s.meeting_id})["ok"]
    waiting = [t for t in s.chair("meeting.sync")["state"]["speakers"]["turns"] if t["status"] == "waiting"]
    s.chair("speaker.give", {"turn_id": waiting[0]["id"]})
    expect(member.get_by_test_id("video-floor-empty")).to_have_attribute("data-reason", "no_video", timeout=30_000)
    expect(member.get_by_test_id("video-floor-empty")).to_contain_text("Trần Thị Bình")
    expect(member.get_by_test_id("video-floor-empty")).to_contain_text("phòng họp chính")
    s.chair("speaker.end")

    # Hà Nội is given the floor: an unmistakable on-air state there; the member sees Hà Nội.
    hanoi.get_by_test_id("speak-request").click()
    waiting = []
    for _ in range(50):
        waiting = [t for t in s.chair("meeting.sync")["state"]["speakers"]["turns"] if t["status"] == "waiting"]
        if waiting:
            break
        hanoi.wait_for_timeout(200)
    s.chair("speaker.give", {"turn_id": waiting[0]["id"]})
    expect(hanoi.get_by_test_id("on-air")).to_contain_text("Đang phát trực tiếp")
    expect(hanoi.get_by_test_id("video-self-tile")).to_have_class(re.compile("video-tile-on-air"))
    expect(member.get_by_test_id("on-air")).to_have_count(0)
    expect(member.get_by_test_id("video-floor")).to_be_visible(timeout=30_000)
    member.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=video-floor]'); return v && v.videoWidth > 0; }",
        timeout=30_000)
    assert_accessible(hanoi)
    hanoi.evaluate("window.scrollTo(0, 0)")
    hanoi.screenshot(path=str(SCREENSHOTS / "bridge-on-air.png"))

    # The floor ends: the member's floor tile is cleared (no frozen last frame) and says why.
    s.chair("speaker.end")
    expect(member.get_by_test_id("video-floor")).to_have_count(0)
    expect(member.get_by_test_id("video-floor-empty")).to_have_attribute("data-reason", "nobody")
    expect(hanoi.get_by_test_id("on-air")).to_have_count(0)
    member.screenshot(path=str(SCREENSHOTS / "bridge-member-empty-floor.png"))

    # The member leaves the bridge: their camera and microphone stop at once.
    member.get_by_test_id("bridge-leave").click()
    member.wait_for_function("() => window.__camera.every((t) => t.readyState === 'ended')")
    # The session ends: the site's camera and microphone stop, nothing keeps sending from the room.
    s.transition("close")
    hanoi.wait_for_function("() => window.__camera.every((t) => t.readyState === 'ended')", timeout=20_000)
    expect(hanoi.get_by_test_id("bridge-off")).to_be_visible()
    expect(hanoi.get_by_test_id("video-self-empty")).to_be_visible()
    for page in (hanoi, member):
        page.context.close()


def test_a_vote_comes_over_the_bridge_page_and_is_cast_from_it(
        bridge_server: LiveServer, ns_browser: Browser) -> None:
    base = bridge_server.base_url
    s = fresh_session(base, label="bridge-vote")
    member = _page(ns_browser, base, MEMBER, f"/meetings/{s.meeting_id}/bridge")
    expect(member.get_by_test_id("bridge-status")).to_have_attribute("data-status", "connected", timeout=30_000)
    poll_id = s.open_poll("Thông qua Báo cáo quý IV?")
    overlay = member.get_by_test_id("vote-overlay")
    expect(overlay).to_be_visible()
    expect(overlay.get_by_test_id("poll-question")).to_have_text("Thông qua Báo cáo quý IV?")
    assert_accessible(member, include="[data-testid=vote-overlay]")
    overlay.locator("[data-testid=vote-option][data-option=yes]").click()
    overlay.get_by_test_id("vote-confirm").click()
    expect(overlay.get_by_test_id("poll-voted")).to_have_text("Bạn đã biểu quyết: Tán thành")
    s.close_poll(poll_id)
    expect(member.get_by_test_id("vote-overlay")).to_have_count(0)
    member.context.close()
