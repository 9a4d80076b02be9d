"""What a record's letterhead and signature heading say by default, after Decree 30/2020/NĐ-CP
(appendix I): the issuing body's short heading, the collective "TM." capacity and the signer's
position without the body's name. The secretariat can still type any of them on a draft."""

from __future__ import annotations

import unicodedata

from backend.domain.text import fold

_GOVERNMENT = "CHÍNH PHỦ"
_PEOPLES_COMMITTEE = "ỦY BAN NHÂN DÂN"
# Body words that close a position's name ("Thủ tướng Chính phủ" → "THỦ TƯỚNG"), folded for comparison.
_BODY_WORDS = ("chinh phu", "uy ban nhan dan", "ubnd")


def _upper(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split())).upper()


def issuer_heading(body_name: str, kind: str) -> str:
    """The issuer's name as it heads the document (at most two lines): "CHÍNH PHỦ" for the Government,
    "ỦY BAN NHÂN DÂN" over the locality for a People's Committee, else the body's name."""
    if kind == "government":
        return _GOVERNMENT
    words = body_name.split()
    if kind == "provincial_committee" and len(words) > 4 and fold(" ".join(words[:4])) == "uy ban nhan dan":
        return f"{_PEOPLES_COMMITTEE}\n{_upper(' '.join(words[4:]))}"
    return _upper(body_name)


def collective_capacity(heading: str) -> str:
    """"TM. CHÍNH PHỦ": the head signs on behalf of (thay mặt) the collective body."""
    first = heading.split("\n", 1)[0].strip()
    return f"TM. {first}" if first else ""


def position_title(title: str) -> str:
    """The signer's position in capitals without the body's name: "Thủ tướng Chính phủ" → "THỦ TƯỚNG",
    "Chủ tịch UBND tỉnh Quảng Ninh" → "CHỦ TỊCH"."""
    words = " ".join(title.split()).split(" ")
    folded = [fold(w) for w in words]
    for start in range(1, len(words)):
        tail = " ".join(folded[start:])
        if tail.startswith(_BODY_WORDS):
            return _upper(" ".join(words[:start]))
    return _upper(title)


def initials(full_name: str) -> str:
    """The ký nháy mark of a reviewer: the first letter of each word, "Đỗ Thị Lan" → "ĐTL"."""
    return "".join(unicodedata.normalize("NFC", word)[0].upper() for word in full_name.split())
