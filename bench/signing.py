"""Signing benchmark: PAdES signatures and verifications per second, for a 2-page resolution and a
300-page document, at B-B (local) and B-LTA (timestamps and revocation data from a real PKI service
on loopback: certomancer, as in the tests).

Baseline in the same run: bare pyHanko (an invisible B-B signature with default metadata, and
pyHanko's own validation call) on the same files; "ratio" = ours / bare. Ours adds the visible
Vietnamese appearance (embedded font), the field lock, and the report (PAdES level, reasons).

    .venv/bin/python bench/signing.py            # full run
    .venv/bin/python bench/signing.py --quick    # a few iterations (smoke, < 30 s)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import signing as S  # noqa: E402
from tests.integration.signing import pki_service  # noqa: E402

VN = timezone(timedelta(hours=7))
TARGET_SIGN_MS, TARGET_VERIFY_MS = 100.0, 50.0


def _doc(articles: int) -> S.ResolutionDoc:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=VN)
    poll = S.PollResult("Thông qua Nghị quyết?", (("Tán thành", 20), ("Không tán thành", 2), ("Không biểu quyết", 1)),
                        "Quá nửa số phiếu biểu quyết", 25, 23, 23, 13, True, True, False, now, now)
    text = ("Giao các bộ, cơ quan ngang bộ, Ủy ban nhân dân các tỉnh, thành phố trực thuộc Trung ương tổ chức thực "
            "hiện nghiêm các nhiệm vụ, giải pháp đã đề ra, bảo đảm tiến độ và chất lượng. ") * 3
    return S.ResolutionDoc(S.Issuer("CHÍNH PHỦ"), "15/NQ-CP", now, "NGHỊ QUYẾT", "Phiên họp Chính phủ thường kỳ",
                           ("Căn cứ Luật Tổ chức Chính phủ;",),
                           tuple((f"Điều {i}.", text) for i in range(1, articles + 1)), poll, ("Lưu: VT",),
                           (S.Signatory("secretary", "THƯ KÝ", "CHUYÊN VIÊN", "Đỗ Thị Lan"),
                            S.Signatory("chair", "TM. CHÍNH PHỦ", "THỦ TƯỚNG", "Nguyễn Văn An")))


def resolution(pages: int) -> S.RenderedPdf:
    """A resolution of at least `pages` pages: the articles per page measured on 10 pages, then one render."""
    articles = 1
    while (rendered := S.render_resolution(_doc(articles))).page_count < min(pages, 10):
        articles += 1
    if rendered.page_count >= pages:
        return rendered
    per_page = articles / rendered.page_count
    articles = int(pages * per_page) + 2
    while (rendered := S.render_resolution(_doc(articles))).page_count < pages:
        articles += int(per_page * (pages - rendered.page_count)) + 1
    return rendered


async def timed(fn: Callable[[], Awaitable[Any]], n: int) -> tuple[float, Any]:
    """Median milliseconds of n runs (after one warm-up), and the last result."""
    result = await fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


async def bare_sign(pdf: bytes, signer: Any) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    out = io.BytesIO()
    await signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Sig"), signer).async_sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


async def bare_verify(pdf: bytes, root: bytes) -> bool:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from signing.trust import load_roots

    reader = PdfFileReader(io.BytesIO(pdf))
    status = await async_validate_pdf_signature(reader.embedded_signatures[0],
                                                ValidationContext(trust_roots=load_roots([root])))
    return bool(status.bottom_line)


async def main(args: argparse.Namespace) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    n_bb, n_lta, n_ver = (3, 1, 5) if args.quick else (30, 8, 50)
    docs = {"resolution": resolution(2), "long document": resolution(10 if args.quick else 300)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pki = pki_service.start(Path(tmp))
        try:
            signer, root = pki.signer(), pki.root_pem()
            for name, rendered in docs.items():
                pdf, slot = rendered.pdf, next(s for s in rendered.slots if s.field_name == "chair")
                opts = S.SignOptions(field_name="chair", page_index=slot.page_index, box=slot.box,
                                     appearance=S.Appearance("Nguyễn Văn An", "Thủ tướng Chính phủ"))
                lta = S.SignOptions(**{**opts.__dict__, "level": S.PadesLevel.B_LTA, "timestamp_url": pki.tsa_url,
                                       "trust_roots": (root,)})
                bb_ms, bb_pdf = await timed(lambda: S.sign_pdf(pdf, signer, opts), n_bb)
                bare_ms, bare_pdf = await timed(lambda: bare_sign(pdf, signer), n_bb)
                lta_ms, lta_pdf = await timed(lambda: S.sign_pdf(pdf, signer, lta), n_lta)
                ver_ms, report = await timed(lambda: S.verify_pdf(bb_pdf, trust_roots=[root]), n_ver)
                bare_ver_ms, bare_ok = await timed(lambda: bare_verify(bare_pdf, root), n_ver)
                ver_lta_ms, report_lta = await timed(lambda: S.verify_pdf(lta_pdf, trust_roots=[root]),
                                                     max(2, n_ver // 5))
                assert report.valid and bare_ok and report_lta.valid
                assert report_lta.signatures[0].pades_level == "B-LTA"
                rows.append((name, rendered.page_count, len(pdf), bb_ms, bare_ms, lta_ms, ver_ms, bare_ver_ms,
                             ver_lta_ms))
        finally:
            pki.stop()
    print()
    print(f"Signing benchmark — median of {n_bb} B-B / {n_lta} B-LTA signatures and {n_ver} verifications")
    print("| document | pages | KB | B-B sign ms (per s) | bare pyHanko ms | ratio | B-LTA sign ms (per s) "
          "| verify B-B ms (per s) | bare validate ms | ratio | verify B-LTA ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, pages, size, bb, bare, lta, ver, bare_ver, ver_lta in rows:
        print(f"| {name} | {pages} | {size / 1000:.0f} | {bb:.1f} ({1000 / bb:.1f}) | {bare:.1f} | {bb / bare:.2f}x "
              f"| {lta:.0f} ({1000 / lta:.1f}) | {ver:.1f} ({1000 / ver:.0f}) | {bare_ver:.1f} | {ver / bare_ver:.2f}x "
              f"| {ver_lta:.1f} |")
    two = rows[0]
    print()
    print(f"  target: B-B signature of the 2-page resolution under {TARGET_SIGN_MS:.0f} ms: {two[3]:.1f} ms "
          f"({'met' if two[3] < TARGET_SIGN_MS else 'NOT met'})")
    print(f"  target: verification under {TARGET_VERIFY_MS:.0f} ms: {two[6]:.1f} ms "
          f"({'met' if two[6] < TARGET_VERIFY_MS else 'NOT met'})")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    sys.exit(asyncio.run(main(p.parse_args())))
