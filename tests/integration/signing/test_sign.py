"""signing/sign.py against the real PKI service on loopback (certomancer: TSA, OCSP, CRLs): what each
PAdES level puts in the file, the visible Vietnamese appearance, certification and field locks, and
every refusal (an error, never a half-signed file)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pypdf import PdfReader

import signing as S
from signing.sign import format_signing_time
from tests.integration.signing.conftest import PkiService, make_pdf, tool

BOX = (100.0, 100.0, 300.0, 170.0)
LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]


def options(pki: PkiService, level: str = "B-B", **kw: Any) -> S.SignOptions:
    base: dict[str, Any] = {"field_name": "chair", "page_index": 0, "box": BOX, "level": S.PadesLevel(level),
                            "appearance": S.Appearance("Nguyễn Văn An", "Thủ tướng Chính phủ"),
                            "timestamp_url": pki.tsa_url, "trust_roots": (pki.root_pem(),)}
    return S.SignOptions(**{**base, **kw})


async def verify(pki: PkiService, pdf: bytes) -> S.VerificationReport:
    return await S.verify_pdf(pdf, trust_roots=[pki.root_pem()])


def reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf))


async def run(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode()


# --- what each level puts in the file ------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
async def test_each_level_is_an_incremental_pades_signature_with_its_parts(pki: PkiService, level: str) -> None:
    original = make_pdf()
    signed = await S.sign_pdf(original, pki.signer(), options(pki, level))
    assert signed.startswith(original), "an incremental update keeps the original bytes"
    r = reader(signed)
    emb = r.embedded_regular_signatures[0]
    assert emb.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    signed_attrs = {a["type"].native for a in emb.signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in signed_attrs and "signing_time" not in signed_attrs  # PAdES, not CMS time
    assert bool(list(extract_tst_data_iter(emb.signer_info, signed=False))) == (level != "B-B")
    assert ("/DSS" in r.root) == (level in ("B-LT", "B-LTA"))
    assert len(r.embedded_timestamp_signatures) == (1 if level == "B-LTA" else 0)
    report = await verify(pki, signed)
    assert report.valid and report.signatures[0].pades_level == level, report.signatures[0].reasons


async def test_rsa_and_ecdsa_keys_both_sign(pki: PkiService) -> None:
    for label, mechanism in (("signer", "ecdsa"), ("signer-rsa", "rsa")):
        signed = await S.sign_pdf(make_pdf(), pki.signer(label), options(pki, "B-T"))
        emb = reader(signed).embedded_regular_signatures[0]
        assert mechanism in emb.signer_info["signature_algorithm"]["algorithm"].native
        assert (await verify(pki, signed)).valid


async def test_the_signing_time_given_is_the_claimed_and_the_printed_time(pki: PkiService) -> None:
    when = datetime(2026, 12, 3, 1, 30, 5, tzinfo=UTC)  # 08:30:05 in Hà Nội
    signed = await S.sign_pdf(make_pdf(), pki.signer(), options(pki, signing_time=when))
    sig = (await verify(pki, signed)).signatures[0]
    assert sig.signing_time == when
    assert format_signing_time(when) == "03/12/2026 08:30:05 +07:00"
    assert format_signing_time(when, "Europe/Paris") == "03/12/2026 02:30:05 +01:00"


# --- the visible signature -----------------------------------------------------------------------


async def test_the_visible_signature_sits_in_its_box_on_its_page_and_reads_in_vietnamese(
        pki: PkiService, tmp_path: Path) -> None:
    when = datetime(2026, 12, 3, 1, 30, 5, tzinfo=UTC)
    signed = await S.sign_pdf(make_pdf(pages=2), pki.signer(), options(
        pki, page_index=1, signing_time=when,
        appearance=S.Appearance("Nguyễn Văn An", "Thủ tướng Chính phủ", organization="Chính phủ nước CHXHCN Việt Nam",
                                 reason="Phê duyệt nghị quyết", location="Hà Nội")))
    pages = PdfReader(io.BytesIO(signed)).pages
    assert "/Annots" not in pages[0]
    widget = next(a.get_object() for a in pages[1]["/Annots"] if a.get_object().get("/FT") == "/Sig")
    assert widget["/T"] == "chair"
    assert [round(float(v)) for v in widget["/Rect"]] == [100, 100, 300, 170]
    # The appearance embeds its font (a subset of Liberation Serif): it renders the same everywhere.
    font = next(iter(widget["/AP"]["/N"]["/Resources"]["/Font"].values())).get_object()
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    assert "LiberationSerif" in str(font["/BaseFont"]) and "/FontFile2" in descriptor
    # Its text copies out as written (ToUnicode map), diacritics and all.
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    text = await run(tool("pdftotext"), "-f", "2", "-l", "2", "-layout", str(path), "-")
    for line in ("Ký bởi: Nguyễn Văn An", "Thủ tướng Chính phủ", "Chính phủ nước CHXHCN Việt Nam",
                 "Lý do: Phê duyệt nghị quyết", "Nơi ký: Hà Nội", "Thời gian ký: 03/12/2026 08:30:05 +07:00"):
        assert line in text, text
    # And it is drawn: ink inside the box on the rendered page, none around it.
    await run(tool("pdftoppm"), "-f", "2", "-l", "2", "-r", "72", "-gray", "-png", "-singlefile", str(path),
              str(tmp_path / "page"))
    image = Image.open(str(tmp_path / "page.png")).convert("L")
    inside = image.crop((105, 842 - 165, 295, 842 - 105))  # PDF y grows upwards, image y downwards
    outside = image.crop((320, 842 - 170, 560, 842 - 100))
    assert sum(1 for v in inside.tobytes() if v < 128) > 300
    assert all(v > 200 for v in outside.tobytes())


def _png(size: tuple[int, int], colour: tuple[int, int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, colour).save(out, "PNG")
    return out.getvalue()


async def test_the_box_shows_the_signers_handwritten_signature_and_the_bodys_red_seal(
        pki: PkiService, tmp_path: Path) -> None:
    """Decree 30's printed form of a digital document: the seal over the signature; both drawn in the box."""
    signature = _png((300, 120), (0, 0, 160, 255))  # a dark blue stroke of ink, stood in for by a block
    seal = _png((200, 200), (220, 0, 0, 255))  # the body's red seal
    signed = await S.sign_pdf(make_pdf(), pki.signer(), options(
        pki, appearance=S.Appearance("Nguyễn Văn An", "Thủ tướng", signature_image=signature, seal_image=seal)))
    assert (await verify(pki, signed)).valid
    widget = next(a.get_object() for a in PdfReader(io.BytesIO(signed)).pages[0]["/Annots"]
                  if a.get_object().get("/FT") == "/Sig")
    resources = widget["/AP"]["/N"]["/Resources"]
    forms = [x.get_object() for x in resources.get("/XObject", {}).values()]
    assert any(f.get("/Subtype") == "/Image" or "/XObject" in f.get("/Resources", {}) for f in forms), forms
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    await run(tool("pdftoppm"), "-f", "1", "-l", "1", "-r", "72", "-png", "-singlefile", str(path),
              str(tmp_path / "page"))
    page = Image.open(str(tmp_path / "page.png")).convert("RGB")
    box = page.crop((100, 842 - 170, 300, 842 - 100))
    colours = list(box.getdata())
    red = sum(1 for r, g, b in colours if r > 180 and g < 80 and b < 80)
    blue = sum(1 for r, g, b in colours if b > 120 and r < 60 and g < 60)
    assert red > 500 and blue > 500, (red, blue)
    # Left: the seal; to its right, the signature (as on paper, the seal covers the signature's start).
    assert box.getpixel((20, 35))[0] > 180 and box.getpixel((150, 35))[2] > 120


