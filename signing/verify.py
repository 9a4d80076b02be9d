"""Verifying the signatures of any PDF with pyHanko, and saying plainly what holds and what does not.

The verdict of each signature is pyHanko's `bottom_line` (integrity, cryptographic validity, chain to
the given roots, the document's modification policy, the signature timestamp): a tampered file can
be "valid" cryptographically and not intact, so nothing else decides. The PAdES level is not named
by pyHanko: it is read off the file (signature timestamp, what the DSS holds, document timestamps).

Offline by default, and judged at the secure time: a timestamped signer's certificate at the time the
authority vouches for, and each timestamp authority's certificate at the time of its own token, each
against the revocation data the DSS holds for it (gathered then, so fresh then; required when it is
there). Data held offline ages past its next update within days and nothing newer can be had: judged
at today's date, every B-LT file would turn invalid soon after signing. A certificate without such
data is checked leniently and its revocation reported as "not_checked". With `allow_fetching` the
OCSP responders and CRL servers are asked, revocation is required everywhere and timestamps are
judged now (or at `at`).

pyHanko's AdES long-term validation (`ades_lta_validation`) is not used to name B-LTA: offline it
answers NO_POE as soon as the DSS's CRLs are past their next update, so the level would change with
the calendar. B-LTA is named from the file: a trusted, intact document timestamp after the signature,
over a revision that holds the DSS."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

from signing.errors import InvalidPdf
from signing.trust import load_roots

PADES_SUBFILTER = "/ETSI.CAdES.detached"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignatureReport:
    """One signature, as a person checking it needs to know it."""

    field_name: str
    """The signature field."""
    signer_common_name: str
    """The signer's name (certificate CN)."""
    signer_subject: str
    """The whole subject of the signer's certificate (RFC 4514)."""
    issuer: str
    """Who issued the signer's certificate (RFC 4514)."""
    serial: str
    """Certificate serial number (hex)."""
    not_before: datetime | None
    """Certificate valid from."""
    not_after: datetime | None
    """Certificate valid until."""
    signing_time: datetime | None
    """The time the signer's software claims (/M of a PAdES signature, else CMS signing-time; not proof)."""
    timestamp_time: datetime | None
    """The time a timestamp authority vouches for (the signature timestamp of B-T and up), else None."""
    valid: bool
    """The verdict: this signature holds (intact, verifies, trusted, later changes allowed, timestamp
    sound). The same meaning as the report's `valid`; every other field says why."""
    intact: bool
    """The signed bytes are unchanged (no digest mismatch)."""
    cryptographic_ok: bool
    """The signature value verifies with the certificate's key (one part of `valid`)."""
    trusted: bool | None
    """The certificate chains to one of the trusted roots (and was usable, and not revoked, then);
    None when not judged, because the signed bytes changed."""
    revocation: str
    """good | revoked | unknown (checked, no answer) | not_checked (no data offline, or no source)."""
    coverage: str
    """entire_file, or entire_revision when later revisions were added (contiguous_block_from_start,
    unclear for odd files)."""
    modification_level: str
    """What changed after the signature, by pyHanko's name in lower case: none, lta_updates,
    form_filling, annotations, other."""
    changes_allowed: bool
    """Whether those later changes are permitted by the DocMDP/FieldMDP policies (pyHanko's docmdp_ok)."""
    certification: bool
    """A certification (author) signature."""
    docmdp_permission: str | None
    """For a certification: what it allows afterwards (no_changes, fill_forms, annotate)."""
    pades_level: str | None
    """The highest of B-B, B-T, B-LT, B-LTA reached (None if not a PAdES signature)."""
    reasons: tuple[str, ...]
    """Why it does not hold, in plain English (empty when it does)."""
    reason_codes: tuple[str, ...]
    """The same reasons as stable codes, one per reason, for clients to say in their own language:
    changed, bad_signature, revoked, expired, untrusted, revocation_unknown, changes_not_allowed,
    bad_timestamp, unreadable."""


