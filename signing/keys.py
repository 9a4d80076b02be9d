"""Turning a credential into a pyHanko signer: a PKCS#12 file opened with its passphrase, or a key on
a PKCS#11 token (a USB token, an HSM; SoftHSM2 in tests) opened with its PIN. Both check that the
certificate may sign before anything is signed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import CertificateUnusable, TokenUnavailable, WrongPassphrase
from signing.pki import check_can_sign, read_pkcs12
from signing.trust import load_roots

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def file_signer(p12: bytes, passphrase: str, *, at: datetime | None = None) -> SimpleSigner:
    """A signer from a PKCS#12 file (WrongPassphrase, CertificateUnusable, PkiError)."""
    key, cert, chain = read_pkcs12(p12, passphrase)
    check_can_sign(cert, at)
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return SimpleSigner(signing_cert=_asn1(cert), signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
                        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                            [_asn1(c) for c in chain]))


@dataclass(frozen=True)
class TokenConfig:
    """Where a signing key lives on a PKCS#11 token."""

    module_path: str = SOFTHSM_MODULE
    """The vendor's PKCS#11 module (.so)."""
    token_label: str = ""
    """Label of the token (as `pkcs11-tool --list-slots` shows it)."""
    key_label: str = ""
    """Label of the private key object."""
    cert_label: str = ""
    """Label of the certificate object (default: the key's label)."""
    user_pin: str | None = None
    """The user PIN (never stored)."""
    chain: tuple[bytes, ...] = ()
    """Issuing CA certificates (PEM or DER) to embed with the signature: tokens rarely hold them."""


@contextlib.contextmanager
def open_token_signer(config: TokenConfig, *, at: datetime | None = None) -> Iterator[Any]:
    """A pyHanko PKCS11Signer for the configured key; the session is closed on leaving."""
    import pkcs11
    from pkcs11 import exceptions as p11_errors
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    if not Path(config.module_path).is_file():
        raise TokenUnavailable(f"no PKCS#11 module at {config.module_path}")
    try:
        session = open_pkcs11_session(config.module_path, token_criteria=TokenCriteria(label=config.token_label),
                                      user_pin=config.user_pin)
    except p11_errors.PinIncorrect as exc:
        raise WrongPassphrase("wrong PIN for this token") from exc
    except p11_errors.PinLenRange as exc:
        raise WrongPassphrase("wrong PIN for this token") from exc
    except (p11_errors.PKCS11Error, OSError, RuntimeError, ValueError) as exc:
        raise TokenUnavailable(f"token {config.token_label!r} is not present ({type(exc).__name__})") from exc
    try:
        label = config.key_label
        try:
            key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=label)
        except (p11_errors.NoSuchKey, p11_errors.MultipleObjectsReturned) as exc:
            raise TokenUnavailable(f"no single private key labelled {label!r} on the token") from exc
        is_ec = key.key_type == pkcs11.KeyType.EC
        signer = PKCS11Signer(session, cert_label=config.cert_label or label, key_label=label,
                              use_raw_mechanism=is_ec, ca_chain=load_roots(config.chain) or None)
        try:
            der = signer.signing_cert.dump()
        except Exception as exc:  # pyHanko raises its own PKCS11Error when the certificate is missing
            raise TokenUnavailable(f"no certificate labelled {config.cert_label or label!r} on the token") from exc
        cert = x509.load_der_x509_certificate(der)
        check_can_sign(cert, at)
        if is_ec != isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
            raise CertificateUnusable("the certificate on the token does not match its key")
        yield signer
    finally:
        with contextlib.suppress(Exception):
            session.close()
