"""Hostile XML is refused with a clear code and bounded memory, before any field is read."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from lxml import etree

import exchange as ex
from exchange import safe_xml

from .conftest import Signer, sample_document

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE edXML [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXMLEnvelope>&lol9;</edXMLEnvelope></edXML>
"""


def _xxe(secret_file: Path) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
            f'<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><Subject>&xxe;</Subject></edXMLHeader>'
            '</edXMLEnvelope></edXML>').encode()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-4f1c9e")
    return path


def _refusal(data: bytes, signer: Signer, **kwargs: object) -> ex.ExchangeError:
    with pytest.raises(ex.ExchangeError) as refused:
        ex.parse_package(data, trust_anchors=[signer.root], **kwargs)  # type: ignore[arg-type]
    return refused.value


def test_billion_laughs_is_refused_at_once_without_growing_memory(signer: Signer) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    error = _refusal(BILLION_LAUGHS, signer)
    assert error.code == "forbidden_construct"
    assert isinstance(error, ex.ForbiddenConstruct) and isinstance(error, ValueError)
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: no expansion happened


def test_the_parser_alone_does_not_expand_entities_either() -> None:
    # Defence in depth: even without the markup check, the parser leaves the entities unexpanded (or,
    # with libxml2 >= 2.12, stops at its amplification limit).
    try:
        root = etree.fromstring(BILLION_LAUGHS, safe_xml.parser())
    except etree.XMLSyntaxError as exc:
        assert "amplification" in str(exc)
    else:
        assert len(etree.tostring(root)) < 10_000


def test_xxe_file_entity_is_refused_and_the_file_never_appears(signer: Signer, secret_file: Path) -> None:
    error = _refusal(_xxe(secret_file), signer)
    assert error.code == "forbidden_construct"
    assert "TOP-SECRET" not in str(error) and "TOP-SECRET" not in error.message


def test_the_parser_alone_never_reads_the_xxe_file(secret_file: Path) -> None:
    root = etree.fromstring(_xxe(secret_file), safe_xml.parser())
    assert b"TOP-SECRET" not in etree.tostring(root)
    assert "TOP-SECRET" not in "".join(root.itertext())


def test_xxe_hidden_in_utf16_is_refused(signer: Signer, secret_file: Path) -> None:
    data = _xxe(secret_file).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    error = _refusal(data, signer)
    assert error.code == "forbidden_construct"
    assert "TOP-SECRET" not in error.message


def test_a_doctype_without_entities_is_refused_too(signer: Signer) -> None:
    data = f'<?xml version="1.0"?><!DOCTYPE edXML SYSTEM "http://127.0.0.1:9/edxml.dtd"><edXML xmlns="{NS}"/>'
    assert _refusal(data.encode(), signer).code == "forbidden_construct"


def test_an_encoding_other_than_utf8_is_refused(signer: Signer) -> None:
    data = f'<?xml version="1.0" encoding="ISO-8859-1"?><edXML xmlns="{NS}"/>'.encode("latin-1")
    assert _refusal(data, signer).code == "forbidden_construct"


def test_a_package_over_the_limit_is_refused_before_parsing(signer: Signer) -> None:
    garbage = b"<" * 2_000  # would be malformed_xml if it were parsed
    assert _refusal(garbage, signer).code == "malformed_xml"
    error = _refusal(garbage, signer, max_bytes=1_000)
    assert error.code == "too_large" and "2000 bytes" in error.message


def test_a_real_package_over_the_limit_is_refused(signer: Signer) -> None:
    data = ex.build_document(sample_document(), key=signer.key, certificate=signer.certificate, chain=signer.chain)
    assert ex.parse_package(data, trust_anchors=[signer.root], max_bytes=len(data)) == sample_document()
    assert _refusal(data, signer, max_bytes=len(data) - 1).code == "too_large"


@pytest.mark.parametrize("data", [b"", b"not xml", b"<edXML xmlns='x'>", b"<a></b>",
                                  b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2016'>&undeclared;</edXML>"])
def test_malformed_xml_is_refused(signer: Signer, data: bytes) -> None:
    assert _refusal(data, signer).code == "malformed_xml"


def test_a_text_over_the_parsers_limit_is_too_large(signer: Signer) -> None:
    # e.g. an attachment over exchange.fields.MAX_ATTACHMENT_BYTES; the parser stops at 10,000,000 bytes
    data = f'<edXML xmlns="{NS}"><AttachmentEncoded>'.encode() + b"QUFB" * 2_500_001 + b"</AttachmentEncoded></edXML>"
    error = _refusal(data, signer)
    assert error.code == "too_large"


def test_nesting_too_deep_is_refused_as_malformed(signer: Signer) -> None:
    data = f'<edXML xmlns="{NS}">'.encode() + b"<a>" * 5_000 + b"</a>" * 5_000 + b"</edXML>"
    assert _refusal(data, signer).code == "malformed_xml"


@pytest.mark.parametrize("root", [
    '<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2015"><edXMLEnvelope/></edXML>',
    "<edXML><edXMLEnvelope/></edXML>",
    f'<Envelope xmlns="{NS}"/>',
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>',
])
def test_a_root_outside_the_edxml_namespace_is_refused(signer: Signer, root: str) -> None:
    assert _refusal(root.encode(), signer).code == "wrong_namespace"


def test_a_good_package_in_another_namespace_is_refused(signer: Signer) -> None:
    data = ex.build_document(sample_document(), key=signer.key, certificate=signer.certificate, chain=signer.chain)
    assert _refusal(data.replace(NS.encode(), b"http://example.org/edxml"), signer).code == "wrong_namespace"
