"""Hostile PDFs over REST on SQLite and PostgreSQL (issue 12): a verification that would allocate without
bound is refused or killed and never blocks logins; a burst of them gets 503 `busy`, not a hang; the
public verifier is limited per address; copies handed to readers carry no active content, even of files
stored before the upload check refused it; meeting books are limited per user. (Every hostile kind on
upload, refused with its code and nothing stored: the corpus test of test_documents_api.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pypdf import PdfReader

from backend.pdf.probe import ProbeLimits, probe_in_process
from backend.services import throttle
from tests.integration.conftest import Client, Server
from tests.integration.helpers import assert_error, ok
from tests.integration.test_documents_api import upload
from tests.support import hostile_pdfs
from tests.support.sample_pdfs import sample_pdf
from tests.unit.pdf.test_probe import _children

PDF = {"Content-Type": "application/pdf"}
LOGIN_DEADLINE_S = 5.0
"""Generous: a login takes milliseconds with the tests' argon2 cost; the bug made it wait for minutes."""


@pytest.fixture
async def fresh_verify_limit(server: Server) -> AsyncIterator[throttle.Window]:
    """The per-address window of POST /api/verify, empty before and after (every test client is 127.0.0.1)."""
    window = throttle.window(server.settings, "verify", server.settings.verify_per_minute, 60)
    window.clear()
    yield window
    window.clear()


def _pyhanko_threads() -> list[str]:
    """Threads of this process (the server runs in it) executing pyHanko code right now."""
    busy = []
    for thread_id, frame in sys._current_frames().items():
        walk: Any = frame
        while walk is not None:
            if "pyhanko" in walk.f_code.co_filename:
                busy.append(str(thread_id))
                break
            walk = walk.f_back
    return busy


async def _timed_login(server: Server, person: Any) -> float:
    client = Client(server)
    try:
        started = time.monotonic()
        r = await client.login(person.username, person.password)
        elapsed = time.monotonic() - started
        assert r.status_code == 200, r.text
        return elapsed
    finally:
        await client.close()


async def test_xref_size_bomb_on_verify_is_refused_at_once_and_logins_stay_fast(
        server: Server, world: dict[str, Any], client_factory: Any, fresh_verify_limit: throttle.Window) -> None:
    anonymous = client_factory()
    before = _children()
    started = time.monotonic()
    r = await anonymous.http.post("/api/verify", content=hostile_pdfs.xref_stream_size_bomb(), headers=PDF)
    assert_error(r, 400, "too_many_objects")
    assert time.monotonic() - started < server.settings.verify_seconds
    assert await _timed_login(server, world["people"]["member"]) < LOGIN_DEADLINE_S
    assert _pyhanko_threads() == [] and _children() - before == set()


async def test_verify_past_its_deadline_is_killed_and_leaves_nothing_running(
        server: Server, world: dict[str, Any], client_factory: Any, fresh_verify_limit: throttle.Window) -> None:
    anonymous = client_factory()
    before = _children()
    started = time.monotonic()
    r = await anonymous.http.post("/api/verify", content=hostile_pdfs.xref_stream_size_bomb(hidden=True),
                                  headers=PDF)
    assert_error(r, 422, "pdf_too_complex")
    assert time.monotonic() - started < server.settings.verify_seconds + 15
    assert _children() - before == set()  # the child was killed and reaped
    assert _pyhanko_threads() == []  # and no thread of the server is still parsing (nor growing)
    assert await _timed_login(server, world["people"]["member"]) < LOGIN_DEADLINE_S


async def test_a_burst_of_hostile_verifications_gets_busy_and_logins_go_on(
        server: Server, world: dict[str, Any], client_factory: Any, fresh_verify_limit: throttle.Window) -> None:
    settings = server.settings
    burst = settings.verify_slots + settings.verify_queue + 2
    clients = [client_factory() for _ in range(burst)]
    hostile = hostile_pdfs.xref_stream_size_bomb(hidden=True)
    started = time.monotonic()
    tasks = [asyncio.create_task(c.http.post("/api/verify", content=hostile, headers=PDF)) for c in clients]
    await asyncio.sleep(1.0)
    assert await _timed_login(server, world["people"]["member"]) < LOGIN_DEADLINE_S  # while they run
    answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=3 * settings.verify_seconds + 30)
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {422, 503}, [r.text for r in answers]
    busy = [r for r in answers if r.status_code == 503]
    assert len(busy) >= 2, statuses
    for r in busy:
        assert_error(r, 503, "busy")
        assert int(r.headers["retry-after"]) >= 1
    assert time.monotonic() - started < 3 * settings.verify_seconds + 30
    assert _pyhanko_threads() == []


async def test_verify_is_limited_per_address(server: Server, client_factory: Any,
                                             fresh_verify_limit: throttle.Window) -> None:
    for _ in range(server.settings.verify_per_minute):
        assert fresh_verify_limit.hit("127.0.0.1") is None
    r = await client_factory().http.post("/api/verify", content=sample_pdf(1), headers=PDF)
    assert_error(r, 429, "too_many_verifications")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    fresh_verify_limit.clear()
    r = await client_factory().http.post("/api/verify", content=sample_pdf(1), headers=PDF)
    assert ok(r)["valid"] is False  # the limit, not the file, refused it


