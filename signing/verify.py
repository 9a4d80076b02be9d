"""Verifying the signatures of any PDF with pyHanko, and saying plainly what holds and what does not.

The verdict of each signature is pyHanko's `bottom_line` (integrity, cryptographic validity, chain to
the given roots, the document's modification policy, the signature timestamp): a tampered file can
be "valid" cryptographically and not intact, so nothing else decides. The PAdES level is not named
by pyHanko: it is read off the file's structure (signature timestamp, DSS, document timestamp)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko_certvalidator import ValidationContext

from signing.errors import InvalidPdf
from signing.trust import load_roots

PADES_SUBFILTER = "/ETSI.CAdES.detached"


@dataclass(frozen=True)
class SignatureReport:
    """One signature, as a person checking it needs to know it."""

    field_name: str
    """The signature field."""
    signer_common_name: str
    """The signer's name (certificate CN)."""
    signer_subject: str
    """The whole subject (RFC 4514)."""
    issuer: str
    """Who issued the signer's certificate (RFC 4514)."""
    serial: str
    """Certificate serial number (hex)."""
    not_before: datetime | None
    """Certificate valid from."""
    not_after: datetime | None
    """Certificate valid until."""
    signing_time: datetime | None
    """The time the signer's software claims (not proof)."""
    timestamp_time: datetime | None
    """The time a timestamp authority vouches for (B-T and up), else None."""
    intact: bool
    """The signed bytes are unchanged (no digest mismatch)."""
    valid: bool
    """The cryptographic signature verifies with the certificate's key."""
    trusted: bool
    """The certificate chains to one of the trusted roots (and was usable then)."""
    revocation: str
    """good | revoked | unknown | not_checked."""
    coverage: str
    """entire_file, or entire_revision when later revisions were added."""
    modification_level: str
    """What changed after the signature: none, lta_updates, form_filling, annotations, other."""
    changes_allowed: bool
    """Whether those later changes are allowed by the signatures' DocMDP/FieldMDP policies."""
    certification: bool
    """A certification (author) signature."""
    docmdp_permission: str | None
    """For a certification: what it allows afterwards (no_changes, fill_forms, annotate)."""
    pades_level: str | None
    """B-B, B-T, B-LT or B-LTA reached (None if not a PAdES signature)."""
    bottom_line: bool
    """The answer: this signature holds."""
    reasons: tuple[str, ...]
    """Why it does not hold (empty when it does)."""


@dataclass(frozen=True)
class DocumentTimestampReport:
    """A document timestamp (the archive timestamp of PAdES B-LTA)."""

    field_name: str
    """Its field."""
    time: datetime | None
    """The time the authority vouches for."""
    tsa: str
    """The timestamp authority's certificate subject."""
    intact: bool
    """The covered bytes are unchanged."""
    trusted: bool
    """The authority's certificate chains to a trusted root."""


@dataclass(frozen=True)
class VerificationReport:
    """Everything found in one PDF."""

    signatures: tuple[SignatureReport, ...]
    """Every signature, in the order they were made."""
    document_timestamps: tuple[DocumentTimestampReport, ...]
    """Every document timestamp."""
    valid: bool
    """At least one signature, and every signature holds."""
    page_count: int
    """Pages in the document."""

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value
        result: dict[str, Any] = plain(asdict(self))
        return result


def _cn(name: Any) -> str:
    try:
        return str(name.native.get("common_name") or name.human_friendly)
    except (AttributeError, ValueError):
        return str(name)


def _rfc4514(name: Any) -> str:
    try:
        return str(name.human_friendly)
    except (AttributeError, ValueError):
        return str(name)


def _signature_timestamp(emb: Any) -> Any:
    """The signature timestamp token's SignedData (PAdES B-T), or None."""
    try:
        return next(iter(extract_tst_data_iter(emb.signer_info, signed=False)), None)
    except (KeyError, ValueError, TypeError):
        return None


def _level(emb: Any, has_dss: bool, doc_ts_after: bool, ts_ok: bool) -> str | None:
    if emb.sig_object.get("/SubFilter") != NameObject(PADES_SUBFILTER):
        return None
    level = "B-B"
    if _signature_timestamp(emb) is not None and ts_ok:
        level = "B-T"
        if has_dss:
            level = "B-LT"
            if doc_ts_after:
                level = "B-LTA"
    return level


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value) or "none").lower()


