"""signing/verify.py on files signed against the real PKI service on loopback: what the report says of
every level, of certification, of later changes, of a tampered byte, an untrusted root, revoked,
expired and unreachable certificates; and validators that are not ours agreeing (poppler's pdfsig
with an NSS database trusting the test root, `openssl ts -verify` on a B-LTA document timestamp)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfWriter

import signing as S
from tests.integration.signing.conftest import TITLE, PkiService, make_pdf, tool

BOX = (100.0, 100.0, 300.0, 170.0)
LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]


def options(pki: PkiService, level: str = "B-B", **kw: Any) -> S.SignOptions:
    base: dict[str, Any] = {"field_name": "chair", "page_index": 0, "box": BOX, "level": S.PadesLevel(level),
                            "appearance": S.Appearance("Nguyễn Văn An", "Thủ tướng Chính phủ"),
                            "timestamp_url": pki.tsa_url, "trust_roots": (pki.root_pem(),)}
    return S.SignOptions(**{**base, **kw})


async def sign(pki: PkiService, level: str = "B-B", label: str = "signer", pdf: bytes | None = None,
               **kw: Any) -> bytes:
    return await S.sign_pdf(pdf if pdf is not None else make_pdf(), pki.signer(label), options(pki, level, **kw))


async def verify(pki: PkiService, pdf: bytes, **kw: Any) -> S.VerificationReport:
    return await S.verify_pdf(pdf, trust_roots=[pki.root_pem()], **kw)


def add_page(pdf: bytes) -> bytes:
    """What an editor does: append an incremental update with one more page (pypdf, not pyHanko)."""
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue().startswith(pdf)
    return out.getvalue()


def tamper(pdf: bytes) -> bytes:
    """One byte of the page text changed ("01/2026" -> "07/2026"), inside the signed range, outside /Contents."""
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
    start1, len1, start2, _ = (int(v) for v in sig.sig_object["/ByteRange"])
    spot = pdf.index(TITLE.encode()) + TITLE.index("01") + 1
    assert start1 <= spot < start1 + len1 < start2, "the byte must be signed and not in the signature's /Contents"
    changed = bytearray(pdf)
    changed[spot] = ord("7")
    return bytes(changed)


def stranger_root() -> bytes:
    """A root certificate nobody in the test PKI chains to."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Root CA lạ")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


# --- every level, and the facts of a signature ---------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
async def test_each_level_verifies_offline_as_that_level(pki: PkiService, level: str) -> None:
    report = await verify(pki, await sign(pki, level))
    sig = report.signatures[0]
    assert report.valid and sig.valid and sig.intact and sig.cryptographic_ok and sig.trusted, sig.reasons
    assert sig.pades_level == level and sig.reasons == ()
    assert (sig.timestamp_time is not None) == (level != "B-B")
    # Offline, revocation is known only from what the file carries (B-LT and up).
    assert sig.revocation == ("good" if level in ("B-LT", "B-LTA") else "not_checked")
    assert [(t.intact, t.trusted) for t in report.document_timestamps] == ([(True, True)] if level == "B-LTA" else [])
    # The DSS (and the document timestamp) come in later revisions: changes, allowed ones.
    long_term = level in ("B-LT", "B-LTA")
    assert sig.coverage == ("entire_revision" if long_term else "entire_file")
    assert sig.modification_level == ("lta_updates" if long_term else "none") and sig.changes_allowed


async def test_online_verification_asks_the_ocsp_responder(pki: PkiService) -> None:
    sig = (await verify(pki, await sign(pki, "B-T"), allow_fetching=True)).signatures[0]
    assert sig.valid and sig.revocation == "good" and sig.pades_level == "B-T"


