"""Per-copy watermarks: the visible mark shows on every page, the hidden token survives cropping,
metadata stripping and re-saving, and tracing never chokes on garbage."""

from __future__ import annotations

import io
import math
import re
import time

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject, RectangleObject, StreamObject
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas

from backend.pdf.watermark import display_matrix, find_tokens, stamp
from signing.render import FONTS

VISIBLE = "Nguyễn Văn An · 23/11/2026 14:05 · bản số K7Q2"
TOKEN = "K7Q2ABCDEFGH2345MNOP"
OTHER = "ZZZZ777766665555QQQQ"
BODY = "Tờ trình về việc phê duyệt kế hoạch đầu tư công trung hạn giai đoạn 2026-2030"


def _pdf(pages: int = 3, *, rotate: int = 0, size: tuple[float, float] = A4) -> bytes:
    """A small reportlab PDF with Vietnamese text on every page."""
    if "TestSerif" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TestSerif", str(FONTS / "LiberationSerif-Regular.ttf")))
    buf = io.BytesIO()
    canvas = rl_canvas.Canvas(buf, pagesize=size)
    for number in range(1, pages + 1):
        canvas.setPageRotation(rotate)
        canvas.setFont("TestSerif", 12)
        canvas.drawString(60, size[1] - 80, f"{BODY} — trang {number}")
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def _write(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pages_keep_their_count_and_size() -> None:
    source = _pdf(4, size=landscape(A4))
    stamped = _reader(stamp(source, visible=VISIBLE, copy_token=TOKEN))
    original = _reader(source)
    assert len(stamped.pages) == len(original.pages) == 4
    for before, after in zip(original.pages, stamped.pages, strict=True):
        assert list(after.mediabox) == list(before.mediabox)
        assert list(after.cropbox) == list(before.cropbox)


def test_visible_mark_and_original_text_extract_on_every_page() -> None:
    stamped = _reader(stamp(_pdf(3), visible=VISIBLE, copy_token=TOKEN))
    for number, page in enumerate(stamped.pages, start=1):
        text = page.extract_text()
        assert VISIBLE in text
        assert f"{BODY} — trang {number}" in text


def test_original_content_streams_are_kept_byte_for_byte() -> None:
    source = _reader(_pdf(2))
    stamped = _reader(stamp(_pdf(2), visible=VISIBLE, copy_token=TOKEN))
    for before, after in zip(source.pages, stamped.pages, strict=True):
        original = before["/Contents"]
        assert isinstance(original, StreamObject)
        contents = after["/Contents"]
        assert isinstance(contents, ArrayObject) and len(contents) == 3
        kept = contents[1].get_object()
        assert kept._data == original._data and kept.get("/Filter") == original.get("/Filter")


def test_find_tokens_returns_the_stamped_token() -> None:
    assert find_tokens(stamp(_pdf(), visible=VISIBLE, copy_token=TOKEN)) == [TOKEN]
    assert _reader(stamp(_pdf(), visible=VISIBLE, copy_token=TOKEN)).metadata["/ECabinetCopy"] == TOKEN


def test_token_survives_cropping_metadata_removal_and_resaving() -> None:
    stamped = _reader(stamp(_pdf(3), visible=VISIBLE, copy_token=TOKEN))
    writer = PdfWriter()
    for page in stamped.pages:
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        top_half = RectangleObject([x0, (y0 + y1) / 2, x1, y1])
        page.mediabox = top_half
        page.cropbox = top_half
        writer.add_page(page)
    writer.compress_identical_objects()
    leaked = _write(writer)

    reader = _reader(leaked)
    assert reader.metadata is None or "/ECabinetCopy" not in reader.metadata
    assert float(reader.pages[0].mediabox.bottom) > 400  # the footer line is outside what is left
    assert find_tokens(leaked) == [TOKEN]


def test_token_survives_recompressed_content() -> None:
    stamped = _reader(stamp(_pdf(2), visible=VISIBLE, copy_token=TOKEN))
    writer = PdfWriter()
    for page in stamped.pages:
        added = writer.add_page(page)
        added.compress_content_streams()
    leaked = _write(writer)
    assert b"ECAB-COPY" not in leaked
    assert find_tokens(leaked) == [TOKEN]


def _viewer_point(box: tuple[float, float, float, float], rotation: int, x: float, y: float) -> tuple[float, float]:
    """Where a viewer shows user-space (x, y): the box turned clockwise by /Rotate, bottom-left at 0,0."""
    theta = math.radians(rotation)

    def turn(px: float, py: float) -> tuple[float, float]:
        return px * math.cos(theta) + py * math.sin(theta), -px * math.sin(theta) + py * math.cos(theta)

    corners = [turn(cx, cy) for cx in (box[0], box[2]) for cy in (box[1], box[3])]
    rx, ry = turn(x, y)
    return rx - min(c[0] for c in corners), ry - min(c[1] for c in corners)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_display_matrix_undoes_the_page_rotation(rotation: int) -> None:
    box = (10.0, 20.0, 610.0, 820.0)
    matrix, width, height = display_matrix(box, rotation)
    a, b, c, d, e, f = matrix
    for u, v in ((0.0, 0.0), (width, 0.0), (0.0, height), (width / 3, height / 5)):
        x, y = a * u + c * v + e, b * u + d * v + f
        assert _viewer_point(box, rotation, x, y) == pytest.approx((u, v))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_pages_get_an_upright_footer(rotation: int) -> None:
    stamped = _reader(stamp(_pdf(2, rotate=rotation), visible=VISIBLE, copy_token=TOKEN))
    assert find_tokens(stamp(_pdf(1, rotate=rotation), visible=VISIBLE, copy_token=TOKEN)) == [TOKEN]
    for page in stamped.pages:
        assert page.rotation == rotation
        assert VISIBLE in page.extract_text()
        box = tuple(float(v) for v in page.cropbox)
        mark = page["/Contents"][-1].get_object().get_data().decode("ascii")
        footer = re.search(r"^q ([-\d. ]+) cm /\w+ gs /\w+ Do Q$", mark, re.M)
        assert footer is not None
        a, b, c, d, e, f = (float(v) for v in footer.group(1).split())
        start = _viewer_point(box, rotation, e, f)  # (0, 0) of the mark
        end = _viewer_point(box, rotation, a * 100 + e, b * 100 + f)  # further along its baseline
        shown_width = box[3] - box[1] if rotation in (90, 270) else box[2] - box[0]
        assert 0 < start[1] < 20 and 0 < start[0] < shown_width  # near the bottom edge as shown
        assert end[0] > start[0] and end[1] == pytest.approx(start[1])  # reads left to right, level


def test_inherited_resources_are_resolved_and_not_shared_back() -> None:
    writer = PdfWriter(clone_from=_reader(_pdf(2)))
    pages_root = writer._root_object["/Pages"].get_object()
    pages_root[NameObject("/Resources")] = writer.pages[0]["/Resources"]
    pages_root[NameObject("/MediaBox")] = writer.pages[0]["/MediaBox"]
    for page in writer.pages:
        del page["/Resources"]
        del page["/MediaBox"]
    source = _write(writer)
    assert "/Resources" in _reader(source).trailer["/Root"]["/Pages"]

    stamped = _reader(stamp(source, visible=VISIBLE, copy_token=TOKEN))
    for number, page in enumerate(stamped.pages, start=1):
        text = page.extract_text()
        assert VISIBLE in text and f"trang {number}" in text
    inherited = stamped.trailer["/Root"]["/Pages"].get("/Resources")
    assert inherited is None or "/ECabMark" not in inherited.get_object().get("/XObject", {})


def test_stamping_a_stamped_copy_keeps_both_tokens() -> None:
    twice = stamp(stamp(_pdf(2), visible=VISIBLE, copy_token=TOKEN), visible="Trần Thị Bình", copy_token=OTHER)
    assert sorted(find_tokens(twice)) == sorted([TOKEN, OTHER])
    assert find_tokens(twice)[0] == OTHER  # the info dictionary holds the latest
    text = _reader(twice).pages[1].extract_text()
    assert VISIBLE in text and "Trần Thị Bình" in text and f"{BODY} — trang 2" in text


@pytest.mark.parametrize("token", ["", "SHORT2345", "abcdefghijklmnop", "ABCDEFGHIJKLMNO1", "A" * 41,
                                   "ABCDEFGH IJKLMNOP", "ABCDEFGHIJKLMNOPÂ"])
def test_bad_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        stamp(_pdf(1), visible=VISIBLE, copy_token=token)


def test_non_pdf_input_to_stamp_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        stamp(b"not a pdf", visible=VISIBLE, copy_token=TOKEN)


@pytest.mark.parametrize("garbage", [b"", b"not a pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", b"\x00" * 4096])
def test_find_tokens_on_garbage_is_empty(garbage: bytes) -> None:
    assert find_tokens(garbage) == []


def test_find_tokens_on_a_truncated_copy_uses_the_raw_bytes() -> None:
    stamped = stamp(_pdf(2), visible=VISIBLE, copy_token=TOKEN)
    assert find_tokens(stamped[: len(stamped) // 2] + b"ECAB-COPY:" + TOKEN.encode()) == [TOKEN]


def test_find_tokens_is_quick_on_large_junk() -> None:
    junk = b"%PDF-1.7\n" + (b"0123456789 obj stream endstream " * 400_000)
    started = time.monotonic()
    assert find_tokens(junk) == []
    assert time.monotonic() - started < 10
