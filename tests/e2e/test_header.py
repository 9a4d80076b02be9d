"""The header on a tablet in portrait and on a phone (issue 14, finding 9): every control of the header is
whole, inside the screen and overlaps no other (the EN button was hidden under the logout button at
800 px), and the phone still says who is signed in (its name was hidden)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

MEMBER = ("pho.thutuong1", "ThanhVien@2026")
ADMIN = ("admin", "QuanTri@2026")  # the most buttons in the header: devices, accounts
VIEWPORTS = {
    "portrait": {"viewport": {"width": 800, "height": 1280}, "has_touch": True},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "tablet": {"viewport": {"width": 1024, "height": 768}, "has_touch": True},
}
CONTROLS = ["nav-account", "nav-users", "nav-inbox", "nav-verify", "lang-vi", "lang-en", "logout"]


def _boxes(page: Page) -> dict[str, dict[str, float]]:
    boxes: dict[str, dict[str, float]] = {}
    for testid in CONTROLS:
        locator = page.get_by_test_id(testid)
        if locator.count():
            box = locator.bounding_box()
            assert box is not None and box["width"] > 0, f"{testid} is not shown"
            boxes[testid] = box
    return boxes


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] + 1 < b["x"] + b["width"] and b["x"] + 1 < a["x"] + a["width"]
            and a["y"] + 1 < b["y"] + b["height"] and b["y"] + 1 < a["y"] + a["height"])


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("who", [MEMBER, ADMIN], ids=["member", "admin"])
def test_every_header_control_is_whole_and_the_signed_in_name_is_shown(
        devices: Any, viewport: str, who: tuple[str, str]) -> None:
    device = devices(**VIEWPORTS[viewport])
    device.open()
    page = device.login(*who)
    expect(page.get_by_test_id("logout")).to_be_visible()
    width = page.evaluate("() => document.documentElement.clientWidth")
    boxes = _boxes(page)
    assert {"lang-vi", "lang-en", "logout", "nav-verify"} <= set(boxes)
    for name, box in boxes.items():
        assert box["x"] >= -1 and box["x"] + box["width"] <= width + 1, f"{name} is cut off at {viewport}: {box}"
        assert box["height"] >= 40, f"{name} is too small to touch: {box}"
    names = sorted(boxes)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not _overlap(boxes[first], boxes[second]), f"{first} and {second} overlap at {viewport}"
    # Whoever is signed in is said on every screen, the phone included.
    expect(page.get_by_test_id("current-user")).to_be_visible()
    full_name = page.evaluate("() => document.querySelector('[data-testid=current-user] .user-full-name').textContent")
    assert full_name.strip(), "the signed-in person's name is empty"
    if who == ADMIN and viewport != "tablet":
        device.screenshot(f"header-{viewport}.png")
    # The EN button is really reachable: a tap switches the language.
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("lang-en")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("lang-vi").click()
    expect(page.get_by_test_id("lang-vi")).to_have_attribute("aria-pressed", "true")