async def test_the_report_names_the_signer_and_the_certificate(pki: PkiService) -> None:
    report = await verify(pki, await sign(pki, "B-T", label="signer-rsa"))
    sig, cert = report.signatures[0], pki.cert("signer-rsa")
    assert sig.field_name == "chair" and sig.signer_common_name == "Trần Thị Bình"
    assert "Trần Thị Bình" in sig.signer_subject and "CA cấp dưới thử nghiệm" in sig.issuer
    assert sig.serial == format(cert.serial_number, "x")
    assert sig.not_before == datetime(2020, 1, 1, tzinfo=UTC) and sig.not_after == datetime(2070, 1, 1, tzinfo=UTC)
    assert sig.signing_time is not None and sig.timestamp_time is not None
    assert abs(sig.timestamp_time - sig.signing_time) < timedelta(seconds=30)
    assert not sig.certification and sig.docmdp_permission is None and report.page_count == 2


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
async def test_long_term_files_hold_after_their_crls_and_the_signers_certificate_expire(
        pki: PkiService, level: str) -> None:
    """2071: the signer's certificate ended in 2070 and every CRL in the DSS is decades past its next
    update; the signature was made (timestamp) while everything was valid and is still good, offline."""
    signed = await sign(pki, level)
    later = await verify(pki, signed, at=datetime(2071, 1, 1, tzinfo=UTC))
    assert later.valid and later.signatures[0].pades_level == level, later.signatures[0].reasons
    plain = await verify(pki, await sign(pki, "B-B"), at=datetime(2071, 1, 1, tzinfo=UTC))
    assert not plain.valid and "not valid at signing time" in plain.signatures[0].reasons[0]


# --- certification, later changes ------------------------------------------------------------------


async def test_certification_and_approval_both_hold_and_say_what_came_after(pki: PkiService) -> None:
    certified = await sign(pki, field_name="secretary", label="signer-rsa", certify=True,
                           box=(320.0, 100.0, 520.0, 170.0), other_fields=(("chair", 0, BOX),))
    approved = await sign(pki, "B-T", pdf=certified, field_name="chair")
    report = await verify(pki, approved)
    assert report.valid, [s.reasons for s in report.signatures]
    secretary, chair = report.signatures
    assert secretary.certification and secretary.docmdp_permission == "fill_forms"
    assert secretary.coverage == "entire_revision" and secretary.modification_level == "form_filling"
    assert secretary.changes_allowed and secretary.pades_level == "B-B"
    assert not chair.certification and chair.coverage == "entire_file" and chair.pades_level == "B-T"


async def test_a_page_added_after_certification_breaks_the_certification(pki: PkiService) -> None:
    certified = await sign(pki, field_name="secretary", certify=True, other_fields=(("chair", 0, BOX),))
    report = await verify(pki, add_page(certified))
    sig = report.signatures[0]
    assert report.page_count == 3 and not report.valid
    assert sig.intact and sig.cryptographic_ok and sig.trusted, "the signed revision itself is untouched"
    assert not sig.changes_allowed and sig.modification_level == "other" and not sig.valid
    assert any(r.startswith("changes after signing are not allowed") for r in sig.reasons), sig.reasons


async def test_a_tampered_byte_is_a_digest_mismatch(pki: PkiService) -> None:
    report = await verify(pki, tamper(await sign(pki, "B-T")))
    sig = report.signatures[0]
    assert not report.valid and not sig.intact and not sig.valid
    assert sig.reasons[0].startswith("digest mismatch"), sig.reasons
    assert sig.reason_codes[0] == "changed"
    assert not any("trusted root" in r for r in sig.reasons), "no chain is judged for bytes that do not match"
    assert sig.trusted is None, "trust is not judged for bytes that do not match: neither yes nor no"


async def test_valid_means_the_same_at_every_level_of_the_report(pki: PkiService) -> None:
    """An integrator reading signatures[i].valid must never accept a tampered file (it said true)."""
    tampered = (await verify(pki, tamper(await sign(pki, "B-B")))).to_dict()
    assert tampered["valid"] is False
    assert [s["valid"] for s in tampered["signatures"]] == [False]
    assert "bottom_line" not in tampered["signatures"][0], "one name for the verdict"
    good = (await verify(pki, await sign(pki, "B-B"))).to_dict()
    assert good["valid"] is True and [s["valid"] for s in good["signatures"]] == [True]
    assert good["signatures"][0]["cryptographic_ok"] is True


