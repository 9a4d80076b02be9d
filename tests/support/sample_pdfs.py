"""Realistic, deterministic Vietnamese text PDFs for tests and benchmarks (reportlab canvas: fast)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from signing.render import FAMILY, register_fonts

FONT = FAMILY
FONT_BOLD = f"{FAMILY}-Bold"

SUBJECTS = (
    "Ủy ban nhân dân tỉnh", "Hội đồng nhân dân tỉnh", "Sở Kế hoạch và Đầu tư", "Sở Tài chính",
    "Ban Quản lý dự án đầu tư xây dựng", "Kho bạc Nhà nước tỉnh", "Văn phòng Ủy ban nhân dân tỉnh",
)
VERBS = (
    "thống nhất thông qua", "đề nghị điều chỉnh", "giao nhiệm vụ triển khai", "báo cáo kết quả thực hiện",
    "xem xét, cho ý kiến về", "phê duyệt chủ trương", "yêu cầu rà soát",
)
OBJECTS = (
    "Nghị quyết về kế hoạch đầu tư công trung hạn", "dự toán ngân sách nhà nước năm {year}",
    "phương án phân bổ vốn đầu tư công", "quyết toán ngân sách địa phương", "danh mục dự án trọng điểm",
    "kế hoạch phát triển kinh tế - xã hội", "Nghị quyết về chính sách hỗ trợ doanh nghiệp nhỏ và vừa",
)
TAILS = (
    "với tổng mức {amount} tỷ đồng", "trong thời hạn {days} ngày kể từ ngày ký", "theo Tờ trình số {num}/TTr-UBND",
    "bảo đảm đúng quy định của Luật Ngân sách nhà nước", "tăng {pct}% so với cùng kỳ năm trước",
    "đạt {pct}% kế hoạch được giao", "thuộc thẩm quyền của Hội đồng nhân dân tỉnh",
)



def vietnamese_paragraph(rng: random.Random, sentences: int = 6) -> str:
    """Varied administrative prose with numbers; the first sentence always names a "Nghị quyết"."""
    parts = []
    for i in range(sentences):
        obj = OBJECTS[0] if i == 0 else rng.choice(OBJECTS)
        tail = rng.choice(TAILS).format(amount=f"{rng.randint(10, 9999):,}".replace(",", "."),
                                        days=rng.randint(5, 90), num=rng.randint(1, 300), pct=rng.randint(1, 99))
        parts.append(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {obj.format(year=rng.randint(2024, 2030))} {tail}.")
    return " ".join(parts)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and pdfmetrics.stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def sample_pdf(pages: int, *, title: str = "Tài liệu phiên họp UBND tỉnh", seed: int = 0,
               text: Callable[[int], str] | None = None) -> bytes:
    """A4 pages, each with a "Trang N" heading and a paragraph (`text(N)` or seeded Vietnamese prose)."""
    register_fonts()
    rng = random.Random(seed)
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True, pageCompression=1)
    pdf.setTitle(title)
    width, height = A4
    margin = 72.0
    for n in range(1, pages + 1):
        pdf.setFont(FONT_BOLD, 16)
        pdf.drawString(margin, height - margin, f"Trang {n}")
        body = text(n) if text is not None else vietnamese_paragraph(rng)
        lines = pdf.beginText(margin, height - margin - 32)
        lines.setFont(FONT, 12, leading=16)
        for line in _wrap(body, FONT, 12, width - 2 * margin):
            lines.textLine(line)
        pdf.drawText(lines)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()
