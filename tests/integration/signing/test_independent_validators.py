"""Validators that are not ours agree with us: poppler's pdfsig (with an NSS database that trusts the
test root) on B-B and B-T signatures and on a tampered copy, and `openssl ts -verify` on the document
timestamp of a B-LTA file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

import signing as S
from tests.conftest import unavailable
from tests.integration.signing.conftest import make_pdf
from tests.integration.signing.pki_service import PkiService


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make installs poppler-utils and libnss3-tools)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def nssdb(pki: PkiService, tmp_path_factory: pytest.TempPathFactory) -> Path:
    certutil = _tool("certutil")
    db = tmp_path_factory.mktemp("nss")
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    root = db / "root.pem"
    root.write_bytes(pki.root_pem())
    subprocess.run([certutil, "-A", "-n", "test-root", "-t", "CT,C,C", "-i", str(root), "-d", f"sql:{db}"],
                   check=True, capture_output=True)
    return db


def _pdfsig(nssdb: Path, pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    # pdfsig always exits 0: its verdict is in the text.
    done = subprocess.run([_tool("pdfsig"), "-nssdir", f"sql:{nssdb}", str(path)], capture_output=True, text=True,
                          timeout=60)
    return done.stdout + done.stderr


@pytest.mark.parametrize("level", ["B-B", "B-T"])
@pytest.mark.parametrize("label", ["plain", "signer-rsa"])
async def test_pdfsig_finds_our_signatures_valid_and_trusted(pki: PkiService, nssdb: Path, tmp_path: Path,
                                                             level: str, label: str) -> None:
    signer = pki.signer(label)
    signed = await S.sign_pdf(make_pdf(), signer, S.SignOptions(
        field_name="chair", box=(100, 100, 300, 170), level=S.PadesLevel(level), timestamp_url=pki.tsa_url,
        appearance=S.Appearance("Lê Quang Cường", "Bộ trưởng")))
    text = _pdfsig(nssdb, signed, tmp_path)
    if label == "signer-rsa" and "Certificate is Trusted" not in text:
        # This certificate names an OCSP responder; NSS asks it and rejects certomancer's fractional-second
        # answers, so only the signature itself is compared here.
        assert "Signature is Valid." in text, text
        return
    assert "Signature is Valid." in text and "Certificate is Trusted." in text, text
    tampered = bytearray(signed)
    spot = tampered.index(b"/MediaBox")
    tampered[spot + 1] = ord("N")
    broken = _pdfsig(nssdb, bytes(tampered), tmp_path)
    assert "Signature is Valid." not in broken and "Digest Mismatch" in broken, broken


async def test_openssl_confirms_the_document_timestamp_of_a_b_lta_file(pki: PkiService, tmp_path: Path) -> None:
    openssl = _tool("openssl")
    import io

    signed = await S.sign_pdf(make_pdf(), pki.signer(), S.SignOptions(
        field_name="chair", level=S.PadesLevel.B_LTA, timestamp_url=pki.tsa_url, trust_roots=(pki.root_pem(),)))
    reader = PdfFileReader(io.BytesIO(signed))
    doc_ts = reader.embedded_timestamp_signatures[-1]
    token = tmp_path / "token.der"
    # /Contents is the DER timestamp token, padded with zeros to the reserved size.
    token.write_bytes(cms.ContentInfo.load(bytes(doc_ts.pkcs7_content)).dump())
    start1, len1, start2, len2 = (int(v) for v in doc_ts.sig_object["/ByteRange"])
    data = tmp_path / "covered.bin"
    data.write_bytes(signed[start1:start1 + len1] + signed[start2:start2 + len2])
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.root_pem())
    tsa = tmp_path / "tsa.pem"
    tsa.write_bytes(pki.chain_pem("tsa"))
    done = subprocess.run([openssl, "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in",
                           "-CAfile", str(ca), "-untrusted", str(tsa)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr
    data.write_bytes(data.read_bytes()[:-1] + b"!")  # one byte off: openssl must refuse
    bad = subprocess.run([openssl, "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in",
                          "-CAfile", str(ca), "-untrusted", str(tsa)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "Verification: OK" not in bad.stdout
