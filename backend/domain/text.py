"""Text folding for search: lower case without diacritics, so "nghi quyet", "Nghị Quyết" and
"NGHỊ QUYẾT" all meet, and so SQLite (whose lower() folds only ASCII) finds Vietnamese names."""

from __future__ import annotations

import re
import unicodedata

# Characters no one types into a title, a name or a note, and that make text lie about itself: controls
# other than tab and line breaks (C0, DEL, C1), bidirectional overrides and isolates (U+202E shows
# "fdp.exe" as "exe.pdf"), zero-width and other invisible format characters, line/paragraph separators,
# the byte-order mark, and lone surrogates (not text at all; a database cannot store them).
_UNSAFE = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e"
                     "\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")


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


def unsafe_character(value: object) -> str | None:
    """The first character of a decoded JSON value (keys included) that input may not hold (see _UNSAFE),
    or None. NUL is has_nul's."""
    if isinstance(value, str):
        found = _UNSAFE.search(value)
        return found.group() if found else None
    if isinstance(value, dict):
        items: list[object] = [x for pair in value.items() for x in pair]
        return next((c for c in map(unsafe_character, items) if c is not None), None)
    if isinstance(value, list):
        return next((c for c in map(unsafe_character, value) if c is not None), None)
    return None


def unsafe_text_problem(value: object) -> str | None:
    """What is wrong with a client's text (REST body, form, file name, query, Socket.IO payload), or None:
    the one check, whose message the API and the realtime layer both answer with code `unsafe_text`."""
    found = unsafe_character(value)
    return None if found is None else f"text may not contain the control or invisible character U+{ord(found):04X}"


def strip_unsafe(text: str) -> str:
    """`text` without the characters input may not hold (for text that comes from a file, not a person)."""
    return _UNSAFE.sub("", text)
