"""Reading untrusted XML with bounded memory: a size limit before parsing, a parser that never loads a
DTD, resolves an entity or touches the network, and a refusal of any DOCTYPE or entity at all.

lxml's limits stay on (huge_tree=False): one text node at most 10,000,000 bytes and a nesting depth of
at most 256, so a hostile file cannot make the parser allocate without bound. Callers in the backend still
run the whole read in the child-process sandbox (backend/pdf/sandbox.py), which bounds memory and time."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from lxml import etree

from exchange import fields
from exchange.errors import ForbiddenConstruct, MalformedXml, SchemaInvalid, TooLarge, WrongNamespace

# Refused before the parser sees them; checked again on the parsed tree in case the bytes hid them.
_FORBIDDEN_MARKUP = (b"<!DOCTYPE", b"<!ENTITY", b"<!ELEMENT", b"<!ATTLIST", b"<!NOTATION")
_DECLARED_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def parser() -> etree.XMLParser:
    """The only parser used on untrusted bytes. Comments go (the signature's canonical form leaves them
    out anyway); processing instructions stay, because the signature covers them."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           dtd_validation=False, remove_comments=True, collect_ids=False)


def parse(data: bytes, *, max_bytes: int = fields.MAX_PACKAGE_BYTES) -> etree._Element:
    """The root of `data` once it passed every check here, else the matching ExchangeError."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedXml("a package is bytes")
    if len(data) > max_bytes:
        raise TooLarge(f"the package has {len(data)} bytes (at most {max_bytes})")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4]:
        raise ForbiddenConstruct("edXML packages are UTF-8; UTF-16 and other encodings are refused")
    declared = _DECLARED_ENCODING.match(data)
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise ForbiddenConstruct("edXML packages are UTF-8; other encodings are refused")
    for markup in _FORBIDDEN_MARKUP:
        if markup in data:
            raise ForbiddenConstruct(f"{markup.decode()} is not allowed in an edXML package")
    try:
        root = etree.fromstring(bytes(data), parser())
    except etree.XMLSyntaxError as exc:
        if "text node" in str(exc).lower():  # libxml2's 10,000,000-byte limit on one text (huge_tree=False)
            raise TooLarge("one text in the package (an attachment?) is larger than the parser allows") from None
        raise MalformedXml(f"not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ForbiddenConstruct("a DOCTYPE is not allowed in an edXML package")
    if any(True for _ in root.iter(etree.Entity)):
        raise ForbiddenConstruct("entity references are not allowed in an edXML package")
    if root.tag != f"{{{fields.NAMESPACE}}}{fields.ROOT}":
        raise WrongNamespace(f"the root must be {fields.ROOT} in {fields.NAMESPACE}, not {root.tag}")
    return root


@cache
def schema() -> etree.XMLSchema:
    """exchange/schema/edxml.xsd, loaded once."""
    text = resources.files("exchange").joinpath("schema/edxml.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(text, parser()))


def validate(root: etree._Element) -> None:
    """SchemaInvalid naming the first few problems, unless `root` follows the schema."""
    xsd = schema()
    if not xsd.validate(root):
        problems = "; ".join(f"line {e.line}: {e.message}" for e in list(xsd.error_log)[:3])
        raise SchemaInvalid(f"the package does not follow the edXML schema: {problems}")
