"""A real PKI service on loopback for the signature tests and the signing benchmark: certomancer's
Animator (timestamp authority, OCSP responder, CRLs) under werkzeug, in a thread, over a PKI whose
keys are generated for the run. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ARCH = "ecabinet-test"
KEYS = ("root", "interm", "interm-ocsp", "tsa", "signer", "signer-rsa", "plain", "revoked", "expired")

CONFIG = """
external-url-prefix: "{prefix}"
keysets:
  test:
    path-prefix: {keydir}
    keys:
{keys}
pki-architectures:
  {arch}:
    keyset: test
    entity-defaults:
      country-name: VN
      organization-name: Văn phòng Chính phủ (thử nghiệm)
    entities:
      root: {{common-name: Root CA thử nghiệm}}
      interm: {{common-name: CA cấp dưới thử nghiệm}}
      interm-ocsp: {{common-name: OCSP thử nghiệm}}
      tsa: {{common-name: Máy chủ dấu thời gian thử nghiệm}}
      signer: {{common-name: Nguyễn Văn An}}
      signer-rsa: {{common-name: Trần Thị Bình}}
      plain: {{common-name: Lê Quang Cường}}
      revoked: {{common-name: Phạm Minh Đức}}
      expired: {{common-name: Hoàng Thu Hà}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2090-01-01T00:00:00+0000"}}
        extensions:
          - id: basic_constraints
            critical: true
            value: {{ca: true}}
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}}
      interm:
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2080-01-01T00:00:00+0000"}}
        extensions:
          - id: basic_constraints
            critical: true
            value: {{ca: true, path-len-constraint: 0}}
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}}
          - id: crl_distribution_points
            smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}
      interm-ocsp:
        issuer: interm
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2080-01-01T00:00:00+0000"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature]}}
          - id: extended_key_usage
            critical: true
            value: [ocsp_signing]
          - id: ocsp_no_check
      tsa:
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2080-01-01T00:00:00+0000"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature]}}
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
          - id: crl_distribution_points
            smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}
      signer:
        issuer: interm
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2070-01-01T00:00:00+0000"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, non_repudiation]}}
          - id: crl_distribution_points
            smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [interm]}}}}
          - id: authority_information_access
            smart-value: {{schema: aia-urls, params: {{ocsp-responder-names: [interm]}}}}
      signer-rsa:
        template: signer
        subject: signer-rsa
        subject-key: signer-rsa
      revoked:
        template: signer
        subject: revoked
        subject-key: revoked
        revocation: {{revoked-since: "2021-06-01T00:00:00+0000", reason: key_compromise}}
      expired:
        template: signer
        subject: expired
        subject-key: expired
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2021-01-01T00:00:00+0000"}}
      plain:
        issuer: interm
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2070-01-01T00:00:00+0000"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, non_repudiation]}}
    services:
      ocsp:
        interm: {{for-issuer: interm, responder-cert: interm-ocsp, signing-key: interm-ocsp}}
      crl-repo:
        root: {{for-issuer: root, signing-key: root, simulated-update-schedule: "P90D"}}
        interm: {{for-issuer: interm, signing-key: interm, simulated-update-schedule: "P30D"}}
      time-stamping:
        tsa: {{signing-key: tsa, signing-cert: tsa}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PkiService:
    """A running PKI: its architecture, URLs and a way to stop it."""

    arch: Any
    base_url: str
    server: Any
    thread: threading.Thread

    @property
    def tsa_url(self) -> str:
        return f"{self.base_url}/{ARCH}/tsa/tsa"

    def cert(self, label: str) -> Any:
        return self.arch.get_cert(label)

    def root_pem(self) -> bytes:
        from asn1crypto import pem

        return pem.armor("CERTIFICATE", self.cert("root").dump())

    def chain_pem(self, *labels: str) -> bytes:
        from asn1crypto import pem

        return b"".join(pem.armor("CERTIFICATE", self.cert(label).dump()) for label in labels)

    def signer(self, label: str = "signer") -> Any:
        from pyhanko.sign.signers import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        return SimpleSigner(signing_cert=self.cert(label), signing_key=self.arch.key_set.get_private_key(label),
                            cert_registry=SimpleCertificateStore.from_certs([self.cert("interm"),
                                                                             self.cert("root")]))

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def start(workdir: Path) -> PkiService:
    """Generate keys, write the configuration, and serve it on a free loopback port."""
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig
    from werkzeug.serving import make_server

    keydir = workdir / "keys"
    keydir.mkdir(parents=True, exist_ok=True)
    for label in KEYS:
        key: Any = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if label == "signer-rsa"
                    else ec.generate_private_key(ec.SECP256R1()))
        (keydir / f"{label}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    port = free_port()
    prefix = f"http://127.0.0.1:{port}"
    keys = "\n".join(f"      {label}: {{path: {label}.key.pem}}" for label in KEYS)
    cfg_file = workdir / "certomancer.yml"
    cfg_file.write_text(CONFIG.format(prefix=prefix, keydir=keydir, keys=keys, arch=ARCH), encoding="utf-8")
    cfg = CertomancerConfig.from_file(str(cfg_file), key_search_dir=str(workdir))
    animator = Animator(AnimatorArchStore(cfg.pki_archs), with_web_ui=False)
    server = make_server("127.0.0.1", port, animator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return PkiService(cfg.get_pki_arch(ARCH), prefix, server, thread)