async def test_without_a_box_the_signature_is_invisible(pki: PkiService) -> None:
    signed = await S.sign_pdf(make_pdf(), pki.signer(), options(pki, box=None, appearance=None))
    widget = next(a.get_object() for a in PdfReader(io.BytesIO(signed)).pages[0]["/Annots"])
    assert [float(v) for v in widget["/Rect"]] == [0, 0, 0, 0]
    assert (await verify(pki, signed)).valid


# --- certification and locks -----------------------------------------------------------------------


async def test_the_secretariat_certifies_with_the_chairs_field_ready_and_the_chair_signs_it(pki: PkiService) -> None:
    certified = await S.sign_pdf(make_pdf(), pki.signer("signer-rsa"), options(
        pki, field_name="secretary", certify=True, box=(320.0, 100.0, 520.0, 170.0),
        appearance=S.Appearance("Trần Thị Bình", "Chánh Văn phòng"), other_fields=(("chair", 0, BOX),)))
    empty = {name: value for name, value, _ in fields.enumerate_sig_fields(reader(certified))}
    assert set(empty) == {"secretary", "chair"} and empty["chair"] is None
    approved = await S.sign_pdf(certified, pki.signer(), options(pki, field_name="chair", box=None))
    report = await verify(pki, approved)
    assert report.valid, [s.reasons for s in report.signatures]
    assert [s.field_name for s in report.signatures] == ["secretary", "chair"]
    assert report.signatures[0].certification and report.signatures[0].docmdp_permission == "fill_forms"


