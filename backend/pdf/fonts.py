"""The Liberation Serif faces (Vietnamese) for the marks and the meeting book, registered with reportlab
under the names signing.render uses, WITHOUT importing the `signing` package: its __init__ loads pyHanko,
which costs every sandbox child (backend.pdf.sandbox) almost a second before it does any work."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONTS = Path(__file__).resolve().parents[2] / "signing" / "fonts"
"""signing/ and backend/ are installed side by side (one distribution), so the vendored fonts are here."""
FAMILY = "LiberationSerif"
"""The same family name as signing.render.FAMILY, so both register (and draw with) the same faces."""

_registered = False


def register_fonts() -> None:
    """Register FAMILY, FAMILY-Bold, FAMILY-Italic and FAMILY-BoldItalic once."""
    global _registered
    if _registered:
        return
    for suffix, name in (("Regular", FAMILY), ("Bold", f"{FAMILY}-Bold"), ("Italic", f"{FAMILY}-Italic"),
                         ("BoldItalic", f"{FAMILY}-BoldItalic")):
        pdfmetrics.registerFont(TTFont(name, str(FONTS / f"LiberationSerif-{suffix}.ttf")))
    pdfmetrics.registerFontFamily(FAMILY, normal=FAMILY, bold=f"{FAMILY}-Bold", italic=f"{FAMILY}-Italic",
                                  boldItalic=f"{FAMILY}-BoldItalic")
    _registered = True
