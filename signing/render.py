"""Resolutions (Nghị quyết) and minutes (Biên bản) as PDF, laid out after the state's format for
administrative documents (Nghị định 30/2020/NĐ-CP, Phụ lục I): national motto, issuing body, number
and symbol, place and date, title, body, recipients, signature block; A4, Times-like serif.

Liberation Serif (metric-compatible with Times New Roman, every Vietnamese glyph) is embedded as a
subset with its ToUnicode map, so diacritics both render and copy back exactly. Each signatory gets an
empty rectangle in the signature block (a `SignatureSlot`) where its visible signature goes."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "LiberationSerif"
SLOT_WIDTH, SLOT_HEIGHT = 180.0, 70.0
_registered = False


def register_fonts() -> None:
    """Registers the vendored Liberation Serif faces with reportlab (once) as FAMILY, FAMILY-Bold,
    FAMILY-Italic and FAMILY-BoldItalic: every PDF e-Cabinet draws uses them, so Vietnamese renders."""
    global _registered
    if _registered:
        return
    for suffix, name in (("Regular", FAMILY), ("Bold", f"{FAMILY}-Bold"), ("Italic", f"{FAMILY}-Italic"),
                         ("BoldItalic", f"{FAMILY}-BoldItalic")):
        pdfmetrics.registerFont(TTFont(name, str(FONTS / f"LiberationSerif-{suffix}.ttf")))
    pdfmetrics.registerFontFamily(FAMILY, normal=FAMILY, bold=f"{FAMILY}-Bold", italic=f"{FAMILY}-Italic",
                                  boldItalic=f"{FAMILY}-BoldItalic")
    _registered = True


# --- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    """Who issues the document."""

    governing_body: str
    """Issuing body as printed, e.g. "CHÍNH PHỦ" or "ỦY BAN NHÂN DÂN\\nTỈNH QUẢNG NINH" (up to two lines)."""
    place: str = "Hà Nội"
    """Place in the date line."""


@dataclass(frozen=True)
class Signatory:
    """A person who signs, and where."""

    field_name: str
    """The PDF signature field (ASCII), e.g. "chair"."""
    capacity: str
    """Capacity line, e.g. "TM. CHÍNH PHỦ", "CHỦ TỌA", "THƯ KÝ"."""
    title: str
    """Position, e.g. "THỦ TƯỚNG"."""
    full_name: str
    """Name printed under the signature."""


@dataclass(frozen=True)
class PollResult:
    """A vote as the documents report it."""

    question: str
    """What was voted on."""
    options: tuple[tuple[str, int], ...]
    """(label, votes) per option."""
    rule: str
    """The majority rule in words (Vietnamese)."""
    entitled: int
    """Members entitled to vote."""
    present: int
    """Entitled members present."""
    voted: int
    """Ballots cast."""
    quorum_needed: int
    """Members needed for the quorum."""
    quorum_met: bool
    """Whether the quorum was met."""
    passed: bool
    """Whether the motion passed."""
    secret: bool
    """Secret ballot (else named)."""
    opened_at: datetime
    """When voting opened."""
    closed_at: datetime
    """When it closed."""
    written: bool = False
    """A written opinion round (phiếu lấy ý kiến) rather than a vote in session: `entitled` are the
    members asked, `voted` those who answered, `quorum_needed` the agreements needed."""
    abstain_index: int | None = None
    """Which of `options` is "Không biểu quyết" (None: none is): its ballots are not votes cast, so
    the percentages of votes cast (what a majority of votes cast is decided on) leave them out."""

    @property
    def abstentions(self) -> int:
        return self.options[self.abstain_index][1] if self.abstain_index is not None else 0


@dataclass(frozen=True)
class ResolutionDoc:
    """A resolution (Nghị quyết)."""

    issuer: Issuer
    """The issuing body."""
    number: str
    """Number and symbol, e.g. "15/NQ-CP"."""
    issued_at: datetime | None
    """Date of issue (its own time zone is printed): the day it is signed. None on a draft, whose date
    line keeps blanks for the day and month."""
    title: str
    """Kind of document, e.g. "NGHỊ QUYẾT"."""
    subject: str
    """Subject line ("Về việc ..." or the meeting's name)."""
    preamble: tuple[str, ...] = ()
    """Legal grounds ("Căn cứ ...")."""
    articles: tuple[tuple[str, str], ...] = ()
    """Decisions, as (heading, text), e.g. ("Điều 1.", "...")."""
    poll: PollResult | None = None
    """The vote the resolution records."""
    opinions: tuple[PollResult, ...] = ()
    """Or the questions of the written opinion round it records (written=True)."""
    recipients: tuple[str, ...] = ()
    """"Nơi nhận" lines."""
    signatories: tuple[Signatory, ...] = ()
    """Signers; the last one is the main signer (right column); an earlier one initials (left)."""
    meeting_title: str = ""
    """The meeting that decided."""
    meeting_date: datetime | None = None
    """When it met."""
    draft: bool = False
    """A draft (dự thảo): marked DỰ THẢO on every page and undated."""
    initials: str = ""
    """The reviewer's initials (ký nháy), put at the end of the last "Nơi nhận" line of the issued text."""


@dataclass(frozen=True)
class AttendanceRow:
    """One participant in the minutes' attendance table."""

    name: str
    """Name."""
    title: str
    """Position."""
    role: str
    """Role in the meeting (Vietnamese)."""
    present: bool
    """Attended."""
    deputy: str | None = None
    """Name of the deputy who attended instead, if any."""
    checked_in_at: datetime | None = None
    """When they checked in."""


@dataclass(frozen=True)
class SpeakerEntry:
    """One speaking turn."""

    name: str
    """Who spoke."""
    started_at: datetime
    """Start."""
    ended_at: datetime
    """End."""


@dataclass(frozen=True)
class AgendaEntry:
    """One agenda item in the minutes."""

    position: int
    """1-based number."""
    title: str
    """Title."""
    presenter: str = ""
    """Who presented it."""
    speakers: tuple[SpeakerEntry, ...] = ()
    """Speaking turns, in order."""
    polls: tuple[PollResult, ...] = ()
    """Votes on it."""
    discussed: bool = True
    """The session took it up; an item it never reached is listed apart, as not discussed."""
    postponed: bool = False
    """The chair postponed it (said so among the items not discussed)."""


@dataclass(frozen=True)
class MinutesDoc:
    """The minutes of a meeting (Biên bản)."""

    issuer: Issuer
    """The issuing body."""
    number: str
    """Number and symbol, e.g. "12/BB-CP"."""
    held_at: datetime
    """When the session began."""
    ended_at: datetime
    """When it ended."""
    place: str
    """Where it was held."""
    meeting_title: str
    """The meeting's name."""
    chair: str
    """Who chaired."""
    secretary: str
    """Who kept the minutes."""
    attendance: tuple[AttendanceRow, ...] = ()
    """Participants."""
    agenda: tuple[AgendaEntry, ...] = ()
    """What was discussed and decided."""
    summary: tuple[str, ...] = ()
    """Closing paragraphs (conclusions)."""
    recipients: tuple[str, ...] = ()
    """"Nơi nhận" lines."""
    signatories: tuple[Signatory, ...] = ()
    """Secretary (left) and chair (right)."""
    title: str = ""
    """Subject line (default: the meeting's name)."""


@dataclass(frozen=True)
class OpinionAnswerLine:
    """One question of a written ballot and the member's answer."""

    question: str
    """What was asked."""
    answer: str
    """Đồng ý / Không đồng ý / Ý kiến khác."""
    text: str = ""
    """The opinion's text (for Ý kiến khác) or a comment."""


@dataclass(frozen=True)
class OpinionBallotDoc:
    """A member's written ballot in an opinion round (Phiếu lấy ý kiến)."""

    issuer: Issuer
    """The body that asks."""
    round_title: str
    """The round's subject."""
    member_name: str
    """Who answers."""
    member_title: str
    """Their position."""
    submitted_at: datetime
    """When they answered."""
    answers: tuple[OpinionAnswerLine, ...]
    """Question by question."""
    signatory: Signatory
    """The member, as they sign."""
    deputy_for: str | None = None
    """The member a deputy answers for, if any."""
    comments: tuple[tuple[str, str], ...] = ()
    """(document title, comment) for each of the round's documents the member commented on."""


@dataclass(frozen=True)
class OtherOpinion:
    """An "other opinion" (or comment) quoted in the report, with who wrote it."""

    author: str
    """The member (and, for a deputy, whom they answered for)."""
    text: str
    """What they wrote."""
    ballot_ref: str
    """Which signed ballot it comes from (number and the file's SHA-256, shortened)."""


@dataclass(frozen=True)
class OpinionQuestionReport:
    """One question of a round, as the report gives it."""

    result: PollResult
    """Counts, rule and outcome (written=True)."""
    other_opinions: tuple[OtherOpinion, ...] = ()
    """The "Ý kiến khác" answers, quoted."""


@dataclass(frozen=True)
class OpinionReportDoc:
    """The aggregated report of an opinion round (Báo cáo tổng hợp ý kiến)."""

    issuer: Issuer
    """The body that asked."""
    number: str
    """Number and symbol of the report (may be empty)."""
    issued_at: datetime
    """When the report is made."""
    round_title: str
    """The round's subject."""
    questions: tuple[OpinionQuestionReport, ...]
    """Question by question."""
    answered: tuple[tuple[str, str], ...]
    """(member, signed ballot reference) of every ballot that counts."""
    not_answered: tuple[str, ...]
    """Members asked who did not answer."""
    closed: bool = True
    """False for an interim report while the round is still open."""
    document_comments: tuple[tuple[str, tuple[OtherOpinion, ...]], ...] = ()
    """(document title, the comments on it, quoted with their authors) for each commented document."""


# --- output --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureSlot:
    """An empty rectangle in the signature block for one signatory's visible signature."""

    field_name: str
    """The signature field to create there."""
    page_index: int
    """Page (0-based)."""
    box: tuple[float, float, float, float]
    """(x1, y1, x2, y2) in PDF points, origin bottom-left."""
    signatory: Signatory
    """Who signs there."""


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered document."""

    pdf: bytes
    """The PDF."""
    slots: tuple[SignatureSlot, ...]
    """Where each signatory signs."""
    page_count: int
    """Pages."""
    text: str = ""
    """The text laid out (for search and tests)."""


# --- formatting ----------------------------------------------------------------------------------


def vietnamese_date(when: datetime, place: str = "") -> str:
    """"Hà Nội, ngày 05 tháng 02 năm 2026": a day below 10 and the months 1 and 2 take a leading zero."""
    day = f"{when.day:02d}" if when.day < 10 else str(when.day)
    month = f"{when.month:02d}" if when.month < 3 else str(when.month)
    text = f"ngày {day} tháng {month} năm {when.year}"
    return f"{place}, {text}" if place else text


def _clock(when: datetime) -> str:
    return f"{when.hour:02d} giờ {when.minute:02d}"


def _hm(when: datetime) -> str:
    return f"{when:%H:%M}"


def _t(text: str) -> str:
    """User text for Paragraph markup: escaped, NFC (one code point per Vietnamese letter)."""
    return escape(unicodedata.normalize("NFC", text)).replace("\n", "<br/>")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FAMILY, fontSize=13, leading=17, alignment=TA_JUSTIFY)
    return {
        "body": ParagraphStyle("body", parent=base, firstLineIndent=10 * mm, spaceAfter=4),
        "plain": ParagraphStyle("plain", parent=base, alignment=TA_LEFT),
        "center": ParagraphStyle("center", parent=base, alignment=TA_CENTER),
        "head_left": ParagraphStyle("head_left", parent=base, fontSize=12.5, leading=15, alignment=TA_CENTER),
        "head_right": ParagraphStyle("head_right", parent=base, fontSize=12.5, leading=15.5, alignment=TA_CENTER),
        "date": ParagraphStyle("date", parent=base, fontName=f"{FAMILY}-Italic", fontSize=13, alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=base, fontName=f"{FAMILY}-Bold", fontSize=14, leading=18,
                                alignment=TA_CENTER, spaceBefore=8),
        "subject": ParagraphStyle("subject", parent=base, fontName=f"{FAMILY}-Bold", alignment=TA_CENTER,
                                  spaceAfter=10),
        "preamble": ParagraphStyle("preamble", parent=base, fontName=f"{FAMILY}-Italic", firstLineIndent=10 * mm,
                                   spaceAfter=2),
        "heading": ParagraphStyle("heading", parent=base, fontName=f"{FAMILY}-Bold", spaceBefore=6, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=11, leading=13.5, alignment=TA_LEFT),
        "cell_c": ParagraphStyle("cell_c", parent=base, fontSize=11, leading=13.5, alignment=TA_CENTER),
        "cell_h": ParagraphStyle("cell_h", parent=base, fontName=f"{FAMILY}-Bold", fontSize=11, leading=13.5,
                                 alignment=TA_CENTER),
        "recip_h": ParagraphStyle("recip_h", parent=base, fontName=f"{FAMILY}-BoldItalic", fontSize=12, leading=14,
                                  alignment=TA_LEFT),
        "recip": ParagraphStyle("recip", parent=base, fontSize=11, leading=13, alignment=TA_LEFT),
        "sign": ParagraphStyle("sign", parent=base, fontName=f"{FAMILY}-Bold", fontSize=13, leading=16,
                               alignment=TA_CENTER),
        "small": ParagraphStyle("small", parent=base, fontSize=11, leading=13, alignment=TA_CENTER),
    }


class _Slot(Flowable):  # type: ignore[misc]
    """An empty rectangle that remembers where on which page it was drawn."""

    def __init__(self, signatory: Signatory, found: list[SignatureSlot], width: float = SLOT_WIDTH,
                 height: float = SLOT_HEIGHT) -> None:
        super().__init__()
        self.signatory, self.found, self.width, self.height = signatory, found, width, height

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = min(self.width, avail_width)
        return self.width, self.height

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        page = self.canv.getPageNumber() - 1
        self.found.append(SignatureSlot(self.signatory.field_name, page,
                                        (round(x, 1), round(y, 1), round(x + self.width, 1),
                                         round(y + self.height, 1)), self.signatory))


class _Rule(Flowable):  # type: ignore[misc]
    """The short line under the body's name and under the national motto."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.rule_width = width

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.avail = avail_width
        return avail_width, 4

    def draw(self) -> None:
        x = (self.avail - self.rule_width) / 2
        self.canv.setLineWidth(0.6)
        self.canv.line(x, 2, x + self.rule_width, 2)


def _pdf_date(when: datetime | None) -> str:
    """A PDF date string (D:YYYYMMDDHHmmSS+HH'mm') for `when` in its own offset."""
    if when is None:
        return "D:20000101000000+00'00'"
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"D:{when:%Y%m%d%H%M%S}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"


def _numbered_canvas(total_holder: list[int], created: datetime | None, *,
                     draft: bool = False) -> type[rl_canvas.Canvas]:
    class NumberedCanvas(rl_canvas.Canvas):  # type: ignore[misc]
        """Numbers the pages as Decree 30/2020 sets out (the bare number, centred in the top margin, none on
        the first page) and dates the file with the document's own date; pages are buffered until save."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["invariant"] = 1  # the same input gives the same bytes (fixed ids, the date given below)
            kwargs["initialFontName"] = FAMILY  # else Helvetica sits in every page's resources
            super().__init__(*args, **kwargs)
            self.setDateFormatter(lambda *_: _pdf_date(created))
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total_holder.append(len(self._pages))
            for state in self._pages:
                self.__dict__.update(state)
                if self.getPageNumber() > 1:
                    self.setFont(FAMILY, 13)
                    self.drawCentredString(30 * mm + _frame_width() / 2, A4[1] - 12 * mm, str(self.getPageNumber()))
                if draft:  # in the top margin's right corner, boxed, so no printed page passes for issued
                    right, top = A4[0] - 15 * mm, A4[1] - 7 * mm
                    self.setFont(f"{FAMILY}-Bold", 12)
                    self.setLineWidth(0.8)
                    self.rect(right - 30 * mm, top - 8 * mm, 30 * mm, 8 * mm)
                    self.drawCentredString(right - 15 * mm, top - 5.6 * mm, "DỰ THẢO")
                super().showPage()
            super().save()
    return NumberedCanvas


def _header(issuer: Issuer, number: str, issued_at: datetime | None, st: dict[str, ParagraphStyle],
            width: float, *, undated_year: int | None = None) -> list[Flowable]:
    lines = [ln.strip() for ln in unicodedata.normalize("NFC", issuer.governing_body).upper().split("\n")
             if ln.strip()][:2]
    if len(lines) == 2:
        body = f"{_t(lines[0])}<br/><b>{_t(lines[1])}</b>"
    else:
        body = f"<b>{_t(lines[0] if lines else '')}</b>"
    left = [Paragraph(body, st["head_left"]), _Rule(30 * mm), Paragraph(f"Số: {_t(number)}", st["head_left"])]
    right: list[Flowable] = [
        Paragraph("<b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b>", st["head_right"]),
        Paragraph("<b>Độc lập - Tự do - Hạnh phúc</b>", ParagraphStyle("motto", parent=st["head_right"],
                                                                      fontSize=13.5)),
        _Rule(58 * mm)]
    if issued_at is not None:
        right.append(Paragraph(_t(vietnamese_date(issued_at, issuer.place)), st["date"]))
    elif undated_year is not None:  # a draft: the day and month are filled in when it is signed
        blank = "\u00a0" * 8
        right.append(Paragraph(_t(f"{issuer.place}, ngày{blank}tháng{blank}năm {undated_year}"), st["date"]))
    table = Table([[left, right]], colWidths=[width * 0.4, width * 0.6])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FAMILY),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [table, Spacer(1, 6 * mm)]


def _poll_table(poll: PollResult, st: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    def pct(n: int, of: int) -> str:
        return f"{n * 100 / of:.2f}%".replace(".", ",") if of else "—"

    heads = (("Ý kiến", "Số phiếu", "Tỷ lệ trên số phiếu", "Tỷ lệ trên số thành viên được lấy ý kiến") if poll.written
             else ("Phương án", "Số phiếu", "Tỷ lệ trên số phiếu biểu quyết (tán thành, không tán thành)",
                   "Tỷ lệ trên tổng số thành viên"))
    cast = poll.voted - poll.abstentions
    rows: list[list[Any]] = [[Paragraph(h, st["cell_h"]) for h in heads]]
    for i, (label, votes) in enumerate(poll.options):
        abstaining = i == poll.abstain_index
        rows.append([Paragraph(_t(label), st["cell"]), Paragraph(str(votes), st["cell_c"]),
                     Paragraph("—" if abstaining else pct(votes, cast), st["cell_c"]),
                     Paragraph(pct(votes, poll.entitled), st["cell_c"])])
    table = Table(rows, colWidths=[width * 0.4, width * 0.16, width * 0.22, width * 0.22], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FAMILY),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.93, 0.93))]))
    facts = [
        f"Nội dung lấy ý kiến: {_t(poll.question)}",
        f"Hình thức: Lấy ý kiến bằng văn bản; điều kiện thông qua: {_t(poll.rule)}.",
        f"Số thành viên được lấy ý kiến: {poll.entitled}; số thành viên cho ý kiến: {poll.voted}; "
        f"số ý kiến đồng ý cần thiết: {poll.quorum_needed}.",
        f"Thời gian lấy ý kiến: {_t(vietnamese_date(poll.opened_at))} – {_t(vietnamese_date(poll.closed_at))}.",
    ] if poll.written else [
        f"Nội dung biểu quyết: {_t(poll.question)}",
        f"Hình thức: {'Biểu quyết kín' if poll.secret else 'Biểu quyết công khai'}; "
        f"điều kiện thông qua: {_t(poll.rule)}.",
        f"Số thành viên có quyền biểu quyết: {poll.entitled}; có mặt: {poll.present}; "
        f"số lượng cần thiết: {poll.quorum_needed} ({'đủ số lượng' if poll.quorum_met else 'không đủ số lượng'}).",
        f"Số phiếu: {poll.voted}/{poll.entitled} (biểu quyết: {cast}; không biểu quyết: {poll.abstentions}); "
        f"thời gian biểu quyết: {_hm(poll.opened_at)}"
        f"–{_hm(poll.closed_at)} {_t(vietnamese_date(poll.closed_at))}.",
    ]
    out: list[Flowable] = [Paragraph(f, st["plain"]) for f in facts]
    out += [Spacer(1, 2 * mm), table, Spacer(1, 2 * mm),
            Paragraph(f"<b>Kết quả: {'Nghị quyết được thông qua.' if poll.passed else 'Không được thông qua.'}</b>",
                      st["plain"])]
    return out


def _signature_column(signatory: Signatory, st: dict[str, ParagraphStyle], found: list[SignatureSlot],
                      *, small: bool = False) -> list[Flowable]:
    head = [Paragraph(_t(signatory.capacity.upper()), st["sign"])] if signatory.capacity else []
    if signatory.title:
        head.append(Paragraph(_t(signatory.title.upper()), st["sign"]))
    slot = _Slot(signatory, found, width=SLOT_WIDTH * (0.8 if small else 1), height=SLOT_HEIGHT * (0.85 if small
                                                                                                    else 1))
    return [*head, Spacer(1, 2), slot, Spacer(1, 2), Paragraph(f"<b>{_t(signatory.full_name)}</b>", st["sign"])]


def _recipient(line: str) -> str:
    """A "Nơi nhận" line as typed, without the dash and end punctuation the layout adds itself."""
    return line.strip().lstrip("-–•").strip().rstrip(";.,").rstrip()


def _closing(recipients: Sequence[str], signatories: Sequence[Signatory], st: dict[str, ParagraphStyle],
             found: list[SignatureSlot], width: float, *, side_by_side: bool, initials: str = "") -> Flowable:
    """Recipients left, main signature right (resolutions); or secretary left, chair right (minutes).
    `initials`: the reviewer's ký nháy, at the end of the last recipients line."""
    recip: list[Flowable] = []
    lines = [line for line in (_recipient(r) for r in recipients) if line]
    if lines and initials:
        lines[-1] = f"{lines[-1]} ({initials})"
    if lines:
        recip = [Paragraph("Nơi nhận:", st["recip_h"])]
        recip += [Paragraph(f"- {_t(r)};" if i < len(lines) - 1 else f"- {_t(r)}.", st["recip"])
                  for i, r in enumerate(lines)]
    if not signatories:
        return KeepTogether(recip)
    main = _signature_column(signatories[-1], st, found)
    left: list[Flowable] = []
    if side_by_side and len(signatories) > 1:
        left = _signature_column(signatories[0], st, found)
        rows = [[left, main]]
        if recip:
            rows.append([recip, []])
    else:
        left = list(recip)
        for extra in signatories[:-1]:
            left += [Spacer(1, 4 * mm)] + _signature_column(extra, st, found, small=True)
        rows = [[left, main]]
    table = Table(rows, colWidths=[width * 0.45, width * 0.55])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FAMILY),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([Spacer(1, 6 * mm), table])


