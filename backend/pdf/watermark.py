"""Per-copy watermarks, so that a leaked meeting document can be traced back to the copy it came from.

Every page gets a visible mark (reader's name, time, copy number) as a footer line and as a large faint
diagonal, plus the opaque copy token written as invisible text (render mode 3) in the page content itself,
so that cropping the visible mark away or stripping the metadata leaves the token in place. The token is
also put in the document info dictionary, which is the first thing `find_tokens` reads.

The mark is built once with reportlab (embedded Liberation Serif, so Vietnamese diacritics render and
extract) and shared by all pages as a Form XObject; each page only gets a small extra content stream and
a copy of its resources. The original content streams are left as they are (still compressed), which
keeps a 300-page document well under a second.

A copy is also rebuilt without anything active or reaching outside the document, whatever the stored file
holds (files stored before the upload check refused them included): document scripts, attached files, XFA,
open and additional actions other than going to a page, and every action of links, fields and bookmarks
other than going to a page (GoTo) or a viewer command (Named). Attachment and multimedia annotations go.

Runs inside the PDF sandbox (backend/pdf/sandbox.py, job `copy`), never in the web worker."""

from __future__ import annotations

import io
import math
import re
import time
import zlib
from collections.abc import Iterator

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    PdfObject,
    StreamObject,
)
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as rl_canvas

from backend.pdf.fonts import FAMILY, register_fonts

FONT = FAMILY
TOKEN_PREFIX = "ECAB-COPY:"
INFO_KEY = "/ECabinetCopy"

_TOKEN_RE = re.compile(r"[A-Z2-7]{16,40}")
_TOKEN_IN_BYTES = re.compile(rb"ECAB-COPY:([A-Z2-7]{16,40})")
_HEX_STRING = re.compile(rb"<([0-9A-Fa-f\s]{40,400})>")
_MARK_SIZE = 10.0
"""Font size the shared mark is drawn at; each placement scales it."""
_FOOTER_SIZE = 7.5
_FOOTER_MARGIN = 12.0
_FOOTER_ALPHA = 0.55
_DIAGONAL_ALPHA = 0.15
_MARK_GREY = 0.45
_SCAN_BUDGET = 20.0
"""Seconds `find_tokens` spends walking the page tree before it settles for the raw byte scan."""
_MAX_FORM_DEPTH = 4

Matrix = tuple[float, float, float, float, float, float]
"""PDF affine matrix [a b c d e f]: x' = a·x + c·y + e, y' = b·x + d·y + f."""


# --- stamping -------------------------------------------------------------------------------------


def stamp(data: bytes, *, visible: str, copy_token: str) -> bytes:
    """Return a copy of the PDF `data` carrying `visible` on every page and `copy_token` hidden in it."""
    if not isinstance(copy_token, str) or not _TOKEN_RE.fullmatch(copy_token):
        raise ValueError("copy_token must be 16-40 characters of A-Z and 2-7")
    visible = " ".join(visible.split())
    reader = _open(data)
    writer = PdfWriter(clone_from=reader)
    strip_active_content(writer)

    form_ref, text_width, text_height = _mark_form(writer, visible)
    footer_gs = writer._add_object(_ext_gstate(_FOOTER_ALPHA))
    diagonal_gs = writer._add_object(_ext_gstate(_DIAGONAL_ALPHA))
    font_ref = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    }))
    opener = writer._add_object(_stream(b"q\n"))
    token_bytes = (TOKEN_PREFIX + copy_token).encode("ascii")

    resources_cache: dict[int, tuple[IndirectObject, tuple[str, str, str, str]]] = {}
    marks_cache: dict[tuple[object, ...], IndirectObject] = {}
    for page in writer.pages:
        raw_resources = _inherited(page, "/Resources")
        cache_key = raw_resources.idnum if isinstance(raw_resources, IndirectObject) else None
        cached = resources_cache.get(cache_key) if cache_key is not None else None
        if cached is None:
            resources, names = _resources_with_mark(raw_resources, form_ref, footer_gs, diagonal_gs, font_ref)
            cached = (writer._add_object(resources), names)
            if cache_key is not None:
                resources_cache[cache_key] = cached
        resources_ref, names = cached
        page[NameObject("/Resources")] = resources_ref

        box = _page_box(page)
        rotation = _rotation(page)
        mark_key = (box, rotation, names)
        mark_ref = marks_cache.get(mark_key)
        if mark_ref is None:
            content = _mark_content(box, rotation, names, text_width, text_height, token_bytes)
            mark_ref = marks_cache[mark_key] = writer._add_object(_stream(content, compress=True))
        page[NameObject("/Contents")] = ArrayObject([opener, *_content_refs(writer, page), mark_ref])

    writer.add_metadata({INFO_KEY: copy_token})
    _drop_unreachable(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_KEPT_ACTIONS = frozenset({"/GoTo", "/Named"})
"""A click that moves within the document or asks the viewer for its next page, zoom, etc."""
_DROPPED_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})
_MAX_NODES = 200_000
"""Form fields and bookmarks visited at most (each once) when their actions are taken out."""


