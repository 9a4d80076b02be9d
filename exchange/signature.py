"""The XML signature of a package (XML-DSig, enveloped, signxml): sign with the sender's key and
certificate, verify against the trust anchors the caller gives (never the system's web CAs).

What is signed is the whole edXML document (Reference URI=""), so the attachments after the envelope are
covered too; where the signature sits and which algorithms are used is in exchange/fields.py (ASSUMED)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.signer import XMLSigner
from signxml.util import X509CertChainVerifier
from signxml.verifier import SignatureConfiguration, VerifyResult, XMLVerifier

from exchange import fields
from exchange.errors import BadSignature, ExchangeError
from exchange.model import SignedBy

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_DS = f"{{{fields.DSIG_NAMESPACE}}}"
_ACCEPTED = frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512,
                       SignatureMethod.ECDSA_SHA256, SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512})
_LOCATION = f"./{{{fields.NAMESPACE}}}{fields.ENVELOPE}/{{{fields.NAMESPACE}}}edXMLHeader/"


def placeholder() -> etree._Element:
    """Where the signature goes: signxml fills the element with this Id in place."""
    element = etree.Element(f"{_DS}Signature", nsmap={"ds": fields.DSIG_NAMESPACE})
    element.set("Id", "placeholder")
    return element


def sign(root: etree._Element, key: PrivateKey, certificate: x509.Certificate,
         chain: Sequence[x509.Certificate] = ()) -> etree._Element:
    """The signed document (a new tree); `root` must hold one placeholder()."""
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = SignatureMethod.RSA_SHA256
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = SignatureMethod.ECDSA_SHA256
    else:
        raise ExchangeError("only RSA and ECDSA keys can sign a package", code="unusable_key")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise ExchangeError("the certificate is not the key's", code="unusable_key")
    signer = XMLSigner(signature_algorithm=algorithm, digest_algorithm=DigestAlgorithm.SHA256,
                       c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1)
    signed: etree._Element = signer.sign(root, key=key, cert=[certificate, *chain])
    return signed


class _AnchoredChainVerifier(X509CertChainVerifier):
    """signxml's chain check with the caller's trust anchors in place of a PEM file."""

    def __init__(self, anchors: Sequence[x509.Certificate], **kwargs: Any) -> None:
        super().__init__(ca_pem_file="-", **kwargs)  # type: ignore[no-untyped-call]
        self._anchors = list(anchors)
        self.verified: x509.Certificate | None = None
        """The signer's certificate once its chain verified."""

    @property
    def store(self) -> x509.verification.Store:
        return x509.verification.Store(self._anchors)

    def verify(self, cert_chain: list[x509.Certificate]) -> x509.Certificate:
        cert: x509.Certificate = super().verify(cert_chain)  # type: ignore[no-untyped-call]
        self.verified = cert
        return cert


class _Verifier(XMLVerifier):
    def __init__(self, anchors: Sequence[x509.Certificate]) -> None:
        super().__init__()
        self._anchors = anchors
        self.chain_verifier: _AnchoredChainVerifier | None = None

    def get_cert_chain_verifier(self, ca_pem_file: Any, ee_policy: Any, ca_policy: Any) -> X509CertChainVerifier:
        self.chain_verifier = _AnchoredChainVerifier(
            self._anchors, verification_time=self._get_cert_verification_time(),  # type: ignore[no-untyped-call]
            ee_policy=ee_policy, ca_policy=ca_policy)
        return self.chain_verifier


def verify(root: etree._Element, trust_anchors: Sequence[x509.Certificate], *,
           at: datetime | None = None) -> tuple[etree._Element, SignedBy]:
    """The signed document (what the signature covers, the signature itself taken out) and its signer;
    BadSignature when unsigned, altered, or not chaining to one of `trust_anchors` at `at` (default now)."""
    if not trust_anchors:
        raise BadSignature("no trust anchor was given to check the signature against")
    signatures = root.findall(f".//{_DS}Signature")
    if not signatures:
        raise BadSignature("the package is not signed")
    if len(signatures) > 1:
        raise BadSignature("the package holds more than one signature")
    config = SignatureConfiguration(location=_LOCATION, expect_references=1, signature_methods=_ACCEPTED,
                                    verification_time=at)
    verifier = _Verifier(trust_anchors)
    try:
        result = verifier.verify(root, expect_config=config)
    except InvalidDigest:
        raise BadSignature("the package was changed after it was signed") from None
    except InvalidCertificate as exc:
        raise BadSignature(f"the signer's certificate is not trusted here: {exc}") from None
    except (InvalidSignature, InvalidInput) as exc:
        raise BadSignature(f"the signature does not verify: {exc}") from None
    if not isinstance(result, VerifyResult):  # expect_references=1 gives one result
        raise BadSignature("the signature must have exactly one reference")
    signed_xml = result.signed_xml
    if signed_xml is None or signed_xml.tag != root.tag:
        raise BadSignature("the signature does not cover the whole package")
    cert = verifier.chain_verifier.verified if verifier.chain_verifier else None
    if cert is None:  # signxml verified without the chain (cannot happen with require_x509)
        raise BadSignature("the signature names no certificate")
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    who = str(names[0].value) if names else cert.subject.rfc4514_string()
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return signed_xml, SignedBy(common_name=who, fingerprint_sha256=fingerprint)
