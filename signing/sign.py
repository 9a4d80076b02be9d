"""PAdES signatures with pyHanko: B-B by default, B-T with an RFC 3161 timestamp, B-LT with the
revocation data embedded, B-LTA with a document timestamp over it all. A visible appearance in
Vietnamese (embedded Liberation Serif), certification (DocMDP: only further signatures) and a field
lock per signature (FieldMDP).

Every check that can refuse happens before anything is written; the result is the whole new file or
an error, never half a signature."""

from __future__ import annotations

import functools
import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import read_certification_data
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from signing.errors import CertificateUnusable, DocumentLocked, InvalidPdf, ServiceUnavailable, SigningError
from signing.trust import load_roots

FONT = Path(__file__).resolve().parent / "fonts" / "LiberationSerif-Regular.ttf"
STAMP_FONT_SIZE = 9
# fontTools says so for every subset of this font (it drops a table no PDF needs): not news.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
Box = tuple[float, float, float, float]


class PadesLevel(StrEnum):
    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


@dataclass(frozen=True)
class Appearance:
    """What the visible signature shows (Vietnamese)."""

    name: str
    """The signer's name ("Ký bởi: ...")."""
    title: str = ""
    """The signer's position (chức vụ)."""
    organization: str = ""
    """Optional organisation line."""


@dataclass(frozen=True)
class SignOptions:
    """How to sign."""

    field_name: str
    """The signature field (created when missing)."""
    page_index: int = 0
    """Page (0-based) of a field that has to be created."""
    box: Box | None = None
    """Rectangle of a field that has to be created (PDF points); None makes an invisible signature."""
    level: PadesLevel = PadesLevel.B_B
    """PAdES baseline level."""
    certify: bool = False
    """A certification signature: afterwards only form filling and further signatures are allowed."""
    lock_fields: tuple[str, ...] = ()
    """Other fields this signature locks besides its own."""
    reason: str | None = None
    """/Reason of the signature."""
    location: str | None = None
    """/Location of the signature."""
    appearance: Appearance | None = None
    """Visible appearance (needs a box or an existing visible field)."""
    timestamp_url: str | None = None
    """RFC 3161 timestamp authority, needed from B-T up."""
    trust_roots: tuple[Any, ...] = ()
    """Roots (PEM/DER bytes or certificates) to build and check the chain for B-LT and B-LTA."""
    other_fields: tuple[tuple[str, int, Box], ...] = ()
    """Empty signature fields (name, page, box) to create in the same revision, e.g. the chair's
    field when the secretary certifies; each is locked to itself when signed."""
    time_zone: str = "Asia/Ho_Chi_Minh"
    """Zone of the time printed in the appearance."""
    signing_time: datetime | None = field(default=None, compare=False)
    """Printed signing time (default: now); the CMS signing time is always the real clock."""


def _reader(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidPdf(f"not a readable PDF ({exc})") from exc


def _check_may_sign(reader: PdfFileReader, field_name: str) -> bool:
    """Whether the field already exists (and is empty); DocumentLocked when signing would break a lock."""
    try:
        info = read_certification_data(reader)
    except Exception as exc:
        raise InvalidPdf(f"cannot read the document's certification ({exc})") from exc
    if info is not None and info.permission == fields.MDPPerm.NO_CHANGES:
        raise DocumentLocked("the document is certified with no changes allowed")
    exists = False
    for name, value, _ in fields.enumerate_sig_fields(reader):
        if name == field_name:
            if value is not None:
                raise DocumentLocked(f"the field {field_name!r} is already signed")
            exists = True
    for emb in reader.embedded_signatures:
        lock = _locked_fields(emb.sig_object)
        if lock is not None and (lock == "all" or field_name in lock):
            # A signature's FieldMDP lock covers form values; a new signature in a locked field is a change.
            raise DocumentLocked(f"the field {field_name!r} is locked by the signature {emb.field_name!r}")
    return exists


def _locked_fields(sig: Any) -> set[str] | str | None:
    try:
        refs = sig.get("/Reference", ())
        for ref in refs:
            ref = ref.get_object()
            if ref.get("/TransformMethod") == "/FieldMDP":
                params = ref["/TransformParams"]
                action = params.get("/Action")
                names = {str(f) for f in params.get("/Fields", ())}
                if action == "/All":
                    return "all"
                if action == "/Include":
                    return names
                return None
    except (KeyError, AttributeError, TypeError):
        return None
    return None


def _validation_context(options: SignOptions) -> ValidationContext:
    return ValidationContext(trust_roots=load_roots(options.trust_roots), allow_fetching=True,
                             revocation_mode="hard-fail")


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


def _stamp(options: SignOptions) -> tuple[TextStampStyle, dict[str, str]]:
    ap = options.appearance
    assert ap is not None
    when = (options.signing_time or datetime.now(UTC)).astimezone(ZoneInfo(options.time_zone))
    lines = ["Ký bởi: %(who)s"]
    if ap.title:
        lines.append("%(title)s")
    if ap.organization:
        lines.append("%(org)s")
    lines.append("Thời gian ký: %(when)s")
    # The engine's font size and the box's must be equal, or lines drift (pyHanko issue 733).
    font = GlyphAccumulatorFactory(_stamp_font(), font_size=STAMP_FONT_SIZE)
    style = TextStampStyle(stamp_text="\n".join(lines), border_width=1,
                           text_box_style=TextBoxStyle(font=font, font_size=STAMP_FONT_SIZE))
    params = {"who": ap.name, "title": ap.title, "org": ap.organization,
              "when": when.strftime("%d/%m/%Y %H:%M:%S ") + when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:]}
    return style, params


