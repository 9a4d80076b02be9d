"""The video bridge through a TURN server, in Chromium: the tablet app hands the browser the TURN
credentials `media.config` gives (each person their own), and a bridge point and a member whose browsers
may use nothing but TURN (relay candidates only, as behind a network that lets no UDP out but to the
TURN server) still send and see the floor, through Debian's coturn.

Like tests/e2e/test_bridge.py, Chromium runs in a network namespace of the test's own; coturn and the
server listen on the host end of its veth pair."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer, _env, browser_in_namespace, demo_server
from tests.e2e.sessions import fresh_session, token
from tests.e2e.test_bridge import BRIDGE_POINT, MEMBER, _call
from tests.support.coturn import Coturn, running_coturn

pytestmark = pytest.mark.e2e

# Before the app's scripts: every peer connection may use relay candidates only, and what the app asked
# for is kept to look at.
RELAY_ONLY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__iceConfigs = [];
  window.RTCPeerConnection = function (config) {
    window.__iceConfigs.push(JSON.parse(JSON.stringify(config || {})));
    return new Native({ ...(config || {}), iceTransportPolicy: 'relay' });
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""


@pytest.fixture(scope="module")
def coturn_on_host(netns: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with running_coturn(tmp_path_factory.mktemp("coturn"), netns[1]) as server:
        yield server


@pytest.fixture(scope="module")
def turn_server(netns: tuple[str, str, str], coturn_on_host: Coturn,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _, host, _ = netns
    data_dir = tmp_path_factory.mktemp("turn-bridge-data")
    env = {**_env(data_dir), "ECABINET_MEDIA_HOST_ADDRESSES": host, "ECABINET_MEDIA_ICE_SERVERS": coturn_on_host.url,
           "ECABINET_TURN_SECRET": coturn_on_host.secret}
    with demo_server(data_dir, env, host) as server:
        yield server


@pytest.fixture(scope="module")
def relay_only_browser(netns: tuple[str, str, str], turn_server: LiveServer,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with browser_in_namespace(netns[0], turn_server, tmp_path_factory.mktemp("chromium-turn")) as launched:
        yield launched


def _user_id(base_url: str, who: tuple[str, str]) -> int:
    r = httpx.get(f"{base_url}/api/auth/me", headers={"Authorization": f"Bearer {token(base_url, who)}"}, timeout=10)
    r.raise_for_status()
    return int(r.json()["user"]["id"])


def test_sites_that_may_use_only_turn_send_and_see_the_floor_with_the_credentials_the_app_hands_over(
        turn_server: LiveServer, relay_only_browser: Browser, coturn_on_host: Coturn) -> None:
    base = turn_server.base_url
    s = fresh_session(base, label="turn")
    pages: dict[str, Any] = {}
    for name, who in (("hanoi", BRIDGE_POINT), ("member", MEMBER)):
        context = relay_only_browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN",
                                                 timezone_id="Asia/Ho_Chi_Minh")
        context.add_init_script(RELAY_ONLY)
        pages[name] = page = _page_in(context, base, who, f"/meetings/{s.meeting_id}/bridge")
        expect(page.get_by_test_id("bridge-status")).to_have_attribute("data-status", "connected", timeout=30_000)
    hanoi, member = pages["hanoi"], pages["member"]
    expect(hanoi.get_by_test_id("bridge-stats")).not_to_have_attribute("data-frames-sent", "0", timeout=30_000)

    # What the app handed the browser: the TURN server with this person's own time-limited credential.
    hanoi_id = _user_id(base, BRIDGE_POINT)
    configs = hanoi.evaluate("window.__iceConfigs")
    assert configs, "the app made no peer connection"
    for config in configs:
        [server] = config["iceServers"]
        assert server["urls"] == coturn_on_host.url
        assert re.fullmatch(rf"\d+:{hanoi_id}", server["username"]) and server["credential"]

    # The floor goes to Hà Nội: the member sees it, through coturn both ways.
    hanoi_token = token(base, BRIDGE_POINT)
    assert _call(base, hanoi_token, "speaker.request", {"meeting_id": s.meeting_id})["ok"]
    waiting = [t for t in s.chair("meeting.sync")["state"]["speakers"]["turns"] if t["status"] == "waiting"]
    s.chair("speaker.give", {"turn_id": waiting[0]["id"]})
    member.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=bridge-stats]');"
        " return s && Number(s.dataset.floorFrames) > 30; }", timeout=30_000)
    log = coturn_on_host.logged()
    for user_id in (hanoi_id, _user_id(base, MEMBER)):
        assert re.search(rf"username=<\d+:{user_id}>", log), f"no allocation of user {user_id} in coturn's log"
    for page in pages.values():
        page.context.close()


def _page_in(context: Any, base_url: str, who: tuple[str, str], route: str) -> Any:
    """tests/e2e/test_bridge.py's `_page`, in a context prepared by the caller."""
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{base_url}/")
    page.get_by_test_id("login-username").fill(who[0])
    page.get_by_test_id("login-password").fill(who[1])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("logout")).to_be_visible()
    page.goto(f"{base_url}/#{route}")
    return page
