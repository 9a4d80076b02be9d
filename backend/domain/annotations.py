"""What an annotation on a document page may be. Geometry is in the page's PDF user space (points,
origin at the bottom left of its box, before the page's rotation), which is what pdf.js gives for a
point whatever the zoom or rotation on screen: the same numbers draw the mark at any zoom, in any
orientation, and become real PDF annotations in an exported copy. Pure rules, no I/O."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backend.domain.rules import Refusal, RuleError


class Kind(StrEnum):
    HIGHLIGHT = "highlight"
    """Marked text: one rectangle per line."""
    INK = "ink"
    """Freehand strokes."""
    NOTE = "note"
    """A sticky note at a point, with its text."""


class Visibility(StrEnum):
    PRIVATE = "private"
    """Mine only (on all my devices)."""
    SHARED = "shared"
    """Every reader of the document."""
    PRESENTER = "presenter"
    """Drawn by the presenter, live on the screen of everyone following."""


MAX_RECTS = 200
MAX_STROKES = 50
MAX_POINTS = 2_000
MAX_TEXT = 5_000
TOLERANCE = 2.0  # points: a stroke may run a hair past the edge of the page
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class PageBox:
    x0: float
    """Left edge of the page's box (user space)."""
    y0: float
    """Bottom edge."""
    x1: float
    """Right edge."""
    y1: float
    """Top edge."""

    def holds(self, x: float, y: float) -> bool:
        return (self.x0 - TOLERANCE <= x <= self.x1 + TOLERANCE
                and self.y0 - TOLERANCE <= y <= self.y1 + TOLERANCE)


def _invalid(reason: str) -> RuleError:
    return RuleError(Refusal.INVALID, reason)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid("coordinates must be finite numbers")
    return float(value)


def _point(value: Any, box: PageBox) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _invalid("a point is [x, y]")
    x, y = _number(value[0]), _number(value[1])
    if not box.holds(x, y):
        raise _invalid(f"the point ({x:.1f}, {y:.1f}) is off the page")
    return [round(x, 2), round(y, 2)]


def check_geometry(kind: Kind, geometry: Any, box: PageBox) -> dict[str, Any]:
    """The geometry, checked against the page and rounded to 1/100 pt; raises RuleError when it is not
    the shape `kind` needs or lies off the page."""
    if not isinstance(geometry, dict):
        raise _invalid("geometry must be an object")
    if kind is Kind.HIGHLIGHT:
        rects = geometry.get("rects")
        if not isinstance(rects, list) or not 1 <= len(rects) <= MAX_RECTS or set(geometry) != {"rects"}:
            raise _invalid(f"a highlight is {{\"rects\": [[x0, y0, x1, y1], ...]}} with 1 to {MAX_RECTS} rectangles")
        out = []
        for rect in rects:
            if not isinstance(rect, list | tuple) or len(rect) != 4:
                raise _invalid("a rectangle is [x0, y0, x1, y1]")
            lo, hi = _point(rect[:2], box), _point(rect[2:], box)
            if lo[0] >= hi[0] or lo[1] >= hi[1]:
                raise _invalid("a rectangle needs x0 < x1 and y0 < y1")
            out.append(lo + hi)
        return {"rects": out}
    if kind is Kind.INK:
        paths = geometry.get("paths")
        if not isinstance(paths, list) or not 1 <= len(paths) <= MAX_STROKES or set(geometry) != {"paths"}:
            raise _invalid(f"ink is {{\"paths\": [[[x, y], ...], ...]}} with 1 to {MAX_STROKES} strokes")
        strokes = []
        for path in paths:
            if not isinstance(path, list) or not 1 <= len(path) <= MAX_POINTS:
                raise _invalid(f"a stroke has 1 to {MAX_POINTS} points")
            strokes.append([_point(p, box) for p in path])
        return {"paths": strokes}
    if set(geometry) != {"at"}:
        raise _invalid("a note is {\"at\": [x, y]}")
    return {"at": _point(geometry["at"], box)}


def check_text(kind: Kind, text: str) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise _invalid(f"the text is longer than {MAX_TEXT} characters")
    if kind is Kind.NOTE and not text:
        raise _invalid("a note needs its text")
    return text


def check_style(color: str, width: float) -> tuple[str, float]:
    if not COLOR.match(color):
        raise _invalid("the colour is #rrggbb")
    if not 0.25 <= _number(width) <= 40:
        raise _invalid("the line width is 0.25 to 40 points")
    return color.lower(), float(width)


def check_page(page: int, page_count: int) -> None:
    if not 1 <= page <= page_count:
        raise _invalid(f"page {page} does not exist: the document has {page_count} pages")
