"""Validate an uploaded PDF with pypdf in bounded time and memory, before anything stores it.

A hostile file (decompression bomb, page-tree loop, object flood, deep nesting) can make a parser spin or
allocate without bound, so the real work (`probe_in_process`) runs in the PDF sandbox (backend/pdf/sandbox.py:
a killable child process with an address-space and CPU rlimit and a wall-clock deadline) through `probe`:
the worst a file can do is kill its own child, which the caller sees as `PdfRejected("pdf_too_complex")`.

Besides what cannot be parsed within bounds, the check refuses what must not reach a reader's tablet, each
kind with its own code: scripts (JavaScript anywhere, XFA forms), attached files, actions that reach outside
the document (launch, form submission, remote files) or run by themselves (an open or page action other than
going to a page), embedded multimedia, and streams of any kind (page content, forms, images, fonts) that
decode to more than the budget. Links a reader clicks (URI) are accepted: the copies handed to readers are
rebuilt without them (backend/pdf/watermark.py), as without everything refused here.

This module runs inside the child, so its top-level imports are the standard library's light modules.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader
    from pypdf.generic import StreamObject

    from backend.pdf.sandbox import Sandbox

HEADER_WINDOW = 1024
RATIO_THRESHOLD_BYTES = 10_000_000
_CHUNK = 1 << 20
_OBJ_RE = re.compile(rb"\d+\s+\d+\s+obj\b")

MESSAGES: dict[str, str] = {
    "not_a_pdf": "The file is not a PDF document.",
    "encrypted_pdf": "The PDF is encrypted or password-protected; please upload an unprotected copy.",
    "broken_pdf": "The PDF is damaged and cannot be read; please export it again from the original document.",
    "too_many_pages": "The PDF has more pages than the system accepts for one meeting document.",
    "too_many_objects": "The PDF contains more internal objects than the system accepts.",
    "decompression_bomb": "The PDF contains compressed content that expands to an unreasonable size.",
    "active_content": "The PDF contains JavaScript or launch actions, which are not allowed in meeting documents.",
    "xfa_form": "The PDF is an XFA form, which carries scripts; please print it to a plain PDF and upload that.",
    "embedded_file": "The PDF carries attached files, which are not handed to readers; please upload each "
                     "annex as its own document.",
    "external_action": "The PDF contains actions that open other files or send data elsewhere (form "
                       "submission, remote documents), which are not allowed in meeting documents.",
    "automatic_action": "The PDF contains an action that runs by itself when the file or a page is opened "
                        "(other than going to a page), which is not allowed in meeting documents.",
    "rich_media": "The PDF contains embedded multimedia (video, sound, 3D or Flash), which is not allowed.",
    "image_too_large": "The PDF contains an image with more pixels than the system accepts.",
    "pdf_too_complex": "The PDF is too complex to check within the time and memory limits.",
}


class PdfRejected(ValueError):
    """An upload that must not be stored; `code` is stable for clients, `message` is for the uploader."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, "The PDF was rejected.")
        super().__init__(f"{code}: {self.message}")


@dataclass(frozen=True)
class ProbeLimits:
    """Bounds for one probe; the defaults suit 100 MB uploads of real meeting documents."""

    max_pages: int = 5000
    """More pages than any real agenda item carries; beyond it the file is refused as too_many_pages."""
    max_objects: int = 150_000
    """Objects in the xref (or the declared trailer /Size, whichever is larger), checked before any parsing."""
    max_decoded_bytes: int = 1_000_000_000
    """Total decoded size of all streams of the file (each once), and separately of all page content streams
    (a stream shared by N pages counting N times, as text extraction and rendering pay per page)."""
    max_image_pixels: int = 100_000_000
    """Width × height of the largest image accepted (a 600 dpi A3 scan is 70 million): a viewer allocates
    the decoded image whatever its compressed size."""
    max_ratio: float = 1000.0
    """Decoded/encoded ratio above which a content stream is a bomb; only checked past 10 MB decoded."""
    timeout_seconds: float = 60.0
    """Wall-clock deadline for the sandbox process; also the basis of its CPU-time rlimit."""
    memory_bytes: int = 2_000_000_000
    """RLIMIT_AS (address space) of the sandbox process, including the interpreter and the file itself."""


