"""Reading packages: untrusted bytes become a DocumentPackage or StatusPackage, or a refusal with a code.

The order matters: size, forbidden constructs and well-formedness (exchange/safe_xml.py), then the schema,
then the signature against the caller's trust anchors, and only then the fields, read from what the
signature covers. Callers in the backend run this in the child-process sandbox (backend/pdf/sandbox.py)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Container, Sequence
from datetime import datetime

from cryptography import x509
from lxml import etree

from exchange import fields, safe_xml, signature
from exchange.errors import InvalidField, ManifestMismatch, TooLarge, UnknownAgency
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

_NS = f"{{{fields.NAMESPACE}}}"


def _one(parent: etree._Element, path: str) -> etree._Element:
    element = parent.find(_path(path))
    assert element is not None, path  # the schema made sure it is there
    return element


def _path(path: str) -> str:
    return "/".join(_NS + step for step in path.split("/"))


def _text(parent: etree._Element, path: str) -> str:
    element = parent.find(_path(path))
    return "" if element is None else (element.text or "")


def _all(parent: etree._Element, path: str) -> list[etree._Element]:
    return list(parent.findall(_path(path)))


class _Reader:
    def __init__(self, known_agencies: Container[str] | None) -> None:
        self.known = known_agencies

    def agency(self, value: str, what: str, *, directory: bool = False) -> str:
        """The id once it follows the rules; with `directory`, also once the caller's directory knows it
        (only for From and To: traces and earlier documents may name hubs or agencies we never deal with)."""
        fields.check_agency_id(value, what)
        if directory and self.known is not None and value not in self.known:
            raise UnknownAgency(f"{what} {value} is not an agency known here")
        return value

    def organization(self, element: etree._Element, what: str) -> Organization:
        return Organization(
            organ_id=self.agency(_text(element, "OrganId"), f"{what}/OrganId", directory=True),
            organ_name=_text(element, "OrganName"), organization_in_charge=_text(element, "OrganizationInCharge"),
            organ_add=_text(element, "OrganAdd"), email=_text(element, "Email"),
            telephone=_text(element, "Telephone"), fax=_text(element, "Fax"), website=_text(element, "Website"))

    def response_for(self, element: etree._Element) -> ResponseFor:
        document_id = _text(element, "DocumentId")
        fields.split_document_id(document_id)
        return ResponseFor(organ_id=self.agency(_text(element, "OrganId"), "ResponseFor/OrganId"),
                           code=_text(element, "Code"),
                           promulgation_date=fields.parse_date(_text(element, "PromulgationDate"),
                                                               "ResponseFor/PromulgationDate"),
                           document_id=document_id)


def _attachments(root: etree._Element) -> tuple[Attachment, ...]:
    references = _all(root, f"{fields.ENVELOPE}/edXMLBody/edXMLManifest/Reference")
    carried = _all(root, f"{fields.ATTACHMENTS}/Attachment")
    if len(references) != len(carried):
        raise ManifestMismatch(f"the manifest names {len(references)} attachments but {len(carried)} are carried")
    by_id: dict[str, etree._Element] = {}
    for element in carried:
        cid = _text(element, "ContentId")
        if cid in by_id:
            raise ManifestMismatch(f"two attachments share the content id {cid}")
        by_id[cid] = element
    result = []
    seen: set[str] = set()
    for reference in references:
        ref_id = _text(reference, "ContentId")
        cid = ref_id.removeprefix(fields.CID_PREFIX)
        element = by_id.get(cid)
        if element is None or cid in seen:
            raise ManifestMismatch(f"the manifest's {ref_id} matches no attachment carried (or matches it twice)")
        seen.add(cid)
        name, content_type = _text(reference, "AttachmentName"), _text(reference, "ContentType")
        if _text(element, "AttachmentName") != name or _text(element, "ContentType") != content_type:
            raise ManifestMismatch(f"attachment {cid}: name or type differs from the manifest's ({name})")
        encoded = _text(element, "ContentTransferEncoded")
        if len(encoded) > 4 * (fields.MAX_ATTACHMENT_BYTES // 3 + 1) + 1024:
            raise TooLarge(f"attachment {name!r} is larger than {fields.MAX_ATTACHMENT_BYTES} bytes")
        try:
            data = base64.b64decode("".join(encoded.split()), validate=True)
        except binascii.Error:
            raise ManifestMismatch(f"attachment {name!r} is not valid base64") from None
        result.append(Attachment(name=name, content_type=content_type, data=data,
                                 description=_text(reference, "Description")))
    return tuple(result)


def _document(root: etree._Element, reader: _Reader, signed_by: SignedBy) -> DocumentPackage:
    header = _one(root, f"{fields.ENVELOPE}/edXMLHeader")
    message = _one(header, "MessageHeader")
    other = _one(message, "OtherInfo")
    traces = _one(header, "TraceHeaderList")
    due = _text(message, "DueDate")
    package = DocumentPackage(
        sender=reader.organization(_one(message, "From"), "From"),
        recipients=tuple(reader.organization(e, "To") for e in _all(message, "To")),
        code=DocumentCode(number=_text(message, "Code/CodeNumber"), notation=_text(message, "Code/CodeNotation")),
        promulgation=PromulgationInfo(place=_text(message, "PromulgationInfo/Place"),
                                      date=fields.parse_date(_text(message, "PromulgationInfo/PromulgationDate"),
                                                             "PromulgationDate")),
        document_type=DocumentType(type=int(_text(message, "DocumentType/Type")),
                                   type_detail=int(_text(message, "DocumentType/TypeDetail")),
                                   type_name=_text(message, "DocumentType/TypeName")),
        subject=_text(message, "Subject"),
        content=_text(message, "Content"),
        signer=SignerInfo(competence=_text(message, "SignerInfo/Competence"),
                          position=_text(message, "SignerInfo/Position"),
                          full_name=_text(message, "SignerInfo/FullName")),
        due_date=fields.parse_date(due, "DueDate") if due else None,
        other=OtherInfo(priority=int(_text(other, "Priority")),
                        sphere_of_promulgation=_text(other, "SphereOfPromulgation"),
                        typer_notation=_text(other, "TyperNotation"),
                        promulgation_amount=int(_text(other, "PromulgationAmount")),
                        page_amount=int(_text(other, "PageAmount")),
                        direction=_text(other, "Direction").strip() in ("true", "1"),
                        appendixes=tuple(e.text or "" for e in _all(other, "Appendixes/Appendix"))),
        steering_type=int(_text(message, "SteeringType")),
        to_places=tuple(e.text or "" for e in _all(message, "ToPlaces/Place")),
        response_for=tuple(reader.response_for(e) for e in _all(message, "ResponseFor")),
        traces=tuple(TraceHeader(organ_id=reader.agency(_text(e, "OrganId"), "TraceHeader/OrganId"),
                                 timestamp=fields.parse_timestamp(_text(e, "Timestamp"), "TraceHeader/Timestamp"))
                     for e in _all(traces, "TraceHeader")),
        business=Business(doc_type=fields.business_doc_type(int(_text(traces, "Bussiness/BussinessDocType"))),
                          reason=_text(traces, "Bussiness/BussinessDocReason")),
        attachments=_attachments(root),
        signed_by=signed_by)
    stated = _text(message, "DocumentId")
    if stated != package.document_id:
        raise InvalidField(f"DocumentId {stated!r} does not match the sender, date and code "
                           f"({package.document_id!r})")
    return package


def _status(root: etree._Element, reader: _Reader, signed_by: SignedBy) -> StatusPackage:
    status = _one(root, f"{fields.ENVELOPE}/edXMLHeader/Status")
    return StatusPackage(
        sender=reader.organization(_one(status, "From"), "From"),
        response_for=reader.response_for(_one(status, "ResponseFor")),
        status_code=fields.status_code(_text(status, "StatusCode")),
        timestamp=fields.parse_timestamp(_text(status, "Timestamp"), "Status/Timestamp"),
        staff=StaffInfo(department=_text(status, "StaffInfo/Department"), staff=_text(status, "StaffInfo/Staff")),
        description=_text(status, "Description"),
        signed_by=signed_by)


def parse_package(data: bytes, *, trust_anchors: Sequence[x509.Certificate],
                  known_agencies: Container[str] | None = None,
                  max_bytes: int = fields.MAX_PACKAGE_BYTES,
                  verify_at: datetime | None = None) -> DocumentPackage | StatusPackage:
    """The package `data` holds, signed by a certificate chaining to one of `trust_anchors` (valid at
    `verify_at`, default now: pass the time of receipt to read an old package again).

    `known_agencies`, when given, is the directory the sender and every recipient must be in (else
    UnknownAgency); ids in traces and ResponseFor are only checked for their form.
    Raises an ExchangeError subclass with a stable code for anything refused."""
    root = safe_xml.parse(data, max_bytes=max_bytes)
    safe_xml.validate(root)
    signed, signed_by = signature.verify(root, trust_anchors, at=verify_at)
    reader = _Reader(known_agencies)
    if signed.find(_path(f"{fields.ENVELOPE}/edXMLHeader/Status")) is not None:
        return _status(signed, reader, signed_by)
    return _document(signed, reader, signed_by)
