"""Meeting documents over REST on SQLite and PostgreSQL: safe intake (every hostile file of the corpus
refused with its code, nothing stored), versions, who may read what (participants, named readers,
Mật, guests, outsiders, drafts), personal watermarked copies traced back to their holder even with
the visible mark cropped off, annotations and their export, the meeting book and search."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import RectangleObject
from sqlmodel import func, select

from backend.models import AuditEntry, Document, DocumentCopy, DocumentPage, DocumentVersion
from tests.integration.conftest import Client, Server
from tests.integration.helpers import assert_error, ok
from tests.support import hostile_pdfs
from tests.support.sample_pdfs import sample_pdf


def upload(client: Client, meeting_id: int, data: bytes, *, filename: str = "tai-lieu.pdf",
           **fields: Any) -> Any:
    form = {k: (",".join(map(str, v)) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in fields.items()}
    return client.post(f"/api/meetings/{meeting_id}/documents", data=form,
                       files={"file": (filename, data, "application/pdf")})


def page_text(data: bytes, page: int = 0) -> str:
    return PdfReader(io.BytesIO(data)).pages[page].extract_text()


@pytest.fixture
async def docs_world(world: dict[str, Any]) -> dict[str, Any]:
    """The world's meeting with two agenda items and three documents: one for all participants, one for a
    named reader (member2), one Mật; published."""
    people, mid = world["people"], world["meeting"]["id"]
    sec = people["secretary"].client
    items = [ok(await sec.post(f"/api/meetings/{mid}/agenda", json={"title": title}), 201)["id"]
             for title in ("Kế hoạch đầu tư công năm 2027", "Dự thảo Nghị quyết về ngân sách")]
    text = {1: "Nghị quyết về kế hoạch đầu tư công trung hạn của tỉnh", 2: "Báo cáo thẩm tra dự toán ngân sách"}
    public = ok(await upload(sec, mid, sample_pdf(4, seed=1, text=lambda n: f"{text[1]} trang {n}"),
                             title="Tờ trình đầu tư công", agenda_item_id=items[0]), 201)
    named = ok(await upload(sec, mid, sample_pdf(2, seed=2, text=lambda n: f"{text[2]} mục {n}"),
                            title="Báo cáo thẩm tra", agenda_item_id=items[1], audience="named",
                            readers=[people["member2"].id]), 201)
    secret = ok(await upload(sec, mid, sample_pdf(1, seed=3, text=lambda n: "Phương án nhân sự Mật"),
                             title="Phương án nhân sự", agenda_item_id=items[1], secret=True), 201)
    ok(await sec.post(f"/api/meetings/{mid}/transitions", json={"action": "publish"}))
    return {**world, "items": items, "public": public, "named": named, "secret": secret, "mid": mid}


async def test_upload_stores_versions_pages_and_text(server: Server, world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec = people["secretary"].client
    first = sample_pdf(3, seed=7, text=lambda n: f"Nghị quyết số {n}/NQ-HĐND về đầu tư công")
    doc = ok(await upload(sec, mid, first, filename="nghi-quyet.pdf"), 201)
    assert doc["current_version"] == 1 and doc["page_count"] == 3 and doc["audience"] == "participants"
    assert doc["title"] and doc["versions"][0]["filename"] == "nghi-quyet.pdf"
    assert len(doc["pages"]) == 3 and doc["pages"][0][2] == pytest.approx(595.28, abs=0.5)
    second = sample_pdf(5, seed=8)
    r = await sec.post(f"/api/documents/{doc['id']}/versions", files={"file": ("v2.pdf", second, "application/pdf")})
    doc2 = ok(r, 201)
    assert doc2["current_version"] == 2 and doc2["page_count"] == 5
    assert [v["number"] for v in doc2["versions"]] == [1, 2]  # the first version stays
    async with server.db.read() as s:
        versions = (await s.exec(select(DocumentVersion).where(DocumentVersion.document_id == doc["id"]))).all()
        pages = (await s.exec(select(DocumentPage).where(DocumentPage.document_id == doc["id"]))).all()
    assert sorted(v.number for v in versions) == [1, 2]
    assert sum(p.current for p in pages) == 5 and len(pages) == 8
    assert "Nghị quyết số 1/NQ-HĐND" in next(p.text for p in pages if p.page == 1 and not p.current)
    stored = server.settings.data_dir / "files" / versions[0].sha256[:2] / versions[0].sha256[2:]
    assert stored.read_bytes() == first  # content-addressed, kept as uploaded


@pytest.mark.parametrize("name", sorted(hostile_pdfs.CORPUS))
async def test_hostile_or_broken_pdf_gets_a_clear_error_and_nothing_is_stored(
        server: Server, world: dict[str, Any], name: str) -> None:
    maker, expected = hostile_pdfs.CORPUS[name]
    sec, mid = world["people"]["secretary"].client, world["meeting"]["id"]
    async with server.db.read() as s:
        before = (await s.exec(select(func.count()).select_from(Document))).one()
        audit_before = (await s.exec(select(func.count()).select_from(AuditEntry))).one()
    data = maker()
    r = await upload(sec, mid, data)
    if expected is None:
        assert ok(r, 201)["page_count"] >= 1
        return
    code = "empty_file" if name == "empty_bytes" else expected
    assert_error(r, 400, code)
    digest = hashlib.sha256(data).hexdigest()
    assert not (server.settings.data_dir / "files" / digest[:2] / digest[2:]).exists()
    async with server.db.read() as s:
        assert (await s.exec(select(func.count()).select_from(Document))).one() == before
        assert (await s.exec(select(func.count()).select_from(AuditEntry))).one() == audit_before


async def test_upload_refusals(server: Server, world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    sec, member = people["secretary"].client, people["member"].client
    pdf = sample_pdf(1, seed=991, text=lambda n: "Tài liệu sẽ bị từ chối")  # bytes no other test stores
    url = f"/api/meetings/{mid}/documents"
    assert_error(await upload(member, mid, pdf), 404, "not_found")  # members see no draft (nor upload)
    assert_error(await sec.post(url, content=pdf, headers={"Content-Type": "application/pdf"}), 415)
    assert_error(await sec.post(url, data={"title": "x"}, files={"other": ("a.pdf", pdf, "application/pdf")}), 400,
                 "missing_file")
    assert_error(await upload(sec, mid, pdf, audience="everyone"), 422, "validation_error")
    assert_error(await upload(sec, mid, pdf, agenda_item_id=2_000_000), 400, "unknown_item")
    assert_error(await upload(sec, mid, pdf, audience="named", readers=[people["outsider"].id]), 400, "unknown_reader")
    assert_error(await upload(sec, mid, pdf, colour="red"), 422, "validation_error")
    big = pdf + b"\n%" + b"x" * (server.settings.max_document_bytes + 10)
    assert_error(await upload(sec, mid, big), 413)
    assert_error(await upload(sec, 2_000_000, pdf), 404)
    digest = hashlib.sha256(pdf).hexdigest()
    # Every refusal above came before the file was stored.
    assert not (server.settings.data_dir / "files" / digest[:2] / digest[2:]).exists()


async def test_who_may_read_what(server: Server, docs_world: dict[str, Any]) -> None:
    people, mid = docs_world["people"], docs_world["mid"]
    public, named, secret = docs_world["public"]["id"], docs_world["named"]["id"], docs_world["secret"]["id"]

    async def listed(key: str) -> set[int]:
        r = await people[key].client.get(f"/api/meetings/{mid}/documents")
        return {d["id"] for d in r.json()} if r.status_code == 200 else set()

    assert await listed("secretary") == {public, named, secret}
    assert await listed("chair") == {public, named, secret}
    assert await listed("member") == {public, secret}
    assert await listed("member2") == {public, named, secret}
    assert await listed("guest") == set()  # guests read only what names them
    assert await listed("bridge") == {public, secret}
    assert await listed("outsider") == set()
    # Who may not read a document is not told that it exists (finding 7b).
    for key, doc, status in [("member", named, 404), ("guest", public, 404), ("outsider", public, 404),
                             ("member2", named, 200), ("member", public, 200)]:
        for suffix in ("", "/view", "/annotations"):
            r = await people[key].client.get(f"/api/documents/{doc}{suffix}")
            assert r.status_code == status, (key, doc, suffix, r.text)
    # Mật: read on screen, never downloaded, exported or put into the book.
    member = people["member"].client
    view = await member.get(f"/api/documents/{secret}/view")
    assert view.status_code == 200 and view.headers["cache-control"] == "no-store"
    assert view.headers["content-disposition"].startswith("inline")
    assert_error(await member.get(f"/api/documents/{secret}/download"), 403, "secret_document")
    assert_error(await member.get(f"/api/documents/{secret}/annotated"), 403, "secret_document")
    # The staff name a guest as reader: now the guest reads it.
    sec = people["secretary"].client
    ok(await sec.patch(f"/api/documents/{named}", json={"readers": [people["member2"].id, people["guest"].id]}))
    assert await listed("guest") == {named}
    assert await listed("member") == {public, secret}
    ok(await sec.patch(f"/api/documents/{named}", json={"audience": "participants"}))
    assert named in await listed("member")
    assert_error(await member.patch(f"/api/documents/{named}", json={"title": "x"}), 403)
    assert_error(await sec.patch(f"/api/documents/{named}", json={"audience": "all"}), 422)
    # Removed: nobody reads it any more.
    assert (await sec.delete(f"/api/documents/{named}")).status_code == 204
    assert named not in await listed("secretary")
    assert_error(await member.get(f"/api/documents/{named}"), 404, "unknown_document")


async def test_a_draft_meetings_documents_are_the_staffs(server: Server, world: dict[str, Any]) -> None:
    people, mid = world["people"], world["meeting"]["id"]
    doc = ok(await upload(people["secretary"].client, mid, sample_pdf(1)), 201)
    assert_error(await people["member"].client.get(f"/api/documents/{doc['id']}"), 404, "unknown_document")
    assert (await people["chair"].client.get(f"/api/documents/{doc['id']}/view")).status_code == 200


async def test_each_copy_is_watermarked_and_traced_even_when_cropped(server: Server,
                                                                    docs_world: dict[str, Any]) -> None:
    people, public = docs_world["people"], docs_world["public"]["id"]
    member, admin = people["member"].client, docs_world["admin"]
    r = await member.get(f"/api/documents/{public}/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment")
    copy = r.content
    reader = PdfReader(io.BytesIO(copy))
    assert len(reader.pages) == 4
    for page in reader.pages:
        assert "Người member" in page.extract_text()  # the visible mark, with the holder's name
    # The leaker crops the bottom of every page away (where the footer mark is) and drops the metadata.
    writer = PdfWriter()
    for page in reader.pages:
        box = page.mediabox
        page.mediabox = page.cropbox = RectangleObject([box.left, box.bottom + 120, box.right, box.top - 120])
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    cropped = out.getvalue()
    traced = ok(await admin.post("/api/trace", content=cropped, headers={"Content-Type": "application/pdf"}))
    assert [c["username"] for c in traced["copies"]] == [people["member"].username]
    assert traced["copies"][0]["kind"] == "download" and traced["copies"][0]["document_id"] == public
    # Two downloads are two copies; the view copy is kept and served again.
    second = (await member.get(f"/api/documents/{public}/download")).content
    assert second != copy
    v1 = (await member.get(f"/api/documents/{public}/view")).content
    v2 = (await member.get(f"/api/documents/{public}/view")).content
    assert v1 == v2
    other = (await people["member2"].client.get(f"/api/documents/{public}/view")).content
    assert other != v1
    async with server.db.read() as s:
        copies = (await s.exec(select(DocumentCopy).where(DocumentCopy.document_id == public))).all()
        logged = (await s.exec(select(AuditEntry).where(AuditEntry.object_id == public,
                                                        AuditEntry.object_type == "document"))).all()
    assert sorted(c.kind for c in copies) == ["download", "download", "view", "view"]
    assert [e.action for e in logged].count("document.downloaded") == 2
    assert [e.action for e in logged].count("document.viewed") == 3
    # The staff see who received it; a member may not.
    recipients = ok(await people["secretary"].client.get(f"/api/documents/{public}/copies"))
    assert {c["username"] for c in recipients} == {people["member"].username, people["member2"].username}
    assert_error(await member.get(f"/api/documents/{public}/copies"), 403)
    # Tracing is the administrators'; a file without tokens names nobody.
    assert_error(await member.post("/api/trace", content=cropped, headers={"Content-Type": "application/pdf"}), 403)
    nothing = ok(await admin.post("/api/trace", content=sample_pdf(1), headers={"Content-Type": "application/pdf"}))
    assert nothing == {"tokens": [], "copies": []}


async def test_annotations_rules_and_export(server: Server, docs_world: dict[str, Any]) -> None:
    people, public = docs_world["people"], docs_world["public"]
    member, member2 = people["member"].client, people["member2"].client
    url = f"/api/documents/{public['id']}/annotations"
    x0, y0, x1, y1 = public["pages"][0][:4]
    highlight = {"client_id": "hl-0000001", "page": 1, "kind": "highlight", "visibility": "shared",
                 "geometry": {"rects": [[72, 700, 300, 714]]}, "text": "Nghị quyết"}
    added = ok(await member.post(url, json=highlight), 201)
    assert added["duplicate"] is False and added["annotation"]["version"] == 1
    again = ok(await member.post(url, json=highlight), 201)  # the offline outbox sending it twice
    assert again["duplicate"] is True and again["annotation"]["id"] == added["annotation"]["id"]
    private = {"client_id": "note-000001", "page": 2, "kind": "note", "geometry": {"at": [100, 500]},
               "text": "Cần làm rõ nguồn vốn"}
    ok(await member.post(url, json=private), 201)
    ink = {"client_id": "ink-000001", "page": 3, "kind": "ink", "visibility": "shared", "color": "#d11f2f",
           "geometry": {"paths": [[[100, 100], [150, 160], [200, 120]]]}}
    ok(await member.post(url, json=ink), 201)
    seen_by_2 = ok(await member2.get(url))
    assert {a["kind"] for a in seen_by_2} == {"highlight", "ink"}  # not member's private note
    assert {a["kind"] for a in ok(await member.get(url))} == {"highlight", "ink", "note"}
    for body, status, code in [
        ({**highlight, "client_id": "bad-000001", "page": 9}, 400, "invalid"),
        ({**highlight, "client_id": "bad-000002", "geometry": {"rects": [[x1 + 50, y0, x1 + 90, y0 + 10]]}}, 400,
         "invalid"),
        ({**highlight, "client_id": "bad-000003", "geometry": {"rects": [[300, 700, 72, 714]]}}, 400, "invalid"),
        ({**ink, "client_id": "bad-000004", "geometry": {"paths": [[[100, y1 + 100]]]}}, 400, "invalid"),
        ({**private, "client_id": "bad-000005", "text": "  "}, 400, "invalid"),
        ({**private, "client_id": "bad-000006", "geometry": {"rects": [[1, 1, 2, 2]]}}, 400, "invalid"),
        ({**ink, "client_id": "bad-000007", "visibility": "presenter"}, 403, "forbidden"),
        ({**ink, "client_id": "bad", "visibility": "shared"}, 422, "validation_error"),
        ({**ink, "client_id": "bad-000008", "kind": "stamp"}, 422, "validation_error"),
        ({**highlight, "client_id": "bad-000009", "version": 7}, 404, "unknown_version"),
    ]:
        assert_error(await member.post(url, json=body), status, code)
    assert_error(await member.post(f"/api/documents/{docs_world['named']['id']}/annotations", json={
        **highlight, "client_id": "bad-000010"}), 404, "unknown_document")
    mark_id = added["annotation"]["id"]
    assert_error(await member2.patch(f"/api/annotations/{mark_id}", json={"text": "x"}), 403, "not_author")
    assert_error(await member2.delete(f"/api/annotations/{mark_id}"), 403, "not_author")
    changed = ok(await member.patch(f"/api/annotations/{mark_id}", json={"text": "Điểm then chốt"}))
    assert changed["text"] == "Điểm then chốt"
    # My annotated copy: real PDF annotations other readers show.
    r = await member.get(f"/api/documents/{public['id']}/annotated")
    assert r.status_code == 200
    reader = PdfReader(io.BytesIO(r.content))
    subtypes = {n: [a.get_object()["/Subtype"] for a in (p.get("/Annots") or [])] for n, p in enumerate(reader.pages)}
    assert subtypes[0] == ["/Highlight"] and subtypes[1] == ["/Text"] and subtypes[2] == ["/Ink"]
    note = reader.pages[1]["/Annots"][0].get_object()
    assert note["/Contents"] == "Cần làm rõ nguồn vốn"
    exported2 = PdfReader(io.BytesIO((await member2.get(f"/api/documents/{public['id']}/annotated")).content))
    assert not exported2.pages[1].get("/Annots")  # member's private note is not in member2's copy
    assert (await member.delete(f"/api/annotations/{mark_id}")).status_code == 204
    assert mark_id not in {a["id"] for a in ok(await member2.get(url))}


async def test_meeting_book_has_cover_contents_and_bookmarks(server: Server, docs_world: dict[str, Any]) -> None:
    people, mid = docs_world["people"], docs_world["mid"]
    r = await people["member2"].client.get(f"/api/meetings/{mid}/book")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    reader = PdfReader(io.BytesIO(r.content))
    front = page_text(r.content, 0)
    assert "TÀI LIỆU PHIÊN HỌP" in front and "Phiên họp thường kỳ tháng 12" in front
    assert "Người member2" in front
    contents = page_text(r.content, 1)
    assert "MỤC LỤC" in contents and "Phương án nhân sự" in contents  # the Mật one is listed, not included
    outline = {item.title: reader.get_destination_page_number(item)
               for item in reader.outline if not isinstance(item, list)}
    children = [child for item in reader.outline if isinstance(item, list) for child in item]
    titles = {c.title: reader.get_destination_page_number(c) for c in children}
    assert any("Kế hoạch đầu tư công" in t for t in outline)
    assert titles["Tờ trình đầu tư công"] == 2 and titles["Báo cáo thẩm tra"] == 6
    assert len(reader.pages) == 2 + 4 + 2  # cover and contents, the public and the named documents
    book_for_member = PdfReader(io.BytesIO((await people["member"].client.get(f"/api/meetings/{mid}/book")).content))
    assert len(book_for_member.pages) == 2 + 4  # member is not a reader of the named one
    async with server.db.read() as s:
        kinds = (await s.exec(select(DocumentCopy.kind).where(DocumentCopy.meeting_id == mid))).all()
    assert kinds.count("book") == 2


async def test_search_finds_words_without_diacritics_only_where_one_may_read(server: Server,
                                                                            docs_world: dict[str, Any]) -> None:
    people, mid = docs_world["people"], docs_world["mid"]
    public, named = docs_world["public"]["id"], docs_world["named"]["id"]
    for query in ("nghi quyet", "Nghị quyết", "NGHI QUYET", "nghị quy"):
        hits = ok(await people["member"].client.get("/api/search", params={"q": query}))["hits"]
        assert {h["document_id"] for h in hits} == {public}, query
        assert sorted(h["page"] for h in hits) == [1, 2, 3, 4]
        assert "Nghị quyết" in hits[0]["snippet"]
        a, b = hits[0]["highlights"][0]
        assert hits[0]["snippet"][a:b].lower() in ("nghị", "quyết")
    thamtra = ok(await people["member"].client.get("/api/search", params={"q": "tham tra"}))["hits"]
    assert thamtra == []  # only in the named document, which member may not read
    thamtra2 = ok(await people["member2"].client.get("/api/search", params={"q": "tham tra", "meeting_id": mid}))
    assert {h["document_id"] for h in thamtra2["hits"]} == {named}
    assert ok(await people["outsider"].client.get("/api/search", params={"q": "nghi quyet"}))["hits"] == []
    one = ok(await people["member"].client.get("/api/search", params={"q": "trang 3", "document_id": public}))
    assert [h["page"] for h in one["hits"]][:1] == [3]
    assert_error(await people["member"].client.get("/api/search", params={"q": "!!! ***"}), 400, "empty_query")
    assert_error(await people["member"].client.get("/api/search", params={"q": ""}), 422)
    tricky = ok(await people["member"].client.get("/api/search", params={"q": 'nghi" OR quyet* NEAR('}))
    assert isinstance(tricky["hits"], list)  # query syntax is taken as words, never as FTS syntax
