"""Vietnamese resolutions and minutes: the text extracts back exactly, fonts are embedded, the
administrative format's details hold, and every signature slot is an empty rectangle."""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

import signing as S

VN = timezone(timedelta(hours=7))
T0 = datetime(2026, 2, 5, 8, 30, tzinfo=VN)
HARD = "Ủy ban nhân dân tỉnh Quảng Ninh: ỷ ữ ặ ờ ẫ ẽ ự ở — Nguyễn Thị Ánh Tuyết, Phạm Đức Hưởng"
POLL = S.PollResult("Thông qua Tờ trình số 12?", (("Tán thành", 5), ("Không tán thành", 1), ("Không biểu quyết", 1)),
                    "Quá nửa số phiếu biểu quyết", 8, 7, 7, 5, True, True, True, T0, T0 + timedelta(minutes=3),
                    abstain_index=2)
SIGNERS = (S.Signatory("secretary", "THƯ KÝ", "CHUYÊN VIÊN", "Đỗ Thị Lan"),
           S.Signatory("chair", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Phạm Đức Hưởng"))


def _resolution(**kw: object) -> S.ResolutionDoc:
    base: dict[str, object] = {
        "issuer": S.Issuer("ỦY BAN NHÂN DÂN\nTỈNH QUẢNG NINH", "Quảng Ninh"), "number": "15/NQ-UBND",
        "issued_at": T0, "title": "NGHỊ QUYẾT", "subject": "Về việc A < B & C",
        "preamble": ("Căn cứ Luật Tổ chức chính quyền địa phương;",),
        "articles": (("Điều 1.", HARD), ("Điều 2.", "Giao Sở Tài chính tổ chức thực hiện.")), "poll": POLL,
        "recipients": ("Thường trực Tỉnh ủy", "Lưu: VT"), "signatories": SIGNERS,
        "meeting_title": "Phiên họp thường kỳ", "meeting_date": T0}
    return S.ResolutionDoc(**{**base, **kw})  # type: ignore[arg-type]


def _minutes(people: int = 8, items: int = 3) -> S.MinutesDoc:
    rows = tuple(S.AttendanceRow(f"Nguyễn Thị Ánh Tuyết {i}", "Giám đốc Sở", "Thành viên", i % 5 != 0,
                                 deputy="Phạm Đức Hưởng" if i == 3 else None, checked_in_at=T0) for i in range(people))
    speakers = tuple(S.SpeakerEntry(f"Người phát biểu {k}", T0 + timedelta(minutes=k * 5),
                                    T0 + timedelta(minutes=k * 5 + 3, seconds=20)) for k in range(5))
    agenda = tuple(S.AgendaEntry(i + 1, f"Nội dung {i + 1}: báo cáo kinh tế - xã hội", "Sở Kế hoạch",
                                 speakers, (POLL,) if i == 0 else ()) for i in range(items))
    return S.MinutesDoc(S.Issuer("ỦY BAN NHÂN DÂN\nTỈNH QUẢNG NINH", "Quảng Ninh"), "02/BB-UBND", T0,
                        T0 + timedelta(hours=3), "Hội trường A", "Phiên họp thường kỳ tháng 2", "Phạm Đức Hưởng",
                        "Đỗ Thị Lan", rows, agenda, ("Thống nhất cao.",), ("Lưu: VT",), SIGNERS)


def _text(pdf: bytes) -> str:
    """The document's text, NFC, with line breaks and repeated spaces made single spaces (lines wrap)."""
    raw = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return " ".join(unicodedata.normalize("NFC", raw).split())


def test_vietnamese_text_comes_back_exactly() -> None:
    text = _text(S.render_resolution(_resolution()).pdf)
    for line in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "ỦY BAN NHÂN DÂN",
                 "TỈNH QUẢNG NINH", "Số: 15/NQ-UBND", "Quảng Ninh, ngày 05 tháng 02 năm 2026", "NGHỊ QUYẾT",
                 "Về việc A < B & C", "Nghị quyết được thông qua.", "Biểu quyết kín", "Nơi nhận:", "Đỗ Thị Lan",
                 "Phạm Đức Hưởng", "ỷ ữ ặ ờ ẫ ẽ ự ở"):
        assert line in text, line


def test_the_poll_table_and_outcome() -> None:
    text = _text(S.render_resolution(_resolution()).pdf)
    # "Votes cast" in one sense only: the majority of votes cast is decided on the 6 yes and no votes,
    # so the percentages of votes cast are of those 6 (the abstention is a ballot, not a vote cast).
    assert "83,33%" in text and "16,67%" in text and "62,50%" in text  # 5 and 1 of 6 cast, 5 of 8 members
    assert "71,43%" not in text
    assert "Số phiếu: 7/8 (biểu quyết: 6; không biểu quyết: 1)" in text
    assert "số lượng cần thiết: 5 (đủ số lượng)" in text
    failed = _text(S.render_resolution(_resolution(poll=S.PollResult(
        "Q?", (("Tán thành", 1),), "Hai phần ba tổng số thành viên", 8, 3, 1, 5, False, False, False, T0, T0))).pdf)
    assert "Không được thông qua." in failed and "không đủ số lượng" in failed and "Biểu quyết công khai" in failed


def test_fonts_are_embedded_and_no_standard_font_draws_text() -> None:
    reader = PdfReader(io.BytesIO(S.render_resolution(_resolution()).pdf))
    seen = 0
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            assert "/FontFile2" in descendant["/FontDescriptor"], font.get("/BaseFont")
            assert "LiberationSerif" in str(font["/BaseFont"])
            seen += 1
    assert seen >= 3  # regular, bold, italic


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2026, 1, 1, tzinfo=VN), "ngày 01 tháng 01 năm 2026"),
    (datetime(2026, 2, 9, tzinfo=VN), "ngày 09 tháng 02 năm 2026"),
    (datetime(2026, 3, 10, tzinfo=VN), "ngày 10 tháng 3 năm 2026"),
    (datetime(2026, 11, 22, tzinfo=VN), "ngày 22 tháng 11 năm 2026"),
])
def test_dates_follow_the_state_format(when: datetime, expected: str) -> None:
    assert S.vietnamese_date(when) == expected
    assert S.vietnamese_date(when, "Hà Nội") == f"Hà Nội, {expected}"


