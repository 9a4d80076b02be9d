"""The signature tests' real PKI service and small PDFs to sign.

A PKI described in `pki/certomancer.yml` (root, issuing CA, RSA and ECDSA signers, a revoked, an
expired and an unreachable-OCSP signer, a timestamp authority, an OCSP responder, CRLs), with keys
generated for the run, served by certomancer's Animator under werkzeug on a free loopback port in a
thread. Its clock is cut to whole seconds: NSS (pdfsig) rejects OCSP responses with fractional
seconds. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import io
import logging
import shutil
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import free_port, unavailable

PKI_DIR = Path(__file__).resolve().parent / "pki"
ARCH = "ecabinet-test"
KEYS = ("root", "interm", "interm-ocsp", "tsa", "signer", "signer-rsa", "plain", "revoked", "expired", "unreachable")
RSA_KEYS = {"root", "signer-rsa"}  # the others are ECDSA P-256
TITLE = "NGHI QUYET SO 01/2026"


@dataclass
class PkiService:
    """A running PKI: its architecture, URLs and the way to stop it."""

    arch: Any
    base_url: str
    dead_url: str
    """A loopback URL where nothing listens (a dead TSA or OCSP responder)."""
    server: Any
    thread: threading.Thread

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    def cert(self, label: str) -> Any:
        """The asn1crypto certificate `label` of pki/certomancer.yml."""
        return self.arch.get_cert(label)

    def root_pem(self) -> bytes:
        return self.chain_pem("root")

    def chain_pem(self, *labels: str) -> bytes:
        from asn1crypto import pem

        return b"".join(pem.armor("CERTIFICATE", self.cert(label).dump()) for label in labels)

    def signer(self, label: str = "signer") -> Any:
        """A pyHanko SimpleSigner with the key and certificate `label`, and the issuing chain."""
        from pyhanko.sign.signers import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        return SimpleSigner(signing_cert=self.cert(label), signing_key=self.arch.key_set.get_private_key(label),
                            cert_registry=SimpleCertificateStore.from_certs([self.cert("interm"),
                                                                             self.cert("root")]))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _write_keys(key_dir: Path) -> None:
    key_dir.mkdir(parents=True, exist_ok=True)
    for label in KEYS:
        key: Any = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if label in RSA_KEYS
                    else ec.generate_private_key(ec.SECP256R1()))
        (key_dir / f"{label}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def start_pki(workdir: Path) -> PkiService:
    """Generate keys, fill in pki/certomancer.yml, and serve it on a free loopback port."""
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig
    from werkzeug.serving import make_server

    class WholeSecondAnimator(Animator):  # type: ignore[misc]
        def at_time(self, request: Any) -> datetime:
            moment: datetime = super().at_time(request)
            return moment.replace(microsecond=0)

    key_dir = workdir / "keys"
    _write_keys(key_dir)
    port, dead_port = free_port(), free_port()
    base_url, dead_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{dead_port}"
    template = string.Template((PKI_DIR / "certomancer.yml").read_text(encoding="utf-8"))
    cfg_file = workdir / "certomancer.yml"
    cfg_file.write_text(template.substitute(base_url=base_url, dead_url=dead_url, key_dir=str(key_dir)),
                        encoding="utf-8")
    cfg = CertomancerConfig.from_file(str(cfg_file), key_search_dir=str(workdir))
    animator = WholeSecondAnimator(AnimatorArchStore(cfg.pki_archs), with_web_ui=False)
    server = make_server("127.0.0.1", port, animator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="certomancer", daemon=True)
    thread.start()
    return PkiService(cfg.get_pki_arch(ARCH), base_url, dead_url, server, thread)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PkiService]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    service = start_pki(Path(tmp_path_factory.mktemp("pki")))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def root_pem(pki: PkiService) -> bytes:
    """The test PKI's root certificate (PEM), the one trust anchor of the tests."""
    return pki.root_pem()


@pytest.fixture(scope="session")
def tsa_url(pki: PkiService) -> str:
    return pki.tsa_url


@pytest.fixture(scope="session")
def ecdsa_signer(pki: PkiService) -> Any:
    return pki.signer("signer")


@pytest.fixture(scope="session")
def rsa_signer(pki: PkiService) -> Any:
    return pki.signer("signer-rsa")


def make_pdf(pages: int = 2) -> bytes:
    """A small A4 document; its page text is not compressed, so a test can change one letter of it."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(595, 842), pageCompression=0)
    canvas.setTitle(TITLE)
    for page in range(pages):
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawString(72, 770, TITLE)
        canvas.setFont("Helvetica", 11)
        canvas.drawString(72, 740, f"Trang {page + 1}/{pages}. Van phong Chinh phu - ban thu nghiem.")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def tool(name: str) -> str:
    """The path of a command-line tool; skip without it (fail with ECABINET_REQUIRE_SERVICES=1)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make installs poppler-utils, libnss3-tools and openssl)")
    assert path is not None
    return path
