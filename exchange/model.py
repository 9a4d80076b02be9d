"""What an edXML package says, as frozen dataclasses: a document package and a status package.

Element names are in each field's docstring; the rules their values follow live in exchange/fields.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from exchange import fields
from exchange.fields import BusinessDocType, StatusCode


@dataclass(frozen=True)
class Organization:
    """An agency as From, To or a status's From."""

    organ_id: str
    """OrganId: the agency identifier, NNN.NN.NN.XNN."""
    organ_name: str = ""
    """OrganName: the agency's name."""
    organization_in_charge: str = ""
    """OrganizationInCharge: the agency it belongs to (cơ quan chủ quản)."""
    organ_add: str = ""
    """OrganAdd: postal address."""
    email: str = ""
    """Email."""
    telephone: str = ""
    """Telephone."""
    fax: str = ""
    """Fax."""
    website: str = ""
    """Website."""


@dataclass(frozen=True)
class DocumentCode:
    """Code: the document's number and notation (số, ký hiệu), e.g. 15 and NQ-CP."""

    number: str
    """CodeNumber."""
    notation: str
    """CodeNotation."""


@dataclass(frozen=True)
class PromulgationInfo:
    """PromulgationInfo: where and when the document was issued."""

    place: str
    """Place (địa danh), e.g. Hà Nội."""
    date: date
    """PromulgationDate, written yyyy/MM/dd."""


@dataclass(frozen=True)
class DocumentType:
    """DocumentType."""

    type: int
    """Type: the kind's code (an integer code list of the standard)."""
    type_detail: int
    """TypeDetail: the kind's detail code."""
    type_name: str
    """TypeName, e.g. Nghị quyết."""


@dataclass(frozen=True)
class SignerInfo:
    """SignerInfo: who signed the paper document."""

    competence: str
    """Competence: signing on one's own authority or on behalf of (TM., KT., TL.)."""
    position: str
    """Position, e.g. Thủ tướng."""
    full_name: str
    """FullName."""


@dataclass(frozen=True)
class OtherInfo:
    """OtherInfo."""

    priority: int = 0
    """Priority (độ khẩn): 0 normal and higher codes more urgent."""
    sphere_of_promulgation: str = ""
    """SphereOfPromulgation: who may read it."""
    typer_notation: str = ""
    """TyperNotation: initials of the typist."""
    promulgation_amount: int = 1
    """PromulgationAmount: number of copies issued."""
    page_amount: int = 1
    """PageAmount: number of pages."""
    direction: bool = False
    """Direction: whether it is a steering document (văn bản chỉ đạo)."""
    appendixes: tuple[str, ...] = ()
    """Appendixes/Appendix: titles of the appendices."""


@dataclass(frozen=True)
class ResponseFor:
    """ResponseFor: the earlier document this package answers."""

    organ_id: str
    """OrganId: the agency that issued the earlier document."""
    code: str
    """Code: its number/notation as one string, e.g. 15/NQ-CP."""
    promulgation_date: date
    """PromulgationDate."""
    document_id: str
    """DocumentId: OrganId,yyyy/MM/dd,Number/Notation."""


@dataclass(frozen=True)
class TraceHeader:
    """TraceHeaderList/TraceHeader: one agency the package passed through, with the time."""

    organ_id: str
    """OrganId."""
    timestamp: datetime
    """Timestamp, yyyy/MM/dd HH:mm:ss (local time, no zone)."""


@dataclass(frozen=True)
class Business:
    """TraceHeaderList/Bussiness (the standard's spelling)."""

    doc_type: BusinessDocType = BusinessDocType.NEW
    """BussinessDocType: new, recall, update or replace."""
    reason: str = ""
    """BussinessDocReason: why a recall, update or replacement."""


@dataclass(frozen=True)
class Attachment:
    """One attached file, carried base64-encoded in AttachmentEncoded and named in the manifest."""

    name: str
    """AttachmentName: the file name."""
    content_type: str
    """ContentType: its MIME type."""
    data: bytes = field(repr=False)
    """The file's bytes."""
    description: str = ""
    """Description."""


@dataclass(frozen=True)
class SignedBy:
    """Who signed a package that was read, from the certificate that verified (not part of equality)."""

    common_name: str
    """Subject CN of the signing certificate."""
    fingerprint_sha256: str
    """SHA-256 of that certificate's DER, hex."""


@dataclass(frozen=True)
class DocumentPackage:
    """A document sent from one agency to others (edXMLHeader/MessageHeader plus attachments)."""

    sender: Organization
    """From."""
    recipients: tuple[Organization, ...]
    """To: one or more."""
    code: DocumentCode
    """Code."""
    promulgation: PromulgationInfo
    """PromulgationInfo."""
    document_type: DocumentType
    """DocumentType."""
    subject: str
    """Subject (trích yếu): at most 500 characters."""
    signer: SignerInfo
    """SignerInfo."""
    content: str = ""
    """Content: the text of the document, if sent as text."""
    due_date: date | None = None
    """DueDate: by when the recipients must handle it."""
    other: OtherInfo = OtherInfo()
    """OtherInfo."""
    steering_type: int = 0
    """SteeringType: the steering document's kind (0: not one)."""
    to_places: tuple[str, ...] = ()
    """ToPlaces/Place: recipients named in words (nơi nhận)."""
    response_for: tuple[ResponseFor, ...] = ()
    """ResponseFor: the documents this one answers."""
    traces: tuple[TraceHeader, ...] = ()
    """TraceHeaderList/TraceHeader, written as given (the caller adds its own agency and the time of sending)."""
    business: Business = Business()
    """TraceHeaderList/Bussiness."""
    attachments: tuple[Attachment, ...] = ()
    """The attached files, in manifest order."""
    signed_by: SignedBy | None = field(default=None, compare=False)
    """Set by parse_package from the verified signature; ignored by build_document and by equality."""

    @property
    def document_id(self) -> str:
        """DocumentId, made from the sender, the promulgation date and the code (exchange/fields.py)."""
        return fields.document_id(self.sender.organ_id, self.promulgation.date, self.code.number,
                                  self.code.notation)


@dataclass(frozen=True)
class StaffInfo:
    """StaffInfo: who handled the document at the recipient."""

    department: str
    """Department (phòng ban)."""
    staff: str
    """Staff: the person's name."""


@dataclass(frozen=True)
class StatusPackage:
    """A recipient's answer about a document it received (edXMLHeader/Status)."""

    sender: Organization
    """From: the agency reporting the status."""
    response_for: ResponseFor
    """ResponseFor: the document the status is about."""
    status_code: StatusCode
    """StatusCode: 01 arrived ... 16 refuses a recall or update."""
    timestamp: datetime
    """Timestamp: when the state was reached (yyyy/MM/dd HH:mm:ss, local time)."""
    staff: StaffInfo
    """StaffInfo: the handling person and department."""
    description: str = ""
    """Description: free text (e.g. why it was refused)."""
    signed_by: SignedBy | None = field(default=None, compare=False)
    """Set by parse_package from the verified signature; ignored by build_status and by equality."""
