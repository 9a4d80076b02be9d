"""The tablet app's message catalogues: the same keys in Vietnamese and English, every key the code
uses exists, and Vietnamese strings are real Vietnamese (diacritics, not ASCII placeholders)."""

from __future__ import annotations

import json
import re
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def _catalogue(lang: str) -> dict[str, str]:
    data = json.loads((FRONTEND / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


def test_vietnamese_and_english_have_the_same_keys() -> None:
    vi, en = _catalogue("vi"), _catalogue("en")
    assert sorted(set(vi) - set(en)) == [] and sorted(set(en) - set(vi)) == []


def test_every_key_used_in_the_code_exists() -> None:
    vi = _catalogue("vi")
    used = set()
    for path in (FRONTEND / "src").rglob("*.js"):
        code = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if not line.lstrip().startswith("//"))
        used |= set(re.findall(r"\bt\(\s*['\"]([a-z0-9_.-]+)['\"]", code))
    assert used, "found no t('...') calls: the pattern no longer matches the code"
    assert sorted(used - set(vi)) == []


def test_vietnamese_strings_carry_diacritics() -> None:
    vi = _catalogue("vi")
    marks = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE)
    with_marks = [v for v in vi.values() if marks.search(v)]
    assert len(with_marks) > len(vi) // 2
    assert "Đăng nhập" in vi.values()


def test_every_notification_kind_is_worded_in_both_languages_as_in_the_email() -> None:
    from backend.services.notifications import TEXT

    vi, en = _catalogue("vi"), _catalogue("en")
    for kind, (subject, sentence) in TEXT.items():
        assert {f"notify.{kind}.title", f"notify.{kind}.text"} <= set(vi) & set(en), kind
        assert (vi[f"notify.{kind}.title"], vi[f"notify.{kind}.text"]) == (subject, sentence), kind