def strip_active_content(writer: PdfWriter) -> None:
    """Take out of `writer`'s document everything that runs, opens or sends something by itself or on a click,
    except moving within the document (see the module's docstring)."""
    root = writer._root_object
    opening = root.get("/OpenAction")
    if opening is not None and not isinstance(opening, ArrayObject) and not _plain_goto(opening):
        del root["/OpenAction"]
    _drop(root, "/AA")
    names = root.get("/Names")
    if isinstance(names, DictionaryObject):
        _drop(names, "/JavaScript")
        _drop(names, "/EmbeddedFiles")
    form = root.get("/AcroForm")
    if isinstance(form, DictionaryObject):
        _drop(form, "/XFA")
        _strip_tree(form.get("/Fields"), "/Kids")
    outlines = root.get("/Outlines")
    if isinstance(outlines, DictionaryObject):
        _strip_tree(outlines.get("/First"), "/First", sibling="/Next")
    for page in writer.pages:
        _drop(page, "/AA")
        annots = page.get("/Annots")
        if not isinstance(annots, ArrayObject):
            continue
        kept = ArrayObject()
        for ref in annots:
            annot = ref.get_object()
            if not isinstance(annot, DictionaryObject) or annot.get("/Subtype") in _DROPPED_ANNOTATIONS:
                continue
            _strip_actions(annot)
            kept.append(ref)
        page[NameObject("/Annots")] = kept


def _drop_unreachable(writer: PdfWriter) -> None:
    """Leave out of the written file every object nothing reachable refers to any more: what was taken out
    (scripts, attached files) and whatever the original carried unreferenced."""
    objects = writer._objects
    reached = [False] * len(objects)
    stack: list[object] = [writer._root_object, writer._info_obj]
    for start in (writer._root_object, writer._info_obj):
        ref = getattr(start, "indirect_reference", None)
        if isinstance(ref, IndirectObject) and 0 < ref.idnum <= len(objects):
            reached[ref.idnum - 1] = True
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            index = node.idnum - 1
            if node.pdf is writer and 0 <= index < len(objects) and not reached[index]:
                reached[index] = True
                stack.append(objects[index])
        elif isinstance(node, DictionaryObject):
            stack.extend(node.values())
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    for index, keep in enumerate(reached):
        if not keep:
            objects[index] = None


def _plain_goto(action: PdfObject) -> bool:
    return isinstance(action, DictionaryObject) and action.get("/S") == "/GoTo" and "/Next" not in action


def _drop(node: DictionaryObject, key: str) -> None:
    if key in node:
        del node[key]


def _strip_actions(node: DictionaryObject) -> None:
    _drop(node, "/AA")
    action = node.get("/A")
    if action is not None and not (isinstance(action, DictionaryObject) and action.get("/S") in _KEPT_ACTIONS
                                   and "/Next" not in action):
        del node["/A"]


def _strip_tree(start: PdfObject | None, child: str, *, sibling: str = "") -> None:
    """Field trees (/Kids arrays) and outlines (/First, /Next links), walked with a stack, each node once."""
    stack: list[PdfObject] = [start] if start is not None else []
    seen: set[int] = set()
    while stack and len(seen) < _MAX_NODES:
        item = stack.pop()
        node = item.get_object()
        if isinstance(node, ArrayObject):
            stack.extend(node)
            continue
        if not isinstance(node, DictionaryObject) or id(node) in seen:
            continue
        seen.add(id(node))
        _strip_actions(node)
        for key in (child, sibling):
            if key and node.get(key) is not None:
                stack.append(node[key])


