from __future__ import annotations

import pytest

from backend.domain.text import fold, like_pattern


@pytest.mark.parametrize(("text", "folded"), [
    ("Nghị quyết", "nghi quyet"), ("ĐỖ THỊ HÀ", "do thi ha"), ("Đỗ Thị  Hà ", "do thi ha"),
    ("Phạm Minh Đức", "pham minh duc"), ("nguyen.van.a", "nguyen.van.a"), ("Tán thành", "tan thanh"),
])
def test_fold_removes_case_and_vietnamese_diacritics(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_like_pattern_takes_wildcards_literally() -> None:
    assert like_pattern("%") == "%\\%%"
    assert like_pattern("a_b") == "%a\\_b%"
    assert like_pattern("Đỗ") == "%do%"