def _with_closing(story: list[Flowable], closing: Flowable) -> None:
    """Appends the closing (recipients, signatures) kept on one page with the text's last paragraph, so
    a signature block never stands alone on a page."""
    last = story.pop() if story and isinstance(story[-1], Paragraph) else None
    story.append(KeepTogether([last, closing]) if last is not None else closing)


def _build(story: list[Flowable], found: list[SignatureSlot], meta_title: str, text: str,
           created: datetime | None, *, draft: bool = False) -> RenderedPdf:
    out = io.BytesIO()
    totals: list[int] = []
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=30 * mm, rightMargin=15 * mm, topMargin=20 * mm,
                            bottomMargin=20 * mm, title=meta_title, author="e-Cabinet", creator="e-Cabinet",
                            producer="e-Cabinet")
    doc.build(story, canvasmaker=_numbered_canvas(totals, created, draft=draft))
    return RenderedPdf(pdf=out.getvalue(), slots=tuple(found), page_count=totals[-1] if totals else 0, text=text)


def _frame_width() -> float:
    return float(A4[0] - 45 * mm)


def render_resolution(doc: ResolutionDoc) -> RenderedPdf:
    register_fonts()
    st, width = _styles(), _frame_width()
    found: list[SignatureSlot] = []
    undated = (doc.meeting_date or datetime.now()).year if doc.issued_at is None else None
    story: list[Flowable] = _header(doc.issuer, doc.number, doc.issued_at, st, width, undated_year=undated)
    story += [Paragraph(_t(doc.title.upper()), st["title"]), Paragraph(_t(doc.subject), st["subject"])]
    for line in doc.preamble:
        story.append(Paragraph(_t(line), st["preamble"]))
    if doc.meeting_title:
        when = f", {vietnamese_date(doc.meeting_date)}" if doc.meeting_date else ""
        story.append(Paragraph(f"Tại {_t(doc.meeting_title)}{_t(when)};", st["preamble"]))
    if doc.articles or doc.poll or doc.opinions:
        story.append(Paragraph("<b>QUYẾT NGHỊ:</b>", st["center"]))
    for heading, text in doc.articles:
        story.append(Paragraph(f"<b>{_t(heading)}</b> {_t(text)}", st["body"]))
    if doc.poll is not None:
        story += [Paragraph("<b>Kết quả biểu quyết</b>", st["heading"]), *_poll_table(doc.poll, st, width)]
    if doc.opinions:
        story.append(Paragraph("<b>Kết quả lấy ý kiến thành viên</b>", st["heading"]))
        for result in doc.opinions:
            story += _poll_table(result, st, width)
    _with_closing(story, _closing(doc.recipients, doc.signatories, st, found, width, side_by_side=False,
                                  initials=doc.initials))
    text = "\n".join([doc.title, doc.subject, *doc.preamble, *(f"{h} {t}" for h, t in doc.articles)])
    return _build(story, found, f"{doc.title} {doc.number}" + (" (dự thảo)" if doc.draft else ""), text,
                  doc.issued_at, draft=doc.draft)


