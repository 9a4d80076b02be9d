"""Reading packages: the checked-in fixtures, schema failures, manifest mismatches and field rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

import exchange as ex

from .conftest import NS, Signer, find, resign, sample_document, sample_status, to_bytes, tree

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exchange"
RECEIVED = datetime(2027, 1, 1, tzinfo=UTC)  # inside the fixtures' ten-year certificate


def _fixture_anchor() -> x509.Certificate:
    return x509.load_pem_x509_certificate((FIXTURES / "root.pem").read_bytes())


def test_the_checked_in_document_fixture_reads_as_the_sample() -> None:
    package = ex.parse_package((FIXTURES / "document.edxml").read_bytes(), trust_anchors=[_fixture_anchor()],
                               verify_at=RECEIVED)
    assert package == sample_document()
    assert isinstance(package, ex.DocumentPackage) and package.signed_by is not None
    assert package.signed_by.common_name == "Văn phòng Chính phủ (fixture)"


def test_the_checked_in_status_fixture_reads_as_the_sample() -> None:
    package = ex.parse_package((FIXTURES / "status.edxml").read_bytes(), trust_anchors=[_fixture_anchor()],
                               verify_at=RECEIVED)
    assert package == sample_status()


def _document(signer: Signer) -> bytes:
    return ex.build_document(sample_document(), key=signer.key, certificate=signer.certificate, chain=signer.chain)


def _status(signer: Signer) -> bytes:
    return ex.build_status(sample_status(), key=signer.key, certificate=signer.certificate, chain=signer.chain)


def _refusal(data: bytes, signer: Signer, **kwargs: object) -> ex.ExchangeError:
    with pytest.raises(ex.ExchangeError) as refused:
        ex.parse_package(data, trust_anchors=[signer.root], **kwargs)  # type: ignore[arg-type]
    return refused.value


def _set(path: str, text: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        find(root, path).text = text
    return change


def _remove(path: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = find(root, path)
        element.getparent().remove(element)
    return change


def _add(path: str, tag: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        etree.SubElement(find(root, path), NS + tag).text = "x"
    return change


MH = "edXMLEnvelope/edXMLHeader/MessageHeader"
SCHEMA_BREAKS = {
    "no subject": _remove(f"{MH}/Subject"),
    "subject of 501 characters": _set(f"{MH}/Subject", "ư" * 501),
    "agency id of the wrong form": _set(f"{MH}/From/OrganId", "G22"),
    "date with dashes": _set(f"{MH}/PromulgationInfo/PromulgationDate", "2026-12-02"),
    "timestamp without seconds": _set("edXMLEnvelope/edXMLHeader/TraceHeaderList/TraceHeader/Timestamp",
                                      "2026/12/02 09:30"),
    "unknown element": _add(MH, "Surprise"),
    "no recipient": lambda root: [e.getparent().remove(e) for e in root.findall(f"{NS}edXMLEnvelope/"
                                                                               f"{NS}edXMLHeader/{NS}MessageHeader/"
                                                                               f"{NS}To")],
    "business type 7": _set("edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness/BussinessDocType", "7"),
    "attachment not base64": _set("AttachmentEncoded/Attachment/ContentTransferEncoded", "!!not base64!!"),
    "reference id without cid:": _set("edXMLEnvelope/edXMLBody/edXMLManifest/Reference/ContentId", "1-abc"),
    "page count not a number": _set(f"{MH}/OtherInfo/PageAmount", "mười hai"),
}


@pytest.mark.parametrize("change", SCHEMA_BREAKS.values(), ids=SCHEMA_BREAKS.keys())
def test_documents_breaking_the_schema_are_refused(signer: Signer, change: Callable[[etree._Element], None]) -> None:
    root = tree(_document(signer))
    change(root)
    error = _refusal(resign(root, signer), signer)
    assert error.code == "schema_invalid", error.message
    # the schema comes before the signature: the same change without signing again says schema_invalid too
    unsigned_change = tree(_document(signer))
    change(unsigned_change)
    assert _refusal(to_bytes(unsigned_change), signer).code == "schema_invalid"


@pytest.mark.parametrize("path,text", [("StatusCode", "07"), ("StatusCode", "4"), ("Timestamp", "03/12/2026 08:05:00"),
                                       ("From/OrganId", "000.00.00.H4")])
def test_statuses_breaking_the_schema_are_refused(signer: Signer, path: str, text: str) -> None:
    root = tree(_status(signer))
    find(root, f"edXMLEnvelope/edXMLHeader/Status/{path}").text = text
    assert _refusal(resign(root, signer), signer).code == "schema_invalid"


FIELD_BREAKS = {
    "promulgation date that does not exist": _set(f"{MH}/PromulgationInfo/PromulgationDate", "2026/02/30"),
    "due date that does not exist": _set(f"{MH}/DueDate", "2026/13/01"),
    "trace time that does not exist": _set("edXMLEnvelope/edXMLHeader/TraceHeaderList/TraceHeader/Timestamp",
                                           "2026/12/02 25:00:00"),
    "recipient id with a level under an empty one": _set(f"{MH}/To/OrganId", "001.00.00.H41"),
    "document id that is not the sender's": _set(f"{MH}/DocumentId", "000.00.00.H41,2026/12/02,15/NQ-CP"),
    "document id as a uuid": _set(f"{MH}/DocumentId", "8f14e45f-ceea-467f-a0e6-5d3a6b2b9b4f"),
    "response for a malformed document id": _set(f"{MH}/ResponseFor/DocumentId", "120/TTr-UBND"),
}


@pytest.mark.parametrize("change", FIELD_BREAKS.values(), ids=FIELD_BREAKS.keys())
def test_signed_documents_with_bad_fields_are_refused(signer: Signer, change: Callable[[etree._Element], None]) -> None:
    root = tree(_document(signer))
    change(root)
    error = _refusal(resign(root, signer), signer)
    assert error.code == "invalid_field", error.message


def test_a_status_with_a_date_that_does_not_exist_is_refused(signer: Signer) -> None:
    root = tree(_status(signer))
    find(root, "edXMLEnvelope/edXMLHeader/Status/ResponseFor/PromulgationDate").text = "2026/02/29"
    assert _refusal(resign(root, signer), signer).code == "invalid_field"


def test_agencies_outside_the_directory_are_refused(signer: Signer) -> None:
    data = _document(signer)
    known = {"000.00.00.G22", "000.00.00.H41", "000.00.00.H26"}
    assert ex.parse_package(data, trust_anchors=[signer.root], known_agencies=known) == sample_document()
    error = _refusal(data, signer, known_agencies=known - {"000.00.00.H26"})
    assert error.code == "unknown_agency" and "000.00.00.H26" in error.message
    assert _refusal(_status(signer), signer, known_agencies={"000.00.00.G22"}).code == "unknown_agency"
    # a trace or an earlier document may name an agency outside the directory
    assert ex.parse_package(_status(signer), trust_anchors=[signer.root], known_agencies={"000.00.00.H41"}) \
        == sample_status()


ATTACHMENT = "AttachmentEncoded/Attachment"
MANIFEST_BREAKS = {
    "one attachment missing": _remove(ATTACHMENT),
    "one reference missing": _remove("edXMLEnvelope/edXMLBody/edXMLManifest/Reference"),
    "attachment renamed": _set(f"{ATTACHMENT}/AttachmentName", "virus.exe"),
    "attachment of another type": _set(f"{ATTACHMENT}/ContentType", "application/x-msdownload"),
    "attachment with another id": _set(f"{ATTACHMENT}/ContentId", "9-other"),
    "two references to one attachment": lambda root: [
        ref.__setattr__("text", find(root, "edXMLEnvelope/edXMLBody/edXMLManifest/Reference/ContentId").text)
        for ref in root.findall(f"{NS}edXMLEnvelope/{NS}edXMLBody/{NS}edXMLManifest/{NS}Reference/{NS}ContentId")],
    "all attachments dropped": _remove("AttachmentEncoded"),
}


@pytest.mark.parametrize("change", MANIFEST_BREAKS.values(), ids=MANIFEST_BREAKS.keys())
def test_attachments_not_matching_the_manifest_are_refused(signer: Signer,
                                                           change: Callable[[etree._Element], None]) -> None:
    root = tree(_document(signer))
    change(root)
    error = _refusal(resign(root, signer), signer)
    assert error.code == "manifest_mismatch", error.message
