"""The meeting book: one PDF holding a whole meeting's documents for one reader, to read offline or print.

Cover page, table of contents with page numbers, then every document the reader may take away, with one
bookmark per agenda item and one per document. Documents this reader may only view on screen (e.g. "Mật")
are listed in the contents with a note and contribute no pages. Cover and contents are drawn with reportlab
in Liberation Serif (Vietnamese); pypdf appends the documents' pages as they are, without re-rendering."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as rl_canvas

from backend.pdf.fonts import FAMILY, register_fonts

FONT, BOLD, ITALIC = FAMILY, f"{FAMILY}-Bold", f"{FAMILY}-Italic"
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70.0, 56.0, 64.0, 60.0
NUMBER_COLUMN = 36.0
"""Width kept free at the right of each contents line for its page number."""
DOC_INDENT = 22.0
TOC_SIZE, ITEM_SIZE = 12.0, 12.5
LEADING = 1.3


# --- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookDocument:
    """One document of an agenda item."""

    title: str
    """Title as listed in the contents and the bookmarks."""
    data: bytes | None
    """The PDF, or None when it is not part of this reader's book (it is still listed, with `note`)."""
    note: str = ""
    """Shown under the title in the contents, e.g. "Tài liệu Mật: chỉ xem trên màn hình"."""


@dataclass(frozen=True)
class BookItem:
    """One agenda item."""

    number: str
    """Agenda number as printed, e.g. "1" or "2a"."""
    title: str
    """Title of the item."""
    presenter: str
    """Who presents it; empty to leave the line out."""
    documents: list[BookDocument] = field(default_factory=list)
    """Its documents, in reading order."""


@dataclass(frozen=True)
class BookCover:
    """What the cover page says; every field is already formatted in Vietnamese."""

    issuer: str
    """Issuing body, e.g. "ỦY BAN NHÂN DÂN TỈNH QUẢNG NINH" (may hold a line break)."""
    meeting_title: str
    """e.g. "Phiên họp thường kỳ tháng 11 năm 2026"; also the PDF's title."""
    when: str
    """e.g. "14 giờ 00, thứ Hai, ngày 23 tháng 11 năm 2026"."""
    place: str
    """e.g. "Phòng họp số 1, trụ sở Ủy ban nhân dân tỉnh"."""
    prepared_for: str
    """The reader, e.g. "Đồng chí Nguyễn Văn An, Phó Chủ tịch"."""


# --- building ------------------------------------------------------------------------------------


@dataclass
class _Placed:
    """Where a contents line landed, for bookmarks and links."""

    toc_page: int
    """0-based page of the front matter."""
    rect: tuple[float, float, float, float]