@dataclass(frozen=True)
class DocumentTimestampReport:
    """A document timestamp (the archive timestamp of PAdES B-LTA)."""

    field_name: str
    """Its field."""
    time: datetime | None
    """The time the authority vouches for."""
    tsa: str
    """The timestamp authority's certificate subject (RFC 4514)."""
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
    """Every document timestamp, in order."""
    valid: bool
    """At least one signature, and every signature holds (every `signatures[i].valid`)."""
    page_count: int
    """Pages in the document."""
    document_title: str = ""
    """The title the file gives itself (its /Info /Title; e-Cabinet's records put the kind, number and
    symbol there), so the reader knows which document was checked; "" when it has none."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings, tuples as lists."""

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


# --- what the DSS holds ------------------------------------------------------------------------


@dataclass
class _Material:
    """The revocation data in the document's DSS (parsed once)."""

    ocsps: list[Any]
    crls: list[Any]

    def declares_sources(self, cert: Any) -> bool:
        try:
            return bool(cert.crl_distribution_points or cert.ocsp_urls)
        except (ValueError, KeyError):
            return False

    def holds(self, cert: Any) -> bool:
        """The DSS has an OCSP response or a CRL for `cert`."""
        return any(_ocsp_is_for(r, cert) for r in self.ocsps) or any(_crl_is_for(c, cert) for c in self.crls)

    def covers(self, cert: Any) -> bool:
        """`cert` can be checked offline: it names no revocation source, or the DSS holds the answer."""
        return not self.declares_sources(cert) or self.holds(cert)

    def covers_path(self, path: Any) -> bool:
        return path is not None and all(self.covers(c) for c in path.iter_certs(include_root=False))


def _ocsp_is_for(response: Any, cert: Any) -> bool:
    try:
        basic = response["response_bytes"]["response"].parsed
        for single in basic["tbs_response_data"]["responses"]:
            cert_id = single["cert_id"]
            if cert_id["serial_number"].native != cert.serial_number:
                continue
            algo = cert_id["hash_algorithm"]["algorithm"].native
            if hashlib.new(algo, cert.issuer.dump()).digest() == cert_id["issuer_name_hash"].native:
                return True
    except (KeyError, ValueError, TypeError, AttributeError):
        return False
    return False


def _crl_is_for(crl: Any, cert: Any) -> bool:
    try:
        return bool(crl["tbs_cert_list"]["issuer"].hashable == cert.issuer.hashable)
    except (KeyError, ValueError, TypeError, AttributeError):
        return False


def _read_material(dss: DocumentSecurityStore | None) -> _Material:
    if dss is None:
        return _Material([], [])
    ocsps = [asn1_ocsp.OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps]
    crls = [asn1_crl.CertificateList.load(ref.get_object().data) for ref in dss.crls]
    return _Material(ocsps, crls)


# --- small readers -----------------------------------------------------------------------------


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


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value) or "none").lower()


def _token_facts(signed_data: Any) -> tuple[datetime | None, Any]:
    """(time, signer's certificate) of a timestamp token's SignedData, unchecked; (None, None) if unreadable."""
    try:
        value = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
        return (value if isinstance(value, datetime) else None), extract_certificate_info(signed_data).signer_cert
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, PdfError):
        return None, None


def _signature_timestamp(emb: Any) -> tuple[datetime | None, Any]:
    """(time, authority's certificate) of the signature timestamp token (PAdES B-T), or (None, None)."""
    try:
        tst = next(iter(extract_tst_data_iter(emb.signer_info, signed=False)), None)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None, None
    return _token_facts(tst) if tst is not None else (None, None)


def _is_certification(reader: PdfFileReader, emb: Any) -> bool:
    try:
        perms = reader.root["/Perms"].raw_get("/DocMDP")
        return bool(perms.idnum == emb.sig_field.raw_get("/V").idnum)
    except (KeyError, AttributeError, TypeError):
        return False


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "unknown"


