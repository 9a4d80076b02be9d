"""A development certificate authority (root + issuing CA) and the checks every signing certificate
passes, with `cryptography`. Real deployments import certificates from a licensed CA (PKCS#12) or
sign with a token; this CA lets a fresh install sign and verify out of the box.

ECDSA P-256 keys: fast to make (tests create many) and accepted by pyHanko, poppler and OpenSSL.
RSA is available for users (`key_type="rsa"`) because many government tokens still hold RSA keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.errors import CertificateUnusable, PkiError, WrongPassphrase

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
MIN_PASSPHRASE = 8


@dataclass(frozen=True)
class CaPaths:
    """The development CA's files."""

    directory: Path
    """Where they live."""
    root_cert: Path
    """Root certificate (PEM): what verifiers trust."""
    issuing_cert: Path
    """Issuing CA certificate (PEM), signed by the root; it signs users' certificates."""
    issuing_key: Path
    """Issuing CA key (PEM, PKCS#8; encrypted when a passphrase was given, else mode 0600)."""


@dataclass(frozen=True)
class CertificateInfo:
    """What a person needs to know about a certificate."""

    common_name: str
    """Subject CN (the signer's name)."""
    title: str | None
    """Subject title (chức vụ), if any."""
    organization: str | None
    """Subject O, if any."""
    issuer_common_name: str
    """Issuer CN."""
    serial: str
    """Serial number, hex."""
    not_before: datetime
    """Start of validity (UTC)."""
    not_after: datetime
    """End of validity (UTC)."""
    fingerprint_sha256: str
    """SHA-256 of the DER certificate, hex."""
    key_usages: tuple[str, ...]
    """Key usages present (digital_signature, content_commitment, ...)."""
    can_sign: bool
    """Usable to sign documents now (signing key usage, in validity, not a CA)."""


def _paths(directory: Path) -> CaPaths:
    return CaPaths(directory, directory / "root.pem", directory / "issuing.pem", directory / "issuing-key.pem")


def _name(common_name: str, *, title: str | None = None, organization: str | None = None,
          email: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, title))
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"))
    return x509.Name(attrs)


def _new_key(key_type: Literal["rsa", "ecdsa"]) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _serial() -> int:
    return secrets.randbits(159) | 1


def _ca_cert(subject: x509.Name, issuer: x509.Name, public_key: object, signing_key: PrivateKey, *,
             path_length: int, days: int, issuer_cert: x509.Certificate | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key)  # type: ignore[arg-type]
               .serial_number(_serial()).not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=True, crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))  # type: ignore[arg-type]
    if issuer_cert is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_cert.public_key()), critical=False)  # type: ignore[arg-type]
    return builder.sign(signing_key, hashes.SHA256())


