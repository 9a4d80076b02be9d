"""PAdES signing and verification against a real PKI service on loopback (timestamps, OCSP, CRLs),
and what every kind of broken or unacceptable file is reported as."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

import signing as S
from tests.integration.signing.conftest import make_pdf
from tests.integration.signing.pki_service import PkiService

BOX = (100.0, 100.0, 300.0, 170.0)


def _options(pki: PkiService, level: str = "B-B", **kw: Any) -> S.SignOptions:
    base: dict[str, Any] = {"field_name": "chair", "page_index": 0, "box": BOX, "level": S.PadesLevel(level),
                            "appearance": S.Appearance("Nguyễn Văn An", "Thủ tướng Chính phủ"),
                            "timestamp_url": pki.tsa_url, "trust_roots": (pki.root_pem(),)}
    return S.SignOptions(**{**base, **kw})


async def _verify(pki: PkiService, pdf: bytes, **kw: Any) -> S.VerificationReport:
    return await S.verify_pdf(pdf, trust_roots=[pki.root_pem()], **kw)


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
async def test_each_pades_level_is_signed_and_recognised(pki: PkiService, level: str) -> None:
    signed = await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, level))
    report = await _verify(pki, signed)
    sig = report.signatures[0]
    assert report.valid and sig.valid and sig.intact and sig.trusted, sig.reasons
    assert sig.pades_level == level
    assert sig.signer_common_name == "Nguyễn Văn An"
    assert (sig.timestamp_time is not None) == (level != "B-B")
    assert sig.revocation == ("good" if level in ("B-LT", "B-LTA") else "not_checked")
    assert [bool(t.intact and t.trusted) for t in report.document_timestamps] == ([True] if level == "B-LTA" else [])


async def test_long_term_files_verify_offline(pki: PkiService) -> None:
    """B-LTA carries its own revocation data: verification needs no network (fetching is off by default)."""
    signed = await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, "B-LTA"))
    pki_down = await S.verify_pdf(signed, trust_roots=[pki.root_pem()], allow_fetching=False)
    assert pki_down.valid and pki_down.signatures[0].revocation == "good"


async def test_visible_field_sits_in_its_box_and_the_text_copies_out(pki: PkiService) -> None:
    signed = await S.sign_pdf(make_pdf(), pki.signer(), _options(pki))
    page = PdfReader(io.BytesIO(signed)).pages[0]
    widget = next(a.get_object() for a in page["/Annots"] if a.get_object().get("/FT") == "/Sig")
    assert [round(float(v)) for v in widget["/Rect"]] == [100, 100, 300, 170]
    assert widget["/T"] == "chair"


async def test_certification_then_a_second_signature_both_hold(pki: PkiService) -> None:
    first = await S.sign_pdf(make_pdf(), pki.signer("signer-rsa"), _options(
        pki, field_name="secretary", certify=True, box=(60.0, 100.0, 200.0, 160.0),
        other_fields=(("chair", 0, BOX),)))
    second = await S.sign_pdf(first, pki.signer(), _options(pki, field_name="chair", box=None))
    report = await _verify(pki, second)
    assert report.valid, [s.reasons for s in report.signatures]
    cert, approval = report.signatures
    assert cert.certification and cert.docmdp_permission == "fill_forms" and cert.coverage == "entire_revision"
    assert not approval.certification and approval.coverage == "entire_file"
    # The secretary's field is locked by its own signature, and signed fields cannot be signed again.
    with pytest.raises(S.DocumentLocked):
        await S.sign_pdf(second, pki.signer(), _options(pki, field_name="secretary", box=None))
    with pytest.raises(S.DocumentLocked):
        await S.sign_pdf(second, pki.signer(), _options(pki, field_name="chair", box=None))


async def test_a_page_added_after_certification_breaks_it(pki: PkiService) -> None:
    certified = await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, certify=True))
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.writer import PageObject

    w = IncrementalPdfFileWriter(io.BytesIO(certified))
    w.insert_page(PageObject(contents=w.add_object(generic.StreamObject(stream_data=b"")),
                             media_box=generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842)))))
    out = io.BytesIO()
    w.write(out)
    report = await _verify(pki, out.getvalue())
    sig = report.signatures[0]
    assert not report.valid and not sig.valid and sig.intact
    assert not sig.changes_allowed and sig.modification_level == "other"
    assert any("changes after signing are not allowed" in r for r in sig.reasons)


async def test_a_tampered_byte_is_a_digest_mismatch(pki: PkiService) -> None:
    signed = bytearray(await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, "B-T")))
    spot = signed.index(b"/MediaBox")
    signed[spot + 1] = ord("N")  # "/MediaBox" -> "/NediaBox", inside the signed range
    report = await _verify(pki, bytes(signed))
    sig = report.signatures[0]
    assert not report.valid and not sig.intact and not sig.valid
    assert any("digest mismatch" in r for r in sig.reasons)


async def test_an_untrusted_root_is_not_valid(pki: PkiService, tmp_path: Any) -> None:
    other = S.init_ca(tmp_path / "other-ca")
    signed = await S.sign_pdf(make_pdf(), pki.signer(), _options(pki))
    report = await S.verify_pdf(signed, trust_roots=[other.root_cert.read_bytes()])
    sig = report.signatures[0]
    assert sig.intact and sig.cryptographic_ok and not sig.trusted and not sig.valid and not report.valid
    assert any("trusted root" in r for r in sig.reasons)


async def test_a_revoked_certificate_is_refused_at_signing_and_reported_at_verification(pki: PkiService) -> None:
    with pytest.raises(S.CertificateUnusable):
        await S.sign_pdf(make_pdf(), pki.signer("revoked"), _options(pki, "B-LT"))
    signed = await S.sign_pdf(make_pdf(), pki.signer("revoked"), _options(pki, "B-B"))
    offline = (await _verify(pki, signed)).signatures[0]
    assert offline.revocation in ("not_checked", "unknown")
    online = (await _verify(pki, signed, allow_fetching=True)).signatures[0]
    assert not online.valid and online.revocation == "revoked"
    assert any("revoked" in r for r in online.reasons)


async def test_an_expired_certificate_is_not_valid(pki: PkiService) -> None:
    signed = await S.sign_pdf(make_pdf(), pki.signer("expired"), _options(pki, "B-B"))
    sig = (await _verify(pki, signed)).signatures[0]
    assert sig.intact and not sig.trusted and not sig.valid
    assert any("not valid at signing time" in r or "trusted root" in r for r in sig.reasons)


async def test_unsigned_and_unreadable_files(pki: PkiService) -> None:
    report = await _verify(pki, make_pdf())
    assert report.signatures == () and not report.valid and report.page_count == 2
    for garbage in (b"", b"hello", b"%PDF-1.7\n%%EOF", bytes(range(256)) * 10):
        with pytest.raises(S.InvalidPdf):
            await _verify(pki, garbage)
        with pytest.raises(S.InvalidPdf):
            await S.sign_pdf(garbage, pki.signer(), _options(pki))


async def test_timestamp_levels_need_an_authority_and_a_dead_one_writes_nothing(pki: PkiService) -> None:
    with pytest.raises(S.SigningError) as missing:
        await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, "B-T", timestamp_url=None))
    assert missing.value.code == "timestamp_required"
    from tests.integration.signing.pki_service import free_port

    with pytest.raises(S.ServiceUnavailable):
        await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, "B-T",
                                                           timestamp_url=f"http://127.0.0.1:{free_port()}/tsa"))


async def test_a_document_certified_with_no_changes_allowed_cannot_be_signed(pki: PkiService) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name="author", certify=True,
                                        docmdp_permissions=fields.MDPPerm.NO_CHANGES)
    await signers.PdfSigner(meta, pki.signer()).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf())),
                                                               output=out)
    with pytest.raises(S.DocumentLocked):
        await S.sign_pdf(out.getvalue(), pki.signer(), _options(pki))


async def test_renewing_the_archive_timestamp_keeps_the_signature_valid(pki: PkiService) -> None:
    lta = await S.sign_pdf(make_pdf(), pki.signer(), _options(pki, "B-LTA"))
    renewed = await S.add_document_timestamp(lta, pki.tsa_url, (pki.root_pem(),))
    report = await _verify(pki, renewed)
    assert report.valid and len(report.document_timestamps) == 2
    assert report.signatures[0].pades_level == "B-LTA"