def _open(data: bytes) -> PdfReader:
    """Read `data`, turning pypdf's many failure types into one ValueError for the caller."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("the PDF is encrypted")
        _ = len(reader.pages)
    except ValueError:
        raise
    except Exception as exc:  # pypdf raises a wide range of errors on damaged input
        raise ValueError(f"not a readable PDF: {exc}") from exc
    return reader


def _mark_form(writer: PdfWriter, visible: str) -> tuple[IndirectObject, float, float]:
    """Draw the visible text once with reportlab and turn that page into a shared Form XObject."""
    register_fonts()
    text_width = pdfmetrics.stringWidth(visible, FONT, _MARK_SIZE) or 1.0
    pad = _MARK_SIZE * 0.25
    width, height = text_width + 2 * pad, _MARK_SIZE * 1.4
    buf = io.BytesIO()
    canvas = rl_canvas.Canvas(buf, pagesize=(width, height))
    canvas.setFillGray(_MARK_GREY)
    canvas.setFont(FONT, _MARK_SIZE)
    canvas.drawString(pad, _MARK_SIZE * 0.38, visible)
    canvas.showPage()
    canvas.save()
    page = PdfReader(io.BytesIO(buf.getvalue())).pages[0]
    contents = page.get_contents()
    form = DecodedStreamObject()
    form.set_data(contents.get_data() if contents is not None else b"")
    form.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(width), FloatObject(height)]),
        NameObject("/Resources"): page["/Resources"].clone(writer),
    })
    return writer._add_object(form.flate_encode()), width, height


def _ext_gstate(alpha: float) -> DictionaryObject:
    return DictionaryObject({
        NameObject("/Type"): NameObject("/ExtGState"),
        NameObject("/ca"): FloatObject(alpha),
        NameObject("/CA"): FloatObject(alpha),
    })


def _stream(content: bytes, *, compress: bool = False) -> StreamObject:
    stream = DecodedStreamObject()
    stream.set_data(content)
    return stream.flate_encode() if compress else stream


def _inherited(page: DictionaryObject, key: str) -> PdfObject | None:
    """An inheritable page attribute as stored (not resolved), looked up through the page tree."""
    node: DictionaryObject | None = page
    for _ in range(64):  # a malformed tree may loop
        if node is None:
            return None
        if key in node:
            value: PdfObject = node.raw_get(key)
            return value
        parent = node.get("/Parent")
        resolved = parent.get_object() if parent is not None else None
        node = resolved if isinstance(resolved, DictionaryObject) else None
    return None


def _page_box(page: DictionaryObject) -> tuple[float, float, float, float]:
    """The visible area: CropBox, else MediaBox (inherited if needed), normalised to x0 < x1, y0 < y1."""
    for key in ("/CropBox", "/MediaBox"):
        raw = _inherited(page, key)
        if raw is None:
            continue
        array = raw.get_object()
        if not isinstance(array, ArrayObject):
            continue
        values = [float(v) for v in array]
        if len(values) == 4 and values[0] != values[2] and values[1] != values[3]:
            x0, y0, x1, y1 = values
            return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    return 0.0, 0.0, 612.0, 792.0


def _rotation(page: DictionaryObject) -> int:
    raw = _inherited(page, "/Rotate")
    try:
        angle = int(raw.get_object()) if raw is not None else 0  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return (angle // 90 * 90) % 360


def _fresh_name(existing: DictionaryObject, base: str) -> str:
    """A resource name not yet used on the page (a stamped copy can be stamped again)."""
    name, n = base, 1
    while name in existing:
        name, n = f"{base}{n}", n + 1
    return name


def _resources_with_mark(raw: PdfObject | None, form: IndirectObject, footer_gs: IndirectObject,
                         diagonal_gs: IndirectObject, font: IndirectObject
                         ) -> tuple[DictionaryObject, tuple[str, str, str, str]]:
    """A copy of the page's resources plus our names, so pages sharing the original are not touched."""
    base = raw.get_object() if raw is not None else None
    resources = DictionaryObject()
    if isinstance(base, DictionaryObject):
        for key, value in base.items():
            resources[NameObject(key)] = value

    def category(key: str) -> DictionaryObject:
        existing = resources.get(key)
        existing = existing.get_object() if existing is not None else None
        copy = DictionaryObject()
        if isinstance(existing, DictionaryObject):
            for name, value in existing.items():
                copy[NameObject(name)] = value
        resources[NameObject(key)] = copy
        return copy

    xobjects, states, fonts = category("/XObject"), category("/ExtGState"), category("/Font")
    mark_name = _fresh_name(xobjects, "/ECabMark")
    xobjects[NameObject(mark_name)] = form
    footer_name = _fresh_name(states, "/ECabGSf")
    states[NameObject(footer_name)] = footer_gs
    diagonal_name = _fresh_name(states, "/ECabGSd")
    states[NameObject(diagonal_name)] = diagonal_gs
    font_name = _fresh_name(fonts, "/ECabH")
    fonts[NameObject(font_name)] = font
    return resources, (mark_name, footer_name, diagonal_name, font_name)