def render_minutes(doc: MinutesDoc) -> RenderedPdf:
    register_fonts()
    st, width = _styles(), _frame_width()
    found: list[SignatureSlot] = []
    story: list[Flowable] = _header(doc.issuer, doc.number, doc.ended_at, st, width)
    story += [Paragraph("BIÊN BẢN", st["title"]), Paragraph(_t(doc.title or doc.meeting_title), st["subject"])]
    story += [
        Paragraph(f"Thời gian bắt đầu: {_clock(doc.held_at)}, {_t(vietnamese_date(doc.held_at))}.", st["plain"]),
        Paragraph(f"Địa điểm: {_t(doc.place)}.", st["plain"]),
        Paragraph(f"Chủ trì: {_t(doc.chair)}. Thư ký: {_t(doc.secretary)}.", st["plain"]),
        Paragraph("<b>I. THÀNH PHẦN THAM DỰ</b>", st["heading"])]
    present = sum(1 for a in doc.attendance if a.present)
    story.append(Paragraph(f"Có mặt {present}/{len(doc.attendance)} người được triệu tập.", st["plain"]))
    rows: list[list[Any]] = [[Paragraph(h, st["cell_h"]) for h in ("STT", "Họ và tên", "Chức vụ", "Vai trò",
                                                                   "Tham dự")]]
    for i, a in enumerate(doc.attendance, start=1):
        note = "Có mặt" if a.present else "Vắng"
        if a.present and a.checked_in_at is not None:
            note += f" ({_hm(a.checked_in_at)})"
        if a.deputy:
            note += f"<br/>Dự thay: {_t(a.deputy)}"
        rows.append([Paragraph(str(i), st["cell_c"]), Paragraph(_t(a.name), st["cell"]),
                     Paragraph(_t(a.title), st["cell"]), Paragraph(_t(a.role), st["cell"]),
                     Paragraph(note, st["cell"])])
    table = Table(rows, colWidths=[width * 0.08, width * 0.27, width * 0.3, width * 0.15, width * 0.2], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FAMILY),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.93, 0.93))]))
    story += [Spacer(1, 2 * mm), table, Paragraph("<b>II. NỘI DUNG CUỘC HỌP</b>", st["heading"])]
    for item in (i for i in doc.agenda if i.discussed):
        story.append(Paragraph(f"<b>{item.position}. {_t(item.title)}</b>", st["plain"]))
        if item.presenter:
            story.append(Paragraph(f"Trình bày: {_t(item.presenter)}.", st["body"]))
        for sp in item.speakers:
            seconds = max(0, int((sp.ended_at - sp.started_at).total_seconds()))
            story.append(Paragraph(f"- {_t(sp.name)} phát biểu từ {_hm(sp.started_at)} đến {_hm(sp.ended_at)} "
                                   f"({seconds // 60} phút {seconds % 60:02d} giây).", st["body"]))
        for poll in item.polls:
            story += _poll_table(poll, st, width)
        story.append(Spacer(1, 2 * mm))
    untouched = [i for i in doc.agenda if not i.discussed]
    if untouched:
        story.append(Paragraph("<b>Các nội dung chưa thảo luận</b>", st["plain"]))
        story += [Paragraph(f"- {i.position}. {_t(i.title)} ({'hoãn' if i.postponed else 'chưa thảo luận'}).",
                            st["body"]) for i in untouched]
    if doc.summary:
        story.append(Paragraph("<b>III. KẾT LUẬN</b>", st["heading"]))
        story += [Paragraph(_t(p), st["body"]) for p in doc.summary]
    story.append(Paragraph(f"Cuộc họp kết thúc lúc {_clock(doc.ended_at)}, {_t(vietnamese_date(doc.ended_at))}.",
                           st["body"]))
    _with_closing(story, _closing(doc.recipients, doc.signatories, st, found, width, side_by_side=True))
    text = "\n".join(["BIÊN BẢN", doc.meeting_title, *(a.name for a in doc.attendance),
                      *(i.title for i in doc.agenda), *doc.summary])
    return _build(story, found, f"Biên bản {doc.number}", text, doc.ended_at)