def build_book(cover: BookCover, items: list[BookItem]) -> bytes:
    """The whole meeting as one PDF: cover, contents (with page numbers), then the included documents."""
    readers: dict[tuple[int, int], PdfReader] = {}
    for i, item in enumerate(items):
        for j, document in enumerate(item.documents):
            if document.data is not None:
                readers[i, j] = _open(document)

    # The contents' own length shifts every page number: lay it out until its page count is stable.
    front_pages = 2
    for _ in range(5):
        starts = _start_pages(readers, first=front_pages + 1)
        front, rendered, placed = _front_matter(cover, items, starts)
        if rendered == front_pages:
            break
        front_pages = rendered

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(front)), import_outline=False)
    for key in sorted(readers):
        writer.append(readers[key], import_outline=False)

    for i, item in enumerate(items):
        first = next((starts[i, j] for j in range(len(item.documents)) if (i, j) in starts), None)
        target = first - 1 if first is not None else placed[i, -1].toc_page
        parent = writer.add_outline_item(title=f"Mục {item.number}. {item.title}", page_number=target)
        for j, document in enumerate(item.documents):
            if (i, j) in starts:
                writer.add_outline_item(title=document.title, page_number=starts[i, j] - 1, parent=parent)
                spot = placed[i, j]
                writer.add_annotation(spot.toc_page, Link(rect=spot.rect, target_page_index=starts[i, j] - 1))

    writer.add_metadata({"/Title": cover.meeting_title, "/Subject": cover.issuer.replace("\n", " "),
                         "/Creator": "e-Cabinet"})
    writer.page_mode = "/UseOutlines"
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _open(document: BookDocument) -> PdfReader:
    assert document.data is not None
    try:
        reader = PdfReader(io.BytesIO(document.data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("encrypted")
        _ = len(reader.pages)
    except Exception as exc:  # pypdf raises many error types on damaged input
        raise ValueError(f"document {document.title!r} is not a readable PDF: {exc}") from exc
    return reader


def _start_pages(readers: dict[tuple[int, int], PdfReader], first: int) -> dict[tuple[int, int], int]:
    """1-based book page where each included document starts."""
    starts: dict[tuple[int, int], int] = {}
    page = first
    for key in sorted(readers):
        starts[key] = page
        page += len(readers[key].pages)
    return starts


class _Pen:
    """A cursor over reportlab pages that starts a new page when the next line does not fit."""

    def __init__(self, canvas: rl_canvas.Canvas) -> None:
        self.canvas = canvas
        self.y = PAGE_HEIGHT - MARGIN_TOP

    @property
    def page(self) -> int:
        """0-based index of the page being drawn."""
        return int(self.canvas.getPageNumber()) - 1

    def new_page(self) -> None:
        self.canvas.showPage()
        self.y = PAGE_HEIGHT - MARGIN_TOP

    def need(self, height: float) -> None:
        if self.y - height < MARGIN_BOTTOM:
            self.new_page()

    def lines(self, text: str, font: str, size: float, x: float, width: float, *, centre: bool = False,
              keep: float = 0.0, grey: float = 0.0) -> float:
        """Write `text` wrapped to `width`; returns the width of its last line."""
        last = 0.0
        wrapped = [line for part in text.split("\n") for line in (simpleSplit(part, font, size, width) or [""])]
        for n, line in enumerate(wrapped):
            self.need(size * LEADING + (keep if n == len(wrapped) - 1 else 0.0))
            self.y -= size * LEADING
            self.canvas.setFont(font, size)
            self.canvas.setFillGray(grey)
            if centre:
                self.canvas.drawCentredString(x + width / 2, self.y, line)
            else:
                self.canvas.drawString(x, self.y, line)
            last = pdfmetrics.stringWidth(line, font, size)
        return last


def _front_matter(cover: BookCover, items: list[BookItem], starts: dict[tuple[int, int], int]
                  ) -> tuple[bytes, int, dict[tuple[int, int], _Placed]]:
    """Cover and contents as a PDF, its page count, and where each contents line is."""
    register_fonts()
    buf = io.BytesIO()
    canvas = rl_canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    canvas.setTitle(cover.meeting_title)
    pen = _Pen(canvas)
    width = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    _cover(pen, cover, width)

    pen.new_page()
    pen.lines("MỤC LỤC", BOLD, 16, MARGIN_LEFT, width, centre=True)
    pen.y -= 14
    placed: dict[tuple[int, int], _Placed] = {}
    text_width = width - DOC_INDENT - NUMBER_COLUMN
    for i, item in enumerate(items):
        pen.y -= 8
        # keep the heading with at least its first document line
        pen.need(ITEM_SIZE * LEADING * 2 + TOC_SIZE * LEADING)
        placed[i, -1] = _Placed(pen.page, (0.0, 0.0, 0.0, 0.0))
        pen.lines(f"Mục {item.number}. {item.title}", BOLD, ITEM_SIZE, MARGIN_LEFT, width - NUMBER_COLUMN)
        if item.presenter:
            pen.lines(f"Trình bày: {item.presenter}", ITALIC, TOC_SIZE - 1, MARGIN_LEFT + DOC_INDENT, text_width)
        for j, document in enumerate(item.documents):
            top_page, top = pen.page, pen.y
            last = pen.lines(f"– {document.title}", FONT, TOC_SIZE, MARGIN_LEFT + DOC_INDENT, text_width)
            if (i, j) in starts:
                _leader_and_number(canvas, MARGIN_LEFT + DOC_INDENT + last, pen.y, str(starts[i, j]))
                if pen.page != top_page:
                    top = PAGE_HEIGHT - MARGIN_TOP
                placed[i, j] = _Placed(pen.page, (MARGIN_LEFT + DOC_INDENT, pen.y - 3,
                                                  PAGE_WIDTH - MARGIN_RIGHT, top))
            if document.note:
                pen.lines(document.note, ITALIC, TOC_SIZE - 1.5, MARGIN_LEFT + DOC_INDENT + 10, text_width - 10,
                          grey=0.35)
            pen.y -= 2
    pages = pen.page + 1
    canvas.showPage()
    canvas.save()
    return buf.getvalue(), pages, placed


def _leader_and_number(canvas: rl_canvas.Canvas, text_end: float, y: float, number: str) -> None:
    """Dotted leader from the end of the title to the right-aligned page number."""
    right = PAGE_WIDTH - MARGIN_RIGHT
    canvas.setFont(FONT, TOC_SIZE)
    canvas.drawRightString(right, y, number)
    start, end = text_end + 6, right - pdfmetrics.stringWidth(number, FONT, TOC_SIZE) - 6
    if end - start > 6:
        canvas.saveState()
        canvas.setLineWidth(1.1)
        canvas.setLineCap(1)
        canvas.setDash([0.01, 4])
        canvas.line(start, y + 1.5, end, y + 1.5)
        canvas.restoreState()


def _cover(pen: _Pen, cover: BookCover, width: float) -> None:
    canvas = pen.canvas
    pen.y = PAGE_HEIGHT - MARGIN_TOP
    pen.lines(cover.issuer, BOLD, 13, MARGIN_LEFT, width, centre=True)
    canvas.setLineWidth(0.8)
    canvas.line(PAGE_WIDTH / 2 - 50, pen.y - 8, PAGE_WIDTH / 2 + 50, pen.y - 8)
    pen.y = PAGE_HEIGHT * 0.64
    pen.lines("TÀI LIỆU PHIÊN HỌP", BOLD, 22, MARGIN_LEFT, width, centre=True)
    pen.y -= 16
    pen.lines(cover.meeting_title, BOLD, 16, MARGIN_LEFT + 20, width - 40, centre=True)
    pen.y -= 24
    pen.lines(f"Thời gian: {cover.when}", FONT, 13, MARGIN_LEFT + 20, width - 40, centre=True)
    pen.y -= 4
    pen.lines(f"Địa điểm: {cover.place}", FONT, 13, MARGIN_LEFT + 20, width - 40, centre=True)
    pen.y = MARGIN_BOTTOM + 90
    pen.lines(f"Chuẩn bị cho: {cover.prepared_for}", ITALIC, 13, MARGIN_LEFT, width, centre=True)