def _content_refs(writer: PdfWriter, page: DictionaryObject) -> list[PdfObject]:
    """The page's content streams as references, without decoding or re-encoding any of them."""
    raw = page.raw_get("/Contents") if "/Contents" in page else None
    if raw is None:
        return []
    resolved = raw.get_object()
    if isinstance(resolved, ArrayObject):
        refs: list[PdfObject] = []
        for item in resolved:
            refs.append(item if isinstance(item, IndirectObject) else writer._add_object(item))
        return refs
    if isinstance(raw, IndirectObject):
        return [raw]
    if isinstance(resolved, StreamObject):
        return [writer._add_object(resolved)]
    return []


def _compose(outer: Matrix, inner: Matrix) -> Matrix:
    """outer ∘ inner: apply `inner` first."""
    a1, b1, c1, d1, e1, f1 = outer
    a2, b2, c2, d2, e2, f2 = inner
    return (a1 * a2 + c1 * b2, b1 * a2 + d1 * b2, a1 * c2 + c1 * d2, b1 * c2 + d1 * d2,
            a1 * e2 + c1 * f2 + e1, b1 * e2 + d1 * f2 + f1)


def display_matrix(box: tuple[float, float, float, float], rotation: int) -> tuple[Matrix, float, float]:
    """Map upright viewer coordinates (origin bottom-left of the page as shown) to user space.

    Viewers turn the page clockwise by /Rotate, so the mark is counter-rotated to read upright.
    Returns the matrix and the width and height of the page as shown."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    if rotation == 90:
        return (0.0, 1.0, -1.0, 0.0, x1, y0), height, width
    if rotation == 180:
        return (-1.0, 0.0, 0.0, -1.0, x1, y1), width, height
    if rotation == 270:
        return (0.0, -1.0, 1.0, 0.0, x0, y1), height, width
    return (1.0, 0.0, 0.0, 1.0, x0, y0), width, height


def _num(value: float) -> bytes:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("-0", "") else "0").encode("ascii")


def _cm(matrix: Matrix) -> bytes:
    return b" ".join(_num(v) for v in matrix) + b" cm"


def _mark_content(box: tuple[float, float, float, float], rotation: int, names: tuple[str, str, str, str],
                  text_width: float, text_height: float, token: bytes) -> bytes:
    """Closing `Q` for the page's own content, then the footer, the diagonal and the hidden tokens."""
    mark, footer_gs, diagonal_gs, font = (n.encode("ascii") for n in names)
    to_user, width, height = display_matrix(box, rotation)

    footer_scale = min(_FOOTER_SIZE / _MARK_SIZE, max(width - 2 * _FOOTER_MARGIN, 1.0) / text_width)
    footer = (footer_scale, 0.0, 0.0, footer_scale, (width - text_width * footer_scale) / 2,
              min(_FOOTER_MARGIN * 0.5, height * 0.02) + 2.0)

    angle = math.atan2(height, width)
    diagonal_length = math.hypot(width, height)
    scale = min(0.7 * diagonal_length / text_width, 0.12 * min(width, height) / text_height)
    cos, sin = math.cos(angle), math.sin(angle)
    diagonal = _compose((cos * scale, sin * scale, -sin * scale, cos * scale, width / 2, height / 2),
                        (1.0, 0.0, 0.0, 1.0, -text_width / 2, -text_height / 2))

    x0, y0, x1, y1 = box
    inset = 2.0
    spots = ((x0 + inset, y0 + inset), (x1 - 60.0, y0 + inset), (x0 + inset, y1 - inset - 1),
             (x1 - 60.0, y1 - inset - 1), ((x0 + x1) / 2, (y0 + y1) / 2))
    lines = [
        b"Q",
        b"q " + _cm(_compose(to_user, footer)) + b" /" + footer_gs[1:] + b" gs /" + mark[1:] + b" Do Q",
        b"q " + _cm(_compose(to_user, diagonal)) + b" /" + diagonal_gs[1:] + b" gs /" + mark[1:] + b" Do Q",
        b"q BT 3 Tr /" + font[1:] + b" 1 Tf",
    ]
    for x, y in spots:
        lines.append(b"1 0 0 1 " + _num(x) + b" " + _num(y) + b" Tm (" + token + b") Tj")
    lines.append(b"ET Q")
    return b"\n".join(lines) + b"\n"