def render_opinion_ballot(doc: OpinionBallotDoc) -> RenderedPdf:
    register_fonts()
    st, width = _styles(), _frame_width()
    found: list[SignatureSlot] = []
    story: list[Flowable] = _header(doc.issuer, "", doc.submitted_at, st, width)
    story += [Paragraph("PHIẾU LẤY Ý KIẾN", st["title"]), Paragraph(_t(doc.round_title), st["subject"]),
              Paragraph(f"Họ và tên: <b>{_t(doc.member_name)}</b>", st["plain"]),
              Paragraph(f"Chức vụ: {_t(doc.member_title)}", st["plain"])]
    if doc.deputy_for:
        story.append(Paragraph(f"Cho ý kiến thay: {_t(doc.deputy_for)}", st["plain"]))
    rows: list[list[Any]] = [[Paragraph(h, st["cell_h"]) for h in ("STT", "Nội dung xin ý kiến", "Ý kiến",
                                                                   "Ý kiến khác, góp ý")]]
    for i, line in enumerate(doc.answers, start=1):
        rows.append([Paragraph(str(i), st["cell_c"]), Paragraph(_t(line.question), st["cell"]),
                     Paragraph(f"<b>{_t(line.answer)}</b>", st["cell_c"]), Paragraph(_t(line.text), st["cell"])])
    table = Table(rows, colWidths=[width * 0.08, width * 0.42, width * 0.18, width * 0.32], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FAMILY),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.93, 0.93))]))
    story += [Spacer(1, 3 * mm), table]
    if doc.comments:
        story.append(Paragraph("<b>Góp ý về tài liệu</b>", st["heading"]))
        story += [Paragraph(f"- <i>{_t(title)}</i>: {_t(comment)}", st["body"]) for title, comment in doc.comments]
    _with_closing(story, _closing((), (doc.signatory,), st, found, width, side_by_side=False))
    text = "\n".join(["PHIẾU LẤY Ý KIẾN", doc.round_title, doc.member_name,
                      *(f"{a.question} {a.answer} {a.text}" for a in doc.answers),
                      *(f"{title}: {comment}" for title, comment in doc.comments)])
    return _build(story, found, f"Phiếu lấy ý kiến — {doc.member_name}", text, doc.submitted_at)


