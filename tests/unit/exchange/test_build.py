"""Building packages: what is built reads back equal, Vietnamese text survives, bad fields are refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import exchange as ex
from exchange import fields

from .conftest import NS, Signer, find, make_signer, sample_document, sample_status, tree


def _build(package: ex.DocumentPackage, signer: Signer) -> bytes:
    return ex.build_document(package, key=signer.key, certificate=signer.certificate, chain=signer.chain)


def test_document_round_trips_with_every_field_and_vietnamese_text(signer: Signer) -> None:
    package = sample_document()
    data = _build(package, signer)
    back = ex.parse_package(data, trust_anchors=[signer.root])
    assert back == package
    assert isinstance(back, ex.DocumentPackage)
    assert back.subject == package.subject and "Chính phủ" in back.content
    assert back.signer.full_name == "Nguyễn Thị Hồng Nhung"
    assert back.attachments[1].name == "phụ lục.docx" and back.attachments[1].data == bytes(range(256)) * 40
    assert back.signed_by is not None and back.signed_by.common_name == "Văn phòng Chính phủ"
    assert "Nguyễn Thị Hồng Nhung".encode() in data  # UTF-8 text, not character references
    assert back.document_id == "000.00.00.G22,2026/12/02,15/NQ-CP"


def test_status_round_trips_with_vietnamese_staff(signer: Signer) -> None:
    package = sample_status()
    data = ex.build_status(package, key=signer.key, certificate=signer.certificate, chain=signer.chain)
    back = ex.parse_package(data, trust_anchors=[signer.root])
    assert back == package
    assert isinstance(back, ex.StatusPackage) and back.status_code is ex.StatusCode.ASSIGNED
    assert back.staff.staff == "Trần Đức Lương"


@pytest.mark.parametrize("code", list(ex.StatusCode))
def test_every_status_code_round_trips(signer: Signer, code: ex.StatusCode) -> None:
    package = sample_status(status_code=code, description="")
    data = ex.build_status(package, key=signer.key, certificate=signer.certificate, chain=signer.chain)
    assert ex.parse_package(data, trust_anchors=[signer.root]) == package


def test_minimal_document_without_optional_parts_round_trips(signer: Signer) -> None:
    package = sample_document(content="", due_date=None, other=ex.OtherInfo(), to_places=(), response_for=(),
                              traces=(), attachments=(), recipients=(ex.Organization("000.00.00.H41"),),
                              business=ex.Business(ex.BusinessDocType.REPLACE, "Thay thế văn bản sai sót"))
    data = _build(package, signer)
    assert ex.parse_package(data, trust_anchors=[signer.root]) == package
    root = tree(data)
    assert root.find(f"{NS}AttachmentEncoded") is None
    assert find(root, "edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness/BussinessDocType").text == "3"


def test_rsa_signer_round_trips(tmp_path: Path) -> None:
    rsa_signer = make_signer(tmp_path / "ca", "Bộ Tư pháp", key_type="rsa")
    data = _build(sample_document(), rsa_signer)
    assert b"rsa-sha256" in data
    assert ex.parse_package(data, trust_anchors=[rsa_signer.root]) == sample_document()


def test_attachment_framing_is_a_manifest_reference_and_an_encoded_attachment(signer: Signer) -> None:
    root = tree(_build(sample_document(), signer))
    references = root.findall(f"{NS}edXMLEnvelope/{NS}edXMLBody/{NS}edXMLManifest/{NS}Reference")
    carried = root.findall(f"{NS}AttachmentEncoded/{NS}Attachment")
    assert len(references) == len(carried) == 2
    for reference, attachment in zip(references, carried, strict=True):
        assert reference.findtext(f"{NS}ContentId") == "cid:" + attachment.findtext(f"{NS}ContentId")
        assert reference.findtext(f"{NS}AttachmentName") == attachment.findtext(f"{NS}AttachmentName")
    # the signature sits at the end of the header and covers the whole document
    header = find(root, "edXMLEnvelope/edXMLHeader")
    assert header[-1].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
    assert header[-1].find(".//{http://www.w3.org/2000/09/xmldsig#}Reference").get("URI") == ""


BAD_DOCUMENTS = {
    "sender id": {"sender": ex.Organization("G22")},
    "sender id lower level under an empty one": {"sender": ex.Organization("001.00.00.G22")},
    "recipient id": {"recipients": (ex.Organization("000.00.00.h41"),)},
    "no recipient": {"recipients": ()},
    "subject too long": {"subject": "ă" * 501},
    "empty subject": {"subject": "   "},
    "control character": {"content": "xin chào\x07"},
    "number with slash": {"code": ex.DocumentCode("15/2026", "NQ-CP")},
    "empty notation": {"code": ex.DocumentCode("15", "")},
    "trace with a zone": {"traces": (ex.TraceHeader("000.00.00.G22", datetime(2026, 12, 2, tzinfo=UTC)),)},
    "bad content type": {"attachments": (ex.Attachment("a.pdf", "pdf", b"x"),)},
    "empty attachment name": {"attachments": (ex.Attachment("", "application/pdf", b"x"),)},
    "negative page count": {"other": ex.OtherInfo(page_amount=-1)},
    "response for a bad document id": {"response_for": (ex.ResponseFor("000.00.00.H41", "1/TTr", date(2026, 1, 1),
                                                                      "uuid-1234"),)},
}


@pytest.mark.parametrize("change", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_bad_fields_are_refused_when_building(signer: Signer, change: dict[str, object]) -> None:
    with pytest.raises(ex.InvalidField) as refused:
        _build(sample_document(**change), signer)
    assert refused.value.code == "invalid_field"


def test_an_attachment_over_the_limit_is_refused(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fields, "MAX_ATTACHMENT_BYTES", 1_000)
    package = sample_document(attachments=(ex.Attachment("big.pdf", "application/pdf", b"x" * 1_001),))
    with pytest.raises(ex.TooLarge):
        _build(package, signer)
    small = replace(package, attachments=(ex.Attachment("small.pdf", "application/pdf", b"x" * 1_000),))
    assert ex.parse_package(_build(small, signer), trust_anchors=[signer.root]) == small


def test_bad_status_fields_are_refused(signer: Signer) -> None:
    for change in ({"status_code": "07"}, {"sender": ex.Organization("000.00.00.X1")},
                   {"staff": ex.StaffInfo("Phòng", "x" * 10_001)}):
        with pytest.raises(ex.InvalidField):
            ex.build_status(sample_status(**change), key=signer.key, certificate=signer.certificate)


def test_a_certificate_that_is_not_the_keys_is_refused(signer: Signer, stranger: Signer) -> None:
    with pytest.raises(ex.ExchangeError) as refused:
        ex.build_document(sample_document(), key=signer.key, certificate=stranger.certificate)
    assert refused.value.code == "unusable_key"
