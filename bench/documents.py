"""Documents benchmark: ingest, per-member watermarked copies, the meeting book and full-text search,
through the real services on a migrated database (SQLite, and PostgreSQL when reachable).

Every document is a generated Vietnamese text PDF (tests/support/sample_pdfs.py, 300 pages, a seed
per document, so no two files or pages are alike). For each database it seeds a body, a secretary
and a few members, four published meetings, and then:

  ingest     `Documents.upload` of every document (the sandboxed check in a child process, the file
             store, the version and one row per page with its folded text: the FTS5 triggers on
             SQLite, the generated tsvector and its GIN index on PostgreSQL); enough documents that
             the search has 10,000 pages. Baseline: pypdf opening the file and extract_text() of
             every page in-process (the same parsing without sandbox, file store and database).
  copies     `watermark.stamp` of 30 per-member copies (a name and a copy token each), p50 / p99 /
             total; `Copies.download` end to end for a few members. Baseline: pypdf cloning the
             document and writing it out again (a copy without a mark).
  book       `book.build_book` of the meeting's ten documents (cover, contents, bookmarks), and
             `Copies.meeting_book` (the same, plus the reader's watermark) for one member.
             Baseline: pypdf appending the ten PDFs into one.
  search     `search.search` as a member, for ~50 queries (common words, rare words, no diacritics,
             prefixes typed as you go, words that occur nowhere), each `--rounds` times: p50 / p99.
             Baseline: the same search with the page match done by a naive `folded LIKE '%term%'`
             per term (no index), same database, same visible-documents step and snippets.

    .venv/bin/python bench/documents.py                 # 300 pages, 30 copies, a book of 10, 10,000 pages searched
    .venv/bin/python bench/documents.py --db sqlite     # without PostgreSQL
    .venv/bin/python bench/documents.py --quick         # 50 pages, 5 copies, 3 documents, 1,000 pages (smoke)

PostgreSQL (ECABINET_BENCH_POSTGRES_URL, default postgresql://127.0.0.1:5432/test) gets a fresh
database per run, dropped after; it is skipped, with the reason printed, when not reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import math
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.harness import POSTGRES_URL, log, pct, pg_admin, postgres_up  # noqa: E402

if TYPE_CHECKING:
    from backend.db import Database
    from backend.services.context import Actor

TARGET_INGEST_S = 5.0
TARGET_COPY_S = 1.0
TARGET_SEARCH_P99_MS = 50.0
MEETINGS = 4
"""The book's meeting holds the first documents; the rest are spread over earlier meetings."""

SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ")
MIDDLES = ("Văn", "Thị", "Đức", "Minh", "Quốc", "Thanh")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Hà", "Hương", "Lan", "Long", "Nam", "Phúc", "Quyết", "Thảo", "Tuấn")

QUERIES = [
    # common words and phrases (most pages)
    "ngân sách", "Nghị quyết", "đầu tư công", "Ủy ban nhân dân tỉnh", "kế hoạch", "dự án", "Hội đồng nhân dân",
    "doanh nghiệp nhỏ và vừa", "Kho bạc Nhà nước", "phê duyệt chủ trương", "quyết toán ngân sách địa phương",
    "kinh tế - xã hội", "Sở Tài chính", "tỷ đồng", "Luật Ngân sách nhà nước",
    # typed without diacritics
    "nghi quyet", "ngan sach nha nuoc", "dau tu cong trung han", "uy ban nhan dan", "quyet toan", "hoi dong",
    "so ke hoach va dau tu", "van phong", "danh muc du an trong diem", "phan bo von", "ho tro doanh nghiep",
    # prefixes, as typed (the last word is unfinished)
    "dau tu c", "nghi quy", "ngan s", "quyết toá", "phân b", "doanh ngh", "trọng đi", "kho b", "tờ tr",
    # rare: a number, a page, a particular figure
    "Tờ trình số 17", "tăng 93%", "thời hạn 88 ngày", "năm 2030", "Trang 299", "đạt 7% kế hoạch", "số 250/TTr",
    "Trang 1", "tổng mức 10",
    # occurring nowhere
    "sân bay quốc tế", "cao tốc Bắc Nam", "học phí", "biến đổi khí hậu", "chuyển đổi số", "xyzzy",
]


