"""The field rules of edXML (QCVN 102:2016/BTTTT) in ONE place, so they can be corrected when the
standard's text is at hand. Every rule says where it comes from:

- CONFIRMED: seen the same way in public implementations of edXML (SDK-based builders and parsers
  of the national document exchange, VXP/LGSP gateways); still not checked against the standard's text.
- ASSUMED: our decision where implementations disagree or say nothing; change it here (and in
  exchange/schema/edxml.xsd, which must say the same) when the standard says otherwise.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import IntEnum, StrEnum

from exchange.errors import InvalidField

NAMESPACE = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
"""CONFIRMED: the namespace of every edXML element (used as default and with prefix `edXML`)."""
PREFIX = "edXML"
"""CONFIRMED: the usual prefix. Readers must not depend on it (namespaces, not prefixes, are compared)."""
DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"

# --- framing ------------------------------------------------------------------------------------------
# CONFIRMED (two public implementations): the root `edXML` holds `edXMLEnvelope` (edXMLHeader, edXMLBody
# with the edXMLManifest) and, after the envelope, `AttachmentEncoded` with one `Attachment` per file:
# ContentId (without "cid:"), AttachmentName, ContentType, Description, ContentTransferEncoded (base64).
# The manifest's Reference names the same attachment with ContentId "cid:<id>".
# ASSUMED: the order of children written here (implementations differ), and that AttachmentEncoded is
# left out when there is no attachment.
ROOT = "edXML"
ENVELOPE = "edXMLEnvelope"
ATTACHMENTS = "AttachmentEncoded"
CID_PREFIX = "cid:"

# --- signature ----------------------------------------------------------------------------------------
# ASSUMED: one XML-DSig *enveloped* signature with Reference URI="" (the whole edXML document, so the
# attachments after the envelope are covered too), placed as the last child of edXMLHeader (one Go
# implementation puts a ds:Signature there; an SDK-based one an empty `DigitalSignature` element).
# Canonicalization C14N 1.1, digest SHA-256, signature RSA-SHA256 or ECDSA-SHA256 by the key's type;
# the signer's certificate and its chain travel in KeyInfo/X509Data.

# --- limits -------------------------------------------------------------------------------------------
MAX_PACKAGE_BYTES = 64 * 1024 * 1024
"""Default hard limit on a package's size, checked before any parsing."""
MAX_ATTACHMENT_BYTES = 7_000_000
"""Largest attachment: its base64 text (4/3 of it) must stay under libxml2's 10,000,000-byte limit on one
text node, which holds because we parse with huge_tree=False."""
SUBJECT_MAX = 500
"""CONFIRMED (brief of issue 17): Subject (trích yếu) has at most 500 characters."""
TEXT_MAX = 10_000
"""ASSUMED: any other free-text field (Content, names, descriptions) is at most this long."""

# --- agency identifiers -------------------------------------------------------------------------------
AGENCY_ID = re.compile(r"\A(?P<l4>[0-9]{3})\.(?P<l3>[0-9]{2})\.(?P<l2>[0-9]{2})\.(?P<l1>[A-Z][0-9]{2})\Z")
"""CONFIRMED: `NNN.NN.NN.XNN`, 13 characters, e.g. 000.00.00.G22 (Government Office), 000.00.00.H41
(a province). The level read right to left: XNN is the top level, then NN, NN and NNN below it."""
AGENCY_ID_XSD = r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}"


def check_agency_id(value: str, what: str = "agency id") -> str:
    """The identifier itself, or InvalidField.

    ASSUMED: a level below the top may be non-zero only when the level above it is (parent levels are
    filled, unused lower levels are zeros), so 001.00.00.G22 is refused."""
    m = AGENCY_ID.match(value)
    if not m:
        raise InvalidField(f"{what} {value!r} is not an agency identifier of the form NNN.NN.NN.XNN")
    if (int(m["l4"]) and not int(m["l3"])) or (int(m["l3"]) and not int(m["l2"])):
        raise InvalidField(f"{what} {value!r} has a lower level under an empty one")
    return value


# --- dates --------------------------------------------------------------------------------------------
DATE_FORMAT = "%Y/%m/%d"
"""CONFIRMED: PromulgationDate and DueDate are yyyy/MM/dd."""
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S"
"""CONFIRMED for TraceHeader/Timestamp (yyyy/MM/dd HH:mm:ss); ASSUMED the same for a status's Timestamp
(one implementation writes dd/MM/yyyy there). Times are the sender's local time, without a zone."""
DATE_XSD = r"[0-9]{4}/[0-9]{2}/[0-9]{2}"
TIMESTAMP_XSD = r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"