# --- the verification --------------------------------------------------------------------------


class _Verifier:
    def __init__(self, reader: PdfFileReader, roots: list[Any], extra: list[Any], dss: DocumentSecurityStore | None,
                 allow_fetching: bool, at: datetime | None) -> None:
        self.reader, self.roots, self.extra, self.dss = reader, roots, extra, dss
        self.material = _read_material(dss)
        self.allow_fetching, self.at = allow_fetching, at
        self.contexts: list[ValidationContext] = []

    def hard_fail(self, cert: Any) -> bool:
        """Revocation is required for `cert` when it can be had: fetched, or held in the DSS."""
        return self.allow_fetching or (self.dss is not None and self.material.holds(cert))

    def context(self, hard_fail: bool, moment: datetime | None = None) -> ValidationContext:
        kwargs: dict[str, Any] = {"trust_roots": self.roots, "allow_fetching": self.allow_fetching,
                                  "other_certs": list(self.extra), "moment": moment or self.at,
                                  "revocation_mode": "hard-fail" if hard_fail else "soft-fail",
                                  # revocation data fetched at signing is (a little) younger than the signature
                                  "retroactive_revinfo": True}
        vc = self.dss.as_validation_context(kwargs) if self.dss is not None else ValidationContext(**kwargs)
        self.contexts.append(vc)
        return vc

    def timestamp_context(self, gen_time: datetime | None, tsa_cert: Any) -> ValidationContext:
        """Online: the authority's certificate now (or at `at`), revocation required. Offline: as at the
        time it vouches for, against the DSS's data (see the module's docstring)."""
        if self.allow_fetching or gen_time is None or tsa_cert is None:
            return self.context(self.allow_fetching)
        return self.context(self.hard_fail(tsa_cert), gen_time)

    async def close(self) -> None:
        for vc in self.contexts:
            await vc.aclose()  # type: ignore[no-untyped-call]  # sessions opened to fetch

    async def timestamp(self, emb: Any) -> DocumentTimestampReport:
        try:
            status = await async_validate_pdf_timestamp(
                emb, validation_context=self.timestamp_context(*_token_facts(emb.signed_data)))
            return DocumentTimestampReport(field_name=emb.field_name or "", time=status.timestamp,
                                           tsa=_rfc4514(status.signing_cert.subject), intact=bool(status.intact),
                                           trusted=bool(status.trusted))
        except Exception as exc:  # a broken timestamp is reported, not fatal
            log.info("document timestamp %s unreadable: %s", emb.field_name, exc)
            return DocumentTimestampReport(field_name=emb.field_name or "", time=None,
                                           tsa=f"unreadable ({type(exc).__name__})", intact=False, trusted=False)

    async def signature(self, emb: Any, doc_timestamps: list[tuple[Any, DocumentTimestampReport]]) -> SignatureReport:
        cert = emb.signer_cert
        hard = self.hard_fail(cert)
        tst_time, tsa_cert = _signature_timestamp(emb)
        try:
            # A timestamped signature is judged at the time the authority vouches for: a certificate that
            # expired (or was revoked) after it signed still signed validly.
            status = await async_validate_pdf_signature(
                emb, signer_validation_context=self.context(hard, tst_time),
                ts_validation_context=self.timestamp_context(tst_time, tsa_cert))
        except Exception as exc:  # pyHanko refuses some malformed signatures outright
            return _unprocessable(emb, cert, exc)
        reasons: list[tuple[str, str]] = []  # (code, English sentence)
        ts = status.timestamp_validity
        ts_ok = ts is not None and bool(ts.intact and ts.valid and ts.trusted)
        problem = _enum_name(status.trust_problem_indic)
        if not status.intact:
            reasons.append(("changed", "digest mismatch: the document was changed after signing"))
        elif not status.valid:
            reasons.append(("bad_signature", "the cryptographic signature does not verify with the certificate"))
        if status.revoked or (status.intact and status.valid and "revoked" in problem):
            reasons.append(("revoked", "the signer's certificate is revoked"
                            + (f" (since {_when(status.revocation_details.revocation_date)})"
                               if status.revocation_details is not None else "")))
        elif not status.trusted and status.intact and status.valid:
            # (When the bytes do not match, no chain is checked: the digest reason above is the answer.)
            revinfo_missing = hard and await self._chain_holds_leniently(emb, tst_time)
            reasons.append(self._trust_reason(problem, cert, tst_time or status.signer_reported_dt, revinfo_missing))
        if status.docmdp_ok is False:
            reasons.append(("changes_not_allowed", "changes after signing are not allowed: "
                            f"{_enum_name(status.modification_level)} changes were made after this signature"))
        if ts is not None and not ts_ok:
            reasons.append(("bad_timestamp", "the signature timestamp does not verify"))
        if status.revoked or "revoked" in problem:
            revocation = "revoked"
        elif not (status.intact and status.valid) or not hard or not self.material.declares_sources(cert):
            revocation = "not_checked"
        elif status.trusted:
            revocation = "good"
        else:
            revocation = "unknown"
        certification = _is_certification(self.reader, emb)
        docmdp = emb.docmdp_level
        return SignatureReport(
            field_name=emb.field_name or "", signer_common_name=_cn(cert.subject),
            signer_subject=_rfc4514(cert.subject), issuer=_rfc4514(cert.issuer), serial=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before, not_after=cert.not_valid_after, signing_time=status.signer_reported_dt,
            timestamp_time=ts.timestamp if ts is not None else None, intact=bool(status.intact),
            cryptographic_ok=bool(status.valid), trusted=bool(status.trusted) if status.intact else None,
            revocation=revocation,
            coverage=_enum_name(status.coverage), modification_level=_enum_name(status.modification_level),
            changes_allowed=status.docmdp_ok is not False, certification=certification,
            docmdp_permission=_enum_name(docmdp) if certification and docmdp is not None else None,
            pades_level=self._level(emb, status, ts_ok, doc_timestamps),
            valid=bool(status.bottom_line) and not reasons, reasons=tuple(text for _, text in reasons),
            reason_codes=tuple(code for code, _ in reasons))

    async def _chain_holds_leniently(self, emb: Any, moment: datetime | None) -> bool:
        """Whether the signer's chain holds when missing revocation data is forgiven (then that was the
        only problem of a failed strict validation)."""
        vc = ValidationContext(trust_roots=self.roots, other_certs=list(self.extra), allow_fetching=False,
                               moment=moment or self.at, revocation_mode="soft-fail")
        validator = CertificateValidator(emb.signer_cert, intermediate_certs=list(emb.other_embedded_certs),
                                         validation_context=vc)
        try:
            await validator.async_validate_usage(set())  # type: ignore[no-untyped-call]
            return True
        except (PathBuildingError, PathValidationError):
            return False

    def _trust_reason(self, problem: str, cert: Any, signed_at: datetime | None,
                      revinfo_missing: bool) -> tuple[str, str]:
        not_after, not_before = cert.not_valid_after, cert.not_valid_before
        if "expired" in problem or "out_of_bounds" in problem or "not_yet_valid" in problem:
            if signed_at is not None and signed_at > not_after:
                what = f"expired {_when(not_after)}, signed {_when(signed_at)}"
            elif signed_at is not None and signed_at < not_before:
                what = f"not valid before {_when(not_before)}, signed {_when(signed_at)}"
            else:
                what = f"valid {_when(not_before)} to {_when(not_after)}"
            return "expired", f"the signer's certificate was not valid at signing time ({what})"
        if revinfo_missing:
            return ("revocation_unknown", "the revocation status of the signer's certificate is unknown: no OCSP "
                    f"response or CRL could be obtained or used ({problem})")
        return "untrusted", f"the certificate chain does not reach a trusted root ({problem})"

    def _level(self, emb: Any, status: Any, ts_ok: bool,
               doc_timestamps: list[tuple[Any, DocumentTimestampReport]]) -> str | None:
        if emb.sig_object.get("/SubFilter") != NameObject(PADES_SUBFILTER):
            return None
        if not ts_ok:
            return "B-B"
        ts = status.timestamp_validity
        if not (self.dss is not None and status.trusted and self.material.covers_path(status.validation_path)
                and self.material.covers_path(ts.validation_path)):
            return "B-T"
        covering = [report for doc_ts, report in doc_timestamps
                    if doc_ts.signed_revision > emb.signed_revision and report.intact and report.trusted
                    and "/DSS" in self.reader.get_historical_root(doc_ts.signed_revision)]
        return "B-LTA" if covering else "B-LT"


