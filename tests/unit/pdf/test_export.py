"""The annotated copy: highlights, ink and notes become real PDF annotations that read back exactly,
with appearance streams, without losing the page's existing annotations."""

from __future__ import annotations

import codecs
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas as rl_canvas

from backend.pdf.export import ExportAnnotation, add_annotations, pdf_date

WHEN = datetime(2026, 11, 23, 14, 5, 9, tzinfo=timezone(timedelta(hours=7)))
NOTE = "Đề nghị làm rõ nguồn vốn; số liệu năm 2025 chưa khớp — xem lại mục 3 “chỉ tiêu”."


def _pdf(pages: int = 2, *, with_link: bool = False) -> bytes:
    buf = io.BytesIO()
    canvas = rl_canvas.Canvas(buf, pagesize=A4)
    for number in range(1, pages + 1):
        canvas.setFont("Helvetica", 12)
        canvas.drawString(72, 700, f"Page {number}")
        canvas.showPage()
    canvas.save()
    if not with_link:
        return buf.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    writer.add_annotation(0, Link(rect=(72, 690, 200, 715), url="https://example.gov.vn"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _annots(data: bytes, page: int) -> list[Any]:
    found = PdfReader(io.BytesIO(data)).pages[page - 1].get("/Annots")
    return [ref.get_object() for ref in found.get_object()] if found is not None else []


HIGHLIGHT = ExportAnnotation(page=1, kind="highlight", rects=[(72.0, 698.0, 300.0, 712.0), (72.0, 684.0, 180.5, 698.0)],
                             text="Cần đối chiếu", color="#ffeb3b", author="Nguyễn Văn An", created=WHEN)
INK = ExportAnnotation(page=2, kind="ink", paths=[[(100.0, 100.0), (150.0, 120.0), (200.0, 110.0)], [(90.0, 90.0)]],
                       color="#e53935", width=2.0, author="Nguyễn Văn An", created=WHEN)
STICKY = ExportAnnotation(page=2, kind="note", at=(400.0, 500.0), text=NOTE, color="#4caf50", author="Trần Thị Bình",
                          created=WHEN)


def test_highlight_is_a_highlight_annotation_with_quads_and_appearance() -> None:
    out = add_annotations(_pdf(), [HIGHLIGHT])
    (annot,) = _annots(out, 1)
    assert annot["/Subtype"] == "/Highlight"
    assert [float(v) for v in annot["/QuadPoints"]] == [72, 712, 300, 712, 72, 698, 300, 698,
                                                        72, 698, 180.5, 698, 72, 684, 180.5, 684]
    assert [float(v) for v in annot["/Rect"]] == [72, 684, 300, 712]
    assert [round(float(v), 3) for v in annot["/C"]] == [1.0, 0.922, 0.231]
    assert annot["/Contents"] == "Cần đối chiếu" and annot["/T"] == "Nguyễn Văn An"
    assert annot["/M"] == annot["/CreationDate"] == "D:20261123140509+07'00'"
    appearance = annot["/AP"]["/N"].get_object()
    assert appearance["/Subtype"] == "/Form"
    assert appearance["/Resources"]["/ExtGState"]["/GS0"]["/BM"] == "/Multiply"
    assert appearance.get_data().count(b"re f") == 2


def test_ink_has_its_strokes_width_and_appearance() -> None:
    out = add_annotations(_pdf(), [INK])
    assert _annots(out, 1) == []
    (annot,) = _annots(out, 2)
    assert annot["/Subtype"] == "/Ink"
    assert [[float(v) for v in stroke] for stroke in annot["/InkList"]] == [
        [100, 100, 150, 120, 200, 110], [90, 90]]
    assert float(annot["/BS"]["/W"]) == 2.0
    x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
    assert x0 < 90 and y0 < 90 and x1 > 200 and y1 > 120
    drawing = annot["/AP"]["/N"].get_object().get_data()
    assert drawing.count(b" S") == 2 and b"2 w" in drawing


def test_note_keeps_vietnamese_text_exactly() -> None:
    out = add_annotations(_pdf(), [STICKY])
    (annot,) = _annots(out, 2)
    assert annot["/Subtype"] == "/Text"
    assert annot["/Contents"] == NOTE and annot["/T"] == "Trần Thị Bình"
    assert annot["/Name"] == "/Comment" and annot["/Open"].value is False
    assert [float(v) for v in annot["/Rect"]] == [400, 480, 420, 500]
    assert annot["/Contents"].original_bytes.startswith(codecs.BOM_UTF16_BE)


def test_several_annotations_and_existing_ones_are_kept() -> None:
    out = add_annotations(_pdf(with_link=True), [HIGHLIGHT, INK, STICKY, HIGHLIGHT])
    assert [a["/Subtype"] for a in _annots(out, 1)] == ["/Link", "/Highlight", "/Highlight"]
    assert [a["/Subtype"] for a in _annots(out, 2)] == ["/Ink", "/Text"]
    page = PdfReader(io.BytesIO(out)).pages[0]
    assert all(a.get_object()["/P"].get_object() == page.get_object() for a in page["/Annots"][1:])


def test_nothing_to_add_returns_an_equivalent_copy() -> None:
    out = add_annotations(_pdf(), [])
    assert len(PdfReader(io.BytesIO(out)).pages) == 2


@pytest.mark.parametrize("page", [0, 3, -1])
def test_page_out_of_range_is_refused(page: int) -> None:
    with pytest.raises(ValueError, match="page"):
        add_annotations(_pdf(), [ExportAnnotation(page=page, kind="note", at=(10, 10), text="x", created=WHEN)])


@pytest.mark.parametrize("bad", [
    ExportAnnotation(page=1, kind="underline", rects=[(1, 1, 2, 2)], created=WHEN),
    ExportAnnotation(page=1, kind="highlight", rects=[], created=WHEN),
    ExportAnnotation(page=1, kind="ink", paths=[[]], created=WHEN),
    ExportAnnotation(page=1, kind="note", at=None, created=WHEN),
    ExportAnnotation(page=1, kind="note", at=(1, 1), color="yellow", created=WHEN),
])
def test_bad_annotations_are_refused(bad: ExportAnnotation) -> None:
    with pytest.raises(ValueError):
        add_annotations(_pdf(), [bad])


def test_pdf_dates() -> None:
    assert pdf_date(datetime(2026, 1, 2, 3, 4, 5)) == "D:20260102030405"
    assert pdf_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "D:20260102030405Z"
    assert pdf_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))) == (
        "D:20260102030405-03'30'")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_highlight_renders(tmp_path: Path) -> None:
    source = tmp_path / "annotated.pdf"
    source.write_bytes(add_annotations(_pdf(1), [HIGHLIGHT]))
    subprocess.run(["pdftoppm", "-r", "20", "-png", "-singlefile", str(source), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page.png").stat().st_size > 0