def format_date(value: date) -> str:
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def parse_date(text: str, what: str = "date") -> date:
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        raise InvalidField(f"{what} {text!r} is not a real date written yyyy/MM/dd") from None


def format_timestamp(value: datetime) -> str:
    if value.tzinfo is not None or value.microsecond:
        raise InvalidField("timestamps are local times to the second, without a time zone")
    return f"{format_date(value.date())} {value:%H:%M:%S}"


def parse_timestamp(text: str, what: str = "timestamp") -> datetime:
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError:
        raise InvalidField(f"{what} {text!r} is not a real time written yyyy/MM/dd HH:mm:ss") from None


# --- document identifiers -----------------------------------------------------------------------------
def document_id(organ_id: str, promulgated: date, number: str, notation: str) -> str:
    """CONFIRMED: `OrganId,yyyy/MM/dd,Number/Notation`, e.g. 000.00.00.G22,2026/12/02,15/NQ-CP."""
    return f"{organ_id},{format_date(promulgated)},{number}/{notation}"


DOCUMENT_ID = re.compile(r"\A(?P<organ>[^,]+),(?P<date>[^,]+),(?P<number>[^,/]+)/(?P<notation>[^,]+)\Z")


def split_document_id(value: str) -> tuple[str, date, str, str]:
    """(organ id, date, number, notation) of a document id, or InvalidField."""
    m = DOCUMENT_ID.match(value)
    if not m:
        raise InvalidField(f"document id {value!r} is not OrganId,yyyy/MM/dd,Number/Notation")
    return (check_agency_id(m["organ"], "document id's agency"), parse_date(m["date"], "document id's date"),
            m["number"], m["notation"])


# --- code lists ---------------------------------------------------------------------------------------
class BusinessDocType(IntEnum):
    """CONFIRMED: Bussiness/BussinessDocType (the standard's spelling, with a double s)."""

    NEW = 0
    """A new document."""
    RECALL = 1
    """Recall (thu hồi) of a document sent before."""
    UPDATE = 2
    """Update (cập nhật) of a document sent before."""
    REPLACE = 3
    """Replacement (thay thế) of a document sent before."""


class StatusCode(StrEnum):
    """CONFIRMED (brief of issue 17; the element names Status, ResponseFor, StatusCode, Description,
    Timestamp, StaffInfo/Department/Staff in one public implementation): the state a status reports."""

    ARRIVED = "01"
    """Đã đến: the package reached the recipient."""
    REFUSED = "02"
    """Từ chối: the recipient refuses it."""
    ACCEPTED = "03"
    """Đã tiếp nhận: registered by the recipient's clerical office."""
    ASSIGNED = "04"
    """Phân công: assigned to someone to handle."""
    IN_PROGRESS = "05"
    """Đang xử lý: being handled."""
    DONE = "06"
    """Hoàn thành: handled."""
    RECALL_REQUESTED = "13"
    """The sender asks to recall the document."""
    RECALL_OR_UPDATE_AGREED = "15"
    """The recipient agrees to the recall or update."""
    RECALL_OR_UPDATE_REFUSED = "16"
    """The recipient refuses the recall or update."""


CONTENT_TYPE = re.compile(r"\A[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+\Z")
"""ASSUMED: ContentType is a bare MIME type (type/subtype, no parameters)."""


def check_content_type(value: str) -> str:
    if not CONTENT_TYPE.match(value):
        raise InvalidField(f"content type {value!r} is not a MIME type such as application/pdf")
    return value


def status_code(value: str) -> StatusCode:
    try:
        return StatusCode(value)
    except ValueError:
        raise InvalidField(f"{value!r} is not a status code") from None


def business_doc_type(value: int) -> BusinessDocType:
    try:
        return BusinessDocType(value)
    except ValueError:
        raise InvalidField(f"{value!r} is not a BussinessDocType (0 new, 1 recall, 2 update, 3 replace)") from None


def check_text(value: str, what: str, *, limit: int = TEXT_MAX, required: bool = False) -> str:
    """The text itself, or InvalidField when too long, empty though required, or holding characters XML
    cannot carry (control characters other than tab, newline and carriage return)."""
    if required and not value.strip():
        raise InvalidField(f"{what} is empty")
    if len(value) > limit:
        raise InvalidField(f"{what} has {len(value)} characters (at most {limit})")
    if any((ord(c) < 0x20 and c not in "\t\n\r") or c in "\ufffe\uffff" or "\ud800" <= c <= "\udfff"
           for c in value):
        raise InvalidField(f"{what} holds a control character that XML cannot carry")
    return value
