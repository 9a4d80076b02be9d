"""The meeting book: cover, a table of contents whose page numbers are right even when it runs over
several pages, bookmarks to every included document, and confidential documents listed without pages."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from pypdf.generic import Destination
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas

from backend.pdf.book import BookCover, BookDocument, BookItem, build_book
from signing.render import FONTS

COVER = BookCover(
    issuer="ỦY BAN NHÂN DÂN\nTỈNH QUẢNG NINH",
    meeting_title="Phiên họp thường kỳ tháng 11 năm 2026",
    when="14 giờ 00, thứ Hai, ngày 23 tháng 11 năm 2026",
    place="Phòng họp số 1, trụ sở Ủy ban nhân dân tỉnh",
    prepared_for="Đồng chí Nguyễn Văn An, Phó Chủ tịch",
)
SECRET_NOTE = "Tài liệu Mật: chỉ xem trên màn hình"


def _pdf(label: str, pages: int) -> bytes:
    """A document whose every page says which document and page it is."""
    if "TestSerif" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TestSerif", str(FONTS / "LiberationSerif-Regular.ttf")))
    buf = io.BytesIO()
    canvas = rl_canvas.Canvas(buf, pagesize=A4)
    for number in range(1, pages + 1):
        canvas.setFont("TestSerif", 12)
        canvas.drawString(72, 760, f"{label} — trang {number}")
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def _items() -> list[BookItem]:
    return [
        BookItem("1", "Dự thảo Nghị quyết về kế hoạch đầu tư công", "Sở Kế hoạch và Đầu tư", [
            BookDocument("Tờ trình số 12/TTr-UBND", _pdf("Tờ trình", 3)),
            BookDocument("Báo cáo thẩm định", None, SECRET_NOTE),
        ]),
        BookItem("2", "Đề án phát triển du lịch Hạ Long", "Sở Du lịch", [
            BookDocument("Đề án chi tiết", _pdf("Đề án", 2)),
        ]),
        BookItem("3", "Công tác cán bộ", "Sở Nội vụ", [BookDocument("Danh sách nhân sự", None, SECRET_NOTE)]),
        BookItem("4", "Các vấn đề khác", "", []),
    ]


def _reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def _outline(reader: PdfReader) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Top-level (title, page, children) triples; pypdf lists children right after their parent."""
    result: list[tuple[str, int, list[tuple[str, int]]]] = []
    for entry in reader.outline:
        if isinstance(entry, list):
            children = []
            for child in entry:
                assert isinstance(child, Destination)
                page = reader.get_destination_page_number(child)
                assert page is not None
                children.append((str(child.title), page))
            result[-1][2].extend(children)
        else:
            page = reader.get_destination_page_number(entry)
            assert page is not None
            result.append((str(entry.title), page, []))
    return result


def _toc_lines(reader: PdfReader, pages: range) -> list[str]:
    return [line.strip() for n in pages
            for line in reader.pages[n].extract_text(extraction_mode="layout").splitlines() if line.strip()]


def test_pages_are_cover_contents_then_included_documents() -> None:
    reader = _reader(build_book(COVER, _items()))
    assert len(reader.pages) == 1 + 1 + 3 + 2
    assert "Tờ trình — trang 1" in reader.pages[2].extract_text()
    assert "Tờ trình — trang 3" in reader.pages[4].extract_text()
    assert "Đề án — trang 1" in reader.pages[5].extract_text()
    assert "Đề án — trang 2" in reader.pages[6].extract_text()


def test_cover_page_says_what_and_for_whom() -> None:
    text = _reader(build_book(COVER, _items())).pages[0].extract_text()
    for expected in ("TÀI LIỆU PHIÊN HỌP", "ỦY BAN NHÂN DÂN", "TỈNH QUẢNG NINH", COVER.meeting_title, COVER.when,
                     COVER.place, f"Chuẩn bị cho: {COVER.prepared_for}"):
        assert expected in text


def test_contents_list_items_documents_page_numbers_and_notes() -> None:
    lines = _toc_lines(_reader(build_book(COVER, _items())), range(1, 2))
    assert lines[0] == "MỤC LỤC"
    assert "Mục 1. Dự thảo Nghị quyết về kế hoạch đầu tư công" in lines
    assert "Trình bày: Sở Kế hoạch và Đầu tư" in lines
    assert re.fullmatch(r"– Tờ trình số 12/TTr-UBND\s+3", next(line for line in lines if "Tờ trình" in line))
    assert re.fullmatch(r"– Đề án chi tiết\s+6", next(line for line in lines if "Đề án chi tiết" in line))
    assert "– Báo cáo thẩm định" in lines  # listed, without a page number
    assert "– Danh sách nhân sự" in lines
    assert lines.count(SECRET_NOTE) == 2
    assert "Mục 4. Các vấn đề khác" in lines


def test_outline_points_at_each_item_and_document() -> None:
    reader = _reader(build_book(COVER, _items()))
    assert _outline(reader) == [
        ("Mục 1. Dự thảo Nghị quyết về kế hoạch đầu tư công", 2, [("Tờ trình số 12/TTr-UBND", 2)]),
        ("Mục 2. Đề án phát triển du lịch Hạ Long", 5, [("Đề án chi tiết", 5)]),
        ("Mục 3. Công tác cán bộ", 1, []),  # nothing included: the contents page that lists it
        ("Mục 4. Các vấn đề khác", 1, []),
    ]
    assert reader.trailer["/Root"]["/PageMode"] == "/UseOutlines"
    assert reader.metadata is not None and reader.metadata.title == COVER.meeting_title


def test_contents_lines_link_to_their_documents() -> None:
    reader = _reader(build_book(COVER, _items()))
    targets = sorted(reader.get_page_number(annot.get_object()["/Dest"][0].get_object())
                     for annot in reader.pages[1]["/Annots"])
    assert targets == [2, 5]


def test_contents_spanning_two_pages_has_the_right_numbers() -> None:
    items = [BookItem(str(i + 1), f"Nội dung thứ {i + 1} của phiên họp", "Văn phòng Ủy ban", [
        BookDocument(f"Văn bản {i + 1}.{j + 1} về quản lý đất đai", _pdf(f"Văn bản {i + 1}.{j + 1}", 1))
        for j in range(10)]) for i in range(6)]
    reader = _reader(build_book(COVER, items))
    toc_pages = len(reader.pages) - 1 - 60
    assert toc_pages >= 2
    numbered = [re.fullmatch(r"– (.+?) về quản lý đất đai\s+(\d+)", line) for line in
                _toc_lines(reader, range(1, 1 + toc_pages))]
    found = {m.group(1): int(m.group(2)) for m in numbered if m}
    assert len(found) == 60
    assert found["Văn bản 1.1"] == toc_pages + 2
    for label, page in found.items():
        assert f"{label} — trang 1" in reader.pages[page - 1].extract_text()
    outline = _outline(reader)
    assert [children[0][1] for _, _, children in outline] == [found[f"Văn bản {i}.1"] - 1 for i in range(1, 7)]


def test_unreadable_document_is_a_value_error() -> None:
    items = [BookItem("1", "Hỏng", "", [BookDocument("Tệp hỏng", b"%PDF-1.4 garbage")])]
    with pytest.raises(ValueError, match="Tệp hỏng"):
        build_book(COVER, items)
