"""Signed edXML packages for the API tests of the document exchange: a development PKI per test server
(under its data directory), a sender's signer, our own status-signing key, and fresh documents."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization

import exchange as ex
from tests.unit.exchange.conftest import Signer, make_signer, sample_document

GATEWAY_SECRET = "cong-trao-doi-van-ban-thu-nghiem-2026"
OURS = "000.00.00.G22"
SENDER = "000.00.00.H41"
DIRECTORY = """code,name,level,parent_code
000.00.00.G22,Văn phòng Chính phủ,1,
000.00.00.H41,Ủy ban nhân dân tỉnh Nghệ An,1,
000.00.00.H26,Ủy ban nhân dân tỉnh Hà Tĩnh,1,
"""
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n% t\xe1\xbb\x9d tr\xc3\xacnh \x00\x01\x02\xff\n%%EOF\n"
_numbers = itertools.count(100)


@dataclass(frozen=True)
class ExchangePki:
    sender: Signer
    """Signs the packages the test agencies send (under the trusted root)."""
    stranger: Signer
    """Signs under a root nobody trusts."""
    anchors: Path
    """The PEM of the trusted root (ECABINET_EXCHANGE_TRUST_ANCHORS)."""
    our_key: Path
    our_cert: Path


_made: dict[Path, ExchangePki] = {}


def exchange_pki(directory: Path) -> ExchangePki:
    """The PKI under `directory`, made once per process."""
    if directory not in _made:
        directory.mkdir(parents=True, exist_ok=True)
        sender = make_signer(directory / "ca", "Văn phòng UBND tỉnh Nghệ An")
        ours = make_signer(directory / "ours-ca", "Văn phòng Chính phủ (e-Cabinet)")
        stranger = make_signer(directory / "other-ca", "Kẻ lạ")
        anchors = directory / "anchors.pem"
        anchors.write_bytes(sender.root.public_bytes(serialization.Encoding.PEM))
        key = directory / "our-key.pem"
        key.write_bytes(ours.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        cert = directory / "our-cert.pem"
        cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (ours.certificate, *ours.chain)))
        _made[directory] = ExchangePki(sender, stranger, anchors, key, cert)
    return _made[directory]


def document(**changes: object) -> ex.DocumentPackage:
    """A fresh document (its own number) from Nghệ An to us, with one PDF attached."""
    package = sample_document(
        sender=ex.Organization(SENDER, "Ủy ban nhân dân tỉnh Nghệ An"),
        recipients=(ex.Organization(OURS, "Văn phòng Chính phủ"),),
        code=ex.DocumentCode(str(next(_numbers)), "TTr-UBND"),
        promulgation=ex.PromulgationInfo("Nghệ An", date(2026, 12, 1)),
        subject="Tờ trình về việc đề nghị hỗ trợ kinh phí khắc phục hậu quả bão lũ năm 2026",
        response_for=(), traces=(),
        attachments=(ex.Attachment("to-trinh.pdf", "application/pdf", PDF, "Toàn văn tờ trình"),))
    return replace(package, **changes)  # type: ignore[arg-type]


def signed(package: ex.DocumentPackage, signer: Signer) -> bytes:
    return ex.build_document(package, key=signer.key, certificate=signer.certificate, chain=signer.chain)


def status_from(agency: str, document_id: str, code: str, *, at: datetime | None = None, description: str = "",
                department: str = "Văn phòng UBND", staff: str = "Trần Thị B") -> ex.StatusPackage:
    """A status `code` that `agency` reports about the document `document_id` (OrganId,yyyy/MM/dd,N/NOTATION)."""
    organ, day, number = document_id.split(",", 2)
    return ex.StatusPackage(
        sender=ex.Organization(agency, "Cơ quan nhận"),
        response_for=ex.ResponseFor(organ, number, datetime.strptime(day, "%Y/%m/%d").date(), document_id),
        status_code=ex.StatusCode(code), timestamp=at or datetime(2026, 12, 4, 9, 0, 0),
        staff=ex.StaffInfo(department, staff), description=description)


def signed_status(status: ex.StatusPackage, signer: Signer) -> bytes:
    return ex.build_status(status, key=signer.key, certificate=signer.certificate, chain=signer.chain)
