"""A reader's "annotated copy": their highlights, ink and notes written into the PDF as real annotations.

Real annotation objects (not drawings flattened into the page) keep the copy useful in any reader: notes
can be opened and edited, highlights listed. Each highlight and ink mark also carries its own appearance
stream, because several readers (and printers) do not synthesise one from /QuadPoints or /InkList."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    create_string_object,
)

KINDS = ("highlight", "ink", "note")
NOTE_SIZE = 20.0
"""Side of a sticky note's icon, in points; its top-left corner sits at the anchor."""
HIGHLIGHT_OPACITY = 0.4
_COLOUR = re.compile(r"#([0-9a-fA-F]{6})")

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class ExportAnnotation:
    """One annotation, in PDF user space of its page (origin bottom-left of the unrotated page box)."""

    page: int
    """1-based page number."""
    kind: str
    """"highlight", "ink" or "note"."""
    rects: list[Rect] = field(default_factory=list)
    """Highlight: x0, y0, x1, y1 of each highlighted line."""
    paths: list[list[tuple[float, float]]] = field(default_factory=list)
    """Ink: the strokes, each a list of points."""
    at: tuple[float, float] | None = None
    """Note: the anchor point (top-left of the icon)."""
    text: str = ""
    """The note's text, or a highlight's/ink's comment."""
    color: str = "#ffeb3b"
    """"#rrggbb"."""
    width: float = 1.5
    """Ink line width in points."""
    author: str = ""
    """Shown as the annotation's author (/T)."""
    created: datetime = field(default_factory=datetime.now)
    """Creation time; also written as the modification time."""


def add_annotations(data: bytes, annotations: list[ExportAnnotation]) -> bytes:
    """Return a copy of the PDF `data` with `annotations` added to its pages; existing ones are kept."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("encrypted")
        page_count = len(reader.pages)
    except Exception as exc:  # pypdf raises many error types on damaged input
        raise ValueError(f"not a readable PDF: {exc}") from exc
    for annotation in annotations:
        _check(annotation, page_count)

    writer = PdfWriter(clone_from=reader)
    added: dict[int, list[IndirectObject]] = {}
    for annotation in annotations:
        page = writer.pages[annotation.page - 1]
        page_ref = page.indirect_reference
        assert page_ref is not None
        build = {"highlight": _highlight, "ink": _ink, "note": _note}[annotation.kind]
        dictionary = build(writer, annotation)
        dictionary.update(_common(annotation, page_ref))
        added.setdefault(annotation.page - 1, []).append(writer._add_object(dictionary))

    for index, refs in added.items():
        page = writer.pages[index]
        existing = page.get("/Annots")
        existing = existing.get_object() if existing is not None else None
        kept: list[PdfObject] = list(existing) if isinstance(existing, ArrayObject) else []
        page[NameObject("/Annots")] = ArrayObject([*kept, *refs])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _check(annotation: ExportAnnotation, page_count: int) -> None:
    """Refuse bad input before anything is written."""
    if not 1 <= annotation.page <= page_count:
        raise ValueError(f"page {annotation.page} is outside 1..{page_count}")
    if annotation.kind not in KINDS:
        raise ValueError(f"unknown annotation kind {annotation.kind!r}")
    if not _COLOUR.fullmatch(annotation.color):
        raise ValueError(f"colour must be #rrggbb, not {annotation.color!r}")
    if annotation.kind == "highlight" and not annotation.rects:
        raise ValueError("a highlight needs at least one rectangle")
    if annotation.kind == "ink" and not any(annotation.paths):
        raise ValueError("an ink annotation needs at least one point")
    if annotation.kind == "note" and annotation.at is None:
        raise ValueError("a note needs its anchor point")


def _rgb(colour: str) -> tuple[float, float, float]:
    value = int(colour[1:], 16)
    return (value >> 16 & 0xFF) / 255, (value >> 8 & 0xFF) / 255, (value & 0xFF) / 255


def _floats(values: list[float] | tuple[float, ...]) -> ArrayObject:
    return ArrayObject([FloatObject(round(v, 4)) for v in values])


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def pdf_date(moment: datetime) -> str:
    """PDF date string, D:YYYYMMDDHHmmSS+HH'mm' (no offset for a naive datetime)."""
    text = moment.strftime("D:%Y%m%d%H%M%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return text + "Z"
    sign = "+" if minutes > 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"


def _common(annotation: ExportAnnotation, page: IndirectObject) -> DictionaryObject:
    date = create_string_object(pdf_date(annotation.created))
    return DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"),
        NameObject("/P"): page,
        NameObject("/F"): NumberObject(4),  # print
        NameObject("/C"): _floats(_rgb(annotation.color)),
        NameObject("/Contents"): create_string_object(annotation.text),
        NameObject("/T"): create_string_object(annotation.author),
        NameObject("/M"): date,
        NameObject("/CreationDate"): date,
    })


def _appearance(writer: PdfWriter, bbox: Rect, content: str, *, multiply: bool) -> DictionaryObject:
    """/AP with a normal appearance drawn in page coordinates (BBox = the annotation's Rect)."""
    stream = DecodedStreamObject()
    stream.set_data(content.encode("ascii"))
    state = DictionaryObject({NameObject("/Type"): NameObject("/ExtGState")})
    if multiply:
        state[NameObject("/BM")] = NameObject("/Multiply")
        state[NameObject("/ca")] = FloatObject(HIGHLIGHT_OPACITY)
    stream.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): _floats(bbox),
        NameObject("/Resources"): DictionaryObject({
            NameObject("/ExtGState"): DictionaryObject({NameObject("/GS0"): state}),
        }),
    })
    return DictionaryObject({NameObject("/N"): writer._add_object(stream.flate_encode())})