DEFAULT_LIMITS = ProbeLimits()


@dataclass(frozen=True)
class PageInfo:
    """What the rest of the system needs to know about one page, without parsing the PDF again."""

    width: float
    """Width in points of the CropBox (falling back to the MediaBox), before /Rotate is applied."""
    height: float
    """Height in points of the same box, before /Rotate is applied."""
    box: tuple[float, float, float, float]
    """x0, y0, x1, y1 of that box in user space, for overlays (watermarks, signatures) placed on the page."""
    rotation: int
    """/Rotate normalised to 0, 90, 180 or 270."""
    text: str
    """pypdf's extract_text() for search and previews; "" if extraction failed for this page."""


@dataclass(frozen=True)
class ProbeResult:
    """A file that passed every check, with per-page facts gathered on the way."""

    pages: list[PageInfo]
    title: str
    """Document info /Title, or ""."""

    @property
    def page_count(self) -> int:
        return len(self.pages)


def looks_like_pdf(data: bytes) -> bool:
    """Cheap header check (what viewers accept: `%PDF-` within the first 1024 bytes) for early refusals."""
    return b"%PDF-" in data[:HEADER_WINDOW]


# --- the checks (run inside the sandbox) -------------------------------------------------------------


def probe_in_process(data: bytes, limits: ProbeLimits) -> ProbeResult:
    """Run every check in this process; raises PdfRejected. Unbounded by itself: call `probe` for uploads."""
    if not looks_like_pdf(data):
        raise PdfRejected("not_a_pdf")
    with _pypdf_limits(limits):
        try:
            return _probe(data, limits)
        except (PdfRejected, MemoryError, ImportError):
            raise  # ImportError: the environment (or RLIMIT_AS), not the file
        except RecursionError as exc:
            raise PdfRejected("broken_pdf", "The PDF's structure is nested too deeply to be read.") from exc
        except Exception as exc:
            from pypdf.errors import LimitReachedError

            if isinstance(exc, LimitReachedError):
                raise PdfRejected("pdf_too_complex") from exc
            raise PdfRejected("broken_pdf") from exc


def _pypdf_limits(limits: ProbeLimits) -> AbstractContextManager[Any]:
    """Tighten pypdf's own decoding limits (pypdf >= 6 has a Configuration; older versions keep theirs)."""
    import pypdf

    apply = getattr(pypdf, "apply_configuration", None)
    get = getattr(pypdf, "get_configuration", None)
    if apply is None or get is None:
        return nullcontext()
    current = get()
    overwrites: dict[str, int] = {}
    for name in ("zlib_maximum_output_length", "lzw_maximum_output_length", "run_length_maximum_output_length",
                 "array_based_stream_maximum_output_length", "brotli_maximum_output_length",
                 "jbig2_maximum_output_length"):
        value = getattr(current, name, None)
        if isinstance(value, int) and (value == 0 or value > limits.max_decoded_bytes):
            overwrites[name] = limits.max_decoded_bytes
    entries = getattr(current, "page_tree_maximum_entries", None)
    if isinstance(entries, int) and entries < 4 * limits.max_pages:
        overwrites["page_tree_maximum_entries"] = 4 * limits.max_pages
    manager: AbstractContextManager[Any] = apply(**overwrites)
    return manager


def _probe(data: bytes, limits: ProbeLimits) -> ProbeResult:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except (DependencyError, FileNotDecryptedError) as exc:
        raise PdfRejected("encrypted_pdf") from exc
    except LimitReachedError as exc:
        raise PdfRejected("too_many_objects" if "xref" in str(exc).lower() else "broken_pdf") from exc
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise _unreadable(data) from exc
    if reader.is_encrypted or "/Encrypt" in reader.trailer:
        raise PdfRejected("encrypted_pdf")

    if _object_count(reader) > limits.max_objects:
        raise PdfRejected("too_many_objects")

    try:
        root = reader.trailer["/Root"].get_object()
    except Exception as exc:
        raise _unreadable(data) from exc
    if not _is_dict(root):
        raise _unreadable(data)

    pages = _pages(reader, root, limits)
    _refuse_dangerous_content(reader, limits)
    _account_content_streams(pages, limits)
    infos = [_page_info(page) for page in pages]
    return ProbeResult(pages=infos, title=_title(reader))