def _texts_at(page: object) -> list[tuple[str, float, float]]:
    """(text, x, y) of every piece of text the page draws."""
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: object) -> None:
        if text.strip():
            found.append((text.strip(), tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]))

    page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    return found


def test_page_numbers_are_bare_at_the_top_centre_from_the_second_page() -> None:
    """Decree 30/2020, appendix I: Arabic numerals centred in the top margin; the first page shows none."""
    rendered = S.render_minutes(_minutes(people=60, items=20))
    reader = PdfReader(io.BytesIO(rendered.pdf))
    assert rendered.page_count == len(reader.pages) >= 4
    assert "Trang " not in _text(rendered.pdf)
    first_top = [t for t, _, y in _texts_at(reader.pages[0]) if y > 842 - 20 * 2.835]
    assert first_top == [], first_top
    for number, page in enumerate(reader.pages[1:], start=2):
        top = [(t, x) for t, x, y in _texts_at(page) if y > 842 - 20 * 2.835]  # within the 20 mm top margin
        assert [t for t, _ in top] == [str(number)], top
        x = top[0][1]
        centre = (30 + (210 - 15)) / 2 * 2.835  # the text block's centre: margins 30 mm left, 15 mm right
        assert abs(x + 3 * len(str(number)) - centre) < 12, (x, centre)


def test_recipients_typed_with_their_own_punctuation_are_not_doubled() -> None:
    text = _text(S.render_resolution(_resolution(recipients=("- Như trên;", "Bộ Tài chính ;", "Lưu: VT.."))).pdf)
    assert "- Như trên;" in text and "- Bộ Tài chính;" in text and "- Lưu: VT." in text
    assert ";;" not in text and ".." not in text and "- - " not in text


def test_the_file_says_when_it_was_made() -> None:
    """The PDF's creation date is the document's date (it said 2000-01-01), and stays deterministic."""
    info = PdfReader(io.BytesIO(S.render_resolution(_resolution()).pdf)).metadata
    assert info is not None and info.creation_date is not None
    assert info.creation_date.replace(tzinfo=None) == T0.replace(tzinfo=None)
    assert info["/CreationDate"].startswith("D:20260205083000+07'00'")


