"""The jobs the PDF sandbox (backend.pdf.sandbox) may run, each a thin adapter from JSON arguments and byte
blobs to one of the PDF tools; nothing else can be run in a child. Every job runs INSIDE the child: these
functions parse untrusted bytes without bounds of their own.

| job      | blobs in                   | args                                   | answer                      |
|----------|----------------------------|----------------------------------------|-----------------------------|
| probe    | [pdf]                      | limits (ProbeLimits fields)            | pages and title             |
| copy     | [pdf]                      | visible, token, annotations (optional) | [the reader's copy]         |
| book     | [pdf of each included doc] | cover, items, visible, token           | [the reader's book]         |
| trace    | [pdf]                      | -                                      | the copy tokens found       |
| verify   | [pdf, PEM root...]         | max_objects                            | VerificationReport.to_dict  |
| image    | [png]                      | max_side                               | size; [the image, re-drawn] |
| exchange_parse | [edXML, PEM anchor...] | known_agencies (or null), max_bytes | package JSON; [attachments] |

The sandbox is the house's one child-process runner, so the edXML reader (exchange/) runs here too though
it is no PDF tool.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

Job = Callable[[dict[str, Any], list[bytes]], tuple[Any, list[bytes]]]

# Every /Size and /Index entry of the trailers and cross-reference streams: those dictionaries are never
# compressed (a reader needs them to find anything), so a scan of the raw bytes sees them all.
_DECLARED_SIZE = re.compile(rb"/Size\s+(\d{1,20})")
_DECLARED_INDEX = re.compile(rb"/Index\s*\[([\d\s]{1,2000})\]")


def probe(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    from backend.pdf.probe import ProbeLimits, probe_in_process

    result = probe_in_process(blobs[0], ProbeLimits(**args["limits"]))
    return {"pages": [dataclasses.asdict(p) for p in result.pages], "title": result.title}, []


def copy(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    """A reader's copy: their annotations added (if any), then stamped (and stripped of active content)."""
    from backend.pdf import export, watermark

    data = blobs[0]
    marks = args.get("annotations")
    if marks:
        data = export.add_annotations(data, [annotation_from_json(a) for a in marks])
    return None, [watermark.stamp(data, visible=str(args["visible"]), copy_token=str(args["token"]))]


