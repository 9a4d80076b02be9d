"""A device's name for people, read from its browser's user agent: the model (or the system) and the
browser, e.g. "iPad · Safari 17", "Samsung SM-X710 · Chrome 120", "Windows · Edge 120". Pure: no I/O."""

from __future__ import annotations

import re

# Checked in this order: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chromium", r"(?:HeadlessChrome|Chromium)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
)

# Android puts the model before "Build/" or ")": "Android 14; SM-X710 Build/UP1A" or "Android 10; K)".
_ANDROID_MODEL = re.compile(r"Android [\d.]+; (?:[a-z]{2}[-_][A-Za-z]{2}; )?([^;)]+?)(?: Build/[^;)]*)?[;)]")
_SAMSUNG = re.compile(r"^(?:SAMSUNG )?(SM-\w+)$", re.IGNORECASE)

MAX_NAME = 120


def _model(ua: str) -> str:
    if "iPad" in ua:
        return "iPad"
    if "iPhone" in ua:
        return "iPhone"
    if "Android" in ua:
        found = _ANDROID_MODEL.search(ua)
        model = found.group(1).strip() if found else ""
        if model and model != "K":  # "K": Chrome's reduced user agent hides the model
            samsung = _SAMSUNG.match(model)
            return f"Samsung {samsung.group(1)}" if samsung else model
        return "Android"
    if "Macintosh" in ua or "Mac OS X" in ua:
        return "Mac"
    if "Windows" in ua:
        return "Windows"
    if "CrOS" in ua:
        return "Chromebook"
    if "Linux" in ua:
        return "Linux"
    return ""


def _browser(ua: str) -> str:
    for name, pattern in _BROWSERS:
        found = re.search(pattern, ua)
        if found:
            return f"{name} {found.group(1)}"
    return ""


def device_name(user_agent: str) -> str:
    """Model (or system) and browser, or "Unknown device" when the user agent says neither."""
    ua = user_agent[:500]
    parts = [p for p in (_model(ua), _browser(ua)) if p]
    return " · ".join(parts)[:MAX_NAME] if parts else "Unknown device"
