"""Finding 7a: what concerns a Mật document (its metadata, its annotations' text, search results) is
answered `Cache-Control: no-store`, so neither the browser nor the service worker (frontend/sw.js keeps
no no-store answer) holds a copy; and search shows no text of a Mật page: its text leaves the server only
through the viewer, where each reading is a recorded, watermarked copy."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from backend.models import DocumentCopy
from tests.integration.conftest import Server
from tests.integration.helpers import ok
from tests.integration.test_documents_api import docs_world  # noqa: F401  (the fixture)


async def test_a_secret_documents_metadata_and_annotations_are_no_store(docs_world: dict[str, Any]) -> None:  # noqa: F811
    member = docs_world["people"]["member"].client
    secret, public = docs_world["secret"]["id"], docs_world["public"]["id"]
    ok(await member.post(f"/api/documents/{secret}/annotations", json={
        "client_id": "mat-note-0001", "page": 1, "kind": "note", "geometry": {"at": [0.2, 0.2]},
        "text": "Ý kiến về phương án nhân sự"}), 201)
    for url in (f"/api/documents/{secret}", f"/api/documents/{secret}/annotations", f"/api/documents/{secret}/view"):
        r = await member.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store", (url, r.headers)
    # An ordinary document's answers stay keepable, so a tablet reads them offline.
    for url in (f"/api/documents/{public}", f"/api/documents/{public}/annotations"):
        r = await member.get(url)
        assert r.status_code == 200 and "no-store" not in r.headers["cache-control"], (url, r.headers)


async def test_search_finds_a_secret_page_but_shows_none_of_its_text(server: Server,
                                                                     docs_world: dict[str, Any]) -> None:  # noqa: F811
    member = docs_world["people"]["member"].client
    secret, public = docs_world["secret"]["id"], docs_world["public"]["id"]
    async with server.db.read() as s:
        copies = (await s.exec(select(func.count()).select_from(DocumentCopy))).one()
    r = await member.get("/api/search", params={"q": "phuong an nhan su"})
    assert r.headers["cache-control"] == "no-store"
    hits = ok(r)["hits"]
    assert [(h["document_id"], h["secret"], h["snippet"], h["highlights"]) for h in hits] == [(secret, True, "", [])]
    # Ordinary documents keep their snippets.
    ordinary = ok(await member.get("/api/search", params={"q": "nghi quyet"}))["hits"]
    assert ordinary and all(h["document_id"] == public and not h["secret"] and h["snippet"] for h in ordinary)
    async with server.db.read() as s:
        assert (await s.exec(select(func.count()).select_from(DocumentCopy))).one() == copies  # no copy was made
