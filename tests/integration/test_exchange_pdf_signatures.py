"""The PDF signatures inside a received package (issue 17, point 4 and "a signed PDF that no longer
verifies"): a document whose PDF was signed under a trusted root lands with its signer shown; the same
package with the PDF changed after signing (and the envelope signed again, as a sender that altered it
would) is refused `pdf_signature_invalid` with a signed 02 status and nothing stored; a PDF signed under a
root nobody trusts is refused too; an unsigned PDF is let in and shown as unsigned."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

import exchange as ex
import signing as S
from backend.services.exchange import agencies
from tests.integration.conftest import Cast, Server
from tests.integration.test_exchange_api import _our_root, counts, deliver, pki
from tests.support.exchange_packages import DIRECTORY, document, signed
from tests.support.sample_pdfs import sample_pdf

PASS = "mat-khau-chung-thu-so-2026"


@pytest.fixture
async def directory(server: Server) -> None:
    await agencies.import_csv(server.db, DIRECTORY)


async def _signed_pdf(ca_dir: Path, name: str) -> bytes:
    """A two-page PDF signed (PAdES B-B) by `name`, under the CA of `ca_dir`."""
    pfx = S.issue_signing_certificate(S.load_ca(ca_dir), common_name=name, passphrase=PASS)
    options = S.SignOptions(field_name="chu_ky", box=(100.0, 100.0, 300.0, 170.0),
                            appearance=S.Appearance(name, "Chủ tịch"))
    return await S.sign_pdf(sample_pdf(2, title="Báo cáo của UBND tỉnh"), S.file_signer(pfx, PASS), options)


def _package(pdf: bytes) -> ex.DocumentPackage:
    return document(attachments=(ex.Attachment("bao-cao.pdf", "application/pdf", pdf, "Báo cáo đã ký số"),))


def _changed(pdf: bytes) -> bytes:
    """The PDF with one byte of page content changed inside the signed range."""
    at = pdf.index(b"stream\n") + 20
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1:]


async def test_a_pdf_signed_under_a_trusted_root_lands_with_its_signer(
        server: Server, cast: Cast, directory: None) -> None:
    pdf = await _signed_pdf(server.settings.data_dir / "exchange-pki" / "ca", "Nguyễn Văn Tỉnh")
    r = await deliver(server, signed(_package(pdf), pki(server).sender))
    assert r.status_code == 201, r.text
    one = (await cast["secretary"].client.get(f"/api/exchange/inbox/{r.json()['id']}")).json()
    assert one["attachments"][0]["pdf"] == {"signatures": 1, "valid": True, "readable": True,
                                            "signers": ["Nguyễn Văn Tỉnh"]}
    got = await cast["secretary"].client.get(f"/api/exchange/inbox/{r.json()['id']}/attachments/1")
    assert got.content == pdf  # byte for byte: its signature still verifies for whoever downloads it


@pytest.mark.parametrize("how", ["changed_after_signing", "untrusted_signer"])
async def test_a_pdf_whose_signature_does_not_hold_refuses_the_package_with_a_02(
        server: Server, directory: None, tmp_path: Path, how: str) -> None:
    if how == "changed_after_signing":
        pdf = _changed(await _signed_pdf(server.settings.data_dir / "exchange-pki" / "ca", "Nguyễn Văn Tỉnh"))
        reason = "changed"
    else:
        S.init_ca(tmp_path / "rogue-ca")
        pdf = await _signed_pdf(tmp_path / "rogue-ca", "Kẻ mạo danh")
        reason = "untrusted"
    package = _package(pdf)
    before = await counts(server)
    r = await deliver(server, signed(package, pki(server).sender))  # the envelope itself is sound
    assert r.status_code == 422, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == "pdf_signature_invalid" and reason in error["message"], error
    status = ex.parse_package(base64.b64decode(r.json()["status_package"]), trust_anchors=[_our_root(server)])
    assert isinstance(status, ex.StatusPackage) and status.status_code is ex.StatusCode.REFUSED
    assert status.response_for.document_id == package.document_id
    assert await counts(server) == before  # nothing half-imported


async def test_an_unsigned_pdf_is_let_in_and_shown_unsigned(server: Server, cast: Cast, directory: None) -> None:
    package = _package(sample_pdf(1, title="Công văn chưa ký số"))
    r = await deliver(server, signed(package, pki(server).sender))
    assert r.status_code == 201, r.text
    one = (await cast["secretary"].client.get(f"/api/exchange/inbox/{r.json()['id']}")).json()
    assert one["attachments"][0]["pdf"] == {"signatures": 0, "valid": False, "readable": True, "signers": []}
