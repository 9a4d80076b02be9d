"""The upload probe: every hostile file ends in a clear PdfRejected, inside its own rlimited process, and
the web worker never waits past the deadline nor keeps a child (or a zombie) behind."""

from __future__ import annotations

import asyncio
import os
import time
import unicodedata
from pathlib import Path

import pytest

from backend.pdf.probe import (
    MESSAGES,
    PdfRejected,
    ProbeLimits,
    _decode_answer,
    looks_like_pdf,
    probe,
    probe_in_process,
)
from tests.support.hostile_pdfs import CORPUS
from tests.support.sample_pdfs import sample_pdf

LIMITS = ProbeLimits(timeout_seconds=10.0, memory_bytes=1_000_000_000)


def _children() -> set[int]:
    """Live and zombie children of this process, from /proc (no psutil)."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.add(int(entry.name))
    return found


@pytest.mark.parametrize("name", sorted(CORPUS))
async def test_corpus_ends_in_the_expected_outcome(name: str) -> None:
    make, expected = CORPUS[name]
    data = make()
    started = time.monotonic()
    if expected is None:
        result = await probe(data, LIMITS)
        assert result.page_count >= 1
        assert all(p.width > 0 and p.height > 0 for p in result.pages)
    else:
        with pytest.raises(PdfRejected) as caught:
            await probe(data, LIMITS)
        assert caught.value.code == expected, caught.value.message
        assert caught.value.message and caught.value.code in MESSAGES
    assert time.monotonic() - started < LIMITS.timeout_seconds


async def test_valid_vietnamese_document_is_described_page_by_page() -> None:
    result = await probe(CORPUS["valid_vietnamese"][0](), LIMITS)
    assert result.page_count == 3
    assert result.title == "Nghị quyết về đầu tư công"
    for number, page in enumerate(result.pages, start=1):
        text = unicodedata.normalize("NFC", page.text)
        assert f"Trang {number}" in text and "Nghị quyết" in text
        assert page.width == pytest.approx(595.28, abs=0.5) and page.height == pytest.approx(841.89, abs=0.5)
        assert page.box == pytest.approx((0.0, 0.0, page.width, page.height))
        assert page.rotation == 0


async def test_probe_matches_the_in_process_checks() -> None:
    data = sample_pdf(4, seed=7)
    assert await probe(data, LIMITS) == probe_in_process(data, LIMITS)


def test_total_decoded_budget_catches_a_bomb_the_ratio_misses() -> None:
    lenient = ProbeLimits(max_ratio=1e9, max_decoded_bytes=50_000_000)
    with pytest.raises(PdfRejected) as caught:
        probe_in_process(CORPUS["decompression_bomb"][0](), lenient)
    assert caught.value.code == "decompression_bomb"


async def test_rotation_and_cropbox_are_reported() -> None:
    from tests.support.hostile_pdfs import one_page

    data = one_page(page_extra=b" /Rotate -90 /CropBox [10 20 310 420]")
    (page,) = (await probe(data, LIMITS)).pages
    assert (page.rotation, page.width, page.height, page.box) == (270, 300.0, 400.0, (10.0, 20.0, 310.0, 420.0))


async def test_tiny_memory_limit_fails_cleanly_in_the_child() -> None:
    tiny = ProbeLimits(timeout_seconds=10.0, memory_bytes=50_000_000)
    try:
        result = await probe(sample_pdf(3), tiny)
    except PdfRejected as rejected:
        assert rejected.code == "pdf_too_complex"
    else:
        assert result.page_count == 3


async def test_memory_exhaustion_in_the_child_is_pdf_too_complex() -> None:
    with pytest.raises(PdfRejected) as caught:
        await probe(sample_pdf(3), ProbeLimits(timeout_seconds=10.0, memory_bytes=20_000_000))
    assert caught.value.code == "pdf_too_complex"


async def test_deadline_kills_and_reaps_the_child() -> None:
    data = sample_pdf(300)
    before = _children()
    started = time.monotonic()
    with pytest.raises(PdfRejected) as caught:
        await probe(data, ProbeLimits(timeout_seconds=0.05))
    assert caught.value.code == "pdf_too_complex"
    assert time.monotonic() - started < 2.0
    assert _children() - before == set()


async def test_a_cancelled_caller_leaves_no_child() -> None:
    before = _children()
    task = asyncio.create_task(probe(sample_pdf(300), LIMITS))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _children() - before == set()


async def test_probes_run_concurrently() -> None:
    data = sample_pdf(20)
    results = await asyncio.gather(*(probe(data, LIMITS) for _ in range(4)))
    assert [r.page_count for r in results] == [20] * 4


def test_garbage_from_the_child_is_a_broken_pdf() -> None:
    for answer in (None, "", [], {"pages": [{"width": "x"}], "title": ""}, {"error": {"code": "rm -rf"}},
                   {"pages": [{"width": 1, "height": 1, "box": [0, 0], "rotation": 0, "text": ""}], "title": ""}):
        with pytest.raises(PdfRejected) as caught:
            _decode_answer(answer)
        assert caught.value.code == "broken_pdf"


def test_header_check() -> None:
    assert looks_like_pdf(b"\xef\xbb\xbf junk %PDF-1.4\n")
    assert not looks_like_pdf(b"x" * 1024 + b"%PDF-1.4")
    assert not looks_like_pdf(b"")
