"""The XML signature: a good one verifies against the trust anchor; any change, another anchor, a
foreign signer or a missing signature is refused as bad_signature."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

import exchange as ex

from .conftest import DS, NS, Signer, find, resign, sample_document, sample_status, to_bytes, tree


def _document(signer: Signer) -> bytes:
    return ex.build_document(sample_document(), key=signer.key, certificate=signer.certificate, chain=signer.chain)


def _bad_signature(data: bytes, *anchors: Signer, **kwargs: object) -> ex.ExchangeError:
    with pytest.raises(ex.BadSignature) as refused:
        ex.parse_package(data, trust_anchors=[a.root for a in anchors], **kwargs)  # type: ignore[arg-type]
    assert refused.value.code == "bad_signature"
    return refused.value


def test_a_good_signature_verifies_and_names_the_signer(signer: Signer, stranger: Signer) -> None:
    package = ex.parse_package(_document(signer), trust_anchors=[stranger.root, signer.root])
    assert package.signed_by is not None
    assert package.signed_by.common_name == "Văn phòng Chính phủ"
    assert len(package.signed_by.fingerprint_sha256) == 64


def test_a_tampered_subject_is_refused(signer: Signer) -> None:
    data = _document(signer)
    assert b"Ngh\xe1\xbb\x8b quy\xe1\xba\xbft phi\xc3\xaan h\xe1\xbb\x8dp" in data
    tampered = data.replace("Nghị quyết phiên họp".encode(), "Nghị quyết phiên hop".encode())
    assert tampered != data
    assert "changed" in _bad_signature(tampered, signer).message


def test_a_tampered_recipient_is_refused(signer: Signer) -> None:
    root = tree(_document(signer))
    find(root, "edXMLEnvelope/edXMLHeader/MessageHeader/To/OrganId").text = "000.00.00.H01"
    _bad_signature(to_bytes(root), signer)


def test_a_tampered_attachment_is_refused(signer: Signer) -> None:
    root = tree(_document(signer))
    encoded = find(root, "AttachmentEncoded/Attachment/ContentTransferEncoded")
    original = base64.b64decode(encoded.text)
    encoded.text = base64.b64encode(original.replace(b"%%EOF", b"%%EOX")).decode()
    _bad_signature(to_bytes(root), signer)


def test_an_added_attachment_is_refused_even_with_a_matching_manifest_entry(signer: Signer) -> None:
    root = tree(_document(signer))
    for path in ("edXMLEnvelope/edXMLBody/edXMLManifest", "AttachmentEncoded"):
        parent = find(root, path)
        parent.append(etree.fromstring(etree.tostring(parent[0])))
        parent[-1][0].text = parent[-1][0].text.replace("1-", "9-")
    _bad_signature(to_bytes(root), signer)


def test_another_trust_anchor_refuses_the_signature(signer: Signer, stranger: Signer) -> None:
    message = _bad_signature(_document(signer), stranger).message
    assert "not trusted" in message


def test_a_signer_from_an_untrusted_ca_is_refused(signer: Signer, stranger: Signer) -> None:
    _bad_signature(_document(stranger), signer)


def test_an_unsigned_package_is_refused(signer: Signer) -> None:
    root = tree(_document(signer))
    for signature in root.iter(f"{DS}Signature"):
        signature.getparent().remove(signature)
    assert "not signed" in _bad_signature(to_bytes(root), signer).message


def test_no_trust_anchor_means_no_package(signer: Signer) -> None:
    _bad_signature(_document(signer))


def test_a_certificate_outside_its_validity_is_refused(signer: Signer) -> None:
    data = _document(signer)
    _bad_signature(data, signer, verify_at=datetime.now(UTC) + timedelta(days=800))
    _bad_signature(data, signer, verify_at=datetime.now(UTC) - timedelta(days=1))


def test_a_signature_moved_out_of_the_header_is_refused(signer: Signer) -> None:
    root = tree(_document(signer))
    signature = next(root.iter(f"{DS}Signature"))
    signature.getparent().remove(signature)
    find(root, "edXMLEnvelope/edXMLBody").append(signature)
    # the schema does not allow it in the body, so the package is refused before the signature is looked at
    with pytest.raises(ex.ExchangeError) as refused:
        ex.parse_package(to_bytes(root), trust_anchors=[signer.root])
    assert refused.value.code in ("schema_invalid", "bad_signature")


def test_a_second_signature_is_refused(signer: Signer, stranger: Signer) -> None:
    data = _document(signer)
    root = tree(data)
    second = tree(_document(stranger))
    next(root.iter(f"{DS}Signature")).addnext(next(second.iter(f"{DS}Signature")))
    with pytest.raises(ex.ExchangeError):
        ex.parse_package(to_bytes(root), trust_anchors=[signer.root])


def test_a_status_signed_again_by_a_stranger_is_refused(signer: Signer, stranger: Signer) -> None:
    data = ex.build_status(sample_status(), key=signer.key, certificate=signer.certificate, chain=signer.chain)
    assert ex.parse_package(data, trust_anchors=[signer.root]) == sample_status()
    _bad_signature(resign(tree(data), stranger), signer)


def test_a_signature_made_with_sha1_is_refused(signer: Signer) -> None:
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.signer import XMLSigner

    root = tree(_document(signer))
    for signature in root.iter(f"{DS}Signature"):
        signature.getparent().remove(signature)
    placeholder = etree.SubElement(find(root, "edXMLEnvelope/edXMLHeader"), f"{DS}Signature", Id="placeholder")
    assert placeholder is not None

    class WeakSigner(XMLSigner):
        def check_deprecated_methods(self) -> None:  # a sender with an old library
            pass

    weak = WeakSigner(signature_algorithm=SignatureMethod.ECDSA_SHA1, digest_algorithm=DigestAlgorithm.SHA1)
    signed = weak.sign(root, key=signer.key, cert=[signer.certificate, *signer.chain])
    assert f"{NS}edXML" == signed.tag
    assert b"ecdsa-sha1" in to_bytes(signed)
    _bad_signature(to_bytes(signed), signer)


def test_a_comment_added_in_transit_changes_nothing_but_a_processing_instruction_does(signer: Signer) -> None:
    # Canonical XML without comments leaves comments out of the signature; processing instructions are in it.
    data = _document(signer)
    commented = data.replace(b"<Subject>", b"<!-- ghi ch\xc3\xba --><Subject>", 1)
    assert commented != data
    assert ex.parse_package(commented, trust_anchors=[signer.root]) == sample_document()
    instructed = data.replace(b"<Subject>", b"<?note x?><Subject>", 1)
    _bad_signature(instructed, signer)