async def test_the_report_names_the_document_it_checked(pki: PkiService) -> None:
    report = await verify(pki, await sign(pki, "B-B"))
    assert report.document_title == TITLE


# --- trust, revocation, validity -------------------------------------------------------------------


async def test_trust_roots_may_be_given_in_every_form(pki: PkiService) -> None:
    signed = await sign(pki)
    root = pki.cert("root")
    forms = [pki.root_pem(), root.dump(), root, x509.load_der_x509_certificate(root.dump())]
    for form in forms:
        assert (await S.verify_pdf(signed, trust_roots=[form])).valid, type(form)
    assert isinstance(root, asn1_x509.Certificate)


async def test_a_root_the_signer_does_not_chain_to_is_not_trusted(pki: PkiService) -> None:
    report = await S.verify_pdf(await sign(pki, "B-T"), trust_roots=[stranger_root()])
    sig = report.signatures[0]
    assert sig.intact and sig.cryptographic_ok and not sig.trusted and not sig.valid and not report.valid
    assert any(r.startswith("the certificate chain does not reach a trusted root") for r in sig.reasons)


async def test_a_revoked_certificate_is_found_out_online(pki: PkiService) -> None:
    signed = await sign(pki, "B-T", label="revoked")
    offline = (await verify(pki, signed)).signatures[0]
    assert offline.revocation == "not_checked", "offline, nothing in the file says so"
    online = (await verify(pki, signed, allow_fetching=True)).signatures[0]
    assert online.revocation == "revoked" and not online.trusted and not online.valid
    assert online.reasons == ("the signer's certificate is revoked (since 2021-06-01 00:00:00 UTC)",)


async def test_an_unanswered_revocation_check_is_unknown_not_untrusted(pki: PkiService) -> None:
    signed = await sign(pki, label="unreachable")
    sig = (await verify(pki, signed, allow_fetching=True)).signatures[0]
    assert sig.revocation == "unknown" and not sig.valid
    assert sig.reasons[0].startswith("the revocation status of the signer's certificate is unknown"), sig.reasons


async def test_an_expired_certificate_is_not_valid(pki: PkiService) -> None:
    sig = (await verify(pki, await sign(pki, label="expired"))).signatures[0]
    assert sig.intact and sig.cryptographic_ok and not sig.trusted and not sig.valid
    assert len(sig.reasons) == 1 and sig.reasons[0].startswith(
        "the signer's certificate was not valid at signing time (expired 2021-01-01"), sig.reasons


# --- no signature, no PDF; the report as JSON ------------------------------------------------------


async def test_an_unsigned_pdf_has_no_signatures_and_is_not_valid(pki: PkiService) -> None:
    report = await verify(pki, make_pdf(pages=3))
    assert report.signatures == () and report.document_timestamps == () and not report.valid
    assert report.page_count == 3


@pytest.mark.parametrize("garbage", [b"", b"hello", b"%PDF-1.7\n%%EOF", bytes(range(256)) * 10])
async def test_what_is_not_a_pdf_is_invalid_pdf(pki: PkiService, garbage: bytes) -> None:
    with pytest.raises(S.InvalidPdf) as refused:
        await verify(pki, garbage)
    assert refused.value.code == "invalid_pdf"


async def test_the_report_is_json_ready(pki: PkiService) -> None:
    report = await verify(pki, await sign(pki, "B-LTA"))
    data = json.loads(json.dumps(report.to_dict()))
    sig = data["signatures"][0]
    assert data["valid"] is True and sig["pades_level"] == "B-LTA" and sig["reasons"] == []
    assert datetime.fromisoformat(sig["timestamp_time"]) == report.signatures[0].timestamp_time
    assert datetime.fromisoformat(data["document_timestamps"][0]["time"]).tzinfo is not None


