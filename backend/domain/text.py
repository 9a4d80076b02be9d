"""Text folding for search: lower case without diacritics, so "nghi quyet", "Nghị Quyết" and
"NGHỊ QUYẾT" all meet, and so SQLite (whose lower() folds only ASCII) finds Vietnamese names."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(bare.lower().split())


def fold_aligned(text: str) -> str:
    """`fold` character by character, keeping every character's offset (no whitespace squeezing), so an
    offset found in the folded text of a page is the same offset in its original text (for snippets)."""
    return "".join(_fold_char(ch) for ch in text)


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch.lower()
    folded = fold(ch)
    return folded[0] if len(folded) >= 1 and not folded[0].isspace() else (" " if ch.isspace() else ch.lower()[:1])


def search_terms(query: str) -> list[str]:
    """The words of a search query, folded: letters and digits only (so no query syntax gets through)."""
    words = "".join(c if c.isalnum() else " " for c in fold(query)).split()
    return words[:20]


def like_pattern(query: str) -> str:
    """A LIKE pattern that finds `query` anywhere, with the wildcards in it taken literally (escape: \\)."""
    escaped = fold(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def has_nul(value: object) -> bool:
    """Whether a decoded JSON value holds the NUL character anywhere (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False