# --- tracing --------------------------------------------------------------------------------------


def find_tokens(data: bytes) -> list[str]:
    """Every distinct copy token in a (leaked) PDF: info dictionary first, then page content, then raw bytes.

    Never raises on bad input: damaged or non-PDF bytes simply yield fewer (or no) tokens."""
    found: dict[str, None] = {}
    deadline = time.monotonic() + _SCAN_BUDGET
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        for token in _info_tokens(reader):
            found.setdefault(token, None)
        for token in _content_tokens(reader, deadline):
            found.setdefault(token, None)
    except Exception:  # damaged input: fall through to the raw scan
        pass
    for match in _TOKEN_IN_BYTES.finditer(data):
        found.setdefault(match.group(1).decode("ascii"), None)
    return list(found)


def _info_tokens(reader: PdfReader) -> Iterator[str]:
    try:
        info = reader.metadata
        value = info.get(INFO_KEY) if info is not None else None
    except Exception:
        return
    if value is not None and _TOKEN_RE.fullmatch(str(value)):
        yield str(value)


def _content_tokens(reader: PdfReader, deadline: float) -> Iterator[str]:
    """Tokens in each page's content streams and in the forms it draws (n-up tools wrap pages in forms)."""
    seen: set[int] = set()
    for page in reader.pages:
        if time.monotonic() > deadline:
            return
        try:
            yield from _tokens_in_content(page.get("/Contents"), page.get("/Resources"), seen, 0)
        except Exception:
            continue


def _tokens_in_content(contents: PdfObject | None, resources: PdfObject | None, seen: set[int],
                       depth: int) -> Iterator[str]:
    if contents is not None:
        contents = contents.get_object()
        streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
        for stream in streams:
            stream = stream.get_object() if stream is not None else None
            if isinstance(stream, StreamObject):
                yield from _tokens_in_bytes(_decoded(stream))
    if depth >= _MAX_FORM_DEPTH or resources is None:
        return
    resources = resources.get_object()
    xobjects = resources.get("/XObject") if isinstance(resources, DictionaryObject) else None
    if not isinstance(xobjects, DictionaryObject):
        return
    for ref in xobjects.values():
        if isinstance(ref, IndirectObject):
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
        form = ref.get_object()
        if isinstance(form, StreamObject) and form.get("/Subtype") == "/Form":
            yield from _tokens_in_content(form, form.get("/Resources"), seen, depth + 1)


def _decoded(stream: StreamObject) -> bytes:
    try:
        return stream.get_data()
    except Exception:
        raw = getattr(stream, "_data", b"")
        try:
            return zlib.decompressobj().decompress(raw, 64 << 20)
        except Exception:
            return raw if isinstance(raw, bytes) else b""


def _tokens_in_bytes(content: bytes) -> Iterator[str]:
    """Tokens in literal strings, and in hex strings for tools that rewrite text that way."""
    for match in _TOKEN_IN_BYTES.finditer(content):
        yield match.group(1).decode("ascii")
    if b"<" not in content:
        return
    for match in _HEX_STRING.finditer(content):
        digits = re.sub(rb"\s", b"", match.group(1))
        try:
            text = bytes.fromhex(digits.decode("ascii") + ("0" if len(digits) % 2 else ""))
        except ValueError:
            continue
        for inner in _TOKEN_IN_BYTES.finditer(text):
            yield inner.group(1).decode("ascii")