def render_opinion_report(doc: OpinionReportDoc) -> RenderedPdf:
    register_fonts()
    st, width = _styles(), _frame_width()
    story: list[Flowable] = _header(doc.issuer, doc.number, doc.issued_at, st, width)
    story += [Paragraph("BÁO CÁO TỔNG HỢP Ý KIẾN", st["title"]), Paragraph(_t(doc.round_title), st["subject"])]
    if not doc.closed:
        story.append(Paragraph("<i>Báo cáo tạm thời: việc lấy ý kiến chưa kết thúc.</i>", st["center"]))
    for i, q in enumerate(doc.questions, start=1):
        story.append(Paragraph(f"<b>{i}. {_t(q.result.question)}</b>", st["heading"]))
        story += _poll_table(q.result, st, width)
        if q.other_opinions:
            story.append(Paragraph("Ý kiến khác:", st["plain"]))
            story += [Paragraph(f"- <b>{_t(o.author)}</b>: “{_t(o.text)}” <i>(phiếu {_t(o.ballot_ref)})</i>",
                                st["body"]) for o in q.other_opinions]
    if doc.document_comments:
        story.append(Paragraph("<b>Góp ý về tài liệu</b>", st["heading"]))
        for title, quoted in doc.document_comments:
            story.append(Paragraph(f"<i>{_t(title)}</i>:", st["plain"]))
            story += [Paragraph(f"- <b>{_t(o.author)}</b>: “{_t(o.text)}” <i>(phiếu {_t(o.ballot_ref)})</i>",
                                st["body"]) for o in quoted]
    story.append(Paragraph("<b>Thành viên đã cho ý kiến</b>", st["heading"]))
    story += [Paragraph(f"- {_t(name)} <i>(phiếu {_t(ref)})</i>", st["plain"]) for name, ref in doc.answered] or [
        Paragraph("Không có.", st["plain"])]
    story.append(Paragraph("<b>Thành viên chưa cho ý kiến</b>", st["heading"]))
    story += [Paragraph(f"- {_t(name)}", st["plain"]) for name in doc.not_answered] or [
        Paragraph("Không có.", st["plain"])]
    text = "\n".join(["BÁO CÁO TỔNG HỢP Ý KIẾN", doc.round_title, *(q.result.question for q in doc.questions),
                      *(o.text for q in doc.questions for o in q.other_opinions),
                      *(o.text for _, quoted in doc.document_comments for o in quoted), *doc.not_answered])
    return _build(story, [], f"Báo cáo tổng hợp ý kiến — {doc.round_title}", text, doc.issued_at)


__all__ = [
    "AgendaEntry", "AttendanceRow", "Issuer", "MinutesDoc", "OpinionAnswerLine", "OpinionBallotDoc",
    "OpinionQuestionReport", "OpinionReportDoc", "OtherOpinion", "PollResult", "RenderedPdf", "ResolutionDoc",
    "Signatory", "SignatureSlot", "SpeakerEntry", "render_minutes", "render_opinion_ballot",
    "render_opinion_report", "render_resolution", "vietnamese_date",
]