# --- validators that are not ours ------------------------------------------------------------------


async def run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@pytest.fixture(scope="module")
def nssdb(pki: PkiService, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NSS database that trusts the test root (and nothing else)."""
    import subprocess

    certutil = tool("certutil")
    db = tmp_path_factory.mktemp("nss")
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    (db / "root.pem").write_bytes(pki.root_pem())
    subprocess.run([certutil, "-A", "-n", "root", "-t", "CT,C,C", "-i", str(db / "root.pem"), "-d", f"sql:{db}"],
                   check=True, capture_output=True)
    return db


async def pdfsig(nssdb: Path, pdf: bytes, path: Path) -> str:
    await asyncio.to_thread(path.write_bytes, pdf)
    _, text = await run(tool("pdfsig"), "-nssdir", f"sql:{nssdb}", str(path))  # always exits 0: read its text
    return text


@pytest.mark.parametrize("level", ["B-B", "B-T"])
@pytest.mark.parametrize("label", ["signer", "signer-rsa"])  # ECDSA, RSA; both name an OCSP responder NSS asks
async def test_pdfsig_finds_our_signatures_valid_and_trusted_and_a_tampered_copy_not(
        pki: PkiService, nssdb: Path, tmp_path: Path, level: str, label: str) -> None:
    signed = await sign(pki, level, label=label)
    text = await pdfsig(nssdb, signed, tmp_path / "signed.pdf")
    assert "Signature is Valid." in text and "Certificate is Trusted." in text, text
    assert "ETSI.CAdES.detached" in text and "Total document signed" in text
    broken = await pdfsig(nssdb, tamper(signed), tmp_path / "tampered.pdf")
    assert "Digest Mismatch." in broken and "Signature is Valid." not in broken, broken


async def test_pdfsig_accepts_both_signatures_of_a_certified_and_approved_record(
        pki: PkiService, nssdb: Path, tmp_path: Path) -> None:
    certified = await sign(pki, field_name="secretary", label="signer-rsa", certify=True,
                           box=(320.0, 100.0, 520.0, 170.0), other_fields=(("chair", 0, BOX),))
    text = await pdfsig(nssdb, await sign(pki, "B-T", pdf=certified, field_name="chair"), tmp_path / "two.pdf")
    assert text.count("Signature is Valid.") == 2 and text.count("Certificate is Trusted.") == 2, text


async def test_openssl_confirms_the_document_timestamp_of_a_b_lta_file(pki: PkiService, tmp_path: Path) -> None:
    openssl = tool("openssl")
    signed = await sign(pki, "B-LTA")
    doc_ts = PdfFileReader(io.BytesIO(signed)).embedded_timestamp_signatures[-1]
    token = tmp_path / "token.der"
    # /Contents is the DER timestamp token, padded with zeros to the reserved size.
    token.write_bytes(cms.ContentInfo.load(bytes(doc_ts.pkcs7_content)).dump())
    start1, len1, start2, len2 = (int(v) for v in doc_ts.sig_object["/ByteRange"])
    data = tmp_path / "covered.bin"
    data.write_bytes(signed[start1:start1 + len1] + signed[start2:start2 + len2])
    (tmp_path / "ca.pem").write_bytes(pki.root_pem())
    (tmp_path / "tsa.pem").write_bytes(pki.chain_pem("tsa"))
    argv = [openssl, "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in",
            "-CAfile", str(tmp_path / "ca.pem"), "-untrusted", str(tmp_path / "tsa.pem")]
    code, out = await run(*argv)
    assert code == 0 and "Verification: OK" in out, out
    data.write_bytes(data.read_bytes()[:-1] + b"!")  # one byte off: openssl must refuse
    code, out = await run(*argv)
    assert code != 0 and "Verification: OK" not in out, out
