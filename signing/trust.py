"""Trust anchors in whatever form the caller has them (PEM or DER bytes, possibly several PEM
certificates in one file, cryptography or asn1crypto certificates) as pyHanko wants them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.errors import SigningError


def load_roots(items: Iterable[Any]) -> list[asn1_x509.Certificate]:
    out: list[asn1_x509.Certificate] = []
    for item in items:
        if isinstance(item, asn1_x509.Certificate):
            out.append(item)
        elif isinstance(item, x509.Certificate):
            out.append(asn1_x509.Certificate.load(item.public_bytes(serialization.Encoding.DER)))
        elif isinstance(item, bytes | bytearray):
            data = bytes(item)
            try:
                if pem.detect(data):
                    out.extend(asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True))
                else:
                    cert = asn1_x509.Certificate.load(data)
                    cert.native  # noqa: B018  (parses it now, so garbage fails here)
                    out.append(cert)
            except (ValueError, TypeError) as exc:
                raise SigningError("a trust root is not a certificate (PEM or DER)", code="invalid_trust_root") from exc
        else:
            raise SigningError(f"cannot use {type(item).__name__} as a trust root", code="invalid_trust_root")
    return out