async def test_a_certified_document_refuses_a_new_visible_field_before_writing(pki: PkiService) -> None:
    certified = await S.sign_pdf(make_pdf(), pki.signer(), options(pki, field_name="secretary", certify=True))
    with pytest.raises(S.DocumentLocked, match="certified"):
        await S.sign_pdf(certified, pki.signer(), options(pki, field_name="chair", box=BOX))
    # An invisible signature in a new field is a signature, which certification allows.
    invisible = await S.sign_pdf(certified, pki.signer(), options(pki, field_name="chair", box=None, appearance=None))
    assert (await verify(pki, invisible)).valid


async def test_each_signature_locks_its_own_field_and_the_fields_it_names(pki: PkiService) -> None:
    certified = await S.sign_pdf(make_pdf(), pki.signer(), options(
        pki, field_name="secretary", certify=True, lock_fields=("member",),
        other_fields=(("chair", 0, (320.0, 100.0, 520.0, 170.0)), ("member", 1, BOX))))
    with pytest.raises(S.DocumentLocked, match="locked by the signature 'secretary'"):
        await S.sign_pdf(certified, pki.signer(), options(pki, field_name="member"))
    chair = await S.sign_pdf(certified, pki.signer(), options(pki, field_name="chair"))
    lock = reader(chair).embedded_regular_signatures[1].fieldmdp
    assert lock is not None and lock.is_locked("chair") and not lock.is_locked("member")
    with pytest.raises(S.DocumentLocked, match="already signed"):
        await S.sign_pdf(chair, pki.signer(), options(pki, field_name="chair"))
    with pytest.raises(S.DocumentLocked, match="already signed"):
        await S.sign_pdf(chair, pki.signer(), options(pki, field_name="secretary"))


async def test_locking_all_fields_refuses_every_later_signature(pki: PkiService) -> None:
    signed = await S.sign_pdf(make_pdf(), pki.signer(), options(
        pki, field_name="chair", lock_fields="all", other_fields=(("member", 0, (320.0, 100.0, 520.0, 170.0)),)))
    for name in ("member", "someone-else"):
        with pytest.raises(S.DocumentLocked):
            await S.sign_pdf(signed, pki.signer(), options(pki, field_name=name, box=None))


