"""edXML packages (QCVN 102:2016/BTTTT) for exchanging documents between Vietnamese agencies: build a
signed document or status package, and read one back with every check. A library: it imports nothing
from `backend/`.

The standard's text was not available. The facts used come from public implementations and are kept in
ONE place, exchange/fields.py (with exchange/schema/edxml.xsd, which must agree), each marked:

- CONFIRMED by public implementations: the namespace http://www.mic.gov.vn/TBT/QCVN_102_2016; the root
  `edXML` holding `edXMLEnvelope` (edXMLHeader with MessageHeader and TraceHeaderList, edXMLBody with
  edXMLManifest/Reference) and, after it, `AttachmentEncoded/Attachment` with the base64 bytes; the
  element names of MessageHeader, TraceHeader and Bussiness; the status's Status/ResponseFor/StatusCode/
  Description/Timestamp/StaffInfo names; agency ids NNN.NN.NN.XNN; document ids
  OrganId,yyyy/MM/dd,Number/Notation; dates yyyy/MM/dd and trace times yyyy/MM/dd HH:mm:ss.
- ASSUMED (ours): the order of children; a status package wrapped in the same edXML envelope (one
  implementation sends it in a SOAP header); the enveloped XML signature over the whole document, as the
  last child of edXMLHeader; the rule that a lower level of an agency id needs its parent level; the
  limits (64 MiB a package, 7,000,000 bytes an attachment, 10,000 characters a text field).

Reading untrusted bytes (`parse_package`) is bounded here (size limit before parsing, no DTD, entity or
network access, lxml's default limits), but callers MUST still run it under the backend's child-process
sandbox (backend/pdf/sandbox.py: a job named in its table), which bounds memory and time from outside.
See docs/exchange.md."""

from exchange.build import build_document, build_status
from exchange.errors import (
    BadSignature,
    ExchangeError,
    ForbiddenConstruct,
    InvalidField,
    MalformedXml,
    ManifestMismatch,
    SchemaInvalid,
    TooLarge,
    UnknownAgency,
    WrongNamespace,
)
from exchange.fields import BusinessDocType, StatusCode
from exchange.model import (
    Attachment,
    Business,
    DocumentCode,
    DocumentPackage,
    DocumentType,
    Organization,
    OtherInfo,
    PromulgationInfo,
    ResponseFor,
    SignedBy,
    SignerInfo,
    StaffInfo,
    StatusPackage,
    TraceHeader,
)
from exchange.read import parse_package

__all__ = [
    "Attachment", "BadSignature", "Business", "BusinessDocType", "DocumentCode", "DocumentPackage", "DocumentType",
    "ExchangeError", "ForbiddenConstruct", "InvalidField", "MalformedXml", "ManifestMismatch", "Organization",
    "OtherInfo", "PromulgationInfo", "ResponseFor", "SchemaInvalid", "SignedBy", "SignerInfo", "StaffInfo",
    "StatusCode", "StatusPackage", "TooLarge", "TraceHeader", "UnknownAgency", "WrongNamespace", "build_document",
    "build_status", "parse_package",
]
