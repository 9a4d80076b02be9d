"""A development PKI (signing/pki.py) and sample packages for the exchange tests (files under tmp dirs only)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

import exchange as ex
from exchange import safe_xml, signature
from exchange.signature import PrivateKey
from signing.pki import init_ca, issue_signing_certificate, read_pkcs12

PASS = "KySo@2026"


@dataclass(frozen=True)
class Signer:
    key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    """The issuing CA (not the root: receivers hold that as their trust anchor)."""
    root: x509.Certificate


def make_signer(directory: Path, name: str, *, key_type: str = "ecdsa", valid_days: int = 730) -> Signer:
    ca = init_ca(directory)
    pfx = issue_signing_certificate(ca, common_name=name, passphrase=PASS, key_type=key_type,  # type: ignore[arg-type]
                                    valid_days=valid_days)
    key, cert, chain = read_pkcs12(pfx, PASS)
    root = x509.load_pem_x509_certificate(ca.root_cert.read_bytes())
    return Signer(key, cert, tuple(c for c in chain if c.subject != root.subject), root)


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return make_signer(tmp_path_factory.mktemp("exchange-ca"), "Văn phòng Chính phủ")


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """A signer from another, untrusted CA."""
    return make_signer(tmp_path_factory.mktemp("exchange-other-ca"), "Kẻ lạ")


def sample_document(**changes: object) -> ex.DocumentPackage:
    package = ex.DocumentPackage(
        sender=ex.Organization("000.00.00.G22", "Văn phòng Chính phủ", organ_add="16 Lê Hồng Phong, Ba Đình, Hà Nội",
                               email="vanthu@chinhphu.vn"),
        recipients=(ex.Organization("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An"),
                    ex.Organization("000.00.00.H26", "Ủy ban nhân dân tỉnh Hà Tĩnh")),
        code=ex.DocumentCode("15", "NQ-CP"),
        promulgation=ex.PromulgationInfo("Hà Nội", date(2026, 12, 2)),
        document_type=ex.DocumentType(1, 0, "Nghị quyết"),
        subject="Nghị quyết phiên họp Chính phủ thường kỳ tháng 11 năm 2026 về tình hình kinh tế - xã hội",
        content="Chính phủ quyết nghị: đẩy mạnh chuyển đổi số, ưu tiên họp không giấy tờ.",
        signer=ex.SignerInfo("TM. Chính phủ", "Thủ tướng", "Nguyễn Thị Hồng Nhung"),
        due_date=date(2026, 12, 31),
        other=ex.OtherInfo(priority=1, sphere_of_promulgation="Lưu hành nội bộ", typer_notation="NTH",
                           promulgation_amount=3, page_amount=12, direction=True,
                           appendixes=("Phụ lục I: Danh mục nhiệm vụ", "Phụ lục II: Tiến độ")),
        steering_type=1,
        to_places=("Các Bộ, cơ quan ngang Bộ", "UBND các tỉnh, thành phố"),
        response_for=(ex.ResponseFor("000.00.00.H41", "120/TTr-UBND", date(2026, 11, 20),
                                     "000.00.00.H41,2026/11/20,120/TTr-UBND"),),
        traces=(ex.TraceHeader("000.00.00.G22", datetime(2026, 12, 2, 9, 30, 15)),),
        business=ex.Business(ex.BusinessDocType.NEW),
        attachments=(ex.Attachment("nghi-quyet-15.pdf", "application/pdf", "%PDF-1.7\n% nghị quyết\n%%EOF\n".encode(),
                                   "Toàn văn nghị quyết"),
                     ex.Attachment("phụ lục.docx", "application/vnd.openxmlformats-officedocument."
                                   "wordprocessingml.document", bytes(range(256)) * 40)))
    return replace(package, **changes)  # type: ignore[arg-type]


def sample_status(**changes: object) -> ex.StatusPackage:
    package = ex.StatusPackage(
        sender=ex.Organization("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An"),
        response_for=ex.ResponseFor("000.00.00.G22", "15/NQ-CP", date(2026, 12, 2),
                                    "000.00.00.G22,2026/12/02,15/NQ-CP"),
        status_code=ex.StatusCode.ASSIGNED,
        timestamp=datetime(2026, 12, 3, 8, 5, 0),
        staff=ex.StaffInfo("Văn phòng UBND tỉnh – Phòng Tổng hợp", "Trần Đức Lương"),
        description="Đã phân công xử lý")
    return replace(package, **changes)  # type: ignore[arg-type]


NS = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"


def tree(data: bytes) -> etree._Element:
    return etree.fromstring(data, safe_xml.parser())


def to_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def find(root: etree._Element, path: str) -> etree._Element:
    element = root.find("/".join(NS + step for step in path.split("/")))
    assert element is not None, path
    return element


def resign(root: etree._Element, signer: Signer) -> bytes:
    """`root` (changed by a test) signed again, so that only the change is wrong, not the signature."""
    for old in root.iter(f"{DS}Signature"):
        old.getparent().remove(old)
    find(root, "edXMLEnvelope/edXMLHeader").append(signature.placeholder())
    return to_bytes(signature.sign(root, signer.key, signer.certificate, signer.chain))