async def test_an_existing_field_cannot_be_given_a_lock_it_was_not_made_with(pki: PkiService) -> None:
    certified = await S.sign_pdf(make_pdf(), pki.signer(), options(
        pki, field_name="secretary", certify=True, other_fields=(("chair", 0, (320.0, 100.0, 520.0, 170.0)),)))
    with pytest.raises(S.SigningError) as refused:
        await S.sign_pdf(certified, pki.signer(), options(pki, field_name="chair", lock_fields="all"))
    assert refused.value.code == "lock_unavailable"


async def test_certification_must_come_first_and_no_changes_means_no_signature(pki: PkiService) -> None:
    approved = await S.sign_pdf(make_pdf(), pki.signer(), options(pki, field_name="member"))
    with pytest.raises(S.DocumentLocked, match="first signature"):
        await S.sign_pdf(approved, pki.signer(), options(pki, field_name="secretary", box=None, certify=True))
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name="author", certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES)
    await signers.PdfSigner(meta, pki.signer()).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf())),
                                                               output=out)
    with pytest.raises(S.DocumentLocked, match="no changes"):
        await S.sign_pdf(out.getvalue(), pki.signer(), options(pki, box=None))


# --- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"", b"hello", b"%PDF-1.7\n%%EOF", bytes(range(256)) * 10])
async def test_what_is_not_a_pdf_is_refused(pki: PkiService, garbage: bytes) -> None:
    with pytest.raises(S.InvalidPdf):
        await S.sign_pdf(garbage, pki.signer(), options(pki))


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
async def test_timestamped_levels_need_a_timestamp_authority(pki: PkiService, level: str) -> None:
    with pytest.raises(S.SigningError) as refused:
        await S.sign_pdf(make_pdf(), pki.signer(), options(pki, level, timestamp_url=None))
    assert refused.value.code == "timestamp_required"


async def test_a_dead_timestamp_authority_is_service_unavailable(pki: PkiService) -> None:
    with pytest.raises(S.ServiceUnavailable):
        await S.sign_pdf(make_pdf(), pki.signer(), options(pki, "B-T", timestamp_url=f"{pki.dead_url}/tsa"))


async def test_a_dead_ocsp_responder_at_b_lt_is_service_unavailable(pki: PkiService) -> None:
    with pytest.raises(S.ServiceUnavailable, match="revocation"):
        await S.sign_pdf(make_pdf(), pki.signer("unreachable"), options(pki, "B-LT"))


@pytest.mark.parametrize(("label", "why"), [("revoked", "revoked"), ("expired", "not valid now")])
async def test_long_term_signing_checks_the_certificate_first(pki: PkiService, label: str, why: str) -> None:
    """B-LT fetches the signer's revocation data before signing: a revoked or expired certificate
    is refused then (B-B does not look, and verification says what is wrong)."""
    with pytest.raises(S.CertificateUnusable, match=why):
        await S.sign_pdf(make_pdf(), pki.signer(label), options(pki, "B-LT"))


async def test_a_page_that_does_not_exist_is_refused(pki: PkiService) -> None:
    with pytest.raises(S.SigningError) as refused:
        await S.sign_pdf(make_pdf(pages=2), pki.signer(), options(pki, page_index=2))
    assert refused.value.code == "invalid"


# --- archive renewal ---------------------------------------------------------------------------------


async def test_a_new_document_timestamp_renews_the_archive(pki: PkiService) -> None:
    lta = await S.sign_pdf(make_pdf(), pki.signer(), options(pki, "B-LTA"))
    renewed = await S.add_document_timestamp(lta, pki.tsa_url, (pki.root_pem(),))
    assert renewed.startswith(lta)
    report = await verify(pki, renewed)
    assert report.valid and report.signatures[0].pades_level == "B-LTA"
    assert len(report.document_timestamps) == 2 and all(t.intact and t.trusted for t in report.document_timestamps)
    with pytest.raises(S.ServiceUnavailable):
        await S.add_document_timestamp(lta, f"{pki.dead_url}/tsa", (pki.root_pem(),))