def init_ca(directory: Path, *, organization: str = "e-Cabinet (phát triển)", passphrase: str | None = None,
            valid_years: int = 10, force: bool = False) -> CaPaths:
    """Create a root CA and an issuing CA in `directory` (refuses to replace one unless `force`)."""
    paths = _paths(Path(directory))
    if paths.root_cert.exists() and not force:
        raise PkiError(f"a CA already exists in {paths.directory} (use force to replace it)", code="ca_exists")
    paths.directory.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name("e-Cabinet Root CA (phát triển)", organization=organization)
    root = _ca_cert(root_name, root_name, root_key.public_key(), root_key, path_length=1, days=365 * valid_years)
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    issuing_name = _name("e-Cabinet Issuing CA (phát triển)", organization=organization)
    issuing = _ca_cert(issuing_name, root_name, issuing_key.public_key(), root_key, path_length=0,
                       days=365 * valid_years - 1, issuer_cert=root)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption())
    paths.root_cert.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths.issuing_cert.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    fd = os.open(paths.issuing_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(issuing_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    # The root's key is not kept: the issuing CA does all further work, and a development root that
    # cannot sign again cannot be misused to mint another issuing CA.
    return paths


def load_ca(directory: Path) -> CaPaths:
    paths = _paths(Path(directory))
    for p in (paths.root_cert, paths.issuing_cert, paths.issuing_key):
        if not p.exists():
            raise PkiError(f"the development CA is incomplete: {p} is missing (run `ecabinet pki init`)",
                           code="no_ca")
    return paths


def _issuing(ca: CaPaths, ca_passphrase: str | None) -> tuple[x509.Certificate, PrivateKey, x509.Certificate]:
    cert = x509.load_pem_x509_certificate(ca.issuing_cert.read_bytes())
    root = x509.load_pem_x509_certificate(ca.root_cert.read_bytes())
    try:
        key = serialization.load_pem_private_key(ca.issuing_key.read_bytes(),
                                                 ca_passphrase.encode() if ca_passphrase else None)
    except (TypeError, ValueError) as exc:
        raise PkiError(f"cannot open the issuing CA's key: {exc}", code="ca_key") from exc
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return cert, key, root


def issue_certificate_for_public_key(ca: CaPaths, public_key: object, *, common_name: str, title: str | None = None,
                                     organization: str | None = None, email: str | None = None,
                                     valid_days: int = 730, ca_passphrase: str | None = None,
                                     not_before: datetime | None = None) -> x509.Certificate:
    """An end-entity document-signing certificate for a key made elsewhere (e.g. on a token)."""
    if not common_name.strip():
        raise PkiError("a certificate needs the signer's name", code="invalid")
    issuer, issuer_key, _ = _issuing(ca, ca_passphrase)
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    return (x509.CertificateBuilder().subject_name(_name(common_name, title=title, organization=organization,
                                                         email=email))
            .issuer_name(issuer.subject).public_key(public_key)  # type: ignore[arg-type]
            .serial_number(_serial()).not_valid_before(start).not_valid_after(start + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.public_key()), critical=False)  # type: ignore[arg-type]
            .sign(issuer_key, hashes.SHA256()))


def issue_signing_certificate(ca: CaPaths, *, common_name: str, title: str | None = None,
                              organization: str | None = None, email: str | None = None, passphrase: str,
                              valid_days: int = 730, ca_passphrase: str | None = None,
                              key_type: Literal["rsa", "ecdsa"] = "ecdsa") -> bytes:
    """A new key and certificate for a signer, as PKCS#12 (key, certificate, chain) under `passphrase`."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise PkiError(f"the key's passphrase needs at least {MIN_PASSPHRASE} characters", code="weak_passphrase")
    key = _new_key(key_type)
    cert = issue_certificate_for_public_key(ca, key.public_key(), common_name=common_name, title=title,
                                            organization=organization, email=email, valid_days=valid_days,
                                            ca_passphrase=ca_passphrase)
    issuer, _, root = _issuing(ca, ca_passphrase)
    return to_pkcs12(key, cert, [issuer, root], passphrase, friendly_name=common_name)


PKCS12_ROUNDS = 100_000
"""Iterations of both the key's encryption (PBKDF2) and the file's MAC (the PKCS#12 KDF)."""


def to_pkcs12(key: PrivateKey, cert: x509.Certificate, chain: list[x509.Certificate], passphrase: str, *,
              friendly_name: str = "signer") -> bytes:
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(PKCS12_ROUNDS).key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                  .hmac_hash(hashes.SHA256()).build(passphrase.encode()))
    pfx = pkcs12.serialize_key_and_certificates(friendly_name.encode(), key, cert, chain, encryption)
    return _remac(pfx, passphrase, PKCS12_ROUNDS)


def _remac(pfx_der: bytes, passphrase: str, rounds: int) -> bytes:
    """The same file with its MAC recomputed over `rounds` iterations and a fresh 16-byte salt.

    cryptography writes the MAC with 2,048 iterations whatever kdf_rounds says, and the MAC checks a
    passphrase as well as the key does: left so, it is a guesser's 50 times cheaper way in."""
    from asn1crypto import pkcs12 as asn1_pkcs12

    pfx = asn1_pkcs12.Pfx.load(pfx_der)
    signed = pfx["auth_safe"]["content"].contents  # the MAC covers the authSafe's octets
    salt = secrets.token_bytes(16)
    mac_key = _pkcs12_kdf_sha256(passphrase, salt, rounds, purpose=3)
    mac_data = pfx["mac_data"]
    mac_data["mac"]["digest"] = hmac.new(mac_key, signed, hashlib.sha256).digest()
    mac_data["mac_salt"] = salt
    mac_data["iterations"] = rounds
    return bytes(pfx.dump(force=True))


def _pkcs12_kdf_sha256(passphrase: str, salt: bytes, rounds: int, *, purpose: int, size: int = 32) -> bytes:
    """RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64); purpose 3 makes a MAC key."""
    u, v = 32, 64
    password = (passphrase + "\0").encode("utf-16-be")  # a BMPString with its terminating NUL

    def stretch(data: bytes) -> bytes:  # repeated to fill whole v-byte blocks
        length = v * -(-len(data) // v)
        return (data * (length // len(data) + 1))[:length] if data else b""

    block = stretch(salt) + stretch(password)
    diversifier = bytes([purpose]) * v
    out = b""
    while len(out) < size:
        a = hashlib.sha256(diversifier + block).digest()
        for _ in range(rounds - 1):
            a = hashlib.sha256(a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big")
        block = b"".join(((int.from_bytes(block[i:i + v], "big") + b + 1) % (1 << (8 * v))).to_bytes(v, "big")
                         for i in range(0, len(block), v))
    return out[:size]


def read_pkcs12(data: bytes, passphrase: str) -> tuple[PrivateKey, x509.Certificate, list[x509.Certificate]]:
    """Key, certificate and chain of a PKCS#12 file."""
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, passphrase.encode())
    except ValueError as exc:
        text = str(exc).lower()
        if "password" in text or "mac" in text or "decrypt" in text:
            raise WrongPassphrase("wrong passphrase for this key") from exc
        raise PkiError("not a PKCS#12 file (.p12/.pfx)", code="invalid_pkcs12") from exc
    except Exception as exc:  # cryptography raises a few kinds for truncated or foreign files
        raise PkiError("not a PKCS#12 file (.p12/.pfx)", code="invalid_pkcs12") from exc
    if key is None or cert is None:
        raise CertificateUnusable("the PKCS#12 file holds no private key or no certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateUnusable("only RSA and ECDSA keys can sign here")
    return key, cert, list(chain)


def _usages(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign")
    return tuple(n for n in names if getattr(ku, n))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def check_can_sign(cert: x509.Certificate, at: datetime | None = None) -> None:
    """Raise CertificateUnusable unless this certificate may sign a document at `at` (default now)."""
    at = at or datetime.now(UTC)
    who = _attr(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()
    if _is_ca(cert):
        raise CertificateUnusable(f"{who}: a CA certificate does not sign documents")
    usages = _usages(cert)
    if usages and not {"digital_signature", "content_commitment"} & set(usages):
        raise CertificateUnusable(f"{who}: the certificate's key usage does not allow signing")
    if at > cert.not_valid_after_utc:
        raise CertificateUnusable(f"{who}: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if at < cert.not_valid_before_utc:
        raise CertificateUnusable(f"{who}: the certificate is valid only from {cert.not_valid_before_utc:%Y-%m-%d}")


def describe(cert: x509.Certificate) -> CertificateInfo:
    try:
        check_can_sign(cert)
        can_sign = True
    except CertificateUnusable:
        can_sign = False
    return CertificateInfo(
        common_name=_attr(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
        title=_attr(cert.subject, NameOID.TITLE), organization=_attr(cert.subject, NameOID.ORGANIZATION_NAME),
        issuer_common_name=_attr(cert.issuer, NameOID.COMMON_NAME) or cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"), not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        key_usages=_usages(cert), can_sign=can_sign)


def import_pkcs12(data: bytes, passphrase: str) -> CertificateInfo:
    """Check a PKCS#12 from a real CA before it is attached to a user."""
    _, cert, _ = read_pkcs12(data, passphrase)
    check_can_sign(cert)
    return describe(cert)
