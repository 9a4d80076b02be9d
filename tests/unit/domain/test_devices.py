"""A device's name from its user agent: model (or system) and browser."""

from __future__ import annotations

import pytest

from backend.domain.devices import device_name

CASES = [
    ("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
     "Mobile/15E148 Safari/604.1", "iPad · Safari 17"),
    ("Mozilla/5.0 (Linux; Android 14; SM-X710 Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.43 Safari/537.36", "Samsung SM-X710 · Chrome 120"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
     "Android · Chrome 124"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36 Edg/120.0.2210.61", "Windows · Edge 120"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
     "Safari/537.36", "Linux · Chromium 131"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0", "Mac · Firefox 121"),
    ("python-httpx/0.27", "Unknown device"),
    ("", "Unknown device"),
]


@pytest.mark.parametrize(("ua", "name"), CASES)
def test_device_name_says_model_and_browser(ua: str, name: str) -> None:
    assert device_name(ua) == name


def test_device_name_is_bounded() -> None:
    assert len(device_name("Android 14; " + "X" * 1000 + ")")) <= 120
