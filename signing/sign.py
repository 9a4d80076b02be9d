"""PAdES signatures with pyHanko: B-B by default, B-T with an RFC 3161 timestamp, B-LT with the
revocation data embedded, B-LTA with a document timestamp over it all. A visible appearance in
Vietnamese (embedded Liberation Serif), certification (DocMDP: only form filling and further
signatures) and a field lock per signature (FieldMDP).

Every check that can refuse happens before anything is written; the result is the whole new file or
an error, never half a signature."""

from __future__ import annotations

import functools
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import aiohttp
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from signing.errors import CertificateUnusable, DocumentLocked, InvalidPdf, ServiceUnavailable, SigningError
from signing.trust import load_roots

FONT = Path(__file__).resolve().parent / "fonts" / "LiberationSerif-Regular.ttf"
STAMP_FONT_SIZE = 9
DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"
# fontTools says so for every subset of this font (it drops a table no PDF needs): not news.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
Box = tuple[float, float, float, float]


class PadesLevel(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


@dataclass(frozen=True)
class Appearance:
    """What the visible signature shows (in Vietnamese): "Ký bởi: <name>", the title, the optional
    lines, and "Thời gian ký: dd/mm/yyyy HH:MM:SS +07:00"."""

    name: str
    """The signer's name ("Ký bởi: ...")."""
    title: str = ""
    """The signer's position (chức vụ), e.g. "Thủ tướng Chính phủ"; no line when empty."""
    organization: str | None = None
    """The signer's organisation (cơ quan), a line of its own when given."""
    reason: str | None = None
    """Shown as "Lý do: ..." when given (the signature's /Reason is `SignOptions.reason`)."""
    location: str | None = None
    """Shown as "Nơi ký: ..." when given (the signature's /Location is `SignOptions.location`)."""
    signature_image: bytes | None = None
    """The signer's handwritten signature (PNG), drawn in the box behind the text; None draws none."""
    seal_image: bytes | None = None
    """The issuing body's seal (PNG, usually red on transparent), drawn over the left part of the
    signature as on paper; None draws none."""


@dataclass(frozen=True)
class SignOptions:
    """How to sign."""

    field_name: str
    """The signature field to fill; created when the document has no field of that name."""
    page_index: int = 0
    """Page (0-based) of a field that has to be created."""
    box: Box | None = None
    """Rectangle (x1, y1, x2, y2 in PDF points) of a field that has to be created; None makes an
    invisible signature. Ignored when the field exists."""
    level: PadesLevel = PadesLevel.B_B
    """PAdES baseline level: B-T and up need `timestamp_url`, B-LT and up `trust_roots`."""
    certify: bool = False
    """A certification (author) signature: afterwards only form filling and further signatures are
    allowed (DocMDP P=2), in the fields that exist then (see `other_fields`) or invisibly: a new
    visible field would break it, so sign_pdf refuses one. It must be the document's first signature."""
    lock_fields: tuple[str, ...] | Literal["all"] = ()
    """FieldMDP lock of a field this signature creates: its own field is always locked once signed;
    these other fields too, or every field with "all" (then no further signature can be added). An
    existing field keeps the /Lock it was made with (SigningError "lock_unavailable" if that lock does
    not cover what is asked)."""
    reason: str | None = None
    """/Reason of the signature."""
    location: str | None = None
    """/Location of the signature."""
    appearance: Appearance | None = None
    """Visible appearance (needs a box, or an existing visible field); None draws nothing."""
    timestamp_url: str | None = None
    """RFC 3161 timestamp authority (HTTP), required from B-T up."""
    trust_roots: tuple[Any, ...] = ()
    """Roots (PEM/DER bytes, asn1crypto or cryptography certificates) to build and check the signer's
    chain and fetch its revocation data for B-LT and B-LTA (fetching allowed, hard-fail)."""
    other_fields: tuple[tuple[str, int, Box], ...] = ()
    """Empty signature fields (name, page index, box) created in the same revision before this
    signature, e.g. the chair's field when the secretariat certifies; each locks itself when signed."""
    time_zone: str = DEFAULT_TIME_ZONE
    """Time zone of the signing time printed in the appearance."""
    signing_time: datetime | None = field(default=None, compare=False)
    """The signing time (the signature's /M and the printed time; PAdES leaves CMS signing-time out);
    default now (UTC). For tests."""


def _reader(pdf: bytes) -> PdfFileReader:
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        reader.root["/Pages"]["/Count"]  # noqa: B018  (a PDF without pages is not a document)
        return reader
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InvalidPdf(f"not a readable PDF ({exc})") from exc


def _signature_dicts(reader: PdfFileReader) -> Iterator[tuple[str, Any]]:
    for name, value, _ in fields.enumerate_sig_fields(reader, filled_status=True):
        yield name, value.get_object()


def _references(sig: Any) -> Iterator[tuple[str, Any]]:
    """(transform method, transform parameters) of a signature's /Reference entries."""
    try:
        refs = sig["/Reference"] if "/Reference" in sig else ()
        for ref in refs:
            ref = ref.get_object()
            params = ref["/TransformParams"] if "/TransformParams" in ref else {}
            yield str(ref.get("/TransformMethod")), params
    except (KeyError, AttributeError, TypeError):
        return


def _check_may_sign(reader: PdfFileReader, options: SignOptions) -> bool:
    """Whether the field already exists (and is empty); DocumentLocked when the document's
    certification, an earlier signature's lock or a filled field forbids this signature."""
    name = options.field_name
    try:
        existing = {n: v for n, v, _ in fields.enumerate_sig_fields(reader)}
        signed = list(_signature_dicts(reader))
    except (PdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidPdf(f"cannot read the document's form fields ({exc})") from exc
    if existing.get(name) is not None:
        raise DocumentLocked(f"the field {name!r} is already signed")
    if options.certify and signed:
        raise DocumentLocked("a certification signature must be the document's first signature")
    new_fields = [n for n in dict.fromkeys([name, *(f for f, _, _ in options.other_fields)]) if n not in existing]
    new_visible = [n for n in new_fields if n != name or options.box is not None]
    for signer_field, sig in signed:
        for method, params in _references(sig):
            if method == "/DocMDP":
                if int(params.get("/P", 2)) == fields.MDPPerm.NO_CHANGES.value:
                    raise DocumentLocked(f"the signature {signer_field!r} certifies the document with no changes "
                                         "allowed")
                if new_visible:
                    # Certification allows filling the fields it was made with, not adding visible ones.
                    raise DocumentLocked(f"the document is certified by the signature {signer_field!r}: a new visible "
                                         f"field ({', '.join(new_visible)}) would break it; sign in one of its empty "
                                         "signature fields, or invisibly")
            if method == "/FieldMDP":
                try:
                    spec = fields.FieldMDPSpec.from_pdf_object(params)
                except (PdfError, ValueError, KeyError) as exc:
                    raise InvalidPdf(f"the field lock of the signature {signer_field!r} is unreadable ({exc})") \
                        from exc
                # A FieldMDP lock covers form values: filling a locked (empty) signature field, or adding
                # any field when everything is locked, changes a locked field.
                if spec.is_locked(name) or (new_fields and spec.action == fields.FieldMDPAction.ALL):
                    raise DocumentLocked(f"the field {name!r} is locked by the signature {signer_field!r}")
    return name in existing


def _check_existing_lock(reader: PdfFileReader, options: SignOptions) -> None:
    """An existing field brings its own /Lock (pyHanko applies it); changing the field now would be a
    change the earlier signatures did not allow, so a lock it does not carry cannot be honoured."""
    if not options.lock_fields:
        return
    wanted = [] if options.lock_fields == "all" else list(options.lock_fields)
    for name, _, ref in fields.enumerate_sig_fields(reader, with_name=options.field_name):
        field_dict = ref.get_object()
        have = fields.FieldMDPSpec.from_pdf_object(field_dict["/Lock"]) if "/Lock" in field_dict else None
        if have is not None and (have.action == fields.FieldMDPAction.ALL
                                 or (options.lock_fields != "all" and all(have.is_locked(f) for f in wanted))):
            return
        raise SigningError(f"the existing field {name!r} does not lock {options.lock_fields!r}; only a field this "
                           "signature creates can be given a lock", code="lock_unavailable")


def _lock_spec(options: SignOptions) -> fields.FieldMDPSpec:
    if options.lock_fields == "all":
        return fields.FieldMDPSpec(fields.FieldMDPAction.ALL)
    return fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE,
                               fields=list(dict.fromkeys([options.field_name, *options.lock_fields])))


def _int_box(box: Box) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (round(v) for v in box)
    return x1, y1, x2, y2


@functools.cache
def _stamp_font() -> str:
    """Liberation Serif rescaled to 1000 units per em, in a private cache file.

    pyHanko writes glyph widths in font units, but PDF widths are in 1/1000 em: with a 2048-unit
    TrueType font every letter of the appearance came out twice as wide as it is."""
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    target = Path(tempfile.gettempdir()) / f"ecabinet-stamp-{FONT.stat().st_size}-{os.getuid()}.ttf"
    if not target.exists():
        font = TTFont(str(FONT))
        scale_upem(font, 1000)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        font.save(str(tmp))
        os.replace(tmp, target)
    return str(target)


def format_signing_time(when: datetime, time_zone: str = DEFAULT_TIME_ZONE) -> str:
    """`when` as printed in the appearance: "23/11/2026 14:05:09 +07:00"."""
    local = when.astimezone(ZoneInfo(time_zone))
    offset = local.strftime("%z")
    return local.strftime("%d/%m/%Y %H:%M:%S ") + offset[:3] + ":" + offset[3:5]


def _stamp(ap: Appearance, when: datetime, time_zone: str) -> tuple[TextStampStyle, dict[str, str]]:
    # Values go in as parameters, never into the template: a name with "%" must print as written.
    lines, params = ["Ký bởi: %(who)s"], {"who": ap.name, "when": format_signing_time(when, time_zone)}
    for key, prefix, value in (("title", "", ap.title), ("org", "", ap.organization),
                               ("reason", "Lý do: ", ap.reason), ("place", "Nơi ký: ", ap.location)):
        if value:
            lines.append(f"{prefix}%({key})s")
            params[key] = value
    lines.append("Thời gian ký: %(when)s")
    # The engine's font size and the box's must be equal, or lines drift (pyHanko issue 733).
    font = GlyphAccumulatorFactory(_stamp_font(), font_size=STAMP_FONT_SIZE)
    background = _background(ap)
    style = TextStampStyle(stamp_text="\n".join(lines), border_width=1,
                           text_box_style=TextBoxStyle(font=font, font_size=STAMP_FONT_SIZE),
                           background=background, background_opacity=1.0)
    return style, params


BACKGROUND_PX = (600, 240)
"""The signature box's background image, in pixels (the box's shape, 2.5 : 1)."""


def _background(ap: Appearance) -> Any:
    """The handwritten signature, with the seal over its left part, as one image for the box; None
    when the signer has neither. The images were checked when they were stored (PNG, bounded size)."""
    if ap.signature_image is None and ap.seal_image is None:
        return None
    from PIL import Image
    from pyhanko.pdf_utils.images import PdfImage

    width, height = BACKGROUND_PX
    canvas = Image.new("RGBA", BACKGROUND_PX, (255, 255, 255, 0))
    for data, box in ((ap.signature_image, (int(width * 0.25), 0, width, height)),
                      (ap.seal_image, (0, 0, height, height))):
        if data is None:
            continue
        with Image.open(io.BytesIO(data)) as img:
            picture = img.convert("RGBA")
        picture.thumbnail((box[2] - box[0], box[3] - box[1]))
        x = box[0] + (box[2] - box[0] - picture.width) // 2
        y = box[1] + (box[3] - box[1] - picture.height) // 2
        canvas.alpha_composite(picture, (x, y))
    flat = Image.new("RGB", BACKGROUND_PX, (255, 255, 255))
    flat.paste(canvas, mask=canvas.getchannel("A"))
    return PdfImage(flat)


class _PdfSigner(signers.PdfSigner):
    """pyHanko's PdfSigner on a given signing time (it otherwise always takes the clock's)."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _translate(exc: BaseException) -> SigningError | None:
    """Our error for what pyHanko, certvalidator or aiohttp raised while signing (None: a bug)."""
    for cause in _causes(exc):
        if isinstance(cause, timestamps.TimestampRequestError):
            return ServiceUnavailable(f"the timestamp authority did not answer: {cause}")
        if isinstance(cause, aiohttp.ClientError | OSError):
            return ServiceUnavailable(f"a timestamp or revocation service did not answer: {cause}")
        if isinstance(cause, RevokedError):
            return CertificateUnusable(f"the signer's certificate is revoked: {cause}")
        if isinstance(cause, ExpiredError | NotYetValidError):
            return CertificateUnusable(f"the signer's certificate is not valid now: {cause}")
        if isinstance(cause, InsufficientRevinfoError):
            text = str(cause)
            if "fetch" in text.lower() or "no revocation info" in text.lower():
                return ServiceUnavailable(f"the signer's revocation status could not be obtained: {text}")
            return CertificateUnusable(f"the signer's revocation status is not good: {text}")
        if isinstance(cause, PathBuildingError):
            return CertificateUnusable(f"the signer's certificate does not chain to a trusted root: {cause}")
        if isinstance(cause, PathValidationError):
            return CertificateUnusable(f"the signer's certificate did not validate: {cause}")
    if isinstance(exc, PyHankoSigningError | PdfError):
        return SigningError(str(exc))
    return None


async def sign_pdf(pdf: bytes, signer: signers.Signer, options: SignOptions) -> bytes:
    """The PDF with one more signature (an incremental update), at the level asked for.

    Raises InvalidPdf, DocumentLocked (before anything is written), SigningError code
    "timestamp_required", ServiceUnavailable (TSA, OCSP or CRL server down), CertificateUnusable."""
    if options.level is not PadesLevel.B_B and not options.timestamp_url:
        raise SigningError(f"PAdES {options.level.value} needs a timestamp authority", code="timestamp_required")
    long_term = options.level in (PadesLevel.B_LT, PadesLevel.B_LTA)
    if long_term and not options.trust_roots:
        raise SigningError(f"PAdES {options.level.value} needs the trust roots to collect revocation data",
                           code="trust_roots_required")
    reader = _reader(pdf)
    exists = _check_may_sign(reader, options)
    page_count = int(reader.root["/Pages"]["/Count"])
    if not exists and not 0 <= options.page_index < page_count:
        raise SigningError(f"page {options.page_index + 1} does not exist", code="invalid")
    if exists:
        _check_existing_lock(reader, options)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        for name, page, box in options.other_fields:
            if name != options.field_name and not any(n == name for n, _, _ in fields.enumerate_sig_fields(writer)):
                fields.append_signature_field(writer, fields.SigFieldSpec(
                    sig_field_name=name, on_page=page, box=_int_box(box),
                    field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, fields=[name])))
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidPdf(f"cannot add fields to this PDF ({exc})") from exc
    new_field = None
    if not exists:
        new_field = fields.SigFieldSpec(
            sig_field_name=options.field_name, on_page=options.page_index,
            box=_int_box(options.box) if options.box else None, field_mdp_spec=_lock_spec(options),
            doc_mdp_update_value=fields.MDPPerm.FILL_FORMS if options.certify else None)
    when = options.signing_time or datetime.now(UTC)
    vc = (ValidationContext(trust_roots=load_roots(options.trust_roots), allow_fetching=True,
                            revocation_mode="hard-fail") if long_term else None)
    meta = signers.PdfSignatureMetadata(
        field_name=options.field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        certify=options.certify, docmdp_permissions=fields.MDPPerm.FILL_FORMS, reason=options.reason,
        location=options.location, embed_validation_info=long_term,
        use_pades_lta=options.level is PadesLevel.B_LTA, validation_context=vc)
    timestamper = (timestamps.HTTPTimeStamper(options.timestamp_url, timeout=10)
                   if options.timestamp_url and options.level is not PadesLevel.B_B else None)
    style, params = _stamp(options.appearance, when, options.time_zone) if options.appearance else (None, None)
    pdf_signer = _PdfSigner(meta, signer, timestamper=timestamper, stamp_style=style, new_field_spec=new_field,
                            signing_time=when)
    out = io.BytesIO()
    try:
        await pdf_signer.async_sign_pdf(writer, appearance_text_params=params, output=out)
    except SigningError:
        raise
    except Exception as exc:
        ours = _translate(exc)
        if ours is None:
            raise
        raise ours from exc
    finally:
        if vc is not None:
            await vc.aclose()  # type: ignore[no-untyped-call]  # its HTTP session for revocation data
    return out.getvalue()


async def add_document_timestamp(pdf: bytes, timestamp_url: str, trust_roots: tuple[Any, ...] = ()) -> bytes:
    """Renew a B-LTA archive (or make a B-LT file B-LTA): bring the DSS up to date with the
    revocation data of the last timestamp's chain and add a new document timestamp over it all."""
    reader = _reader(pdf)
    vc = ValidationContext(trust_roots=load_roots(trust_roots), allow_fetching=True)
    out = io.BytesIO()
    try:
        stamper = signers.PdfTimeStamper(timestamps.HTTPTimeStamper(timestamp_url, timeout=10))
        await stamper.async_update_archival_timestamp_chain(reader, vc, in_place=False, output=out)
    except Exception as exc:
        ours = _translate(exc)
        if ours is None:
            raise
        raise ours from exc
    finally:
        await vc.aclose()  # type: ignore[no-untyped-call]
    return out.getvalue()