def test_the_signature_block_never_stands_alone_on_a_page() -> None:
    """However long the body, the last lines of the text go with the signature to its page."""
    for n in range(20, 60):
        articles = tuple((f"Điều {i}.", "Giao các bộ, ngành tổ chức thực hiện nghị quyết này. " * (1 + i % 3))
                         for i in range(1, n))
        rendered = S.render_resolution(_resolution(articles=articles, poll=None))
        reader = PdfReader(io.BytesIO(rendered.pdf))
        on_its_page = [t for t, _, _ in _texts_at(reader.pages[rendered.slots[-1].page_index])]
        assert any(t.startswith(("Điều", "Giao")) for t in on_its_page), (n, on_its_page)


def test_long_minutes_paginate_with_signature_slots_on_the_last_page() -> None:
    rendered = S.render_minutes(_minutes(people=60, items=20))
    assert {s.field_name for s in rendered.slots} == {"secretary", "chair"}
    assert all(s.page_index == rendered.page_count - 1 for s in rendered.slots)
    text = _text(rendered.pdf)
    assert "Dự thay: Phạm Đức Hưởng" in text and "3 phút 20 giây" in text and "Cuộc họp kết thúc lúc" in text


@pytest.mark.parametrize("kind", ["resolution", "minutes"])
def test_signature_slots_are_empty_rectangles_on_the_page(kind: str) -> None:
    rendered = S.render_resolution(_resolution()) if kind == "resolution" else S.render_minutes(_minutes())
    reader = PdfReader(io.BytesIO(rendered.pdf))
    for slot in rendered.slots:
        x1, y1, x2, y2 = slot.box
        assert 0 < x1 < x2 <= 595 and 0 < y1 < y2 <= 842 and x2 - x1 >= 140 and y2 - y1 >= 55
        inside: list[str] = []

        def visit(text: str, cm: object, tm: list[float], font: object, size: object) -> None:
            if text.strip() and x1 < tm[4] < x2 and y1 < tm[5] < y2:
                inside.append(text)

        reader.pages[slot.page_index].extract_text(visitor_text=visit)
        assert inside == [], (slot.field_name, inside)


def test_rendering_is_deterministic() -> None:
    assert S.render_resolution(_resolution()).pdf == S.render_resolution(_resolution()).pdf


def test_minutes_list_items_not_discussed_apart_and_say_which_were_postponed() -> None:
    base = _minutes(items=3)
    agenda = (base.agenda[0], S.AgendaEntry(2, "Đề án chuyển đổi số", discussed=False, postponed=True),
              S.AgendaEntry(3, "Dự án Luật Đất đai", discussed=False))
    text = _text(S.render_minutes(S.MinutesDoc(**{**base.__dict__, "agenda": agenda})).pdf)
    discussed, untouched = text.split("Các nội dung chưa thảo luận")
    assert "1. Nội dung 1" in discussed and "Đề án chuyển đổi số" not in discussed
    assert "- 2. Đề án chuyển đổi số (hoãn)." in untouched and "- 3. Dự án Luật Đất đai (chưa thảo luận)." in untouched


def test_a_draft_is_marked_on_every_page_and_left_undated() -> None:
    long = tuple((f"Điều {i}.", "Giao các bộ, ngành tổ chức thực hiện nghị quyết này. " * 4) for i in range(1, 30))
    draft = S.render_resolution(_resolution(issued_at=None, draft=True, articles=long))
    reader = PdfReader(io.BytesIO(draft.pdf))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert any(t == "DỰ THẢO" for t, _, y in _texts_at(page) if y > 842 - 20 * 2.835), "marked in the top margin"
    text = _text(draft.pdf)
    assert "Quảng Ninh, ngày tháng năm 2026" in " ".join(text.replace("\u00a0", " ").split())
    assert "Quảng Ninh, ngày 05 tháng 02" not in text  # (the meeting's own date stays in the grounds)
    issued = S.render_resolution(_resolution(articles=long))
    assert "DỰ THẢO" not in _text(issued.pdf) and "Quảng Ninh, ngày 05 tháng 02 năm 2026" in _text(issued.pdf)


def test_the_reviewers_initials_end_the_last_recipients_line_instead_of_a_signature_block() -> None:
    """Decree 30: the ký nháy is an initial at the end of the text or of the recipients, not a signature."""
    chair = SIGNERS[1]
    text = _text(S.render_resolution(_resolution(signatories=(chair,), initials="ĐTL",
                                                 recipients=("Như trên", "Lưu: VT, TKBT."))).pdf)
    assert "- Lưu: VT, TKBT (ĐTL)." in text
    assert "THƯ KÝ" not in text and "Đỗ Thị Lan" not in text