def _union(rects: list[Rect], pad: float) -> Rect:
    x0 = min(min(r[0], r[2]) for r in rects) - pad
    y0 = min(min(r[1], r[3]) for r in rects) - pad
    x1 = max(max(r[0], r[2]) for r in rects) + pad
    y1 = max(max(r[1], r[3]) for r in rects) + pad
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def _highlight(writer: PdfWriter, annotation: ExportAnnotation) -> DictionaryObject:
    quads: list[float] = []
    fills = ["/GS0 gs", " ".join(_num(v) for v in _rgb(annotation.color)) + " rg"]
    for x0, y0, x1, y1 in annotation.rects:
        left, right, bottom, top = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        quads += [left, top, right, top, left, bottom, right, bottom]  # the order Acrobat writes
        fills.append(f"{_num(left)} {_num(bottom)} {_num(right - left)} {_num(top - bottom)} re f")
    rect = _union(annotation.rects, 0.0)
    return DictionaryObject({
        NameObject("/Subtype"): NameObject("/Highlight"),
        NameObject("/Rect"): _floats(rect),
        NameObject("/QuadPoints"): _floats(quads),
        NameObject("/CA"): FloatObject(1),
        NameObject("/AP"): _appearance(writer, rect, "\n".join(fills), multiply=True),
    })


def _ink(writer: PdfWriter, annotation: ExportAnnotation) -> DictionaryObject:
    strokes = [path for path in annotation.paths if path]
    points = [(x, y, x, y) for path in strokes for x, y in path]
    rect = _union(points, annotation.width / 2 + 1)
    drawing = ["/GS0 gs", " ".join(_num(v) for v in _rgb(annotation.color)) + " RG",
               f"{_num(annotation.width)} w 1 J 1 j"]
    for path in strokes:
        (fx, fy), rest = path[0], path[1:] or path[:1]
        drawing.append(f"{_num(fx)} {_num(fy)} m " + " ".join(f"{_num(x)} {_num(y)} l" for x, y in rest) + " S")
    return DictionaryObject({
        NameObject("/Subtype"): NameObject("/Ink"),
        NameObject("/Rect"): _floats(rect),
        NameObject("/InkList"): ArrayObject([_floats([c for point in path for c in point]) for path in strokes]),
        NameObject("/BS"): DictionaryObject({
            NameObject("/Type"): NameObject("/Border"),
            NameObject("/W"): FloatObject(annotation.width),
            NameObject("/S"): NameObject("/S"),
        }),
        NameObject("/AP"): _appearance(writer, rect, "\n".join(drawing), multiply=False),
    })


def _note(writer: PdfWriter, annotation: ExportAnnotation) -> DictionaryObject:
    assert annotation.at is not None
    x, y = annotation.at
    return DictionaryObject({
        NameObject("/Subtype"): NameObject("/Text"),
        NameObject("/Rect"): _floats((x, y - NOTE_SIZE, x + NOTE_SIZE, y)),
        NameObject("/Name"): NameObject("/Comment"),
        NameObject("/Open"): BooleanObject(False),
    })