def _unreadable(data: bytes) -> PdfRejected:
    """No object at all means it was never a PDF (header only, renamed file); otherwise it is damaged."""
    return PdfRejected("broken_pdf") if _OBJ_RE.search(data) else PdfRejected("not_a_pdf")


def _is_dict(obj: object) -> bool:
    from pypdf.generic import DictionaryObject

    return isinstance(obj, DictionaryObject)


def _object_count(reader: PdfReader) -> int:
    """The larger of the xref's entries and the declared /Size: either is what later work is bounded by."""
    in_xref = sum(len(table) for table in reader.xref.values()) + len(reader.xref_objStm)
    declared = reader.trailer.get("/Size", 0)
    try:
        declared_count = int(declared)
    except (TypeError, ValueError):
        declared_count = 0
    return max(in_xref, declared_count)


def _pages(reader: PdfReader, root: Any, limits: ProbeLimits) -> list[PageObject]:
    """The flattened page list; the declared /Count is checked first so a huge tree is never walked."""
    from pypdf.generic import DictionaryObject, NumberObject

    tree = root.get("/Pages")
    tree = tree.get_object() if tree is not None else None
    if isinstance(tree, DictionaryObject):
        declared = tree.get("/Count")
        if isinstance(declared, NumberObject) and int(declared) > limits.max_pages:
            raise PdfRejected("too_many_pages")
    try:
        count = len(reader.pages)
        if count > limits.max_pages:
            raise PdfRejected("too_many_pages")
        pages = [reader.pages[i] for i in range(count)]
    except (MemoryError, PdfRejected):
        raise
    except Exception as exc:
        raise PdfRejected("broken_pdf", "The PDF's page tree is damaged (missing or looping pages).") from exc
    if not pages:
        raise PdfRejected("broken_pdf", "The PDF has no readable pages.")
    return pages


def _refuse_dangerous_content(reader: PdfReader, limits: ProbeLimits) -> None:
    """Walk every indirect object (from the xref and from the trailer): refuse active content and oversized
    streams (every stream, each once: forms, images and fonts as well as page content).

    Only direct children are walked inside each object (references are queued, each object visited once),
    with an explicit stack, so neither loops nor deep nesting can exhaust anything.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

    refs: list[tuple[int, int]] = [(num, gen) for gen, table in reader.xref.items() for num in table]
    refs += [(num, 0) for num in reader.xref_objStm]
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    budget = limits.max_objects + len(refs) + 16
    decoded = 0
    while stack or refs:
        if not stack:
            num, gen = refs.pop()
            if (num, gen) in seen:
                continue
            seen.add((num, gen))
            budget -= 1
            if budget < 0:
                raise PdfRejected("too_many_objects")
            try:
                stack.append(reader.get_object(IndirectObject(num, gen, reader)))
            except RecursionError as exc:
                raise PdfRejected("broken_pdf", "The PDF's structure is nested too deeply to be read.") from exc
            except MemoryError:
                raise
            except Exception:
                continue
            continue
        node = stack.pop()
        if isinstance(node, IndirectObject):
            key = (node.idnum, node.generation)
            if key not in seen:
                refs.append(key)
        elif isinstance(node, DictionaryObject):
            _check_dict(node)
            if isinstance(node, StreamObject):
                _check_image(node, limits)
                decoded += _decoded_size(node, limits, limits.max_decoded_bytes - decoded)
                if decoded > limits.max_decoded_bytes:
                    raise PdfRejected("decompression_bomb")
            stack.extend(node.values())
        elif isinstance(node, ArrayObject):
            stack.extend(node)


_EXTERNAL_ACTIONS = frozenset({"/SubmitForm", "/ImportData", "/GoToR", "/GoToE"})
_MEDIA_ACTIONS = frozenset({"/Movie", "/Sound", "/Rendition", "/RichMediaExecute"})
_MEDIA_ANNOTATIONS = frozenset({"/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})
_TRIGGER_CHAIN = 64
"""Actions followed along an open action's /Next chain (a loop or a longer chain is refused)."""