def book(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    """A reader's meeting book, stamped; each document's `blob` is an index into `blobs` or None."""
    from backend.pdf import book as books
    from backend.pdf import watermark

    items = [books.BookItem(number=str(item["number"]), title=str(item["title"]), presenter=str(item["presenter"]),
                            documents=[books.BookDocument(title=str(d["title"]), note=str(d["note"]),
                                                          data=None if d["blob"] is None else blobs[int(d["blob"])])
                                       for d in item["documents"]])
             for item in args["items"]]
    assembled = books.build_book(books.BookCover(**args["cover"]), items)
    return None, [watermark.stamp(assembled, visible=str(args["visible"]), copy_token=str(args["token"]))]


def trace(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    from backend.pdf import watermark

    return watermark.find_tokens(blobs[0]), []


def verify(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    """pyHanko's verification; absurd declared object counts are refused before pyHanko walks them."""
    import asyncio

    import signing
    from backend.pdf.probe import PdfRejected

    pdf, roots = blobs[0], blobs[1:]
    if declared_objects(pdf) > int(args.get("max_objects", 1_000_000)):
        raise PdfRejected("too_many_objects")
    report = asyncio.run(signing.verify_pdf(pdf, trust_roots=roots))
    return report.to_dict(), []


def declared_objects(pdf: bytes) -> int:
    """The largest object count any trailer or cross-reference stream of `pdf` declares."""
    largest = 0
    for match in _DECLARED_SIZE.finditer(pdf):
        largest = max(largest, int(match.group(1)))
    for match in _DECLARED_INDEX.finditer(pdf):
        numbers = [int(n) for n in match.group(1).split()]
        for start, count in zip(numbers[::2], numbers[1::2], strict=False):
            largest = max(largest, start + count)
    return largest


class ImageRefused(ValueError):
    """An image that is not one we keep (its code is stable for clients)."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


def image(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    """A signature or seal image: a PNG of at most `max_side` pixels a side, re-drawn as a fresh RGBA PNG
    (no metadata, no text chunks, nothing but the pixels survives)."""
    import io

    from PIL import Image

    max_side = int(args.get("max_side", 2000))
    Image.MAX_IMAGE_PIXELS = max_side * max_side
    try:
        with Image.open(io.BytesIO(blobs[0]), formats=["PNG"]) as img:
            if max(img.size) > max_side:
                raise ImageRefused("png_too_large", f"the image is larger than {max_side} pixels a side")
            pixels = img.convert("RGBA")
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused("png_too_large", f"the image is larger than {max_side} pixels a side") from exc
    except Exception as exc:
        raise ImageRefused("not_a_png", "the file is not a PNG image") from exc
    out = io.BytesIO()
    pixels.save(out, "PNG", optimize=True)
    return {"width": pixels.width, "height": pixels.height}, [out.getvalue()]


def exchange_parse(args: dict[str, Any], blobs: list[bytes]) -> tuple[Any, list[bytes]]:
    """An edXML package read with every check of exchange.parse_package; its ExchangeError (code, message)
    becomes the job's refusal. The attachments' bytes travel as blobs, in manifest order."""
    from cryptography import x509

    import exchange

    anchors = [cert for pem in blobs[1:] for cert in x509.load_pem_x509_certificates(pem)]
    known = args.get("known_agencies")
    try:
        package = exchange.parse_package(blobs[0], trust_anchors=anchors,
                                         known_agencies=None if known is None else frozenset(str(k) for k in known),
                                         max_bytes=int(args["max_bytes"]))
    except exchange.ExchangeError as exc:
        return {"kind": "refused", "code": exc.code, "message": exc.message[:1000],
                "claimed": _claimed(blobs[0], int(args["max_bytes"]))}, []
    kind = "status" if isinstance(package, exchange.StatusPackage) else "document"
    value = _jsonable(package)
    if isinstance(package, exchange.DocumentPackage):
        value["document_id"] = package.document_id
    return {"kind": kind, "package": value}, [a.data for a in getattr(package, "attachments", ())]


def _claimed(data: bytes, max_bytes: int) -> dict[str, str] | None:
    """What a refused package SAYS it is (From, DocumentId, Code, PromulgationDate), unverified, so the
    refusal can answer its claimed sender with a status package; None when even the safe parse fails."""
    from exchange import fields, safe_xml

    try:
        root = safe_xml.parse(data, max_bytes=max_bytes)
    except ValueError:
        return None
    message = root.find("/".join(f"{{{fields.NAMESPACE}}}{step}"
                                 for step in (fields.ENVELOPE, "edXMLHeader", "MessageHeader")))
    if message is None:
        return None

    def text(path: str) -> str:
        found = message.find("/".join(f"{{{fields.NAMESPACE}}}{step}" for step in path.split("/")))
        return (found.text or "").strip()[:300] if found is not None else ""

    return {"sender": text("From/OrganId"), "document_id": text("DocumentId"),
            "code": f"{text('Code/CodeNumber')}/{text('Code/CodeNotation')}",
            "promulgation_date": text("PromulgationInfo/PromulgationDate")}


def _jsonable(value: Any) -> Any:
    """A parsed package's dataclasses as JSON (dates ISO 8601, enums by value, bytes left out: they are
    the blobs)."""
    from datetime import date
    from enum import Enum

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not isinstance(getattr(value, f.name), bytes)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


JOBS: dict[str, Job] = {"probe": probe, "copy": copy, "book": book, "trace": trace, "verify": verify, "image": image,
                        "exchange_parse": exchange_parse}

_PRELOAD: dict[str, tuple[str, ...]] = {
    "probe": ("pypdf", "pypdf.filters", "encodings.charmap", "encodings.utf_16_be"),
    "copy": ("pypdf", "pypdf.filters", "encodings.charmap", "encodings.utf_16_be", "backend.pdf.export",
             "backend.pdf.watermark"),
    "book": ("pypdf", "pypdf.filters", "encodings.charmap", "encodings.utf_16_be", "backend.pdf.book",
             "backend.pdf.watermark"),
    "trace": ("pypdf", "pypdf.filters", "encodings.charmap", "encodings.utf_16_be", "backend.pdf.watermark"),
    "verify": ("asyncio", "signing", "backend.pdf.probe", "pyhanko.sign.validation",
               "pyhanko.pdf_utils.reader"),
    "image": ("PIL.Image", "PIL.PngImagePlugin", "zlib"),
    "exchange_parse": ("exchange", "exchange.safe_xml", "exchange.signature", "cryptography.x509", "lxml.etree",
                       "signxml", "encodings.idna"),
}


def preload(job: str) -> None:
    """Import what `job` needs (and load the fonts the marks are drawn in) before the rlimits apply."""
    import importlib

    for name in _PRELOAD.get(job, ()):
        importlib.import_module(name)
    if job == "exchange_parse":
        from exchange import safe_xml

        safe_xml.schema()  # compiled once, before the limits
    if job in ("copy", "book"):
        from backend.pdf.fonts import register_fonts

        register_fonts()


# --- annotations across the process boundary ----------------------------------------------------------


def annotation_to_json(a: Any) -> dict[str, Any]:
    """An export.ExportAnnotation as JSON (tuples as lists, the time as ISO 8601)."""
    out: dict[str, Any] = dataclasses.asdict(a)
    out["created"] = a.created.isoformat()
    return out


def annotation_from_json(raw: dict[str, Any]) -> Any:
    from backend.pdf.export import ExportAnnotation

    return ExportAnnotation(
        page=int(raw["page"]), kind=str(raw["kind"]), rects=[tuple(r) for r in raw.get("rects", [])],
        paths=[[tuple(p) for p in path] for path in raw.get("paths", [])],
        at=tuple(raw["at"]) if raw.get("at") is not None else None, text=str(raw.get("text", "")),
        color=str(raw.get("color", "#ffeb3b")), width=float(raw.get("width", 1.5)), author=str(raw.get("author", "")),
        created=datetime.fromisoformat(str(raw["created"])))