@dataclass
class Sizes:
    pages: int
    copies: int
    book_docs: int
    search_pages: int
    downloads: int
    rounds: int

    @property
    def documents(self) -> int:
        return max(self.book_docs, math.ceil(self.search_pages / self.pages))


@dataclass
class DbRun:
    """What one database gave."""

    kind: str
    ingest_s: list[float] = field(default_factory=list)
    download_ms: list[float] = field(default_factory=list)
    book_service_ms: float = float("nan")
    book_service_pages: int = 0
    pages_indexed: int = 0
    search_ms: list[float] = field(default_factory=list)
    like_ms: list[float] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    like_hits: dict[str, int] = field(default_factory=dict)


def ms_since(t: float) -> float:
    return (time.perf_counter() - t) * 1000


def names(n: int) -> list[str]:
    return [f"{SURNAMES[i % len(SURNAMES)]} {MIDDLES[(i // 2) % len(MIDDLES)]} {GIVEN[(i * 7) % len(GIVEN)]}"
            for i in range(n)]


def pypdf_pages(data: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


# --------------------------------------------------------------------------------------------------
# baselines and the pure PDF work (no database)


def baseline_extract_ms(data: bytes) -> float:
    """pypdf opening the file and extract_text() of every page, in this process."""
    from pypdf import PdfReader

    t = time.perf_counter()
    reader = PdfReader(io.BytesIO(data))
    chars = sum(len(page.extract_text()) for page in reader.pages)
    assert chars > 0
    return ms_since(t)


def baseline_copy_ms(data: bytes) -> float:
    """pypdf cloning the document and writing it out: a copy without any mark."""
    from pypdf import PdfReader, PdfWriter

    t = time.perf_counter()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return ms_since(t)


def stamp_copies(data: bytes, n: int) -> tuple[list[float], int]:
    """n per-member copies, each with its own name and token: milliseconds per copy, size of the last."""
    from backend.pdf import watermark
    from backend.services.copies import new_token

    times, size = [], 0
    for i, name in enumerate(names(n)):
        token = new_token()
        t = time.perf_counter()
        stamped = watermark.stamp(data, visible=f"{name} · 23/11/2026 14:05 · bản số {token[:6]}", copy_token=token)
        times.append(ms_since(t))
        size = len(stamped)
        if i == 0:  # the mark is really there (not timed)
            assert token in watermark.find_tokens(stamped), "the copy token is not found in the stamped copy"
    return times, size


def book_items(documents: list[bytes]) -> tuple[Any, list[Any]]:
    from backend.pdf.book import BookCover, BookDocument, BookItem

    cover = BookCover(issuer="ỦY BAN NHÂN DÂN TỈNH QUẢNG NINH", meeting_title="Phiên họp thường kỳ tháng 11 năm 2026",
                      when="14 giờ 00, ngày 23/11/2026", place="Phòng họp số 1, trụ sở Ủy ban nhân dân tỉnh",
                      prepared_for="Đồng chí Nguyễn Văn An — Phó Chủ tịch")
    items = []
    for k in range(0, len(documents), 2):
        docs = [BookDocument(title=f"Tài liệu {j + 1}: Tờ trình về dự toán ngân sách nhà nước năm 2027", data=d)
                for j, d in enumerate(documents[k:k + 2], start=k)]
        items.append(BookItem(number=str(k // 2 + 1), title=f"Nội dung {k // 2 + 1} của phiên họp",
                              presenter="Sở Tài chính", documents=docs))
    return cover, items


def build_book_once(documents: list[bytes]) -> tuple[float, int, int]:
    from backend.pdf.book import build_book

    cover, items = book_items(documents)
    t = time.perf_counter()
    data = build_book(cover, items)
    elapsed = ms_since(t)
    return elapsed, pypdf_pages(data), len(data)


def baseline_concat_once(documents: list[bytes]) -> tuple[float, int, int]:
    from pypdf import PdfReader, PdfWriter

    t = time.perf_counter()
    writer = PdfWriter()
    for d in documents:
        writer.append(PdfReader(io.BytesIO(d)))
    out = io.BytesIO()
    writer.write(out)
    elapsed = ms_since(t)
    return elapsed, pypdf_pages(out.getvalue()), len(out.getvalue())


async def probe_ms(data: bytes) -> tuple[float, float]:
    """The check alone: in the sandbox (a child process, as uploads run it), and in this process."""
    from backend.pdf.probe import ProbeLimits, probe, probe_in_process

    t = time.perf_counter()
    await probe(data, ProbeLimits())
    sandboxed = ms_since(t)
    t = time.perf_counter()
    await asyncio.to_thread(probe_in_process, data, ProbeLimits())
    return sandboxed, ms_since(t)


# --------------------------------------------------------------------------------------------------
# one database


@dataclass
class Seeded:
    secretary: Actor
    members: list[Actor]
    meetings: list[int]
    items: list[int]


async def seed(db: Database, members: int) -> Seeded:
    """A body, its secretary and `members` members, and MEETINGS published meetings they all sit in
    (the first with five agenda items), inserted directly: setting up is not measured."""
    from backend.models import AgendaItem, Body, Meeting, Participant, User
    from backend.models.base import utcnow
    from backend.services.context import Actor
    from backend.services.passwords import hash_password

    shared = hash_password("Mat-khau-chung-2026")
    async with db.write() as s:
        body = Body(name="Ủy ban nhân dân tỉnh (đo tải)", kind="provincial_committee")
        s.add(body)
        await s.flush()
        body_id = body.id or 0
        users = [User(username="bench.sec", full_name="Đỗ Thị Lan", password_hash=shared, body_id=body_id,
                      is_secretariat=True)]
        users += [User(username=f"bench.m{i + 1}", full_name=name, title="Giám đốc Sở", password_hash=shared,
                       body_id=body_id) for i, name in enumerate(names(members))]
        s.add_all(users)
        await s.flush()
        user_ids = [u.id or 0 for u in users]
        meetings: list[int] = []
        items: list[int] = []
        for m in range(MEETINGS):
            meeting = Meeting(body_id=body_id, title=f"Phiên họp thường kỳ tháng {11 - m} năm 2026",
                              starts_at=utcnow() + timedelta(days=1 - 30 * m), place="Phòng họp số 1",
                              status="published", created_by=user_ids[0])
            s.add(meeting)
            await s.flush()
            meetings.append(meeting.id or 0)
            s.add_all([Participant(meeting_id=meetings[-1], user_id=u, role="secretary" if i == 0 else "member",
                                   may_vote=i > 0) for i, u in enumerate(user_ids)])
            if m == 0:
                agenda = [AgendaItem(meeting_id=meetings[-1], position=k + 1, title=f"Nội dung {k + 1} của phiên họp",
                                     presenter="Sở Tài chính") for k in range(5)]
                s.add_all(agenda)
                await s.flush()
                items = [a.id or 0 for a in agenda]
        actors = [Actor(user_id=i, username=u.username, is_admin=False, is_secretariat=u.is_secretariat,
                        body_id=body_id) for i, u in zip(user_ids, users, strict=True)]
    return Seeded(actors[0], actors[1:], meetings, items)


async def like_search(db: Database, actor: Actor, query: str, limit: int = 20) -> list[tuple[int, int, str]]:
    """The baseline: `search.search` with the page match done by a naive LIKE scan of the folded text."""
    from sqlalchemy import text

    from backend.domain.text import like_pattern, search_terms
    from backend.services.search import _snippet, visible_documents

    terms = search_terms(query)
    async with db.read() as s:
        documents = await visible_documents(s, actor, None)
        ids = ",".join(str(int(i)) for i in sorted(documents))
        current = "p.current = 1" if db.is_sqlite else "p.current"
        where = " AND ".join(f"p.folded LIKE :t{i} ESCAPE '\\'" for i in range(len(terms)))
        sql = text(f"SELECT p.document_id, p.page, p.text, p.folded FROM document_pages p WHERE {current} "
                   f"AND p.document_id IN ({ids}) AND {where} ORDER BY p.id LIMIT :limit")
        params: dict[str, Any] = {f"t{i}": like_pattern(t) for i, t in enumerate(terms)} | {"limit": limit}
        rows = (await s.exec(sql.bindparams(**params))).all()  # type: ignore[call-overload]
    return [(int(r[0]), int(r[1]), _snippet(str(r[2]), str(r[3]), terms)[0]) for r in rows]


async def timed_queries(fn: Callable[[str], Awaitable[int]], rounds: int) -> tuple[list[float], dict[str, int]]:
    """Every query once to warm up, then `rounds` times each (interleaved): milliseconds, and hits per query."""
    hits = {q: await fn(q) for q in QUERIES}
    times = []
    for _ in range(rounds):
        for q in QUERIES:
            t = time.perf_counter()
            await fn(q)
            times.append(ms_since(t))
    return times, hits


async def run_db(kind: str, sizes: Sizes, documents: list[bytes], work: Path) -> DbRun:
    from backend import migrate
    from backend.config import Settings, normalise_database_url
    from backend.db import Database
    from backend.services.copies import Copies
    from backend.services.documents import Documents
    from backend.services.files import FileStore
    from backend.services.search import search

    out = DbRun(kind)
    data_dir = work / f"data-{kind}"
    pg_name = None
    if kind == "postgres":
        pg_name = f"ecabinet_bench_{secrets.token_hex(5)}"
        await pg_admin(f'CREATE DATABASE "{pg_name}"')
        url = normalise_database_url(f"{POSTGRES_URL.rsplit('/', 1)[0]}/{pg_name}")
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite3'}"
    db: Database | None = None
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        settings = replace(Settings.from_env({"ECABINET_DATA_DIR": str(data_dir)}), database_url=url)
        db = Database(url)
        seeded = await seed(db, max(sizes.downloads, 1))
        files = FileStore.for_settings(settings)
        service = Documents(db, files, settings)

        # ingest: every document through the upload use case
        ids = []
        for i, data in enumerate(documents):
            book = i < sizes.book_docs
            meeting_id = seeded.meetings[0] if book else seeded.meetings[1 + i % (MEETINGS - 1)]
            fields = {"title": f"Tài liệu {i + 1}: Tờ trình về dự toán ngân sách nhà nước năm 2027",
                      "agenda_item_id": seeded.items[(i // 2) % len(seeded.items)] if book else None}
            t = time.perf_counter()
            doc = await service.upload(seeded.secretary, meeting_id, fields, data, f"to-trinh-{i + 1}.pdf")
            out.ingest_s.append(time.perf_counter() - t)
            assert doc["page_count"] == sizes.pages, doc["page_count"]
            ids.append(doc["id"])
            if (i + 1) % 10 == 0 or i + 1 == len(documents):
                log(f"{kind}: {i + 1}/{len(documents)} documents ingested "
                    f"(median {statistics.median(out.ingest_s):.2f} s)")
        out.pages_indexed = len(documents) * sizes.pages

        # copies: the members' downloads, end to end, of the first document
        copies = Copies(db, files, settings)
        await copies.download(seeded.members[0], ids[0], None)  # warm-up (fonts)
        for member in seeded.members[:sizes.downloads]:
            t = time.perf_counter()
            pdf, _ = await copies.download(member, ids[0], None)
            out.download_ms.append(ms_since(t))
            assert pdf.startswith(b"%PDF")

        # the meeting book of the first meeting, for one member (built and watermarked)
        t = time.perf_counter()
        pdf, _ = await copies.meeting_book(seeded.members[0], seeded.meetings[0])
        out.book_service_ms = ms_since(t)
        out.book_service_pages = pypdf_pages(pdf)
        log(f"{kind}: downloads and the meeting book done")

        # search as a member: ours, then the LIKE baseline, on the same database
        member = seeded.members[0]

        async def ours(q: str) -> int:
            return len((await search(db, member, q, limit=20))["hits"])

        async def naive(q: str) -> int:
            return len(await like_search(db, member, q, limit=20))

        out.search_ms, out.hits = await timed_queries(ours, sizes.rounds)
        out.like_ms, out.like_hits = await timed_queries(naive, sizes.rounds)
        assert out.hits["nghi quyet"] == 20 and out.hits["xyzzy"] == 0, out.hits
        log(f"{kind}: search done ({len(QUERIES)} queries x {sizes.rounds})")
        return out
    finally:
        if db is not None:
            await db.dispose()
        if pg_name:
            await pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


# --------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    sizes = (Sizes(pages=50, copies=5, book_docs=3, search_pages=1000, downloads=2, rounds=1) if args.quick else
             Sizes(pages=args.pages, copies=args.copies, book_docs=args.book_docs, search_pages=args.search_pages,
                   downloads=5, rounds=args.rounds))
    kinds = ["sqlite"]
    skipped = ""
    if args.db in ("auto", "postgres"):
        if await postgres_up():
            kinds = ["postgres"] if args.db == "postgres" else ["sqlite", "postgres"]
        elif args.db == "postgres":
            print(f"PostgreSQL is not reachable at {POSTGRES_URL}", file=sys.stderr)
            return 2
        else:
            skipped = f"PostgreSQL skipped: not reachable at {POSTGRES_URL}"
            log(skipped)

    from tests.support.sample_pdfs import sample_pdf

    t = time.perf_counter()
    documents = [sample_pdf(sizes.pages, seed=1000 + i, title=f"Tờ trình số {i + 1}/TTr-UBND")
                 for i in range(sizes.documents)]
    log(f"generated {len(documents)} documents of {sizes.pages} pages ({sum(map(len, documents)) / 1e6:.1f} MB) "
        f"in {time.perf_counter() - t:.0f} s")
    doc = documents[0]
    n_base = 1 if args.quick else 3

    # the pure PDF work and its baselines (no database)
    extract = statistics.median([baseline_extract_ms(d) for d in documents[:n_base]])
    probes = [await probe_ms(doc) for _ in range(n_base)]
    probe_sandbox, probe_inproc = statistics.median(p[0] for p in probes), statistics.median(p[1] for p in probes)
    stamp_ms, stamped_size = stamp_copies(doc, sizes.copies)
    plain_copy = statistics.median([baseline_copy_ms(doc) for _ in range(n_base + 2)])
    book_docs = documents[:sizes.book_docs]
    books = [build_book_once(book_docs) for _ in range(n_base)]
    concats = [baseline_concat_once(book_docs) for _ in range(n_base)]
    book_ms, book_pages, book_bytes = statistics.median(b[0] for b in books), books[-1][1], books[-1][2]
    concat_ms, concat_pages, concat_bytes = statistics.median(c[0] for c in concats), concats[-1][1], concats[-1][2]
    log("PDF work measured")

    runs = []
    with tempfile.TemporaryDirectory(prefix="ecabinet-bench-documents-") as tmp:
        for kind in kinds:
            runs.append(await run_db(kind, sizes, documents, Path(tmp)))

    kb = len(doc) / 1000
    print()
    print(f"Documents benchmark — {sizes.pages}-page documents ({kb:.0f} KB), {sizes.copies} copies, a book of "
          f"{sizes.book_docs}, {runs[0].pages_indexed} pages searched, on {' and '.join(kinds)}")
    print()
    print("Ingest (Documents.upload: sandboxed check, file store, pages and their search index)")
    print("| database | documents | p50 s | max s | pages/s | pypdf open+extract s (baseline) | ratio "
          "| check in sandbox s | check in-process s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        p50 = statistics.median(r.ingest_s)
        print(f"| {r.kind} | {len(r.ingest_s)} | {p50:.2f} | {max(r.ingest_s):.2f} | {sizes.pages / p50:.0f} "
              f"| {extract / 1000:.2f} | {p50 * 1000 / extract:.2f}x | {probe_sandbox / 1000:.2f} "
              f"| {probe_inproc / 1000:.2f} |")
    print()
    print("Watermarked copies (watermark.stamp, each with its own name and token)")
    print("| copies | p50 ms | p99 ms | total s | KB per copy | pypdf clone+write ms (baseline) | ratio "
          "| Copies.download p50 ms (" + ", ".join(r.kind for r in runs) + ") |")
    print("|---|---|---|---|---|---|---|---|")
    downloads = " / ".join(f"{statistics.median(r.download_ms):.0f}" for r in runs)
    print(f"| {sizes.copies} | {pct(stamp_ms, 50):.0f} | {pct(stamp_ms, 99):.0f} | {sum(stamp_ms) / 1000:.2f} "
          f"| {stamped_size / 1000:.0f} | {plain_copy:.0f} | {pct(stamp_ms, 50) / plain_copy:.2f}x | {downloads} |")
    print()
    print(f"Meeting book of {sizes.book_docs} documents (book.build_book: cover, contents, bookmarks)")
    print("| documents | ms | pages | MB | pypdf append ms (baseline) | pages | MB | ratio "
          "| Copies.meeting_book ms (built + watermarked) |")
    print("|---|---|---|---|---|---|---|---|---|")
    service = " / ".join(f"{r.kind} {r.book_service_ms:.0f}" for r in runs)
    print(f"| {sizes.book_docs} | {book_ms:.0f} | {book_pages} | {book_bytes / 1e6:.1f} | {concat_ms:.0f} "
          f"| {concat_pages} | {concat_bytes / 1e6:.1f} | {book_ms / concat_ms:.2f}x | {service} |")
    print()
    print(f"Search as a member ({len(QUERIES)} queries x {sizes.rounds}, 20 hits at most, over the pages above)")
    print("| database | pages | p50 ms | p99 ms | max ms | naive LIKE p50 ms (baseline) | p99 ms | ratio p50 "
          "| ratio p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        s50, s99, l50, l99 = pct(r.search_ms, 50), pct(r.search_ms, 99), pct(r.like_ms, 50), pct(r.like_ms, 99)
        print(f"| {r.kind} | {r.pages_indexed} | {s50:.1f} | {s99:.1f} | {max(r.search_ms):.1f} | {l50:.1f} "
              f"| {l99:.1f} | {s50 / l50:.2f}x | {s99 / l99:.2f}x |")
    slowest = sorted(QUERIES, key=lambda q: -statistics.median(
        runs[-1].search_ms[i] for i in range(QUERIES.index(q), len(runs[-1].search_ms), len(QUERIES))))[:3]
    print(f"  slowest queries ({runs[-1].kind}): " + ", ".join(f"{q!r} ({runs[-1].hits[q]} hits)" for q in slowest))
    if skipped:
        print(f"  {skipped}")
    print()
    worst_ingest = max(max(r.ingest_s) for r in runs)
    print(f"  target: ingest of a {sizes.pages}-page document under {TARGET_INGEST_S:.0f} s: slowest "
          f"{worst_ingest:.2f} s ({verdict(worst_ingest < TARGET_INGEST_S)})")
    worst_copy = max(stamp_ms) / 1000
    print(f"  target: one watermarked copy under {TARGET_COPY_S:.0f} s: slowest {worst_copy:.2f} s "
          f"({verdict(worst_copy < TARGET_COPY_S)})")
    for r in runs:
        p99 = pct(r.search_ms, 99)
        print(f"  target: search p99 under {TARGET_SEARCH_P99_MS:.0f} ms ({r.kind}, {r.pages_indexed} pages): "
              f"{p99:.1f} ms ({verdict(p99 < TARGET_SEARCH_P99_MS)})")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto",
                   help="auto: SQLite, and PostgreSQL too when reachable")
    p.add_argument("--pages", type=int, default=300, help="pages per document")
    p.add_argument("--copies", type=int, default=30)
    p.add_argument("--book-docs", type=int, default=10, help="documents in the meeting book")
    p.add_argument("--search-pages", type=int, default=10_000, help="pages to search (whole documents)")
    p.add_argument("--rounds", type=int, default=3, help="times each search query is timed")
    sys.exit(asyncio.run(main(p.parse_args())))
