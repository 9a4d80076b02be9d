"""Reading packages through the sandbox (services/exchange/packages.py, job `exchange_parse`): a valid
package comes back whole, a hostile one is refused with the exchange library's code, and one whose reading
would take too long or too much memory has its child killed and reaped."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from backend.config import Settings
from backend.exceptions import Unprocessable
from backend.services.exchange import packages
from tests.unit.exchange.test_safe_xml import BILLION_LAUGHS
from tests.unit.pdf.test_probe import _children

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "exchange"
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


def _settings(**changes: object) -> Settings:
    return replace(Settings(), **{"exchange_trust_anchors": FIXTURES / "root.pem", **changes})  # type: ignore[arg-type]


def _wide(elements: int) -> bytes:
    """Well-formed, no DTD, in the right namespace: only its size makes it costly (millions of nodes)."""
    return f'<edXML xmlns="{NS}">'.encode() + b"<a/>" * elements + b"</edXML>"


async def test_a_valid_package_is_read_in_the_sandbox_with_its_attachments() -> None:
    parsed = await packages.parse(_settings(), (FIXTURES / "document.edxml").read_bytes(),
                                  known_agencies={"000.00.00.G22", "000.00.00.H41", "000.00.00.H26"})
    assert parsed.kind == "document"
    assert parsed.package["document_id"] == "000.00.00.G22,2026/12/02,15/NQ-CP"
    assert parsed.package["sender"]["organ_id"] == "000.00.00.G22"
    assert parsed.package["promulgation"]["date"] == "2026-12-02"
    assert [a["name"] for a in parsed.package["attachments"]] == ["nghi-quyet-15.pdf", "phụ lục.docx"]
    assert parsed.attachments[0] == "%PDF-1.7\n% nghị quyết\n%%EOF\n".encode()
    assert parsed.attachments[1] == bytes(range(256)) * 40
    assert parsed.package["signed_by"]["fingerprint_sha256"]


async def test_a_status_package_is_read_too() -> None:
    parsed = await packages.parse(_settings(), (FIXTURES / "status.edxml").read_bytes())
    assert parsed.kind == "status" and parsed.package["status_code"] == "04" and parsed.attachments == []


async def test_billion_laughs_is_refused_forbidden_construct() -> None:
    with pytest.raises(packages.PackageRefused) as refused:
        await packages.parse(_settings(), BILLION_LAUGHS)
    assert refused.value.code == "forbidden_construct" and refused.value.status == 422


async def test_an_unknown_sender_and_a_missing_trust_anchor_are_refused_with_their_codes() -> None:
    data = (FIXTURES / "document.edxml").read_bytes()
    with pytest.raises(packages.PackageRefused) as unknown:
        await packages.parse(_settings(), data, known_agencies={"000.00.00.H41", "000.00.00.H26"})
    assert unknown.value.code == "unknown_agency"
    with pytest.raises(packages.PackageRefused) as untrusted:
        await packages.parse(_settings(exchange_trust_anchors=None), data)
    assert untrusted.value.code == "bad_signature"


async def test_a_package_that_needs_too_much_memory_is_stopped_by_the_childs_limit() -> None:
    before = _children()
    with pytest.raises(Unprocessable) as refused:
        await packages.parse(_settings(exchange_parse_memory_mb=300), _wide(12_000_000))
    # The child's RLIMIT_AS stops it: libxml2 reports its failed allocation as a parse error (malformed_xml,
    # "unknown error"), or the child dies of it (too_complex). Either way nothing was read, nothing is left.
    assert refused.value.code in ("malformed_xml", "too_complex")
    assert _children() - before == set()


async def test_a_package_that_takes_too_long_is_killed_at_the_deadline() -> None:
    before = _children()
    started = time.monotonic()
    with pytest.raises(Unprocessable) as refused:
        await packages.parse(_settings(exchange_parse_seconds=1, exchange_parse_memory_mb=6_000), _wide(15_000_000))
    assert refused.value.code == "too_complex" and "1 s" in refused.value.message
    assert time.monotonic() - started < 8
    assert _children() - before == set()
