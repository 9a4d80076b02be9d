"""The field rules of exchange/fields.py: agency ids, document ids, dates, texts, code lists."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from exchange import fields
from exchange.errors import InvalidField


@pytest.mark.parametrize("value", ["000.00.00.G22", "000.00.00.H41", "000.00.12.H41", "000.01.12.H41",
                                   "001.01.12.H41"])
def test_agency_ids_of_the_standard_form_are_accepted(value: str) -> None:
    assert fields.check_agency_id(value) == value


@pytest.mark.parametrize("value", ["G22", "000.00.00.g22", "000.00.00.G2", "000.00.00.22G", "00.000.00.G22",
                                   "000.00.00.G22 ", "000-00-00-G22", "001.00.00.G22", "000.01.00.G22", "",
                                   "０00.00.00.G22"])
def test_malformed_agency_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidField) as refused:
        fields.check_agency_id(value, "From/OrganId")
    assert refused.value.code == "invalid_field"
    assert "From/OrganId" in refused.value.message


def test_document_id_is_organ_date_number_and_notation_and_splits_back() -> None:
    made = fields.document_id("000.00.00.G22", date(2026, 12, 2), "15", "NQ-CP")
    assert made == "000.00.00.G22,2026/12/02,15/NQ-CP"
    assert fields.split_document_id(made) == ("000.00.00.G22", date(2026, 12, 2), "15", "NQ-CP")


@pytest.mark.parametrize("value", ["000.00.00.G22,2026/12/02,15", "000.00.00.G22,2026-12-02,15/NQ-CP",
                                   "G22,2026/12/02,15/NQ-CP", "000.00.00.G22,2026/02/30,15/NQ-CP",
                                   "8f14e45f-ceea-467f-a0e6-5d3a6b2b9b4f"])
def test_malformed_document_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidField):
        fields.split_document_id(value)


def test_dates_and_timestamps_are_written_with_slashes_and_read_back() -> None:
    assert fields.format_date(date(2026, 1, 5)) == "2026/01/05"
    assert fields.parse_date("2026/01/05") == date(2026, 1, 5)
    assert fields.format_timestamp(datetime(2026, 1, 5, 7, 8, 9)) == "2026/01/05 07:08:09"
    assert fields.parse_timestamp("2026/01/05 07:08:09") == datetime(2026, 1, 5, 7, 8, 9)


@pytest.mark.parametrize("text", ["2026/02/30", "2026/13/01", "05/01/2026", "2026-01-05", "2026/1/5 "])
def test_dates_that_are_not_real_or_not_yyyy_mm_dd_are_refused(text: str) -> None:
    with pytest.raises(InvalidField):
        fields.parse_date(text)


@pytest.mark.parametrize("text", ["2026/01/05 24:00:00", "05/01/2026 07:08:09", "2026/01/05T07:08:09"])
def test_bad_timestamps_are_refused(text: str) -> None:
    with pytest.raises(InvalidField):
        fields.parse_timestamp(text)


def test_timestamps_with_a_zone_or_fractions_are_not_written() -> None:
    from datetime import UTC
    with pytest.raises(InvalidField):
        fields.format_timestamp(datetime(2026, 1, 5, 7, 8, 9, tzinfo=UTC))
    with pytest.raises(InvalidField):
        fields.format_timestamp(datetime(2026, 1, 5, 7, 8, 9, 500))


def test_text_rules_limit_length_and_refuse_control_characters() -> None:
    assert fields.check_text("Trích yếu " * 50, "Subject", limit=fields.SUBJECT_MAX) == "Trích yếu " * 50
    with pytest.raises(InvalidField, match="501 characters"):
        fields.check_text("ê" * 501, "Subject", limit=fields.SUBJECT_MAX)
    with pytest.raises(InvalidField, match="empty"):
        fields.check_text("  ", "Subject", required=True)
    for bad in ("a\x00b", "a\x1bb", "a\ud800b", "a\uffffb"):
        with pytest.raises(InvalidField, match="control character"):
            fields.check_text(bad, "Content")


def test_code_lists_name_the_brief_values() -> None:
    assert [c.value for c in fields.StatusCode] == ["01", "02", "03", "04", "05", "06", "13", "15", "16"]
    assert [int(t) for t in fields.BusinessDocType] == [0, 1, 2, 3]
    assert fields.status_code("15") is fields.StatusCode.RECALL_OR_UPDATE_AGREED
    with pytest.raises(InvalidField):
        fields.status_code("07")
    with pytest.raises(InvalidField):
        fields.business_doc_type(4)


def test_content_types_are_bare_mime_types() -> None:
    assert fields.check_content_type("application/pdf") == "application/pdf"
    for bad in ("pdf", "application/pdf; charset=x", "text/<script>", ""):
        with pytest.raises(InvalidField):
            fields.check_content_type(bad)


def test_the_schema_patterns_are_the_ones_of_the_field_rules() -> None:
    from importlib import resources
    xsd = resources.files("exchange").joinpath("schema/edxml.xsd").read_text(encoding="utf-8")
    assert f'value="{fields.AGENCY_ID_XSD}"' in xsd
    assert f'value="{fields.DATE_XSD}"' in xsd
    assert f'value="{fields.TIMESTAMP_XSD}"' in xsd
    assert f'targetNamespace="{fields.NAMESPACE}"' in xsd
    assert f'<xs:maxLength value="{fields.SUBJECT_MAX}"/>' in xsd
    for code in fields.StatusCode:
        assert f'<xs:enumeration value="{code.value}"/>' in xsd