def _check_dict(node: Any) -> None:
    """One dictionary, whatever its role: an action, an annotation, a catalog, a file specification..."""
    _check_action(node)
    if "/JavaScript" in node:  # the catalog's /Names entry holding document-level scripts
        raise PdfRejected("active_content")
    if "/XFA" in node:
        raise PdfRejected("xfa_form")
    subtype = node.get("/Subtype")
    if ("/EmbeddedFiles" in node or node.get("/Type") == "/EmbeddedFile" or "/EF" in node
            or subtype == "/FileAttachment"):
        raise PdfRejected("embedded_file")
    if subtype in _MEDIA_ANNOTATIONS:
        raise PdfRejected("rich_media")
    if "/OpenAction" in node:
        _check_trigger(node.get("/OpenAction"))
    if "/AA" in node:
        triggers = node.get("/AA")
        if _is_dict(triggers):
            for event in list(triggers.keys()):
                _check_trigger(triggers.get(event))


def _check_action(node: Any) -> None:
    """JavaScript (/S or a bare /JS key) and /Launch: active_content; reaching outside or media: refused."""
    subtype = node.get("/S")
    if subtype == "/JavaScript" or "/JS" in node:
        raise PdfRejected("active_content")
    if subtype == "/Launch":
        raise PdfRejected("active_content", "The PDF contains a launch action, which is not allowed.")
    if subtype in _EXTERNAL_ACTIONS:
        raise PdfRejected("external_action")
    if subtype in _MEDIA_ACTIONS:
        raise PdfRejected("rich_media")


def _check_trigger(action: Any) -> None:
    """An action run without a click (open action, additional actions): only going to a page is allowed,
    along the whole /Next chain; a destination array (an open action's usual form) is a plain GoTo."""
    from pypdf.generic import ArrayObject

    for _ in range(_TRIGGER_CHAIN):
        if action is None or isinstance(action, ArrayObject):
            return
        if not _is_dict(action):
            return  # a name or string destination
        _check_action(action)
        if action.get("/S") != "/GoTo":
            raise PdfRejected("automatic_action")
        following = action.get("/Next")
        if isinstance(following, ArrayObject):
            for item in following:
                _check_trigger(item.get_object())
            return
        action = following
    raise PdfRejected("automatic_action")


def _check_image(stream: Any, limits: ProbeLimits) -> None:
    if stream.get("/Subtype") != "/Image":
        return
    try:
        pixels = int(stream.get("/Width", 0)) * int(stream.get("/Height", 0))
    except (TypeError, ValueError):
        return
    if pixels > limits.max_image_pixels:
        raise PdfRejected("image_too_large")


def _content_streams(page: PageObject) -> Iterator[tuple[Any, StreamObject]]:
    from pypdf.generic import ArrayObject, IndirectObject, StreamObject

    contents = page.get("/Contents")
    items = contents.get_object() if contents is not None else None
    entries = list(items) if isinstance(items, ArrayObject) else [contents]
    for entry in entries:
        if entry is None:
            continue
        stream = entry.get_object()
        if isinstance(stream, StreamObject):
            key = (entry.idnum, entry.generation) if isinstance(entry, IndirectObject) else id(stream)
            yield key, stream


def _account_content_streams(pages: list[PageObject], limits: ProbeLimits) -> None:
    """Measure the decoded size of every page content stream without keeping the decoded bytes.

    A stream shared by many pages counts once per page, since text extraction and rendering pay per page.
    """
    sizes: dict[Any, int] = {}
    total = 0
    for page in pages:
        try:
            streams = list(_content_streams(page))
        except (MemoryError, PdfRejected):
            raise
        except Exception:
            continue  # a page without readable content is blank, not a bomb
        for key, stream in streams:
            if key not in sizes:
                sizes[key] = _decoded_size(stream, limits, limits.max_decoded_bytes - total)
            total += sizes[key]
            if total > limits.max_decoded_bytes:
                raise PdfRejected("decompression_bomb")


