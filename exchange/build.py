"""Writing packages: a DocumentPackage or StatusPackage becomes signed edXML bytes.

Every field is checked against exchange/fields.py first and the result against the schema, so what this
module writes is what exchange.read accepts."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography import x509
from lxml import etree

from exchange import fields, safe_xml, signature
from exchange.errors import InvalidField, TooLarge
from exchange.model import DocumentPackage, Organization, ResponseFor, StatusPackage
from exchange.signature import PrivateKey

_NS = f"{{{fields.NAMESPACE}}}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _NS + name)
    if text is not None:
        element.text = text
    return element


def _organization(parent: etree._Element, name: str, org: Organization) -> None:
    element = _sub(parent, name)
    _sub(element, "OrganId", fields.check_agency_id(org.organ_id, f"{name}/OrganId"))
    for tag, value in (("OrganizationInCharge", org.organization_in_charge), ("OrganName", org.organ_name),
                       ("OrganAdd", org.organ_add), ("Email", org.email), ("Telephone", org.telephone),
                       ("Fax", org.fax), ("Website", org.website)):
        if value:
            _sub(element, tag, fields.check_text(value, f"{name}/{tag}"))


def _response_for(parent: etree._Element, answer: ResponseFor) -> None:
    element = _sub(parent, "ResponseFor")
    _sub(element, "OrganId", fields.check_agency_id(answer.organ_id, "ResponseFor/OrganId"))
    _sub(element, "Code", fields.check_text(answer.code, "ResponseFor/Code", required=True))
    _sub(element, "PromulgationDate", fields.format_date(answer.promulgation_date))
    fields.split_document_id(answer.document_id)
    _sub(element, "DocumentId", answer.document_id)


def _count(value: int, what: str) -> str:
    if isinstance(value, bool) or value < 0 or value > 2**31 - 1:
        raise InvalidField(f"{what} must be a whole number from 0")
    return str(value)


def _root() -> tuple[etree._Element, etree._Element, etree._Element]:
    root = etree.Element(_NS + fields.ROOT, nsmap={None: fields.NAMESPACE})
    envelope = _sub(root, fields.ENVELOPE)
    return root, envelope, _sub(envelope, "edXMLHeader")


def _finish(root: etree._Element, header: etree._Element, key: PrivateKey, certificate: x509.Certificate,
            chain: Sequence[x509.Certificate]) -> bytes:
    etree.indent(root, space="  ")  # readable by people; the signature covers the whitespace too
    header.append(signature.placeholder())
    signed = signature.sign(root, key, certificate, chain)
    safe_xml.validate(signed)  # what we write, we must accept
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def _content_id(index: int, data: bytes) -> str:
    # Unique within the package and stable for the same bytes (no random ids: builds are reproducible).
    return f"{index + 1}-{hashlib.sha256(data).hexdigest()[:32]}"


def build_document(package: DocumentPackage, *, key: PrivateKey, certificate: x509.Certificate,
                   chain: Sequence[x509.Certificate] = ()) -> bytes:
    """The signed edXML bytes of `package`; InvalidField or TooLarge when a field breaks a rule."""
    if not package.recipients:
        raise InvalidField("a document needs at least one recipient (To)")
    root, envelope, header = _root()
    message = _sub(header, "MessageHeader")
    _organization(message, "From", package.sender)
    for recipient in package.recipients:
        _organization(message, "To", recipient)
    _sub(message, "DocumentId", package.document_id)
    code = _sub(message, "Code")
    _sub(code, "CodeNumber", fields.check_text(package.code.number, "CodeNumber", limit=50, required=True))
    _sub(code, "CodeNotation", fields.check_text(package.code.notation, "CodeNotation", limit=100, required=True))
    if "/" in package.code.number or "," in package.code.number + package.code.notation:
        raise InvalidField("CodeNumber may not hold '/' or ',' and CodeNotation may not hold ','")
    promulgation = _sub(message, "PromulgationInfo")
    _sub(promulgation, "Place", fields.check_text(package.promulgation.place, "Place"))
    _sub(promulgation, "PromulgationDate", fields.format_date(package.promulgation.date))
    kind = _sub(message, "DocumentType")
    _sub(kind, "Type", _count(package.document_type.type, "Type"))
    _sub(kind, "TypeDetail", _count(package.document_type.type_detail, "TypeDetail"))
    _sub(kind, "TypeName", fields.check_text(package.document_type.type_name, "TypeName"))
    _sub(message, "Subject", fields.check_text(package.subject, "Subject", limit=fields.SUBJECT_MAX, required=True))
    if package.content:
        _sub(message, "Content", fields.check_text(package.content, "Content"))
    signer = _sub(message, "SignerInfo")
    _sub(signer, "Competence", fields.check_text(package.signer.competence, "Competence"))
    _sub(signer, "Position", fields.check_text(package.signer.position, "Position"))
    _sub(signer, "FullName", fields.check_text(package.signer.full_name, "FullName"))
    if package.due_date is not None:
        _sub(message, "DueDate", fields.format_date(package.due_date))
    other = _sub(message, "OtherInfo")
    _sub(other, "Priority", _count(package.other.priority, "Priority"))
    _sub(other, "SphereOfPromulgation", fields.check_text(package.other.sphere_of_promulgation, "SphereOfPromulgation"))
    _sub(other, "TyperNotation", fields.check_text(package.other.typer_notation, "TyperNotation"))
    _sub(other, "PromulgationAmount", _count(package.other.promulgation_amount, "PromulgationAmount"))
    _sub(other, "PageAmount", _count(package.other.page_amount, "PageAmount"))
    _sub(other, "Direction", "true" if package.other.direction else "false")
    if package.other.appendixes:
        appendixes = _sub(other, "Appendixes")
        for appendix in package.other.appendixes:
            _sub(appendixes, "Appendix", fields.check_text(appendix, "Appendix"))
    _sub(message, "SteeringType", _count(package.steering_type, "SteeringType"))
    if package.to_places:
        places = _sub(message, "ToPlaces")
        for place in package.to_places:
            _sub(places, "Place", fields.check_text(place, "ToPlaces/Place"))
    for answer in package.response_for:
        _response_for(message, answer)

    traces = _sub(header, "TraceHeaderList")
    for trace in package.traces:
        element = _sub(traces, "TraceHeader")
        _sub(element, "OrganId", fields.check_agency_id(trace.organ_id, "TraceHeader/OrganId"))
        _sub(element, "Timestamp", fields.format_timestamp(trace.timestamp))
    business = _sub(traces, "Bussiness")
    _sub(business, "BussinessDocType", str(int(fields.business_doc_type(package.business.doc_type))))
    if package.business.reason:
        _sub(business, "BussinessDocReason", fields.check_text(package.business.reason, "BussinessDocReason"))

    manifest = _sub(_sub(envelope, "edXMLBody"), "edXMLManifest")
    if package.attachments:
        carried = _sub(root, fields.ATTACHMENTS)
    for index, attachment in enumerate(package.attachments):
        if len(attachment.data) > fields.MAX_ATTACHMENT_BYTES:
            raise TooLarge(f"attachment {attachment.name!r} has {len(attachment.data)} bytes "
                           f"(at most {fields.MAX_ATTACHMENT_BYTES})")
        cid = _content_id(index, attachment.data)
        name = fields.check_text(attachment.name, "AttachmentName", limit=255, required=True)
        fields.check_content_type(attachment.content_type)
        reference = _sub(manifest, "Reference")
        _sub(reference, "ContentId", fields.CID_PREFIX + cid)
        _sub(reference, "ContentType", attachment.content_type)
        if attachment.description:
            _sub(reference, "Description", fields.check_text(attachment.description, "Description"))
        _sub(reference, "AttachmentName", name)
        element = _sub(carried, "Attachment")
        _sub(element, "ContentId", cid)
        _sub(element, "AttachmentName", name)
        _sub(element, "ContentType", attachment.content_type)
        if attachment.description:
            _sub(element, "Description", attachment.description)
        _sub(element, "ContentTransferEncoded", base64.b64encode(attachment.data).decode("ascii"))
    return _finish(root, header, key, certificate, chain)


def build_status(package: StatusPackage, *, key: PrivateKey, certificate: x509.Certificate,
                 chain: Sequence[x509.Certificate] = ()) -> bytes:
    """The signed edXML bytes of `package`; InvalidField when a field breaks a rule."""
    root, _, header = _root()
    status = _sub(header, "Status")
    _response_for(status, package.response_for)
    _organization(status, "From", package.sender)
    _sub(status, "StatusCode", fields.status_code(package.status_code).value)
    if package.description:
        _sub(status, "Description", fields.check_text(package.description, "Description"))
    _sub(status, "Timestamp", fields.format_timestamp(package.timestamp))
    staff = _sub(status, "StaffInfo")
    _sub(staff, "Department", fields.check_text(package.staff.department, "StaffInfo/Department"))
    _sub(staff, "Staff", fields.check_text(package.staff.staff, "StaffInfo/Staff"))
    return _finish(root, header, key, certificate, chain)
