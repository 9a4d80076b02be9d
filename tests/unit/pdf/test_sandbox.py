"""The PDF sandbox: a hostile file's job is stopped by the child's RLIMIT_AS or killed at the deadline, the
child is reaped (nothing left running or growing), the number of children and of waiting callers is
bounded (beyond: SandboxBusy at once, never a hang), and nothing the child says is trusted."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from backend.config import Settings
from backend.exceptions import ServiceUnavailable, Unprocessable
from backend.pdf import jobs, sandbox
from backend.services import pdf_jobs
from tests.support.hostile_pdfs import xref_stream_size_bomb
from tests.support.sample_pdfs import sample_pdf
from tests.unit.pdf.test_probe import _children

SLOW = xref_stream_size_bomb(hidden=True)
"""pyHanko allocates without bound on it (~35 MB/s) and the quick scan of declared sizes does not see it."""


async def test_memory_limit_stops_a_verification_that_allocates_without_bound() -> None:
    pool = sandbox.Sandbox(slots=1, queue=0, wait_seconds=1)
    before = _children()
    with pytest.raises(sandbox.SandboxExhausted) as caught:
        await pool.run("verify", {}, [SLOW], sandbox.Limits(seconds=120, memory_bytes=250_000_000))
    assert caught.value.code == "pdf_too_complex" and caught.value.why == "out of memory"
    assert _children() - before == set() and pool.running == 0


async def test_deadline_kills_the_child_and_reaps_it() -> None:
    pool = sandbox.Sandbox(slots=1, queue=0, wait_seconds=1)
    before = _children()
    started = time.monotonic()
    with pytest.raises(sandbox.SandboxExhausted) as caught:
        await pool.run("verify", {}, [SLOW], sandbox.Limits(seconds=2, memory_bytes=4_000_000_000))
    assert "2 s" in caught.value.message
    assert time.monotonic() - started < 10
    assert _children() - before == set() and pool.running == 0


async def test_the_declared_size_scan_refuses_the_xref_bomb_at_once() -> None:
    pool = sandbox.Sandbox(slots=1, queue=0, wait_seconds=1)
    with pytest.raises(sandbox.JobRefused) as caught:
        await pool.run("verify", {"max_objects": 1_000_000}, [xref_stream_size_bomb()],
                       sandbox.Limits(seconds=60, memory_bytes=1_000_000_000))
    assert caught.value.code == "too_many_objects"
    assert jobs.declared_objects(xref_stream_size_bomb()) == 2_147_483_647
    assert jobs.declared_objects(sample_pdf(2)) < 100


async def test_a_full_pool_and_queue_answer_busy_at_once_and_nobody_hangs() -> None:
    pool = sandbox.Sandbox(slots=1, queue=1, wait_seconds=30)
    limits = sandbox.Limits(seconds=3, memory_bytes=4_000_000_000)
    before = _children()
    started = time.monotonic()
    results = await asyncio.gather(*(pool.run("verify", {}, [SLOW], limits) for _ in range(4)),
                                   return_exceptions=True)
    kinds = sorted(type(r).__name__ for r in results)
    # one runs (killed at 3 s), one waits for it and runs next (killed too), two are told "busy" at once
    assert kinds == ["SandboxBusy", "SandboxBusy", "SandboxExhausted", "SandboxExhausted"], results
    busy = next(r for r in results if isinstance(r, sandbox.SandboxBusy))
    assert busy.code == "busy" and busy.retry_after >= 1
    assert time.monotonic() - started < 20
    assert _children() - before == set() and pool.running == 0


async def test_waiting_too_long_for_a_slot_is_busy() -> None:
    pool = sandbox.Sandbox(slots=1, queue=5, wait_seconds=0.5)
    limits = sandbox.Limits(seconds=3, memory_bytes=4_000_000_000)
    first = asyncio.create_task(pool.run("verify", {}, [SLOW], limits))
    await asyncio.sleep(0.1)
    with pytest.raises(sandbox.SandboxBusy):
        await pool.run("trace", {}, [sample_pdf(1)], limits)
    with pytest.raises(sandbox.SandboxExhausted):
        await first


async def test_the_services_turn_busy_into_503_and_exhaustion_into_422() -> None:
    settings = replace(Settings(), verify_slots=1, verify_queue=0, verify_seconds=3)
    runs = [pdf_jobs.run(settings, "verify", {}, [SLOW], pool_name="verify") for _ in range(2)]
    results = await asyncio.gather(*runs, return_exceptions=True)
    busy = next(r for r in results if isinstance(r, ServiceUnavailable))
    assert busy.status == 503 and busy.code == "busy" and busy.retry_after is not None
    exhausted = next(r for r in results if isinstance(r, Unprocessable))
    assert exhausted.status == 422 and exhausted.code == "pdf_too_complex"


async def test_jobs_answer_through_the_wire() -> None:
    pool = sandbox.Sandbox(slots=2, queue=2, wait_seconds=30)
    limits = sandbox.Limits(seconds=60, memory_bytes=1_000_000_000)
    value, blobs = await pool.run("copy", {"visible": "Nguyễn Văn An", "token": "A" * 16}, [sample_pdf(2)], limits)
    assert value is None and len(blobs) == 1 and blobs[0].startswith(b"%PDF-")
    tokens, _ = await pool.run("trace", {}, blobs, limits)
    assert tokens == ["A" * 16]
    with pytest.raises(sandbox.JobRefused) as caught:
        await pool.run("copy", {"visible": "x", "token": "A" * 16}, [b"%PDF-1.7 not really"], limits)
    assert caught.value.code == "broken_pdf"
    with pytest.raises(sandbox.JobRefused) as unknown:
        await pool.run("os.system", {}, [], limits)
    assert unknown.value.code == "unknown_job"


def test_nothing_from_the_child_is_trusted() -> None:
    good = sandbox.encode({"x": 1}, [b"ab", b""])
    assert sandbox.decode(good) == ({"value": {"x": 1}, "blobs": [2, 0]}, [b"ab", b""])
    for bad in (b"", b"\x00\x00", good[:-1], good + b"x", b"\xff\xff\xff\xff{}",
                sandbox.encode(None, [])[:4] + b"[]", b"\x00\x00\x00\x0b{\"blobs\":1}"):
        with pytest.raises(ValueError):
            sandbox.decode(bad)