def _decoded_size(stream: StreamObject, limits: ProbeLimits, budget: int) -> int:
    from pypdf.errors import LimitReachedError
    from pypdf.generic import ArrayObject

    raw = getattr(stream, "_data", b"")
    raw = raw if isinstance(raw, bytes) else b""
    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, ArrayObject) else [str(filters)] if filters else []
    if not names:
        return len(raw)
    if names in (["/FlateDecode"], ["/Fl"]):
        return _inflated_size(raw, limits, budget)
    try:
        return len(stream.get_data())
    except LimitReachedError as exc:
        raise PdfRejected("decompression_bomb") from exc
    except MemoryError:
        raise
    except Exception:
        return 0  # undecodable: pypdf treats it as empty as well


def _inflated_size(raw: bytes, limits: ProbeLimits, budget: int) -> int:
    """Inflate in 1 MB steps, counting and discarding, and stop at the budget or an absurd ratio."""
    inflater = zlib.decompressobj()
    size = 0
    pending = raw
    try:
        while True:
            out = inflater.decompress(pending, _CHUNK)
            size += len(out)
            pending = inflater.unconsumed_tail
            if size > budget:
                raise PdfRejected("decompression_bomb")
            consumed = len(raw) - len(pending)
            if size > RATIO_THRESHOLD_BYTES and size > limits.max_ratio * max(consumed, 1):
                raise PdfRejected("decompression_bomb")
            if inflater.eof or (not pending and not out):
                return size
    except zlib.error:
        return size  # damaged tail: pypdf recovers what it can, which is at most what was counted


def _page_info(page: PageObject) -> PageInfo:
    try:
        rect = page.cropbox
        box = (float(rect.left), float(rect.bottom), float(rect.right), float(rect.top))
    except (MemoryError, PdfRejected):
        raise
    except Exception:
        box = (0.0, 0.0, 612.0, 792.0)  # no usable MediaBox: viewers assume US Letter
    x0, y0, x1, y1 = box
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    try:
        rotation = (round(int(page.get("/Rotate", 0)) / 90) * 90) % 360
    except (TypeError, ValueError, OverflowError):
        rotation = 0
    return PageInfo(width=box[2] - box[0], height=box[3] - box[1], box=box, rotation=rotation,
                    text=_page_text(page))


def _page_text(page: PageObject) -> str:
    try:
        return _clean(page.extract_text())
    except MemoryError:
        raise
    except Exception:
        return ""


def _title(reader: PdfReader) -> str:
    try:
        info = reader.metadata
        title = info.title if info is not None else None
    except MemoryError:
        raise
    except Exception:
        return ""
    return _clean(str(title)) if title else ""


def _clean(text: str) -> str:
    """Drop what a database or JSON encoder would choke on (NULs, lone surrogates)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


# --- through the sandbox ------------------------------------------------------------------------


async def probe(data: bytes, limits: ProbeLimits = DEFAULT_LIMITS, pool: Sandbox | None = None) -> ProbeResult:
    """Probe in a sandbox child (of `pool`, default a small pool of this event loop); any way the child fails
    becomes a PdfRejected. SandboxBusy (every slot taken and the queue full) is left to the caller."""
    from backend.pdf import sandbox

    if not looks_like_pdf(data):
        raise PdfRejected("not_a_pdf")
    runner = pool if pool is not None else sandbox.shared("probe", 2, 16, limits.timeout_seconds)
    try:
        value, _ = await runner.run("probe", {"limits": dataclasses.asdict(limits)}, [data],
                                    sandbox.Limits(seconds=limits.timeout_seconds, memory_bytes=limits.memory_bytes))
    except sandbox.SandboxExhausted as exc:
        raise PdfRejected("pdf_too_complex") from exc
    except sandbox.JobRefused as exc:
        raise PdfRejected(exc.code if exc.code in MESSAGES else "broken_pdf", exc.message) from exc
    return _decode_answer(value)


def _decode_answer(answer: Any) -> ProbeResult:
    """Trust nothing from the child: anything off-format means the file made the parser misbehave."""
    try:
        pages = [
            PageInfo(width=float(p["width"]), height=float(p["height"]),
                     box=(float(p["box"][0]), float(p["box"][1]), float(p["box"][2]), float(p["box"][3])),
                     rotation=int(p["rotation"]), text=str(p["text"]))
            for p in answer["pages"]
        ]
        return ProbeResult(pages=pages, title=str(answer["title"]))
    except Exception as exc:
        raise PdfRejected("broken_pdf") from exc
