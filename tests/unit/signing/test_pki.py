"""The development CA and the checks every signing certificate passes (files under tmp_path only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import signing as S

PASS = "KySo@2026"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> S.CaPaths:
    return S.init_ca(tmp_path_factory.mktemp("ca"))


def test_init_writes_a_root_and_an_issuing_ca_and_refuses_to_overwrite(ca: S.CaPaths) -> None:
    root = x509.load_pem_x509_certificate(ca.root_cert.read_bytes())
    issuing = x509.load_pem_x509_certificate(ca.issuing_cert.read_bytes())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    issuing.verify_directly_issued_by(root)
    assert oct(ca.issuing_key.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(S.PkiError) as exists:
        S.init_ca(ca.directory)
    assert exists.value.code == "ca_exists"
    assert S.load_ca(ca.directory) == ca
    with pytest.raises(S.PkiError):
        S.load_ca(ca.directory / "nowhere")


@pytest.mark.parametrize("key_type", ["ecdsa", "rsa"])
def test_issued_certificate_signs_documents_and_round_trips_vietnamese_names(ca: S.CaPaths, key_type: str) -> None:
    p12 = S.issue_signing_certificate(ca, common_name="Nguyễn Văn Ân", title="Bộ trưởng", passphrase=PASS,
                                      key_type=key_type)  # type: ignore[arg-type]
    key, cert, chain = S.read_pkcs12(p12, PASS)
    issuing = x509.load_pem_x509_certificate(ca.issuing_cert.read_bytes())
    cert.verify_directly_issued_by(issuing)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.content_commitment and ku.value.digital_signature and not ku.value.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    info = S.import_pkcs12(p12, PASS)
    assert (info.common_name, info.title, info.can_sign) == ("Nguyễn Văn Ân", "Bộ trưởng", True)
    assert info.issuer_common_name == "e-Cabinet Issuing CA (phát triển)" and len(info.fingerprint_sha256) == 64
    assert len(chain) == 2


def test_bad_pkcs12_inputs(ca: S.CaPaths) -> None:
    p12 = S.issue_signing_certificate(ca, common_name="Lê Văn B", passphrase=PASS)
    with pytest.raises(S.WrongPassphrase):
        S.read_pkcs12(p12, "wrong-passphrase")
    with pytest.raises(S.PkiError) as garbage:
        S.read_pkcs12(b"not a p12 file", PASS)
    assert garbage.value.code == "invalid_pkcs12"
    with pytest.raises(S.PkiError) as weak:
        S.issue_signing_certificate(ca, common_name="Lê Văn B", passphrase="short")
    assert weak.value.code == "weak_passphrase"
    with pytest.raises(S.PkiError):
        S.issue_signing_certificate(ca, common_name="  ", passphrase=PASS)


def _cert(*, usage: dict[str, bool] | None = None, ca: bool = False,
          days: tuple[int, int] = (-1, 365)) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Thử nghiệm")])
    now = datetime.now(UTC)
    flags = {"digital_signature": False, "content_commitment": False, "key_encipherment": False,
             "data_encipherment": False, "key_agreement": False, "key_cert_sign": False, "crl_sign": False,
             "encipher_only": False, "decipher_only": False} | (usage or {})
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now + timedelta(days=days[0]))
            .not_valid_after(now + timedelta(days=days[1]))
            .add_extension(x509.KeyUsage(**flags), critical=True)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize(("cert_kw", "fragment"), [
    ({"usage": {"key_encipherment": True}}, "key usage"),
    ({"usage": {"digital_signature": True}, "days": (-400, -30)}, "expired"),
    ({"usage": {"digital_signature": True}, "days": (10, 400)}, "valid only from"),
    ({"usage": {"digital_signature": True, "key_cert_sign": True}, "ca": True}, "CA certificate"),
])
def test_certificates_that_may_not_sign_are_refused(cert_kw: dict[str, object], fragment: str) -> None:
    cert = _cert(**cert_kw)  # type: ignore[arg-type]
    with pytest.raises(S.CertificateUnusable) as refused:
        S.check_can_sign(cert)
    assert fragment in refused.value.message
    assert S.describe(cert).can_sign is False
    S.check_can_sign(_cert(usage={"content_commitment": True}))  # non-repudiation alone is enough


def test_file_signer_refuses_an_expired_certificate(ca: S.CaPaths, tmp_path: Path) -> None:
    p12 = S.issue_signing_certificate(ca, common_name="Hết hạn", passphrase=PASS, valid_days=1)
    S.file_signer(p12, PASS)
    with pytest.raises(S.CertificateUnusable):
        S.file_signer(p12, PASS, at=datetime.now(UTC) + timedelta(days=3))
    with pytest.raises(S.WrongPassphrase):
        S.file_signer(p12, "sai-mat-khau")


def test_a_stored_key_file_costs_a_guesser_as_much_through_its_mac_as_through_its_key(
        ca: S.CaPaths, tmp_path: Path) -> None:
    """The PKCS#12 MAC is a second way to test a guessed passphrase: with 2,048 iterations it was 50 times
    cheaper than the key's 100,000. OpenSSL, a validator that is not ours, reads both counts."""
    import shutil
    import subprocess

    from asn1crypto import pkcs12 as asn1_pkcs12

    p12 = S.issue_signing_certificate(ca, common_name="Trần Thị Mai", passphrase=PASS)
    mac = asn1_pkcs12.Pfx.load(p12)["mac_data"]
    assert mac["iterations"].native >= 100_000 and len(mac["mac_salt"].native) >= 16
    assert mac["mac"]["digest_algorithm"]["algorithm"].native == "sha256"
    key, cert, _ = S.read_pkcs12(p12, PASS)  # cryptography checks the MAC and opens the key
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Trần Thị Mai"
    with pytest.raises(S.WrongPassphrase):
        S.read_pkcs12(p12, PASS + "x")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    (tmp_path / "k.p12").write_bytes(p12)
    info = subprocess.run([openssl, "pkcs12", "-info", "-in", str(tmp_path / "k.p12"), "-noout",
                           "-passin", f"pass:{PASS}"], capture_output=True, text=True, check=True).stderr
    assert "MAC: sha256, Iteration 100000" in info and "Iteration 100000" in info.split("Shrouded Keybag")[1]