async def verify_pdf(pdf: bytes, *, trust_roots: Sequence[Any], other_certs: Sequence[Any] = (),
                     allow_fetching: bool = False, at: datetime | None = None) -> VerificationReport:
    """Verify every signature and document timestamp of `pdf` against `trust_roots` (offline unless
    `allow_fetching`: B-LT and B-LTA files carry their own revocation data)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        page_count = int(reader.root["/Pages"]["/Count"])
        signatures = list(reader.embedded_regular_signatures)
        timestamps = list(reader.embedded_timestamp_signatures)
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InvalidPdf(f"not a readable PDF ({exc})") from exc
    roots = load_roots(trust_roots)
    extra = load_roots(other_certs)
    dss = None
    if "/DSS" in reader.root:
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except (PdfError, ValueError, KeyError) as exc:
            raise InvalidPdf(f"the document's security store is unreadable ({exc})") from exc

    made: list[ValidationContext] = []

    def context(moment: datetime | None = None) -> ValidationContext:
        kwargs: dict[str, Any] = {"trust_roots": roots, "allow_fetching": allow_fetching,
                                  "other_certs": extra, "moment": moment or at}
        if dss is not None:
            vc = dss.as_validation_context({**kwargs, "revocation_mode": "hard-fail", "retroactive_revinfo": True})
        else:
            vc = ValidationContext(**kwargs, revocation_mode="hard-fail" if allow_fetching else "soft-fail")
        made.append(vc)
        return vc

    try:
        return await _verify_all(reader, signatures, timestamps, context, dss is not None, page_count)
    finally:
        for vc in made:
            await vc.aclose()  # type: ignore[no-untyped-call]  # sessions opened to fetch


async def _verify_all(reader: Any, signatures: list[Any], timestamps: list[Any], context: Any, has_dss: bool,
                      page_count: int) -> VerificationReport:

    ts_reports = []
    for emb in timestamps:
        try:
            ts_status = await async_validate_pdf_timestamp(emb, validation_context=context())
            ts_reports.append(DocumentTimestampReport(
                field_name=emb.field_name or "", time=ts_status.timestamp,
                tsa=_rfc4514(ts_status.signing_cert.subject), intact=bool(ts_status.intact),
                trusted=bool(ts_status.trusted)))
        except Exception as exc:  # a broken timestamp is reported, not fatal
            ts_reports.append(DocumentTimestampReport(field_name=emb.field_name or "", time=None,
                                                      tsa=f"unreadable ({type(exc).__name__})", intact=False,
                                                      trusted=False))
    reports = []
    for emb in signatures:
        reports.append(await _one(emb, context, has_dss, timestamps))
    return VerificationReport(signatures=tuple(reports), document_timestamps=tuple(ts_reports),
                              valid=bool(reports) and all(r.bottom_line for r in reports), page_count=page_count)


async def _one(emb: Any, context: Any, has_dss: bool, doc_timestamps: list[Any]) -> SignatureReport:
    cert = emb.signer_cert
    reasons: list[str] = []
    moment = None
    try:
        tst = _signature_timestamp(emb)
        if tst is not None:
            moment = tst["encap_content_info"]["content"].parsed["gen_time"].native
    except (KeyError, AttributeError, ValueError, TypeError):
        moment = None
    try:
        # Validate at the time the timestamp authority vouches for, so that a certificate that
        # expired after a timestamped signature still counts as valid when it signed.
        status = await async_validate_pdf_signature(emb, signer_validation_context=context(moment),
                                                    ts_validation_context=context())
    except Exception as exc:  # pyHanko refuses some malformed signatures outright
        return SignatureReport(
            field_name=emb.field_name or "", signer_common_name=_cn(cert.subject) if cert else "",
            signer_subject=_rfc4514(cert.subject) if cert else "", issuer=_rfc4514(cert.issuer) if cert else "",
            serial=format(cert.serial_number, "x") if cert else "", not_before=cert.not_valid_before if cert else None,
            not_after=cert.not_valid_after if cert else None, signing_time=None, timestamp_time=None, intact=False,
            valid=False, trusted=False, revocation="unknown", coverage="unknown", modification_level="unknown",
            changes_allowed=False, certification=False, docmdp_permission=None, pades_level=None,
            bottom_line=False, reasons=(f"the signature could not be processed: {exc}",))
    ts = status.timestamp_validity
    ts_ok = ts is not None and bool(ts.intact and ts.valid and ts.trusted)
    doc_ts_after = any(t.signed_revision > emb.signed_revision for t in doc_timestamps)
    if not status.intact:
        reasons.append("digest mismatch: the document was changed after signing")
    elif not status.valid:
        reasons.append("the cryptographic signature does not verify with the certificate")
    if status.revoked:
        reasons.append("the signer's certificate is revoked")
    elif not status.trusted and status.intact and status.valid:
        # (When the bytes do not match, no chain is checked: the digest reason above is the answer.)
        problem = _enum_name(status.trust_problem_indic)
        if "expired" in problem or "out_of_bounds" in problem:
            reasons.append(f"the signer's certificate was not valid at signing time ({problem})")
        elif "revoked" in problem:
            reasons.append("the signer's certificate is revoked")
        else:
            reasons.append(f"the certificate chain does not reach a trusted root ({problem})")
    if status.docmdp_ok is False:
        reasons.append(f"changes after signing are not allowed: {_enum_name(status.modification_level)}")
    if ts is not None and not ts_ok:
        reasons.append("the signature timestamp does not verify")
    if status.trusted and not reasons:
        revocation = "good" if has_dss else "not_checked"
    elif status.revoked:
        revocation = "revoked"
    else:
        revocation = "unknown"
    docmdp = emb.docmdp_level
    return SignatureReport(
        field_name=emb.field_name or "", signer_common_name=_cn(cert.subject), signer_subject=_rfc4514(cert.subject),
        issuer=_rfc4514(cert.issuer), serial=format(cert.serial_number, "x"), not_before=cert.not_valid_before,
        not_after=cert.not_valid_after, signing_time=status.signer_reported_dt,
        timestamp_time=ts.timestamp if ts is not None else None, intact=bool(status.intact),
        valid=bool(status.valid), trusted=bool(status.trusted), revocation=revocation,
        coverage=_enum_name(status.coverage), modification_level=_enum_name(status.modification_level),
        changes_allowed=status.docmdp_ok is not False, certification=docmdp is not None,
        docmdp_permission=_enum_name(docmdp) if docmdp is not None else None,
        pades_level=_level(emb, has_dss, doc_ts_after, ts_ok), bottom_line=bool(status.bottom_line) and not reasons,
        reasons=tuple(reasons))