async def sign_pdf(pdf: bytes, signer: signers.Signer, options: SignOptions) -> bytes:
    """The PDF with one more signature (an incremental update), at the level asked for."""
    if options.level is not PadesLevel.B_B and not options.timestamp_url:
        raise SigningError(f"PAdES {options.level.value} needs a timestamp authority", code="timestamp_required")
    reader = _reader(pdf)
    exists = _check_may_sign(reader, options.field_name)
    if not exists and options.box is not None and not 0 <= options.page_index < int(reader.root["/Pages"]["/Count"]):
        raise SigningError(f"page {options.page_index + 1} does not exist", code="invalid")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError) as exc:
        raise InvalidPdf(f"not a readable PDF ({exc})") from exc
    for name, page, box in options.other_fields:
        if name != options.field_name:
            fields.append_signature_field(writer, fields.SigFieldSpec(
                sig_field_name=name, on_page=page, box=tuple(int(v) for v in box),  # type: ignore[arg-type]
                field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, fields=[name])))
    lock = fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, fields=[options.field_name, *options.lock_fields])
    new_field = None
    if not exists:
        new_field = fields.SigFieldSpec(
            sig_field_name=options.field_name, on_page=options.page_index,
            box=tuple(int(v) for v in options.box) if options.box else None,  # type: ignore[arg-type]
            field_mdp_spec=lock, doc_mdp_update_value=fields.MDPPerm.FILL_FORMS if options.certify else None)
    long_term = options.level in (PadesLevel.B_LT, PadesLevel.B_LTA)
    vc = _validation_context(options) if long_term else None
    meta = signers.PdfSignatureMetadata(
        field_name=options.field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        certify=options.certify, docmdp_permissions=fields.MDPPerm.FILL_FORMS, reason=options.reason,
        location=options.location, embed_validation_info=long_term,
        use_pades_lta=options.level is PadesLevel.B_LTA,
        validation_context=vc)
    timestamper = (timestamps.HTTPTimeStamper(options.timestamp_url)
                   if options.timestamp_url and options.level is not PadesLevel.B_B else None)
    style, params = _stamp(options) if options.appearance else (None, None)
    pdf_signer = signers.PdfSigner(meta, signer, timestamper=timestamper, stamp_style=style,
                                   new_field_spec=new_field)
    out = io.BytesIO()
    try:
        await pdf_signer.async_sign_pdf(writer, appearance_text_params=params, output=out)
    except timestamps.TimestampRequestError as exc:
        raise ServiceUnavailable(f"the timestamp authority did not answer: {exc}") from exc
    except OSError as exc:
        raise ServiceUnavailable(f"a signing service did not answer: {exc}") from exc
    except PyHankoSigningError as exc:
        text = str(exc)
        if "validat" in text.lower() or "revoked" in text.lower():
            raise CertificateUnusable(f"the signer's certificate did not validate: {text}") from exc
        if "timestamp" in text.lower() or "connect" in text.lower():
            raise ServiceUnavailable(text) from exc
        raise SigningError(text) from exc
    except Exception as exc:
        name = type(exc).__name__
        if "Client" in name or "Connection" in name or "Timeout" in name or "Fetch" in name:
            raise ServiceUnavailable(f"a signing service did not answer ({name}: {exc})") from exc
        if "PathValidation" in name or "PathBuilding" in name or "Revoked" in name or "Expired" in name:
            raise CertificateUnusable(f"the signer's certificate did not validate ({name}: {exc})") from exc
        raise
    finally:
        if vc is not None:
            await vc.aclose()  # type: ignore[no-untyped-call]  # its HTTP session for revocation data
    return out.getvalue()


async def add_document_timestamp(pdf: bytes, timestamp_url: str, trust_roots: tuple[Any, ...] = ()) -> bytes:
    """Renew a B-LTA archive: update the DSS and add a new document timestamp."""
    reader = _reader(pdf)
    vc = ValidationContext(trust_roots=load_roots(trust_roots), allow_fetching=True)
    out = io.BytesIO()
    try:
        await signers.PdfTimeStamper(timestamps.HTTPTimeStamper(timestamp_url)).async_update_archival_timestamp_chain(
            reader, vc, in_place=False, output=out)
    except (timestamps.TimestampRequestError, OSError) as exc:
        raise ServiceUnavailable(f"the timestamp authority did not answer: {exc}") from exc
    finally:
        await vc.aclose()  # type: ignore[no-untyped-call]
    return out.getvalue()
