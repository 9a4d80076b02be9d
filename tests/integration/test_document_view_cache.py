"""Issue 14, finding 2: my on-screen copy of a document is cached per version and revalidated, never
kept on trust: answered `private, no-cache` with an ETag naming my copy of that version, 304 (no bytes)
while the copy a tablet holds is still mine of that version, the new version's bytes as soon as there is
one, and `X-Document-Version` naming the version the bytes are (the viewer labels its pages with it).
A Mật document stays `no-store`, without an ETag."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from backend.models import AuditEntry
from tests.integration.conftest import Server
from tests.integration.helpers import assert_error, ok
from tests.integration.test_documents_api import docs_world, page_text  # noqa: F401  (the fixture)
from tests.support.sample_pdfs import sample_pdf


async def _views(server: Server, document_id: int) -> int:
    async with server.db.read() as s:
        return int((await s.exec(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "document.viewed", AuditEntry.object_id == document_id))).one())


async def test_a_documents_pages_are_cached_by_version_and_revalidated(
        server: Server, docs_world: dict[str, Any]) -> None:  # noqa: F811
    people = docs_world["people"]
    member, sec = people["member"].client, people["secretary"].client
    public = docs_world["public"]["id"]
    url = f"/api/documents/{public}/view"

    first = await member.get(url, params={"version": 1})
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "private, no-cache"  # kept, but asked about at each use
    assert "max-age" not in first.headers["cache-control"]
    assert first.headers["x-document-version"] == "1"
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 10

    # The tablet asks whether its copy is still good: 304, no bytes, and the reading is still recorded.
    before = await _views(server, public)
    again = await member.get(url, params={"version": 1}, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag and again.headers["x-document-version"] == "1"
    assert await _views(server, public) == before + 1
    # Weak tags and lists name the same copy.
    listed = await member.get(url, params={"version": 1}, headers={"If-None-Match": f'"other", W/{tag}'})
    assert listed.status_code == 304
    # Without a version: the current one, checked the same way.
    assert (await member.get(url, headers={"If-None-Match": tag})).status_code == 304

    # A new version: the same request with the old tag gets the new bytes, labelled with their version.
    v2 = sample_pdf(2, text=lambda n: f"Tờ trình đầu tư công phiên bản 2, trang {n}")
    ok(await sec.post(f"/api/documents/{public}/versions", files={"file": ("v2.pdf", v2, "application/pdf")}), 201)
    current = await member.get(url, headers={"If-None-Match": tag})
    assert current.status_code == 200
    assert current.headers["x-document-version"] == "2" and current.headers["etag"] != tag
    assert "phiên bản 2" in page_text(current.content)
    # Version 1 is still version 1.
    assert (await member.get(url, params={"version": 1}, headers={"If-None-Match": tag})).status_code == 304

    # Another person's copy is their own (their name on every page): my tag never gets them a 304.
    other = await people["member2"].client.get(url, params={"version": 1}, headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag and other.content
    # Who may not read it learns nothing, tag or not.
    assert_error(await people["outsider"].client.get(url, headers={"If-None-Match": tag}), 404)


async def test_a_secret_documents_pages_are_never_kept_nor_revalidated(
        server: Server, docs_world: dict[str, Any]) -> None:  # noqa: F811
    member = docs_world["people"]["member"].client
    url = f"/api/documents/{docs_world['secret']['id']}/view"
    first = await member.get(url)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert "etag" not in first.headers and first.headers["x-document-version"] == "1"
    asked = await member.get(url, headers={"If-None-Match": '"anything", *'})
    assert asked.status_code == 200 and asked.content == first.content


async def test_downloads_are_kept_by_no_cache(server: Server, docs_world: dict[str, Any]) -> None:  # noqa: F811
    member = docs_world["people"]["member"].client
    r = await member.get(f"/api/documents/{docs_world['public']['id']}/download")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store" and "etag" not in r.headers