def _clean(data: bytes) -> None:
    """The served copy passes the upload check itself (no script, attachment, outward or automatic action)
    and holds no link to an outside address."""
    probe_in_process(data, ProbeLimits())
    assert b"/URI" not in data and b"198.51.100.7" not in data
    assert len(PdfReader(io.BytesIO(data)).pages) >= 1


async def test_a_file_that_passes_is_served_without_its_links(server: Server, world: dict[str, Any]) -> None:
    sec, mid = world["people"]["secretary"].client, world["meeting"]["id"]
    doc = ok(await upload(sec, mid, hostile_pdfs.uri_link(), title="Tài liệu có liên kết"), 201)
    for kind in ("view", "download"):
        r = await sec.get(f"/api/documents/{doc['id']}/{kind}")
        assert r.status_code == 200, r.text
        _clean(r.content)


async def test_copies_of_a_file_stored_before_the_check_are_rebuilt_without_active_content(
        server: Server, world: dict[str, Any]) -> None:
    sec, mid = world["people"]["secretary"].client, world["meeting"]["id"]
    stored = sample_pdf(1, seed=1212, text=lambda n: "Tài liệu lưu trước khi có kiểm tra")
    doc = ok(await upload(sec, mid, stored, title="Tài liệu cũ"), 201)
    # Stands for a file stored before this check existed: the stored bytes become an active one.
    active = hostile_pdfs.one_page(
        catalog_extra=b"/OpenAction << /S /URI /URI (http://198.51.100.7/opened) >> "
                      b"/Names << /JavaScript 5 0 R /EmbeddedFiles 7 0 R >> /AcroForm << /Fields [] /XFA 9 0 R >> ",
        page_extra=b" /AA << /O << /S /SubmitForm /F << /FS /URL /F (http://198.51.100.7/s) >> >> >> "
                   b"/Annots [10 0 R 11 0 R]",
        more=[b"<< /Names [(init) 6 0 R] >>", b"<< /S /JavaScript /JS (app.alert\\('x'\\)) >>",
              b"<< /Names [(a.html) 8 0 R] >>", b"<< /Type /Filespec /F (a.html) /EF << /F 12 0 R >> >>",
              hostile_pdfs.stream(b"<xdp:xdp><script>app.alert(1)</script></xdp:xdp>"),
              b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /A << /S /URI /URI (http://198.51.100.7/l) >> >>",
              b"<< /Type /Annot /Subtype /FileAttachment /Rect [72 600 92 620] /FS 8 0 R >>",
              hostile_pdfs.stream(b"<script>fetch('http://198.51.100.7/')</script>", b"/Type /EmbeddedFile ")])
    digest = hashlib.sha256(stored).hexdigest()
    (server.settings.data_dir / "files" / digest[:2] / digest[2:]).write_bytes(active)
    for kind in ("view", "download"):
        r = await sec.get(f"/api/documents/{doc['id']}/{kind}")
        assert r.status_code == 200, r.text
        _clean(r.content)
        assert b"/JavaScript" not in r.content and b"/EmbeddedFile" not in r.content and b"/XFA" not in r.content


async def test_a_stored_file_too_costly_to_copy_is_a_clear_error(server: Server, world: dict[str, Any]) -> None:
    """A stored file that exhausts the copy's sandbox answers 4xx (the web worker does not parse it)."""
    sec, mid = world["people"]["secretary"].client, world["meeting"]["id"]
    stored = sample_pdf(1, seed=1213, text=lambda n: "Tài liệu sẽ bị thay")
    doc = ok(await upload(sec, mid, stored, title="Tài liệu hỏng"), 201)
    digest = hashlib.sha256(stored).hexdigest()
    (server.settings.data_dir / "files" / digest[:2] / digest[2:]).write_bytes(b"%PDF-1.7\n" + b"garbage" * 10)
    assert_error(await sec.get(f"/api/documents/{doc['id']}/view"), 400, "broken_pdf")


async def test_meeting_book_builds_are_limited_per_user(server: Server, world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec = people["secretary"].client
    ok(await upload(sec, mid, sample_pdf(30, seed=1214), title="Tờ trình"), 201)
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    member = people["member"].client
    answers = await asyncio.gather(*(member.get(f"/api/meetings/{mid}/book") for _ in range(6)))
    statuses = sorted(r.status_code for r in answers)
    built = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code == 429]
    assert len(built) + len(refused) == 6 and 1 <= len(built) <= server.settings.book_builds_per_minute, statuses
    for r in refused:
        error = assert_error(r, 429)
        assert error["code"] in {"book_in_progress", "too_many_books"}
        assert int(r.headers["retry-after"]) >= 1
    assert built[0].content.startswith(b"%PDF-")
    # another participant is not held up by this one's limit
    assert (await people["member2"].client.get(f"/api/meetings/{mid}/book")).status_code == 200