def _unprocessable(emb: Any, cert: Any, exc: Exception) -> SignatureReport:
    return SignatureReport(
        field_name=emb.field_name or "", signer_common_name=_cn(cert.subject) if cert else "",
        signer_subject=_rfc4514(cert.subject) if cert else "", issuer=_rfc4514(cert.issuer) if cert else "",
        serial=format(cert.serial_number, "x") if cert else "", not_before=cert.not_valid_before if cert else None,
        not_after=cert.not_valid_after if cert else None, signing_time=None, timestamp_time=None, valid=False,
        intact=False, cryptographic_ok=False, trusted=None, revocation="not_checked", coverage="unclear",
        modification_level="unknown", changes_allowed=False, certification=False, docmdp_permission=None,
        pades_level=None, reasons=(f"the signature could not be processed: {exc}",), reason_codes=("unreadable",))


async def verify_pdf(pdf: bytes, *, trust_roots: Sequence[Any], other_certs: Sequence[Any] = (),
                     allow_fetching: bool = False, at: datetime | None = None) -> VerificationReport:
    """Verify every signature and document timestamp of `pdf` against `trust_roots` (PEM/DER bytes,
    asn1crypto or cryptography certificates), as at `at` (default now).

    Offline unless `allow_fetching`: B-LT and B-LTA files carry their own revocation data. An unsigned
    PDF gives a report without signatures (valid False); bytes that are not a PDF raise InvalidPdf.
    Callers bound the time it takes (a thread with a timeout)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        page_count = int(reader.root["/Pages"]["/Count"])
        signatures = list(reader.embedded_regular_signatures)
        timestamps = list(reader.embedded_timestamp_signatures)
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InvalidPdf(f"not a readable PDF ({exc})") from exc
    dss = None
    if "/DSS" in reader.root:
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except (PdfError, ValueError, KeyError, TypeError) as exc:
            raise InvalidPdf(f"the document's security store is unreadable ({exc})") from exc
    verifier = _Verifier(reader, load_roots(trust_roots), load_roots(other_certs), dss, allow_fetching, at)
    try:
        doc_timestamps = [(emb, await verifier.timestamp(emb)) for emb in timestamps]
        reports = tuple([await verifier.signature(emb, doc_timestamps) for emb in signatures])
    finally:
        await verifier.close()
    return VerificationReport(signatures=reports, document_timestamps=tuple(r for _, r in doc_timestamps),
                              valid=bool(reports) and all(r.valid for r in reports), page_count=page_count,
                              document_title=_title(reader))


def _title(reader: PdfFileReader) -> str:
    """The document information dictionary's /Title, or "" (absent, unreadable, not text)."""
    try:
        title = reader.trailer_view["/Info"]["/Title"]
    except (KeyError, TypeError, AttributeError, PdfError, ValueError):
        return ""
    return str(title)[:500] if isinstance(title, str) else ""
