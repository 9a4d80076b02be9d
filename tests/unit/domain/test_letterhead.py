"""Decree 30/2020's letterhead defaults: what heads the document and what stands over the signature."""

from __future__ import annotations

import pytest

from backend.domain import letterhead as L


@pytest.mark.parametrize(("name", "kind", "heading"), [
    ("Chính phủ nước Cộng hòa xã hội chủ nghĩa Việt Nam", "government", "CHÍNH PHỦ"),
    ("Ủy ban nhân dân thành phố Hà Nội", "provincial_committee", "ỦY BAN NHÂN DÂN\nTHÀNH PHỐ HÀ NỘI"),
    ("Uỷ ban nhân dân  tỉnh Quảng Ninh", "provincial_committee", "ỦY BAN NHÂN DÂN\nTỈNH QUẢNG NINH"),
    ("Hội đồng quản trị", "other", "HỘI ĐỒNG QUẢN TRỊ"),
])
def test_the_issuer_heading_is_the_short_official_name(name: str, kind: str, heading: str) -> None:
    assert L.issuer_heading(name, kind) == heading


def test_the_head_signs_on_behalf_of_the_collective_body() -> None:
    assert L.collective_capacity("CHÍNH PHỦ") == "TM. CHÍNH PHỦ"
    assert L.collective_capacity("ỦY BAN NHÂN DÂN\nTỈNH QUẢNG NINH") == "TM. ỦY BAN NHÂN DÂN"
    assert L.collective_capacity("") == ""


@pytest.mark.parametrize(("title", "position"), [
    ("Thủ tướng Chính phủ", "THỦ TƯỚNG"),
    ("Chủ tịch UBND tỉnh Quảng Ninh", "CHỦ TỊCH"),
    ("Chủ tịch Ủy ban nhân dân thành phố Hà Nội", "CHỦ TỊCH"),
    ("Bộ trưởng Bộ Tài chính", "BỘ TRƯỞNG BỘ TÀI CHÍNH"),
    ("", ""),
])
def test_the_position_stands_without_the_bodys_name(title: str, position: str) -> None:
    assert L.position_title(title) == position


def test_a_reviewers_initials_keep_their_vietnamese_letters() -> None:
    assert L.initials("Đỗ Thị Lan") == "ĐTL"
    assert L.initials("  Ánh   tuyết ") == "ÁT"
    assert L.initials("") == ""
