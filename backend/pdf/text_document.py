"""A plain Vietnamese text document as a PDF (a report, a draft for discussion): the demo's meeting
documents, so a fresh installation has something real to read, annotate and search."""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from signing.render import FAMILY, register_fonts

_FONT, _BOLD = FAMILY, f"{FAMILY}-Bold"


def render_text_document(title: str, sections: Sequence[tuple[str, Sequence[str]]], *, issuer: str = "") -> bytes:
    """`sections`: (heading, paragraphs) in order; long text flows over as many A4 pages as it needs."""
    register_fonts()
    body = ParagraphStyle("body", fontName=_FONT, fontSize=13, leading=18, firstLineIndent=10 * mm,
                          spaceAfter=6, alignment=4)
    heading = ParagraphStyle("heading", fontName=_BOLD, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4)
    top = ParagraphStyle("top", fontName=_BOLD, fontSize=15, leading=20, alignment=1, spaceAfter=12)
    small = ParagraphStyle("small", fontName=_FONT, fontSize=12, leading=16, alignment=1)
    story = [Paragraph(escape(issuer), small), Spacer(1, 6 * mm)] if issuer else []
    story.append(Paragraph(escape(title.upper()), top))
    for head, paragraphs in sections:
        story.append(Paragraph(escape(head), heading))
        story += [Paragraph(escape(text), body) for text in paragraphs]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=30 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                            bottomMargin=20 * mm, title=title, author=issuer or "e-Cabinet", invariant=1)
    doc.build(story)
    return out.getvalue()
